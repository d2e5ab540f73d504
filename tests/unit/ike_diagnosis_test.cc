// Diagnoses (ike/diagnosis.h): each failure of the pfSense / FreeS/WAN troubleshooting lists,
// provoked between two in-memory IKE endpoints, gives one sentence with the values involved,
// the side to change and the fix, on the side that can tell.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "ike/diagnosis.h"
#include "ike_sa_fixture.h"

namespace waypost::ike {
namespace {

using namespace waypost::ike::testing;  // NOLINT(google-build-using-namespace)
using Endpoint = waypost::ike::testing::Side;

const Diagnosis* find(const Endpoint& side, Cause cause) {
  auto it = std::find_if(side.diagnoses.begin(), side.diagnoses.end(),
                         [&](const Diagnosis& d) { return d.cause == cause; });
  return it == side.diagnoses.end() ? nullptr : &*it;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(IkeSaTest, DiagnosisProposalMismatchListsBothSides) {
  make(initiator_conf("proposals = aes128-sha256-modp2048"),
       responder_conf("proposals = aes256gcm16-prfsha384-ecp384"));
  start();
  pump();
  const Diagnosis* r = find(*moon, Cause::kProposalMismatch);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(contains(r->sentence, "proposed IKE aes128-sha256-prfsha256-modp2048"))
      << r->sentence;
  EXPECT_TRUE(contains(r->sentence, "ours (aes256gcm16-prfsha384-ecp384)")) << r->sentence;
  EXPECT_TRUE(contains(r->fix, "ike=")) << r->fix;
  const Diagnosis* i = find(*carol, Cause::kProposalMismatch);
  ASSERT_NE(i, nullptr);
  EXPECT_TRUE(contains(i->sentence, "accepts none of our IKE proposals (aes128-sha256"))
      << i->sentence;
}

TEST_F(IkeSaTest, DiagnosisPskMismatchOnBothSides) {
  const std::string other = R"(
secrets { ike-1 { id = moon.example.org
                  secret = "not the same key" } }
)";
  make(initiator_conf("", other), responder_conf());
  start();
  pump();
  const Diagnosis* r = find(*moon, Cause::kPskMismatch);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(contains(r->sentence, "('carol@example.org') does not match ours")) << r->sentence;
  EXPECT_EQ(r->side, ike::Side::kEither);
  const Diagnosis* i = find(*carol, Cause::kAuthRefused);
  ASSERT_NE(i, nullptr);
  EXPECT_TRUE(contains(i->sentence, "AUTHENTICATION_FAILED")) << i->sentence;
  EXPECT_TRUE(contains(i->sentence, "pre-shared key")) << i->sentence;
}

TEST_F(IkeSaTest, DiagnosisUnknownIdentityNamesItAndTheExpectedOnes) {
  make(initiator_conf(), responder_conf());
  moon->config.connections[0].remote[0].id = parse_identity("dave@example.org").value();
  moon->config.connections[0].remote[0].id.text = "dave@example.org";
  start();
  pump();
  const Diagnosis* r = find(*moon, Cause::kUnknownIdentity);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(contains(r->sentence, "the identity 'carol@example.org'")) << r->sentence;
  EXPECT_TRUE(contains(r->sentence, "dave@example.org")) << r->sentence;
}

TEST_F(IkeSaTest, DiagnosisSelectorsPrintBothSets) {
  make(initiator_conf(), responder_conf());
  carol->config.connections[0].children[0].remote_ts = {
      parse_traffic_selector("172.16.0.0/12").value()};
  start();
  pump();
  const Diagnosis* r = find(*moon, Cause::kSelectorMismatch);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(contains(r->sentence, "172.16.0.0/12")) << r->sentence;  // theirs
  EXPECT_TRUE(contains(r->sentence, "fit none of ours (net:")) << r->sentence;
  const Diagnosis* i = find(*carol, Cause::kSelectorMismatch);
  ASSERT_NE(i, nullptr);
  EXPECT_TRUE(contains(i->sentence, "TS_UNACCEPTABLE")) << i->sentence;
  EXPECT_TRUE(contains(i->sentence, "172.16.0.0/12")) << i->sentence;
}

TEST_F(IkeSaTest, DiagnosisEspProposalMismatch) {
  make(initiator_conf(), responder_conf());
  carol->config.connections[0].children[0].esp_proposals =
      parse_proposals("aes128-sha1", ProposalProtocol::kEsp).value();
  moon->config.connections[0].children[0].esp_proposals =
      parse_proposals("aes256gcm16", ProposalProtocol::kEsp).value();
  start();
  pump();
  const Diagnosis* r = find(*moon, Cause::kProposalMismatch);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(contains(r->sentence, "proposed ESP aes128-sha1")) << r->sentence;
  EXPECT_TRUE(contains(r->sentence, "ours (aes256gcm16)")) << r->sentence;
  const Diagnosis* i = find(*carol, Cause::kProposalMismatch);
  ASSERT_NE(i, nullptr);
  EXPECT_TRUE(contains(i->sentence, "accepts none of our ESP proposals")) << i->sentence;
}

TEST_F(IkeSaTest, DiagnosisNoAnswerAsksAboutUdp500And4500) {
  make(initiator_conf(), responder_conf());
  start();
  moon->mute = true;
  pump();
  run_until(clock.now() + seconds(600));
  // Said early (after 3 tries, still trying), then again when the SA gives up.
  ASSERT_EQ(std::count_if(carol->diagnoses.begin(), carol->diagnoses.end(),
                          [](const Diagnosis& d) { return d.cause == Cause::kNoAnswer; }),
            2);
  EXPECT_TRUE(contains(carol->diagnoses.front().sentence, "(3 tries so far, still trying)"))
      << carol->diagnoses.front().sentence;
  const Diagnosis* i = &carol->diagnoses.back();
  EXPECT_TRUE(contains(i->sentence, "did not answer IKE_SA_INIT")) << i->sentence;
  EXPECT_TRUE(contains(i->sentence, "UDP 500/4500")) << i->sentence;
  EXPECT_EQ(i->side, ike::Side::kPath);
}

TEST_F(IkeSaTest, DiagnosisDeadPeer) {
  make(initiator_conf("dpd_delay = 30s\n dpd_timeout = 20s"), responder_conf());
  start();
  pump();
  ASSERT_EQ(initiator->state(), IkeSaState::kEstablished);
  moon->mute = true;
  run_until(clock.now() + seconds(120));
  const Diagnosis* i = find(*carol, Cause::kDeadPeer);
  ASSERT_NE(i, nullptr);
  EXPECT_TRUE(contains(i->sentence, "stopped answering")) << i->sentence;
  EXPECT_TRUE(contains(i->fix, "dpd_action = restart")) << i->fix;
}

TEST_F(IkeSaTest, DiagnosisPeerWithoutNatTraversal) {
  make(initiator_conf(), responder_conf());
  start();
  // carol's IKE_SA_INIT without its NAT_DETECTION notifies, as from a peer that has NAT-T off,
  // and from a port a NAT picked.
  ASSERT_FALSE(wire.empty());
  auto m = parse_message(wire.front().bytes);
  ASSERT_TRUE(m.ok());
  std::erase_if(m->payloads, [](const Payload& p) {
    const auto* n = p.get<NotifyPayload>();
    return n != nullptr && (n->type == NotifyType::kNatDetectionSourceIp ||
                            n->type == NotifyType::kNatDetectionDestinationIp);
  });
  wire.front().bytes = serialize(*m);
  wire.front().from = net::Endpoint::parse("198.51.100.7:31000").value();
  pump();
  const Diagnosis* r = find(*moon, Cause::kNatWithoutNatT);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(contains(r->sentence, "198.51.100.7:31000 sent no NAT_DETECTION payloads"))
      << r->sentence;
  EXPECT_TRUE(contains(r->sentence, "arrive from port 31000, so a NAT is in the way"))
      << r->sentence;
  EXPECT_TRUE(contains(r->fix, "forceencaps")) << r->fix;
  EXPECT_EQ(r->side, ike::Side::kPeer);
  EXPECT_EQ(find(*carol, Cause::kNatWithoutNatT), nullptr);  // moon's answer had them
}

TEST(DiagnosisText, NamesAreStable) {
  EXPECT_EQ(to_string(Cause::kProposalMismatch), "proposal_mismatch");
  EXPECT_EQ(to_string(Cause::kSelectorMismatch), "traffic_selector_mismatch");
  EXPECT_EQ(to_string(Cause::kKeepAliveLost), "keep_alive_lost");
  EXPECT_EQ(to_string(ike::Side::kPeer), "peer");
}

}  // namespace
}  // namespace waypost::ike
