#pragma once
// The rtnetlink operations the wg-quick style setup performs (daemon/interface_setup.h): links,
// addresses, MTU, routes, policy rules and route lookups. The setup holds this interface rather
// than Netlink so that its decisions can be tested against an in-memory double
// (tests/unit/kernel_double.h); Netlink (netlink.h) is the real one.
//
// Errors are Status values naming the operation; a kernel errno is kept in Error::code (the setup
// tells "already gone" by ENOENT).

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "net/ip.h"

namespace waypost::platform {

constexpr uint32_t kMainTable = 254;  // RT_TABLE_MAIN

// A policy routing rule (`ip rule`). Only the selectors wg-quick uses are modelled. On delete,
// priority 0 means "any priority".
struct Rule {
  net::Family family = net::Family::kV4;
  uint32_t table = 0;
  uint32_t fwmark = 0;             // 0 = no fwmark selector
  bool invert = false;             // "not fwmark ..."
  int suppress_prefixlength = -1;  // -1 = none
  uint32_t priority = 0;           // 0 = let the kernel choose on add

  bool operator==(const Rule&) const = default;
};

// The answer of a route lookup (`ip route get`).
struct RouteInfo {
  int ifindex = 0;
  uint32_t mtu = 0;  // route metric MTU, 0 if none
  std::optional<net::IpAddress> gateway;
  std::optional<net::IpAddress> prefsrc;
};

// One entry of a routing table dump.
struct Route {
  net::Prefix dst;
  uint32_t table = 0;
  int ifindex = 0;
  uint32_t metric = 0;  // RTA_PRIORITY
  uint32_t mtu = 0;
  uint8_t type = 0;  // RTN_*
  std::optional<net::IpAddress> gateway;
};

class NetlinkIo {
 public:
  virtual ~NetlinkIo() = default;

  // Links.
  virtual Result<int> link_index(std::string_view name) = 0;
  virtual Result<uint32_t> link_mtu(int ifindex) = 0;
  virtual Status set_link_up(int ifindex) = 0;
  virtual Status set_mtu(int ifindex, uint32_t mtu) = 0;

  // Addresses. Host bits are kept: 10.0.0.2/24 is address 10.0.0.2 on subnet 10.0.0.0/24.
  virtual Status add_address(int ifindex, const net::Prefix& address) = 0;
  virtual Result<std::vector<net::Prefix>> addresses(int ifindex, net::Family family) = 0;

  // Routes through a device without a gateway (`ip route add DST dev IF table T`).
  virtual Status add_route(int ifindex, const net::Prefix& dst, uint32_t table) = 0;
  virtual Result<std::vector<Route>> routes(net::Family family, uint32_t table) = 0;
  virtual Result<bool> table_has_routes(net::Family family, uint32_t table) = 0;
  // Which route a packet to dst (carrying fwmark, 0 = none) would take.
  virtual Result<RouteInfo> route_get(const net::IpAddress& dst, uint32_t fwmark) = 0;
  // The main table's default route with the lowest metric.
  virtual Result<RouteInfo> default_route(net::Family family) = 0;

  // Policy rules.
  virtual Status add_rule(const Rule& rule) = 0;
  virtual Status del_rule(const Rule& rule) = 0;
};

}  // namespace waypost::platform
