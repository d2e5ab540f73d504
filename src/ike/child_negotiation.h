#pragma once
// The CHILD SA half of IKE_AUTH (and, later, CREATE_CHILD_SA): what an initiator offers for a
// configured child, and which configured child a responder picks for an offer (the first whose
// traffic selectors, narrowed, are not empty and whose ESP proposals match).

#include <span>
#include <vector>

#include "common/result.h"
#include "ike/payloads.h"
#include "ike/proposal_match.h"
#include "ike/swanctl_conf.h"

namespace waypost::ike {

struct ChildOffer {
  std::vector<Proposal> proposals;
  std::vector<TrafficSelector> ts_i;  // ours
  std::vector<TrafficSelector> ts_r;  // the peer's side
};

// `vip_families`: the families we ask virtual IPs for; a "dynamic" local selector then proposes
// the whole family, for the responder to narrow to the address it assigns.
ChildOffer make_child_offer(const Child& child, uint32_t spi_in, const net::IpAddress& local,
                            const net::IpAddress& remote, std::span<const net::Family> vip_families,
                            KeExchange ke);

struct ChildAnswer {
  const Child* child = nullptr;
  ChosenProposal proposal;            // its wire.spi is still the peer's
  std::vector<TrafficSelector> ts_i;  // the initiator's side, narrowed
  std::vector<TrafficSelector> ts_r;
};

// A refusal's notify type is in Error::code (TS_UNACCEPTABLE, NO_PROPOSAL_CHOSEN).
// `remote_dynamic`: the peer's IKE address, or the virtual IPs just assigned to it.
Result<ChildAnswer> select_child(const Connection& conn, const SaPayload& sa, const TsPayload& ts_i,
                                 const TsPayload& ts_r, const net::IpAddress& local,
                                 std::span<const net::IpAddress> remote_dynamic, KeExchange ke);

}  // namespace waypost::ike
