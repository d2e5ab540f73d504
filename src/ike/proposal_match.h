#pragma once
// Between configured proposals (ProposalSpec, proposals.h) and the SA payload on the wire
// (payloads.h): the proposals an initiator offers, the one a responder picks, and the check an
// initiator makes of the responder's choice.
//
// A responder prefers its own configured order (as strongSwan does by default): the first of its
// proposals that some proposal of the peer's can satisfy wins, and within each transform type the
// first configured algorithm the peer also offered. The answer carries the peer's proposal
// number and SPI with exactly one transform per type (RFC 7296 3.3.6).

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/result.h"
#include "ike/algorithms.h"
#include "ike/payloads.h"
#include "ike/proposals.h"

namespace waypost::ike {

struct ChosenProposal {
  Proposal wire;  // as it goes into the responder's SA payload
  NegotiatedAlgorithms algorithms;
  DhGroup group = DhGroup::kNone;  // kNone: no key exchange (an ESP SA without PFS)
  bool esn = false;
};

// What to strip before offering or matching: the CHILD SA made inside IKE_AUTH uses the IKE SA's
// keys, so a key exchange transform in its proposals means nothing there (strongSwan drops them
// too); CREATE_CHILD_SA keeps them for PFS.
enum class KeExchange : uint8_t { kKeep, kStrip };

// Our proposals on the wire, numbered from 1; each carries `spi` (empty for IKE_SA_INIT, our
// inbound SPI for ESP). An ESP proposal without an ESN transform offers "no ESN".
std::vector<Proposal> offer_proposals(const std::vector<ProposalSpec>& ours, ProtocolId protocol,
                                      std::span<const uint8_t> spi, KeExchange ke);

// The responder's choice among the peer's proposals of `protocol`, or nullopt when none matches
// (NO_PROPOSAL_CHOSEN).
std::optional<ChosenProposal> select_proposal(const std::vector<ProposalSpec>& ours,
                                              const std::vector<Proposal>& theirs,
                                              ProtocolId protocol, KeExchange ke);

// The initiator's check of the responder's SA payload: one proposal, answering one of ours by
// number, with one transform per type, each of which we offered.
Result<ChosenProposal> accept_chosen_proposal(const std::vector<Proposal>& offered,
                                              const SaPayload& reply, ProtocolId protocol,
                                              KeExchange ke);

// The key exchange groups our proposals name, in order of preference, without duplicates.
std::vector<DhGroup> offered_groups(const std::vector<ProposalSpec>& ours);

}  // namespace waypost::ike
