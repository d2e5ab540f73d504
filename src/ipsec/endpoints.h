#pragma once
// Addresses an instance works out from its configuration and its IKE SAs, shared by the files
// of ipsec/instance*.

#include <string>

#include "common/result.h"
#include "ike/constants.h"
#include "ike/swanctl_conf.h"
#include "net/ip.h"

namespace waypost::ipsec {

// Where an IKE SA's ESP goes: always UDP on the NAT-T port. An IKE SA still on port 500 gets its
// ESP on 4500 all the same, which charon with encap = yes, and Waypost, accept.
inline net::Endpoint esp_endpoint(const net::Endpoint& ike_remote) {
  if (ike_remote.port() == ike::kPort) return net::Endpoint::from(ike_remote.ip(), ike::kNatTPort);
  return ike_remote;
}

// The first address of a connection's remote_addrs one can send to (resolving a host name).
Result<net::IpAddress> remote_address(const ike::Connection& c);

}  // namespace waypost::ipsec
