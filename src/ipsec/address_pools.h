#pragma once
// Virtual IPs handed out from the `pools` of an instance, as strongSwan's in-memory pools do:
// an identity gets the address it had before when that address is free (so a client that
// reconnects keeps its address), a new one otherwise; an address whose holder went offline is
// given to another identity only when the pool has no never-used address left.
//
// A pool written as a subnet skips its network address (and, for IPv4, its broadcast address),
// as strongSwan does: 10.3.0.0/24 hands out 10.3.0.1 to 10.3.0.254.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ike/swanctl_conf.h"
#include "net/ip.h"

namespace waypost::ipsec {

class AddressPools {
 public:
  // nullopt when the pool is exhausted (every address online) or of the other family.
  std::optional<net::IpAddress> lease(const ike::Pool& pool, const std::string& identity,
                                      net::Family family);
  // The holder of `address` went offline (its IKE SA is gone); the address stays reserved for
  // the same identity until another needs it.
  void release(const net::IpAddress& address);

  struct Lease {
    std::string identity;
    bool online = false;
  };
  // For status output: pool name -> address -> lease.
  const std::map<std::string, std::map<net::IpAddress, Lease>>& leases() const { return leases_; }

 private:
  std::map<std::string, std::map<net::IpAddress, Lease>> leases_;
};

}  // namespace waypost::ipsec
