// Several CHILD SAs on one IKE SA we initiate: the first rides in IKE_AUTH, each further one
// (IkeSa::add_child) gets a CREATE_CHILD_SA of its own once the IKE SA is up, one after the
// other; a refused one leaves the others alone; and child_names() tells what the SA carried,
// which is what dpd_action, close_action and keyingtries bring back.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ike_sa_fixture.h"

namespace waypost::ike {
namespace {

using namespace waypost::ike::testing;  // NOLINT(google-build-using-namespace)

std::string carol_conf() {
  return R"(
connections {
  home {
    remote_addrs = 192.0.2.1
    vips = 0.0.0.0
    local { auth = psk
            id = carol@example.org }
    remote { auth = psk
             id = moon.example.org }
    children {
      home { remote_ts = 10.1.0.0/16
             start_action = start }
      other { remote_ts = 172.16.0.0/12
              start_action = start }
      lab { remote_ts = 10.2.0.0/16
            esp_proposals = aes256gcm16-x25519
            start_action = start }
    }
  }
}
)" + std::string(kSecrets);
}

std::string moon_conf() {
  return R"(
connections {
  rw {
    local_addrs = 192.0.2.1
    pools = v4
    local { auth = psk
            id = moon.example.org }
    remote { auth = psk }
    children {
      net { local_ts = 10.1.0.0/16 }
      lab { local_ts = 10.2.0.0/16
            esp_proposals = aes256gcm16-x25519 }
    }
  }
}
pools { v4 { addrs = 10.3.0.0/28 } }
)" + std::string(kSecrets);
}

std::vector<std::string> names(const std::vector<ChildSaInfo>& list) {
  std::vector<std::string> out;
  out.reserve(list.size());
  for (const auto& c : list) out.push_back(c.name);
  return out;
}

const Child& child(const testing::Side& side, const std::string& name) {
  for (const Child& c : side.config.connections.at(0).children) {
    if (c.name == name) return c;
  }
  ADD_FAILURE() << "no child " << name;
  return side.config.connections.at(0).children.at(0);
}

class IkeChildrenTest : public IkeSaTest {
 protected:
  void SetUp() override { make(carol_conf(), moon_conf()); }
};

TEST_F(IkeChildrenTest, FurtherChildrenComeUpWithCreateChildSaOnTheSameIkeSa) {
  start();
  ASSERT_TRUE(initiator->add_child(child(*carol, "lab")));
  // Queued, not sent: IKE_SA_INIT is still out.
  EXPECT_EQ(initiator->child_names(), (std::vector<std::string>{"home", "lab"}));
  pump();
  ASSERT_EQ(initiator->state(), IkeSaState::kEstablished) << initiator->failure();
  EXPECT_EQ(to_moon, 3);  // IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA
  ASSERT_EQ(names(carol->up), (std::vector<std::string>{"home", "lab"}));
  ASSERT_EQ(names(moon->up), (std::vector<std::string>{"net", "lab"}));
  const ChildSaInfo& c = carol->up[1];
  const ChildSaInfo& m = moon->up[1];
  EXPECT_EQ(c.spi_in, m.spi_out);
  EXPECT_EQ(c.spi_out, m.spi_in);
  EXPECT_NE(c.spi_in, carol->up[0].spi_in);
  EXPECT_EQ(c.algorithms.encryption, EncryptionId::kAesGcm16);
  EXPECT_EQ(c.algorithms.key_bits, 256);
  // Our side of the second child is the virtual IP IKE_AUTH assigned, not the IKE address.
  ASSERT_EQ(c.local_ts.size(), 1u);
  EXPECT_EQ(to_string(c.local_ts[0]), "10.3.0.1/32");
  ASSERT_EQ(c.remote_ts.size(), 1u);
  EXPECT_EQ(to_string(c.remote_ts[0]), "10.2.0.0/16");
  EXPECT_EQ(m.remote_ts, c.local_ts);
  EXPECT_EQ(initiator->children().size(), 2u);
  EXPECT_EQ(responder->children().size(), 2u);
  EXPECT_EQ(initiator->child_names(), (std::vector<std::string>{"home", "lab"}));
  // Nothing more is sent once the queue is empty.
  run_until(clock.now() + seconds(5));
  EXPECT_EQ(to_moon, 3);
}

TEST_F(IkeChildrenTest, ARefusedChildLeavesTheOthersAndTheQueueGoesOn) {
  start();
  ASSERT_TRUE(initiator->add_child(child(*carol, "other")));  // moon has no such subnet
  ASSERT_TRUE(initiator->add_child(child(*carol, "lab")));
  pump();
  EXPECT_EQ(initiator->state(), IkeSaState::kEstablished);
  EXPECT_EQ(responder->state(), IkeSaState::kEstablished);
  EXPECT_EQ(to_moon, 4);  // IKE_SA_INIT, IKE_AUTH, two CREATE_CHILD_SA
  EXPECT_EQ(names(carol->up), (std::vector<std::string>{"home", "lab"}));
  EXPECT_EQ(names(moon->up), (std::vector<std::string>{"net", "lab"}));
}

TEST_F(IkeChildrenTest, AddedOnceEstablishedGoesAtOnce) {
  start();
  pump();
  ASSERT_EQ(names(carol->up), std::vector<std::string>{"home"});
  ASSERT_TRUE(initiator->add_child(child(*carol, "lab")));
  pump();
  EXPECT_EQ(names(carol->up), (std::vector<std::string>{"home", "lab"}));
}

TEST_F(IkeChildrenTest, ChildNamesOutliveTheSa) {
  // Deleted by the peer: the children it carried are what close_action brings back.
  start();
  ASSERT_TRUE(initiator->add_child(child(*carol, "lab")));
  pump();
  ASSERT_EQ(carol->up.size(), 2u);
  responder->terminate("test");
  pump();
  EXPECT_EQ(initiator->state(), IkeSaState::kDestroying);
  EXPECT_EQ(initiator->end_cause(), IkeSaEnd::kPeerDeleted);
  EXPECT_TRUE(initiator->children().empty());
  EXPECT_EQ(initiator->child_names(), (std::vector<std::string>{"home", "lab"}));
}

TEST_F(IkeChildrenTest, AnInitiationThatNeverCameUpNamesWhatItWasFor) {
  // keyingtries retries with what the failed attempt asked for.
  moon->mute = true;
  start();
  ASSERT_TRUE(initiator->add_child(child(*carol, "lab")));
  run_until(clock.now() + seconds(300));
  EXPECT_EQ(initiator->state(), IkeSaState::kDestroying);
  EXPECT_EQ(initiator->end_cause(), IkeSaEnd::kFailed);
  EXPECT_EQ(initiator->child_names(), (std::vector<std::string>{"home", "lab"}));
  EXPECT_FALSE(initiator->add_child(child(*carol, "lab")));
}

}  // namespace
}  // namespace waypost::ike
