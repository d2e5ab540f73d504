#include "ipsec/address_pools.h"

namespace waypost::ipsec {

namespace {

bool increment(net::IpAddress& a) {
  for (size_t i = a.byte_length(); i-- > 0;) {
    if (++a.bytes[i] != 0) return true;
  }
  return false;
}

// The usable addresses of a pool: a subnet loses its network address and, for IPv4 subnets
// larger than /31, its broadcast address; a range is used as written.
ike::AddressRange usable(const ike::AddressRange& r) {
  ike::AddressRange out = r;
  if (r.first == r.last) return out;
  // A prefix: first has all host bits clear and last all set. Detect it by the lowest set bit
  // of first being above the highest differing bit.
  const size_t n = r.first.byte_length();
  bool all_zero_tail = true;
  bool all_ones_tail = true;
  bool seen_difference = false;
  for (size_t i = 0; i < n; ++i) {
    if (!seen_difference && r.first.bytes[i] == r.last.bytes[i]) continue;
    if (!seen_difference) {
      seen_difference = true;
      // Within the first differing byte, first's differing bits must be 0 and last's 1.
      const uint8_t diff = r.first.bytes[i] ^ r.last.bytes[i];
      uint8_t mask = diff;
      for (int s = 1; s < 8; s <<= 1) mask |= uint8_t(mask >> s);
      if ((r.first.bytes[i] & mask) != 0) all_zero_tail = false;
      if ((r.last.bytes[i] & mask) != mask) all_ones_tail = false;
      continue;
    }
    if (r.first.bytes[i] != 0) all_zero_tail = false;
    if (r.last.bytes[i] != 0xff) all_ones_tail = false;
  }
  if (!all_zero_tail || !all_ones_tail) return out;  // a range, not a subnet
  net::IpAddress after_network = r.first;
  increment(after_network);
  out.first = after_network;
  if (r.first.is_v4() && r.last.bytes[3] != 0 && out.first < r.last) {
    // last - 1 (the broadcast address goes).
    net::IpAddress before = r.last;
    for (size_t i = before.byte_length(); i-- > 0;) {
      if (before.bytes[i]-- != 0) break;
    }
    out.last = before;
  }
  return out;
}

}  // namespace

std::optional<net::IpAddress> AddressPools::lease(const ike::Pool& pool,
                                                  const std::string& identity, net::Family family) {
  if (pool.addrs.first.family != family) return std::nullopt;
  auto& leases = leases_[pool.name];
  // The identity's earlier address, if nobody holds it now.
  for (auto& [address, l] : leases) {
    if (l.identity == identity && !l.online) {
      l.online = true;
      return address;
    }
  }
  const ike::AddressRange range = usable(pool.addrs);
  // A never-used address (bounded: a pool has at most as many leases as SAs were made).
  net::IpAddress a = range.first;
  for (size_t tries = 0; tries <= leases.size(); ++tries) {
    if (!range.contains(a)) break;
    if (leases.find(a) == leases.end()) {
      leases[a] = {identity, true};
      return a;
    }
    if (!increment(a)) break;
  }
  // An offline one, taken over.
  for (auto& [address, l] : leases) {
    if (!l.online) {
      l = {identity, true};
      return address;
    }
  }
  return std::nullopt;
}

void AddressPools::release(const net::IpAddress& address) {
  for (auto& [name, leases] : leases_) {
    auto l = leases.find(address);
    if (l != leases.end()) l->second.online = false;
  }
}

}  // namespace waypost::ipsec
