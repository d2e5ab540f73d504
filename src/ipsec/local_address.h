#pragma once
// The address this host sends from toward a peer, as the kernel's routing picks it: what an IKE
// SA uses as its local address (NAT detection hashes it, `local_addrs` is matched against it,
// a default local identity is it). Found with a connected UDP socket, which sends nothing.
//
// The instance's sockets listen on every address, so a message that arrived on a secondary
// address of a multi-homed host is taken as arriving on the one the route back uses; the peer
// then sees a NAT, which costs nothing here (ESP is always in UDP).

#include <optional>
#include <vector>

#include "net/ip.h"

namespace waypost::ipsec {

// `fwmark` (0: none) marks the lookup as the instance's sockets mark what they send, so that a
// full tunnel's policy routing is bypassed as it is for them.
std::optional<net::IpAddress> local_address_toward(const net::IpAddress& remote,
                                                   uint32_t fwmark = 0);

// Every address configured on this host's interfaces (for the source address of a route into
// the tunnel: the one inside the local traffic selectors).
std::vector<net::IpAddress> host_addresses();

}  // namespace waypost::ipsec
