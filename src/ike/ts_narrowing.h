#pragma once
// Traffic selectors between configuration and wire: "dynamic" resolved to an address, the
// responder's narrowing of what the initiator proposed (RFC 7296 2.9: the intersection with its
// own policy), and the initiator's check that the answer lies within its proposal.

#include <span>
#include <vector>

#include "ike/payloads.h"
#include "ike/swanctl_values.h"

namespace waypost::ike {

// The configured selectors on the wire; every "dynamic" becomes one host selector per address in
// `dynamic` (the IKE address, or the virtual IPs), keeping its protocol and ports.
std::vector<TrafficSelector> resolve_ts(const std::vector<TrafficSelectorSpec>& specs,
                                        std::span<const net::IpAddress> dynamic);

// A selector covering every address of a family (what an initiator that asks for a virtual IP
// proposes as TSi, for the responder to narrow to the address it assigns).
TrafficSelector whole_family(net::Family family);

// The intersection of one selector with another, if not empty.
std::optional<TrafficSelector> intersect(const TrafficSelector& a, const TrafficSelector& b);

// Every non-empty intersection of a proposed selector with one of ours, in our order, without
// duplicates. Empty: TS_UNACCEPTABLE.
std::vector<TrafficSelector> narrow(const std::vector<TrafficSelector>& proposed,
                                    const std::vector<TrafficSelector>& ours);

// Whether every selector of `reply` lies inside one of `proposed`.
bool within(const std::vector<TrafficSelector>& reply,
            const std::vector<TrafficSelector>& proposed);

// "10.1.0.0/16", "10.1.0.1-10.1.0.9", "0.0.0.0/0[tcp/443]", as swanctl --list-sas prints them.
std::string to_string(const TrafficSelector& ts);

}  // namespace waypost::ike
