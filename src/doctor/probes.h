#pragma once
// The few packets `waypost doctor` sends itself, only ever to hosts the user configured or
// named: ICMP echo probes with "don't fragment" for the path MTU search, and one DNS query per
// resolver. Plus the route lookups that tell which interface a destination uses.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "doctor/mtu_search.h"
#include "net/ip.h"
#include "platform/fd.h"

namespace waypost::doctor {

// ICMP (v4) or ICMPv6 echo with DF and no local fragmentation (IP_PMTUDISC_PROBE /
// IPV6_PMTUDISC_PROBE + IPV6_DONTFRAG: the kernel neither fragments nor uses its cached path
// MTU), so each probe tests the path itself. A raw socket when allowed (root, CAP_NET_RAW),
// else an unprivileged ping socket (net.ipv4.ping_group_range). ICMP errors ("fragmentation
// needed", unreachable) are read from the socket's error queue (IP_RECVERR).
class IcmpEchoProber : public EchoProber {
 public:
  // fwmark != 0 marks the probes (SO_MARK) so that they bypass a full-tunnel policy route, as
  // the tunnel's own UDP packets do.
  static Result<std::unique_ptr<IcmpEchoProber>> open(const net::IpAddress& dst, uint32_t fwmark,
                                                      int timeout_ms = 1000);
  ProbeResult probe(uint32_t payload) override;
  bool raw_socket() const { return raw_; }

 private:
  IcmpEchoProber(platform::UniqueFd fd, bool raw, const net::IpAddress& dst, int timeout_ms);
  // Reads queued ICMP errors; fills `out` if one is about probe `seq`. True if it did.
  bool read_errors(uint16_t seq, ProbeResult& out);
  void discard_pending();

  platform::UniqueFd fd_;
  bool raw_;
  net::IpAddress dst_;
  int timeout_ms_;
  uint16_t id_;
  uint16_t seq_ = 0;
};

// Where packets to `dst` (carrying `fwmark`) go: the outgoing interface and its MTU, and the
// route's MTU (a route metric or a path MTU the kernel has learned), 0 if none.
struct RouteView {
  int ifindex = 0;
  std::string ifname;
  uint32_t link_mtu = 0;
  uint32_t route_mtu = 0;
  std::optional<net::IpAddress> gateway;
};
Result<RouteView> route_to(const net::IpAddress& dst, uint32_t fwmark = 0);

// An IP address, or a host name resolved with the system resolver. Accepts "host", "1.2.3.4",
// "fd00::1", "[fd00::1]", and the same with ":port" (the port is ignored).
Result<net::IpAddress> resolve_host(std::string_view text);

// Sends `query` to dns_server:53 over UDP and waits up to timeout_ms for the reply with the same
// id; returns the reply bytes.
Result<std::string> udp_dns_exchange(const net::IpAddress& dns_server, std::string_view query,
                                     int timeout_ms = 2000);

// Inode of the network namespace of `pid` (0 = this process), 0 if unknown.
uint64_t netns_inode(int pid);

}  // namespace waypost::doctor
