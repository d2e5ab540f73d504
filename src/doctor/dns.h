#pragma once
// Just enough DNS for `waypost doctor` to ask one question and understand the answer's header:
// an RFC 1035 query for one name (type A), the reply's id, flags, rcode and answer count, and
// the nameserver lines of resolv.conf. Pure; unit-tested.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "doctor/findings.h"
#include "net/ip.h"

namespace waypost::doctor {

constexpr uint16_t kDnsTypeA = 1;

// A standard query with recursion desired. Errors for names that are not valid DNS names
// (empty labels, labels over 63 bytes, names over 253 bytes).
Result<std::string> build_dns_query(uint16_t id, std::string_view name, uint16_t qtype = kDnsTypeA);

struct DnsReply {
  uint16_t id = 0;
  uint8_t rcode = 0;  // 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...
  bool truncated = false;
  uint16_t answers = 0;
};

// Checks that `reply` is a response (QR set) to query `id`; returns its header.
Result<DnsReply> parse_dns_reply(std::string_view reply, uint16_t id);

std::string_view rcode_name(uint8_t rcode);

// The `nameserver` addresses of a resolv.conf, in order (zone ids and bad lines ignored).
std::vector<net::IpAddress> parse_resolv_conf(std::string_view text);

// One resolver tested: where queries to it go, and what came back.
struct DnsObservation {
  net::IpAddress server;
  std::string source;                // "--dns", "DNS= of wp0", "/etc/resolv.conf"
  std::string name;                  // the name asked for
  std::string route_dev;             // outgoing interface, "" if unknown
  std::string route_error;           // why there is no route
  std::vector<std::string> tunnels;  // the Waypost interfaces examined
  bool expect_tunnel = false;        // it should be reached through a tunnel (DNS=, full tunnel)
  bool in_tunnel_subnet = false;     // inside a peer's AllowedIPs other than a default route
  bool answered = false;
  DnsReply reply;
  std::string error;  // no answer: what happened
};

Finding dns_finding(const DnsObservation& o);

// Private (RFC 1918, RFC 4193), link-local or loopback: an address only the local network (or
// this host) can reach.
bool is_local_network_address(const net::IpAddress& a);

}  // namespace waypost::doctor
