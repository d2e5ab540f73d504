#pragma once
// Traffic selectors are address ranges (RFC 7296 3.13.1); routes and the data plane's table are
// prefixes. This turns a range into the fewest prefixes that cover exactly it.

#include <vector>

#include "net/ip.h"

namespace waypost::ipsec {

// The smallest set of prefixes whose union is [first, last], in address order; empty if the
// families differ or last < first.
std::vector<net::Prefix> range_to_prefixes(const net::IpAddress& first, const net::IpAddress& last);

}  // namespace waypost::ipsec
