// The decisions of the wg-quick style setup (daemon/interface_setup.h) against the in-memory
// kernel double: which addresses, MTU, routes, rules, nftables tables and sysctls it asks for, and
// what it undoes when a step fails. No root, no namespace; interface_setup_test.cc checks the
// same setup against the real kernel.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/interface_setup.h"
#include "kernel_double.h"

namespace waypost::daemon {
namespace {

using platform::kMainTable;
using platform::Rule;
using test::KernelDouble;

net::Prefix address(const char* text) {
  return net::Prefix::parse_interface_address(text).value();
}

wireguard::ConfPeer peer(std::initializer_list<const char*> allowed_ips) {
  wireguard::ConfPeer p;
  for (const char* a : allowed_ips) p.allowed_ips.push_back(net::Prefix::parse(a).value());
  return p;
}

net::Endpoint endpoint(const char* text) {
  return net::Endpoint::parse(text).value();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A host with an uplink eth0 (MTU 1500, the IPv4 default route) and the tunnel's link wpt0, as
// the daemon leaves it after creating the TUN device.
class SetupDecisions : public ::testing::Test {
 protected:
  SetupDecisions() {
    eth0 = kernel.net.add_link("eth0", 1500);
    wpt0 = kernel.net.add_link("wpt0", 1500, false);
    kernel.net.add_route_entry(eth0, "0.0.0.0/0", kMainTable);
    kernel.net.add_route_entry(eth0, "192.0.2.0/24", kMainTable);
    context.ifname = "wpt0";
    context.kernel = &kernel;
    context.set_fwmark = [this](uint32_t mark) -> Status {
      fwmarks_set.push_back(mark);
      return {};
    };
  }

  Result<InterfaceSetup> up() { return InterfaceSetup::up(config, context); }
  std::string route_line(const char* dst, uint32_t table) const {
    return fmt::format("add_route {} dev {} table {}", dst, wpt0, table);
  }
  // The index of the first log line starting with `prefix`, or the log's size.
  size_t position(const std::string& prefix) const {
    const auto& log = kernel.net.log;
    for (size_t i = 0; i < log.size(); ++i) {
      if (log[i].starts_with(prefix)) return i;
    }
    return log.size();
  }

  KernelDouble kernel;
  wireguard::WgQuickConfig config;
  SetupContext context;
  std::vector<uint32_t> fwmarks_set;
  int eth0 = 0;
  int wpt0 = 0;
};

TEST_F(SetupDecisions, AddressesMtuAndARouteForEveryAllowedIp) {
  config.iface.addresses = {address("10.0.0.2/24"), address("fd00::2/64")};
  config.iface.mtu = 1380;
  config.peers = {peer({"10.0.0.0/24", "192.168.5.0/24", "10.9.0.0/16"}),
                  peer({"192.168.5.0/24", "fd00:1::/64", "10.0.0.7/32"})};
  auto setup = up();
  ASSERT_TRUE(setup.ok()) << setup.error().message;

  const auto& link = *kernel.net.link(wpt0);
  EXPECT_EQ(link.addresses, config.iface.addresses);  // host bits kept
  EXPECT_EQ(link.mtu, 1380u);
  EXPECT_TRUE(link.up);
  EXPECT_EQ(setup->mtu(), 1380u);
  // The MTU is in place before the link carries anything.
  EXPECT_LT(position("set_mtu"), position("set_link_up"));
  // Most specific first, each prefix once; none for what the subnet route of Address= already
  // covers (10.0.0.0/24 and 10.0.0.7/32), which would fail as a duplicate.
  EXPECT_EQ(kernel.net.calls("add_route"),
            (std::vector<std::string>{route_line("fd00:1::/64", kMainTable),
                                      route_line("192.168.5.0/24", kMainTable),
                                      route_line("10.9.0.0/16", kMainTable)}));
  // No /0: no policy routing, so nothing beyond netlink.
  EXPECT_EQ(setup->table(), kMainTable);
  EXPECT_EQ(setup->fwmark(), 0u);
  EXPECT_TRUE(kernel.net.rules.empty());
  EXPECT_TRUE(kernel.nft_scripts.empty());
  EXPECT_TRUE(kernel.sysctl_writes.empty());
  EXPECT_TRUE(fwmarks_set.empty());

  const size_t requests = kernel.net.log.size();
  EXPECT_TRUE(setup->down().ok());
  EXPECT_EQ(kernel.net.log.size(), requests);  // routes go with the link; nothing to remove
  EXPECT_TRUE(setup->down().ok());             // a second call does nothing
}

TEST_F(SetupDecisions, AutomaticMtuIsTheSmallestPathTowardThePeers) {
  // The IPv6 peer sits behind a route with an MTU metric of 1400.
  int wan6 = kernel.net.add_link("wan6", 1500);
  kernel.net.add_route_entry(wan6, "2001:db8::/32", kMainTable, 0, 1400);
  context.peer_endpoints = [] {
    return std::vector<net::Endpoint>{endpoint("198.51.100.7:51820"),
                                      endpoint("[2001:db8::1]:51820")};
  };
  config.peers = {peer({"10.0.0.0/24"})};
  auto setup = up();
  ASSERT_TRUE(setup.ok()) << setup.error().message;
  // IPv4 peer: 1500 - 60 = 1440. IPv6 peer: 1400 - 80 = 1320, rounded down to a multiple of 16
  // (what a peer pads to) = 1312. The interface takes the smaller.
  EXPECT_EQ(setup->mtu(), 1312u);
  EXPECT_EQ(kernel.net.link(wpt0)->mtu, 1312u);
  EXPECT_EQ(
      kernel.net.calls("route_get"),
      (std::vector<std::string>{"route_get 198.51.100.7 mark 0", "route_get 2001:db8::1 mark 0"}));
}

TEST_F(SetupDecisions, AutomaticMtuWithoutEndpointsFollowsTheDefaultRoute) {
  kernel.net.link(eth0)->mtu = 9000;
  auto setup = up();
  ASSERT_TRUE(setup.ok()) << setup.error().message;
  EXPECT_EQ(setup->mtu(), 9000u - 80);  // either family may come: the larger overhead

  // The uplink changes (the route monitor would say so): the MTU follows, once.
  kernel.net.link(eth0)->mtu = 1500;
  auto changed = setup->refresh_mtu();
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_TRUE(*changed);
  EXPECT_EQ(kernel.net.link(wpt0)->mtu, 1420u);
  EXPECT_EQ(kernel.net.calls("set_mtu").back(), fmt::format("set_mtu {} 1420", wpt0));
  changed = setup->refresh_mtu();
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);

  // No default route at all: 1500 is assumed.
  kernel.net.routes.clear();
  changed = setup->refresh_mtu();
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);
  EXPECT_EQ(setup->mtu(), 1420u);
}

TEST_F(SetupDecisions, ExplicitTableTakesEveryRouteAndNoRules) {
  config.iface.table = "1234";
  config.iface.mtu = 1420;
  config.peers = {peer({"0.0.0.0/0", "10.8.0.0/16"})};
  auto setup = up();
  ASSERT_TRUE(setup.ok()) << setup.error().message;
  EXPECT_EQ(
      kernel.net.calls("add_route"),
      (std::vector<std::string>{route_line("10.8.0.0/16", 1234), route_line("0.0.0.0/0", 1234)}));
  EXPECT_EQ(setup->table(), 1234u);
  EXPECT_TRUE(kernel.net.rules.empty());
  EXPECT_TRUE(kernel.nft_scripts.empty());
  EXPECT_TRUE(fwmarks_set.empty());
}

TEST_F(SetupDecisions, TableOffAddsNoRoutes) {
  config.iface.table = "off";
  config.iface.mtu = 1420;
  config.peers = {peer({"0.0.0.0/0", "10.8.0.0/16"})};
  auto setup = up();
  ASSERT_TRUE(setup.ok()) << setup.error().message;
  EXPECT_TRUE(kernel.net.calls("add_route").empty());
  EXPECT_EQ(setup->table(), 0u);
}

TEST_F(SetupDecisions, DefaultRouteTurnsOnPolicyRouting) {
  config.iface.addresses = {address("10.0.0.2/32"), address("fd00::2/128")};
  config.iface.mtu = 1420;
  config.peers = {peer({"0.0.0.0/0", "::/0"})};
  // Table 51820 is taken by someone else: the first free table above it becomes table and mark.
  kernel.net.add_route_entry(eth0, "10.99.0.0/16", 51820);
  auto setup = up();
  ASSERT_TRUE(setup.ok()) << setup.error().message;

  const uint32_t table = 51821;
  EXPECT_EQ(fwmarks_set, std::vector<uint32_t>{table});
  EXPECT_EQ(setup->fwmark(), table);
  EXPECT_EQ(setup->table(), table);
  // Unmarked packets look up the tunnel's table; the main table first, without its defaults.
  std::vector<Rule> expected;
  for (net::Family f : {net::Family::kV4, net::Family::kV6}) {
    expected.push_back({.family = f, .table = table, .fwmark = table, .invert = true});
    expected.push_back({.family = f, .table = kMainTable, .suppress_prefixlength = 0});
  }
  EXPECT_EQ(kernel.net.rules, expected);
  EXPECT_TRUE(kernel.net.has_route("0.0.0.0/0", table));
  EXPECT_TRUE(kernel.net.has_route("::/0", table));
  EXPECT_EQ(kernel.net.table(kMainTable).size(), 2u);  // the main table is left alone
  // Replies to marked packets must pass reverse-path filtering.
  EXPECT_EQ(kernel.sysctl_writes, std::vector<std::string>{"net.ipv4.conf.all.src_valid_mark=1"});
  // One protection table per family: spoofed packets to our addresses dropped, UDP replies
  // kept marked.
  ASSERT_EQ(kernel.nft_scripts.size(), 2u);
  EXPECT_TRUE(contains(kernel.nft_scripts[0], "add table ip waypost-wpt0\n"));
  EXPECT_TRUE(contains(kernel.nft_scripts[0],
                       "iifname != \"wpt0\" ip daddr 10.0.0.2 fib saddr type != local drop"));
  EXPECT_TRUE(contains(kernel.nft_scripts[0], fmt::format("mark {} ct mark set mark", table)));
  EXPECT_TRUE(contains(kernel.nft_scripts[1], "add table ip6 waypost-wpt0\n"));
  EXPECT_TRUE(contains(kernel.nft_scripts[1], "ip6 daddr fd00::2 fib saddr type != local drop"));

  // down() removes exactly what up() added.
  ASSERT_TRUE(setup->down().ok());
  EXPECT_TRUE(kernel.net.rules.empty());
  ASSERT_EQ(kernel.nft_scripts.size(), 4u);
  EXPECT_EQ(kernel.nft_scripts[2], "add table ip waypost-wpt0\ndelete table ip waypost-wpt0\n");
  EXPECT_EQ(kernel.nft_scripts[3], "add table ip6 waypost-wpt0\ndelete table ip6 waypost-wpt0\n");
}

TEST_F(SetupDecisions, PolicyRoutingReusesTheConfiguredFwMark) {
  config.iface.fwmark = 0x1234;
  config.iface.mtu = 1420;
  config.peers = {peer({"0.0.0.0/0"})};
  kernel.sysctls["net.ipv4.conf.all.src_valid_mark"] = "1";
  auto setup = up();
  ASSERT_TRUE(setup.ok()) << setup.error().message;
  EXPECT_TRUE(fwmarks_set.empty());  // the device marks its packets already
  EXPECT_TRUE(kernel.net.calls("routes table 51820").empty());  // no table search
  EXPECT_EQ(setup->fwmark(), 0x1234u);
  EXPECT_TRUE(kernel.net.has_route("0.0.0.0/0", 0x1234));
  EXPECT_EQ(kernel.net.rules.front(), (Rule{.table = 0x1234, .fwmark = 0x1234, .invert = true}));
  EXPECT_TRUE(kernel.sysctl_writes.empty());  // already on
}

TEST_F(SetupDecisions, PolicyRoutingNeedsAWayToSetTheMark) {
  context.set_fwmark = nullptr;
  config.iface.mtu = 1420;
  config.peers = {peer({"0.0.0.0/0"})};
  auto setup = up();
  ASSERT_FALSE(setup.ok());
  EXPECT_TRUE(contains(setup.error().message, "needs an fwmark")) << setup.error().message;
  EXPECT_TRUE(kernel.net.rules.empty());
}

TEST_F(SetupDecisions, NetlinkErrorIsReportedAndWhatWasAddedIsUndone) {
  config.iface.mtu = 1420;
  config.peers = {peer({"0.0.0.0/0", "::/0"})};
  kernel.net.fail("add_route", "::/0", EEXIST);
  auto setup = up();
  ASSERT_FALSE(setup.ok());
  // The kernel's error comes back as it was: message, errno and kind.
  EXPECT_EQ(setup.error().code, EEXIST);
  EXPECT_TRUE(contains(setup.error().message, "File exists")) << setup.error().message;
  EXPECT_FALSE(contains(setup.error().message, "while undoing"));
  // The four rules and the IPv4 nftables table added before the failure are gone again.
  EXPECT_TRUE(kernel.net.rules.empty());
  EXPECT_EQ(kernel.net.calls("del_rule").size(), 4u);
  ASSERT_EQ(kernel.nft_scripts.size(), 2u);
  EXPECT_EQ(kernel.nft_scripts[1], "add table ip waypost-wpt0\ndelete table ip waypost-wpt0\n");
}

TEST_F(SetupDecisions, FailuresWhileUndoingAreReportedToo) {
  config.iface.mtu = 1420;
  config.peers = {peer({"0.0.0.0/0"})};
  kernel.fail_nft = make_error("Error: syntax error, unexpected junk");
  kernel.net.fail("del_rule", "not fwmark", EPERM);
  auto setup = up();
  ASSERT_FALSE(setup.ok());
  const std::string& message = setup.error().message;
  EXPECT_TRUE(contains(message, "nftables table ip waypost-wpt0: Error: syntax error")) << message;
  EXPECT_TRUE(contains(message, "; while undoing: injected: Operation not permitted")) << message;
  // The rule that could not be removed is still there; the other one is gone.
  ASSERT_EQ(kernel.net.rules.size(), 1u);
  EXPECT_TRUE(kernel.net.rules[0].invert);
}

TEST_F(SetupDecisions, DownToleratesRulesAlreadyGone) {
  config.iface.mtu = 1420;
  config.peers = {peer({"0.0.0.0/0"})};
  auto setup = up();
  ASSERT_TRUE(setup.ok()) << setup.error().message;
  kernel.net.rules.clear();  // removed by hand
  EXPECT_TRUE(setup->down().ok());
}

TEST_F(SetupDecisions, MissingInterfaceIsNotFound) {
  context.ifname = "wpt9";
  auto setup = up();
  ASSERT_FALSE(setup.ok());
  EXPECT_EQ(setup.error().kind, ErrorKind::kNotFound);
  EXPECT_TRUE(kernel.net.calls("add_").empty());
}

TEST_F(SetupDecisions, AddressErrorStopsBeforeAnythingElse) {
  config.iface.addresses = {address("10.0.0.2/24")};
  config.peers = {peer({"10.1.0.0/16"})};
  kernel.net.fail("add_address", "10.0.0.2/24", EACCES);
  auto setup = up();
  ASSERT_FALSE(setup.ok());
  EXPECT_EQ(setup.error().kind, ErrorKind::kPermission);
  EXPECT_TRUE(kernel.net.calls("set_mtu").empty());
  EXPECT_TRUE(kernel.net.calls("add_route").empty());
}

}  // namespace
}  // namespace waypost::daemon
