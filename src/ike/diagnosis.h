#pragma once
// What went wrong with a connection, in one sentence a person can act on: the cause, the side
// it is on, and what to change. The pfSense IPsec troubleshooting guide and the FreeS/WAN FAQ
// list the failures; each place in the IKE code that detects one of them says so here instead
// of only logging a protocol detail. The host keeps the recent ones per connection for
// `waypost ipsec diagnose` (ipsec/instance_diagnose.cc); the log gets the same sentence.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ike/payloads.h"
#include "ike/proposals.h"
#include "ike/swanctl_conf.h"

namespace waypost::ike {

enum class Cause : uint8_t {
  kProposalMismatch,  // no IKE or ESP proposal in common (NO_PROPOSAL_CHOSEN)
  kPskMismatch,       // a pre-shared key that does not match
  kUnknownIdentity,   // the peer's identity is not one a connection expects
  kAuthRefused,       // the peer refused our authentication (AUTHENTICATION_FAILED)
  kCertificate,       // untrusted, expired or revoked certificate, or a bad signature
  kSelectorMismatch,  // traffic selectors / subnets that do not fit (TS_UNACCEPTABLE)
  kNoAnswer,          // the peer does not answer IKE_SA_INIT
  kDeadPeer,          // an established peer stopped answering
  kPoolExhausted,     // no virtual IP left (INTERNAL_ADDRESS_FAILURE)
  kNatWithoutNatT,    // a NAT in the way, but the peer does not do NAT traversal
  kReplayDrops,       // ESP packets dropped by the replay window
  kKeepAliveLost,     // keep_alive pings through a CHILD SA went unanswered
  kIkeV1Peer,         // the peer speaks IKEv1 only
};

// Stable names for JSON: "proposal_mismatch", "psk_mismatch", ...
std::string_view to_string(Cause cause);

enum class Side : uint8_t {
  kLocal,   // change this side's configuration
  kPeer,    // change the peer's
  kEither,  // they disagree: change one of them
  kPath,    // the network between them
};
std::string_view to_string(Side side);  // "local", "peer", "either", "path"

struct Diagnosis {
  Cause cause = Cause::kNoAnswer;
  Side side = Side::kEither;
  std::string sentence;  // what is wrong, on which side, with the values involved
  std::string fix;       // what to change
};

// The peer's proposals as strongSwan-style text: "aes128-sha256-prfsha256-modp2048, ...".
std::string wire_proposals_text(const std::vector<Proposal>& proposals, ProposalProtocol protocol);
// Traffic selectors: "10.1.0.0/24, 10.2.0.0/16" (ranges that are not prefixes as a..b; a
// protocol or ports after the address, "10.1.0.0/24[tcp/80]").
std::string selectors_text(std::span<const TrafficSelector> selectors);
// A child's configured selectors as written ("dynamic" when none).
std::string selectors_text(const std::vector<TrafficSelectorSpec>& specs);

}  // namespace waypost::ike
