// The pieces a WireGuard device is made of, each on its own: key rotation in Sessions and the
// receiver indexes that must live exactly as long as what they point to.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "crypto/random.h"
#include "wireguard/index_table.h"
#include "wireguard/sessions.h"

namespace waypost::wireguard {
namespace {

class SessionsTest : public ::testing::Test {
 protected:
  // A keypair as a completed handshake would give it, its index already the keypair's.
  std::unique_ptr<Keypair> keypair(bool initiator) {
    SessionKeys keys;
    keys.initiator = initiator;
    keys.local_index = indexes.add_handshake(*peer);
    keys.remote_index = 7;
    auto kp = std::make_unique<Keypair>(keys, 0);
    indexes.assign_keypair(kp->local_index, *peer, *kp);
    return kp;
  }

  crypto::SeededRandom random{5};
  IndexTable indexes{random};
  Peer* peer = reinterpret_cast<Peer*>(0x1000);  // only compared, never used
  Sessions s;
};

TEST_F(SessionsTest, InitiatorSessionIsUsableAtOnce) {
  auto kp = keypair(true);
  Keypair* raw = kp.get();
  s.install(std::move(kp), indexes);
  EXPECT_EQ(s.current(), raw);
  EXPECT_EQ(s.next(), nullptr);

  // A rekey moves it to previous; in-flight packets under it still find it.
  auto kp2 = keypair(true);
  Keypair* raw2 = kp2.get();
  s.install(std::move(kp2), indexes);
  EXPECT_EQ(s.current(), raw2);
  EXPECT_EQ(s.previous(), raw);
  EXPECT_EQ(indexes.find(raw->local_index)->keypair, raw);
  EXPECT_EQ(indexes.size(), 2u);
}

TEST_F(SessionsTest, ResponderSessionWaitsForConfirmation) {
  auto old = keypair(true);
  Keypair* old_raw = old.get();
  s.install(std::move(old), indexes);
  auto kp = keypair(false);
  Keypair* raw = kp.get();
  s.install(std::move(kp), indexes);
  EXPECT_EQ(s.current(), old_raw);  // still sending under the confirmed one
  EXPECT_EQ(s.next(), raw);

  std::vector<std::unique_ptr<Keypair>> retired;
  EXPECT_FALSE(s.confirm(old_raw, indexes, retired));  // a packet under current changes nothing
  EXPECT_TRUE(s.confirm(raw, indexes, retired));
  EXPECT_EQ(s.current(), raw);
  EXPECT_EQ(s.previous(), old_raw);
  EXPECT_EQ(s.next(), nullptr);
  EXPECT_TRUE(retired.empty());
}

TEST_F(SessionsTest, ResponderSessionsReleaseWhatTheyReplace) {
  s.install(keypair(true), indexes);
  s.install(keypair(true), indexes);  // previous = first, current = second
  const uint32_t first = s.previous()->local_index;
  auto c = keypair(false);
  const uint32_t c_index = c->local_index;
  s.install(std::move(c), indexes);  // a responder session drops previous at once
  EXPECT_EQ(indexes.find(first), nullptr);
  EXPECT_EQ(s.previous(), nullptr);
  s.install(keypair(false), indexes);  // a newer one replaces the unconfirmed next
  EXPECT_EQ(indexes.find(c_index), nullptr);
  EXPECT_EQ(indexes.size(), 2u);  // current and next
}

TEST_F(SessionsTest, ClearReleasesEveryIndex) {
  s.install(keypair(true), indexes);
  s.install(keypair(true), indexes);
  s.install(keypair(false), indexes);
  EXPECT_GT(indexes.size(), 0u);
  s.clear(indexes);
  EXPECT_EQ(indexes.size(), 0u);
  EXPECT_EQ(s.current(), nullptr);
  EXPECT_EQ(s.previous(), nullptr);
  EXPECT_EQ(s.next(), nullptr);
}

TEST(IndexTable, HandshakeIndexIsReleasedOnlyWhileItIsTheHandshakes) {
  crypto::SeededRandom random(9);
  IndexTable t(random);
  auto* p = reinterpret_cast<Peer*>(0x1000);
  auto* q = reinterpret_cast<Peer*>(0x2000);
  const uint32_t i = t.add_handshake(*p);
  EXPECT_NE(i, 0u);
  t.release_handshake(i, *q);  // not q's
  EXPECT_NE(t.find(i), nullptr);
  SessionKeys keys;
  keys.local_index = i;
  Keypair kp(keys, 0);
  t.assign_keypair(i, *p, kp);
  t.release_handshake(i, *p);  // a session took it over: stays
  ASSERT_NE(t.find(i), nullptr);
  EXPECT_EQ(t.find(i)->keypair, &kp);
  t.release(i);
  EXPECT_EQ(t.find(i), nullptr);
}

}  // namespace
}  // namespace waypost::wireguard
