// Two IKE endpoints in memory on a virtual clock: IKE_SA_INIT and IKE_AUTH with pre-shared keys
// in both roles, the first CHILD SA, virtual IPs, retries (INVALID_KE_PAYLOAD, lost responses),
// refusals, liveness checks and DELETE.
#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "ike_sa_fixture.h"

namespace waypost::ike {
namespace {

using namespace waypost::ike::testing;  // NOLINT(google-build-using-namespace)

std::vector<uint8_t> bytes(const SecretBytes& s) {
  return {s.data(), s.data() + s.size()};
}

TEST_F(IkeSaTest, PskRoadWarriorWithVirtualIp) {
  make(initiator_conf(), responder_conf());
  start();
  pump();
  ASSERT_TRUE(responder);
  EXPECT_EQ(initiator->state(), IkeSaState::kEstablished) << initiator->failure();
  EXPECT_EQ(responder->state(), IkeSaState::kEstablished) << responder->failure();
  EXPECT_EQ(to_moon, 2);  // IKE_SA_INIT, IKE_AUTH: no retries
  EXPECT_EQ(initiator->spi_i(), responder->spi_i());
  EXPECT_EQ(initiator->spi_r(), responder->spi_r());
  EXPECT_EQ(initiator->remote_id(), "moon.example.org");
  EXPECT_EQ(responder->remote_id(), "carol@example.org");
  EXPECT_EQ(initiator->remote().port(), kNatTPort);  // ESP in UDP: both moved to 4500
  EXPECT_TRUE(responder->nat_detected());            // our faked NAT-D makes it so
  EXPECT_EQ(responder->remote().port(), kNatTPort);

  // The virtual IP from the pool, on both sides.
  ASSERT_EQ(initiator->virtual_ips().size(), 1u);
  EXPECT_EQ(initiator->virtual_ips()[0].to_string(), "10.3.0.1");
  EXPECT_EQ(responder->virtual_ips(), initiator->virtual_ips());
  EXPECT_EQ(moon->leases, std::vector<std::string>{"carol@example.org"});

  // The CHILD SA: mirrored SPIs, keys and selectors.
  ASSERT_EQ(carol->up.size(), 1u);
  ASSERT_EQ(moon->up.size(), 1u);
  const ChildSaInfo& c = carol->up[0];
  const ChildSaInfo& m = moon->up[0];
  EXPECT_EQ(c.name, "home");
  EXPECT_EQ(m.name, "net");
  EXPECT_EQ(c.spi_in, m.spi_out);
  EXPECT_EQ(c.spi_out, m.spi_in);
  EXPECT_EQ(c.algorithms.encryption, EncryptionId::kAesGcm16);
  EXPECT_EQ(c.algorithms.key_bits, 128);
  EXPECT_EQ(bytes(*c.outbound_keys().first), bytes(*m.inbound_keys().first));
  EXPECT_EQ(bytes(*c.inbound_keys().first), bytes(*m.outbound_keys().first));
  EXPECT_NE(bytes(*c.inbound_keys().first), bytes(*c.outbound_keys().first));
  EXPECT_EQ(c.inbound_keys().first->size(), 16u + 4u);
  ASSERT_EQ(c.local_ts.size(), 1u);
  EXPECT_EQ(to_string(c.local_ts[0]), "10.3.0.1/32");
  ASSERT_EQ(c.remote_ts.size(), 1u);
  EXPECT_EQ(to_string(c.remote_ts[0]), "10.1.0.0/16");
  EXPECT_EQ(m.local_ts, c.remote_ts);
  EXPECT_EQ(m.remote_ts, c.local_ts);
}

TEST_F(IkeSaTest, CbcEspProposalWhenTheInitiatorOffersOnlyThat) {
  make(initiator_conf("", kSecrets), responder_conf());
  // Only AES-CBC with HMAC-SHA-256 on the initiator's side.
  carol->config.connections[0].children[0].esp_proposals =
      parse_proposals("aes256-sha256", ProposalProtocol::kEsp).value();
  start();
  pump();
  ASSERT_EQ(carol->up.size(), 1u);
  const ChildSaInfo& c = carol->up[0];
  EXPECT_EQ(c.algorithms.encryption, EncryptionId::kAesCbc);
  EXPECT_EQ(c.algorithms.integrity, IntegrityId::kHmacSha256_128);
  EXPECT_EQ(bytes(*c.outbound_keys().second), bytes(*moon->up[0].inbound_keys().second));
  EXPECT_EQ(c.outbound_keys().second->size(), 32u);
}

TEST_F(IkeSaTest, WrongPskIsRefusedWithAReason) {
  const std::string other = R"(
secrets { ike-1 { id = moon.example.org
                  secret = "not the same key" } }
)";
  make(initiator_conf("", other), responder_conf());
  start();
  pump();
  ASSERT_TRUE(responder);
  EXPECT_EQ(responder->state(), IkeSaState::kDestroying);
  EXPECT_NE(responder->failure().find("failed pre-shared key authentication"), std::string::npos)
      << responder->failure();
  EXPECT_EQ(initiator->state(), IkeSaState::kDestroying);
  EXPECT_NE(initiator->failure().find("AUTHENTICATION_FAILED"), std::string::npos)
      << initiator->failure();
  EXPECT_TRUE(carol->up.empty());
  EXPECT_TRUE(moon->up.empty());
}

TEST_F(IkeSaTest, UnknownIdentityIsRefused) {
  make(initiator_conf(), responder_conf());
  moon->config.connections[0].remote[0].id = parse_identity("dave@example.org").value();
  start();
  pump();
  EXPECT_EQ(initiator->state(), IkeSaState::kDestroying);
  EXPECT_NE(responder->failure().find("no connection accepts the identity 'carol@example.org'"),
            std::string::npos)
      << responder->failure();
}

TEST_F(IkeSaTest, InvalidKePayloadRetriesWithTheResponderGroup) {
  make(initiator_conf("proposals = aes256-sha256-modp2048, aes128gcm16-prfsha256-ecp256"),
       responder_conf("proposals = aes128gcm16-prfsha256-ecp256"));
  start();
  pump();
  EXPECT_EQ(initiator->state(), IkeSaState::kEstablished) << initiator->failure();
  EXPECT_EQ(to_moon, 3);  // INIT (modp2048), INIT again (ecp256), AUTH
  EXPECT_EQ(initiator->proposal().group, DhGroup::kEcp256);
  EXPECT_EQ(responder->proposal().algorithms.encryption, EncryptionId::kAesGcm16);
}

TEST_F(IkeSaTest, ProposalMismatchIsNamed) {
  make(initiator_conf("proposals = aes128-sha256-modp2048"),
       responder_conf("proposals = aes256gcm16-prfsha384-ecp384"));
  start();
  pump();
  EXPECT_FALSE(responder);
  EXPECT_EQ(initiator->state(), IkeSaState::kDestroying);
  EXPECT_NE(initiator->failure().find("NO_PROPOSAL_CHOSEN"), std::string::npos)
      << initiator->failure();
}

TEST_F(IkeSaTest, ChildWithUnacceptableSelectorsLeavesTheIkeSaUp) {
  make(initiator_conf(), responder_conf());
  carol->config.connections[0].children[0].remote_ts = {
      parse_traffic_selector("172.16.0.0/12").value()};
  start();
  pump();
  EXPECT_EQ(initiator->state(), IkeSaState::kEstablished);
  EXPECT_EQ(responder->state(), IkeSaState::kEstablished);
  EXPECT_TRUE(carol->up.empty());
  EXPECT_TRUE(moon->up.empty());
}

TEST_F(IkeSaTest, LostResponseIsRetransmittedAndAnsweredAgain) {
  make(initiator_conf(), responder_conf());
  start();
  moon->drop_next = 2;  // the IKE_SA_INIT response and then the first IKE_AUTH response
  pump();
  EXPECT_EQ(initiator->state(), IkeSaState::kConnecting);
  run_until(clock.now() + seconds(4));  // INIT retransmitted, answered from the stored response
  EXPECT_EQ(initiator->state(), IkeSaState::kConnecting);
  run_until(clock.now() + seconds(10));
  EXPECT_EQ(initiator->state(), IkeSaState::kEstablished) << initiator->failure();
  EXPECT_EQ(responder->state(), IkeSaState::kEstablished);
  EXPECT_EQ(carol->up.size(), 1u);
  EXPECT_EQ(moon->up.size(), 1u);  // the retransmitted IKE_AUTH made no second CHILD SA
}

TEST_F(IkeSaTest, UnansweredInitGivesUpAfterTheRetransmissionSchedule) {
  make(initiator_conf(), responder_conf());
  start();
  moon->mute = true;
  pump();
  run_until(clock.now() + seconds(600));
  EXPECT_EQ(initiator->state(), IkeSaState::kDestroying);
  EXPECT_NE(initiator->failure().find("no answer to IKE_SA_INIT"), std::string::npos);
  EXPECT_EQ(to_moon, 6);  // the first try and five retransmissions
}

TEST_F(IkeSaTest, DeadPeerClearedWithinDpdDelayPlusTimeout) {
  make(initiator_conf("dpd_delay = 30s\n dpd_timeout = 20s"), responder_conf());
  start();
  pump();
  ASSERT_EQ(initiator->state(), IkeSaState::kEstablished);
  const Nanos up_at = clock.now();
  // A live peer answers liveness checks: still up after several periods.
  run_until(up_at + seconds(100));
  EXPECT_EQ(initiator->state(), IkeSaState::kEstablished);
  EXPECT_GT(to_moon, 2);
  // Then the peer goes silent.
  moon->mute = true;
  const Nanos silent_at = clock.now();
  run_until(silent_at + seconds(30 + 20 + 30));
  EXPECT_EQ(initiator->state(), IkeSaState::kDestroying);
  EXPECT_NE(initiator->failure().find("dead peer"), std::string::npos) << initiator->failure();
  EXPECT_EQ(carol->down, std::vector<std::string>{"home"});
}

// A peer that dies just as a CHILD_SA rekey goes out: the unanswered rekey holds off the
// liveness check, so it is bounded by dpd_timeout too, not by the retransmission schedule.
TEST_F(IkeSaTest, DeadPeerMidRekeyClearedWithinDpdTimeout) {
  make(initiator_conf("dpd_delay = 30s\n dpd_timeout = 20s"), responder_conf());
  start();
  pump();
  ASSERT_EQ(initiator->state(), IkeSaState::kEstablished);
  ASSERT_FALSE(initiator->children().empty());
  moon->mute = true;
  const Nanos silent_at = clock.now();
  ASSERT_TRUE(initiator->rekey_child(initiator->children()[0].spi_in));
  run_until(silent_at + seconds(19));
  EXPECT_EQ(initiator->state(), IkeSaState::kEstablished);
  run_until(silent_at + seconds(21));
  EXPECT_EQ(initiator->state(), IkeSaState::kDestroying);
  EXPECT_NE(initiator->failure().find("no answer to CREATE_CHILD_SA"), std::string::npos)
      << initiator->failure();
}

// The server's settings: it never rekeys, and an SA nobody rekeyed goes after over_time (a
// Waypost reading; strongSwan has no hard lifetime without rekey_time or reauth_time).
TEST_F(IkeSaTest, OverTimeAloneIsTheHardLifetime) {
  make(initiator_conf("rekey_time = 0s"), responder_conf("rekey_time = 0s\n over_time = 12h"));
  start();
  pump();
  ASSERT_EQ(responder->state(), IkeSaState::kEstablished);
  const Nanos up_at = clock.now();
  run_until(up_at + seconds(12 * 3600 - 1));
  EXPECT_EQ(responder->state(), IkeSaState::kEstablished);
  run_until(up_at + seconds(12 * 3600 + 1));
  EXPECT_EQ(responder->state(), IkeSaState::kDestroying);
  EXPECT_NE(responder->failure().find("hard lifetime"), std::string::npos) << responder->failure();
  EXPECT_EQ(initiator->state(), IkeSaState::kDestroying);  // told by the delete
  EXPECT_EQ(carol->gone_reason, "deleted by the peer");
}

// strongSwan's rule: over_time past rekey_time; a peer that never answers the rekey loses the SA.
TEST_F(IkeSaTest, UnansweredRekeyEndsAtRekeyPlusOverTime) {
  make(initiator_conf("rekey_time = 100s\n over_time = 50s\n rand_time = 0s"),
       responder_conf("rekey_time = 0s"));
  start();
  pump();
  ASSERT_EQ(initiator->state(), IkeSaState::kEstablished);
  const Nanos up_at = clock.now();
  moon->mute = true;
  run_until(up_at + seconds(149));
  EXPECT_EQ(initiator->state(), IkeSaState::kEstablished);
  run_until(up_at + seconds(151));
  EXPECT_NE(initiator->state(), IkeSaState::kEstablished);
}

TEST_F(IkeSaTest, NoRekeyAndNoOverTimeLivesOn) {
  make(initiator_conf("rekey_time = 0s"), responder_conf("rekey_time = 0s"));
  start();
  pump();
  run_until(clock.now() + seconds(30 * 24 * 3600));
  EXPECT_EQ(responder->state(), IkeSaState::kEstablished);
  EXPECT_EQ(initiator->state(), IkeSaState::kEstablished);
}

TEST_F(IkeSaTest, DeleteTakesBothSidesDown) {
  make(initiator_conf(), responder_conf());
  start();
  pump();
  ASSERT_EQ(initiator->state(), IkeSaState::kEstablished);
  initiator->terminate("asked by the user");
  EXPECT_EQ(initiator->state(), IkeSaState::kDeleting);
  pump();
  EXPECT_EQ(responder->state(), IkeSaState::kDestroying);
  EXPECT_EQ(moon->gone_reason, "deleted by the peer");
  EXPECT_EQ(moon->down, std::vector<std::string>{"net"});
  EXPECT_EQ(initiator->state(), IkeSaState::kDestroying);
  EXPECT_EQ(carol->down, std::vector<std::string>{"home"});
}

TEST_F(IkeSaTest, TamperedMessagesAreDroppedWithoutAnswer) {
  make(initiator_conf(), responder_conf());
  start();
  pump();
  ASSERT_EQ(responder->state(), IkeSaState::kEstablished);
  // An INFORMATIONAL with a broken ICV: no answer, no state change.
  initiator->terminate("test");
  ASSERT_EQ(wire.size(), 1u);
  wire.front().bytes.back() ^= 1;
  pump();
  EXPECT_EQ(responder->state(), IkeSaState::kEstablished);
  EXPECT_EQ(moon->sent, 2);  // the two responses of the setup, nothing more
}

// Both directions' keys of a CHILD SA pair are mirrored, and differ from another pair's.
void expect_mirrored(const ChildSaInfo& a, const ChildSaInfo& b) {
  EXPECT_EQ(a.spi_in, b.spi_out);
  EXPECT_EQ(a.spi_out, b.spi_in);
  EXPECT_EQ(bytes(*a.outbound_keys().first), bytes(*b.inbound_keys().first));
  EXPECT_EQ(bytes(*a.inbound_keys().first), bytes(*b.outbound_keys().first));
  EXPECT_EQ(bytes(*a.outbound_keys().second), bytes(*b.inbound_keys().second));
}

TEST_F(IkeSaTest, ChildRekeyIsMakeBeforeBreak) {
  make(initiator_conf(), responder_conf());
  start();
  pump();
  ASSERT_EQ(carol->up.size(), 1u);
  const uint32_t old_in = carol->up[0].spi_in;
  ASSERT_TRUE(initiator->rekey_child(old_in));
  pump();
  ASSERT_EQ(carol->up.size(), 2u);
  ASSERT_EQ(moon->up.size(), 2u);
  expect_mirrored(carol->up[1], moon->up[1]);
  EXPECT_NE(carol->up[1].spi_in, old_in);
  EXPECT_NE(bytes(*carol->up[1].outbound_keys().first), bytes(*carol->up[0].outbound_keys().first));
  EXPECT_EQ(carol->up[1].local_ts, carol->up[0].local_ts);
  // The old pair went only after the new one was up, on both sides.
  EXPECT_EQ(carol->down, std::vector<std::string>{"home"});
  EXPECT_EQ(moon->down, std::vector<std::string>{"net"});
  ASSERT_EQ(initiator->children().size(), 1u);
  EXPECT_EQ(initiator->children()[0].spi_in, carol->up[1].spi_in);
  ASSERT_EQ(responder->children().size(), 1u);
  EXPECT_EQ(responder->children()[0].spi_in, moon->up[1].spi_in);
}

TEST_F(IkeSaTest, ResponderRekeysWithPfs) {
  make(initiator_conf(), responder_conf());
  for (auto* side : {carol.get(), moon.get()}) {
    for (Child& c : side->config.connections[0].children) {
      c.esp_proposals = parse_proposals("aes256gcm16-ecp256", ProposalProtocol::kEsp).value();
    }
  }
  start();
  pump();
  ASSERT_EQ(moon->up.size(), 1u);
  ASSERT_TRUE(responder->rekey_child(moon->up[0].spi_in));
  pump();
  ASSERT_EQ(moon->up.size(), 2u);
  ASSERT_EQ(carol->up.size(), 2u);
  expect_mirrored(moon->up[1], carol->up[1]);
  EXPECT_TRUE(moon->up[1].we_initiated);
  EXPECT_FALSE(carol->up[1].we_initiated);
  EXPECT_EQ(initiator->children().size(), 1u);
  EXPECT_EQ(responder->children().size(), 1u);
  EXPECT_EQ(initiator->state(), IkeSaState::kEstablished);
}

TEST_F(IkeSaTest, SimultaneousChildRekeysKeepTheTunnel) {
  make(initiator_conf(), responder_conf());
  start();
  pump();
  ASSERT_EQ(carol->up.size(), 1u);
  const uint32_t old_spi = carol->up[0].spi_in;
  // Both ends start rekeying the same CHILD SA before either request arrives.
  ASSERT_TRUE(initiator->rekey_child(old_spi));
  ASSERT_TRUE(responder->rekey_child(moon->up[0].spi_in));
  pump();
  // RFC 7296 2.8.1: both exchanges complete, so each end made one new SA and accepted the
  // other's; the redundant one and the old one are deleted, with no retry and no timer.
  EXPECT_EQ(carol->up.size(), 3u);
  EXPECT_EQ(moon->up.size(), 3u);
  ASSERT_EQ(initiator->children().size(), 1u);
  ASSERT_EQ(responder->children().size(), 1u);
  expect_mirrored(initiator->children()[0], responder->children()[0]);
  EXPECT_NE(initiator->children()[0].spi_in, old_spi);
  EXPECT_EQ(carol->down.size(), 2u);  // the old SA and the redundant new one
  EXPECT_EQ(moon->down.size(), 2u);
  EXPECT_EQ(initiator->state(), IkeSaState::kEstablished);
  EXPECT_EQ(responder->state(), IkeSaState::kEstablished);
}

TEST_F(IkeSaTest, SimultaneousChildRekeysAgreeWhicheverNonceIsLowest) {
  // Different seeds give different nonces, so the lowest falls in either exchange; whichever it
  // is, both ends agree on the survivor and keep it.
  for (uint64_t seed = 10; seed < 18; ++seed) {
    wire.clear();
    random_i = crypto::SeededRandom{seed};
    random_r = crypto::SeededRandom{seed * 7 + 1};
    responder.reset();
    make(initiator_conf(), responder_conf());
    start();
    pump();
    ASSERT_TRUE(initiator->rekey_child(carol->up[0].spi_in));
    ASSERT_TRUE(responder->rekey_child(moon->up[0].spi_in));
    pump();
    ASSERT_EQ(initiator->children().size(), 1u) << seed;
    ASSERT_EQ(responder->children().size(), 1u) << seed;
    expect_mirrored(initiator->children()[0], responder->children()[0]);
    run_until(clock.now() + seconds(60));
    ASSERT_EQ(initiator->children().size(), 1u) << seed;
    EXPECT_EQ(initiator->state(), IkeSaState::kEstablished);
  }
}

TEST_F(IkeSaTest, RekeyedAtRekeyTimeAgainAndAgain) {
  make(initiator_conf(), responder_conf());
  carol->config.connections[0].children[0].rekey_time = std::chrono::seconds(60);
  carol->config.connections[0].children[0].life_time = std::chrono::seconds(66);
  carol->config.connections[0].children[0].rand_time = std::chrono::seconds(6);
  start();
  pump();
  run_until(clock.now() + seconds(200));
  EXPECT_GE(carol->up.size(), 4u);  // the first and at least three rekeys
  EXPECT_EQ(carol->down.size(), carol->up.size() - 1);
  ASSERT_EQ(initiator->children().size(), 1u);
  ASSERT_EQ(responder->children().size(), 1u);
  expect_mirrored(initiator->children()[0], responder->children()[0]);
}

TEST_F(IkeSaTest, ChildExpiresWhenItsRekeyGetsNoAnswer) {
  make(initiator_conf(), responder_conf());
  carol->config.connections[0].children[0].rekey_time = std::chrono::seconds(60);
  carol->config.connections[0].children[0].life_time = std::chrono::seconds(90);
  carol->config.connections[0].children[0].rand_time = std::chrono::seconds(0);
  start();
  pump();
  moon->mute = true;
  run_until(clock.now() + seconds(95));
  EXPECT_EQ(carol->down, std::vector<std::string>{"home"});
  EXPECT_TRUE(initiator->children().empty());
}

}  // namespace
}  // namespace waypost::ike
