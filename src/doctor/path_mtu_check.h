#pragma once
// The path MTU finding: the search result explained in Algo's terms (largest payload + header =
// path MTU; reduce_mtu; the MTU= line for wg-quick configs). Pure; unit-tested.

#include <string>

#include "doctor/findings.h"
#include "doctor/mtu_search.h"
#include "net/ip.h"

namespace waypost::doctor {

struct PathMtuContext {
  std::string host;        // as the user named it, or the endpoint
  net::IpAddress address;  // what was probed
  std::string via;         // outgoing interface
  uint32_t link_mtu = 0;   // of `via`
  uint32_t route_mtu = 0;  // route metric or learned path MTU, 0 if none
  uint32_t fwmark = 0;     // probes carried this mark
  std::string tunnel;      // non-empty: the route goes through this Waypost interface
};

// The largest payload the search should try: the route's MTU (else the link's) minus the
// ICMP echo header.
uint32_t max_echo_payload(const PathMtuContext& ctx);

Finding path_mtu_finding(const PathMtuContext& ctx, const MtuSearchResult& result);

}  // namespace waypost::doctor
