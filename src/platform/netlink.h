#pragma once
// A small rtnetlink client over a raw NETLINK_ROUTE socket: links, addresses, routes and policy
// rules, the subset wg-quick(8) needs around a WireGuard interface. Every request is acked
// (NLM_F_ACK) and a kernel error comes back as a Status naming the operation and the kernel's
// errno text, e.g. "add route 10.0.0.0/24 dev wp0 table 51820: File exists".
//
// A socket talks to the network namespace it was opened in. The types it shares with the setup
// (Rule, Route, RouteInfo) and the part of it the setup uses (NetlinkIo) are in netlink_io.h.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "net/ip.h"
#include "platform/netlink_io.h"

namespace waypost::platform {

class Netlink final : public NetlinkIo {
 public:
  static Result<Netlink> open();

  Netlink(Netlink&& other) noexcept;
  Netlink& operator=(Netlink&& other) noexcept;
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;
  ~Netlink() override;

  // Links.
  Result<int> link_index(std::string_view name) override;
  Result<std::string> link_name(int ifindex);
  Result<uint32_t> link_mtu(int ifindex) override;
  Status set_link_up(int ifindex) override;
  Status set_mtu(int ifindex, uint32_t mtu) override;
  // Creates a virtual link of the given kind ("veth" needs a peer, so use e.g. "bridge").
  // Mostly for tests, which need something to configure inside a fresh namespace.
  Status create_link(std::string_view name, std::string_view kind);
  Status delete_link(int ifindex);

  // Addresses. Host bits are kept: 10.0.0.2/24 is address 10.0.0.2 on subnet 10.0.0.0/24. IPv6
  // addresses skip duplicate address detection so they are usable at once.
  Status add_address(int ifindex, const net::Prefix& address) override;
  Result<std::vector<net::Prefix>> addresses(int ifindex, net::Family family) override;
  Status del_address(int ifindex, const net::Prefix& address);

  // Routes through a device without a gateway (`ip route add DST dev IF table T`).
  Status add_route(int ifindex, const net::Prefix& dst, uint32_t table = kMainTable) override;
  // The same with a preferred source address (`ip route add DST dev IF src SRC`): what the host
  // itself sends through the route comes from SRC.
  Status add_route_from(int ifindex, const net::Prefix& dst, const net::IpAddress& source,
                        uint32_t table = kMainTable);
  Status del_route(int ifindex, const net::Prefix& dst, uint32_t table = kMainTable);
  Result<std::vector<Route>> routes(net::Family family, uint32_t table) override;
  Result<bool> table_has_routes(net::Family family, uint32_t table) override;
  // Asks the kernel which route a packet to dst (carrying fwmark) would take.
  Result<RouteInfo> route_get(const net::IpAddress& dst, uint32_t fwmark = 0) override;
  // The main table's default route with the lowest metric.
  Result<RouteInfo> default_route(net::Family family) override;

  // Policy rules.
  Status add_rule(const Rule& rule) override;
  Status del_rule(const Rule& rule) override;
  Result<std::vector<Rule>> rules(net::Family family);

 private:
  explicit Netlink(int fd) : fd_(fd) {}

  struct Message;  // one received netlink message: type, flags and payload
  // Sends one request and waits for its ack; for dumps, collects every reply message.
  Status transact(std::vector<uint8_t>& request, std::vector<Message>* replies);
  std::string describe_link(int ifindex);

  int fd_ = -1;
  uint32_t seq_ = 0;
};

// Listens for route, link and address changes (e.g. to recompute an automatic MTU when the path
// toward the peers changes). Non-blocking: poll fd() for readability, then call drain().
class RouteMonitor {
 public:
  static Result<RouteMonitor> open();

  RouteMonitor(RouteMonitor&& other) noexcept;
  RouteMonitor& operator=(RouteMonitor&& other) noexcept;
  RouteMonitor(const RouteMonitor&) = delete;
  RouteMonitor& operator=(const RouteMonitor&) = delete;
  ~RouteMonitor();

  int fd() const { return fd_; }
  // Reads everything queued. True if any route, link or address change arrived, or if the kernel
  // dropped notifications because the socket overflowed (the caller must then assume a change).
  bool drain();

 private:
  explicit RouteMonitor(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace waypost::platform
