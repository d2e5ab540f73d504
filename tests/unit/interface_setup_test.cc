// wg-quick-style interface setup against the real kernel. Each test forks a child that moves into
// a fresh network namespace (the host's network configuration is never touched), creates TUN
// devices there and checks the result with our own netlink dumps, ip(8) JSON output and nft.
// resolvconf is replaced by a recording stub on PATH.
#include "daemon/interface_setup.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "platform/firewall_nft.h"
#include "platform/netlink.h"
#include "platform/sysctl.h"

namespace waypost::daemon {
namespace {

using platform::Netlink;
using platform::Rule;

// Failed checks made inside the child, as "file:line: what" lines.
struct Checks {
  std::string failures;
  void fail(const char* file, int line, const std::string& what) {
    failures += fmt::format("{}:{}: {}\n", file, line, what);
  }
};

#define CHILD_CHECK(cond)                                           \
  do {                                                              \
    if (!(cond)) checks.fail(__FILE__, __LINE__, "failed: " #cond); \
  } while (0)
#define CHILD_CHECK_EQ(a, b)                                                                     \
  do {                                                                                           \
    const auto& a_ = (a);                                                                        \
    const auto& b_ = (b);                                                                        \
    if (!(a_ == b_)) {                                                                           \
      checks.fail(__FILE__, __LINE__, fmt::format("{} == {}:\n  {}\nvs\n  {}", #a, #b, a_, b_)); \
    }                                                                                            \
  } while (0)
#define CHILD_CHECK_CONTAINS(haystack, needle)                                            \
  do {                                                                                    \
    const std::string& h_ = (haystack);                                                   \
    if (h_.find(needle) == std::string::npos) {                                           \
      checks.fail(__FILE__, __LINE__, fmt::format("'{}' not found in:\n{}", needle, h_)); \
    }                                                                                     \
  } while (0)
// Stops the child's body when a step it depends on fails.
#define CHILD_REQUIRE_OK(expr)                                                       \
  do {                                                                               \
    auto&& r_ = (expr);                                                              \
    if (!r_.ok()) {                                                                  \
      checks.fail(__FILE__, __LINE__, std::string(#expr ": ") + r_.error().message); \
      return;                                                                        \
    }                                                                                \
  } while (0)

bool is_root() {
  return geteuid() == 0;
}

// Runs body in a forked child inside a new network namespace and turns its failures into test
// failures here. The namespace dies with the child, taking every link, route and rule with it.
void run_in_netns(const std::function<void(Checks&)>& body) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  fflush(nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    alarm(60);  // a hung child must not hang the suite
    Checks checks;
    if (unshare(CLONE_NEWNET) != 0) {
      checks.fail(__FILE__, __LINE__, std::string("unshare(CLONE_NEWNET): ") + strerror(errno));
    } else {
      body(checks);
    }
    const std::string& out = checks.failures;
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += size_t(n);
    }
    _exit(out.empty() ? 0 : 1);
  }
  close(fds[1]);
  std::string report;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) report.append(buf, size_t(n));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(report.empty()) << report;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << (WIFSIGNALED(status) ? fmt::format("child killed by signal {}", WTERMSIG(status))
                              : fmt::format("child exit status {}", WEXITSTATUS(status)));
}

// A TUN device that exists while the returned descriptor is open.
int open_tun(const char* name) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string run_capture(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[1024];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A scratch directory, removed again when the child is done with it.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/waypost-setup-XXXXXX";
    path = mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

net::Prefix pfx(std::string_view text) {
  return *net::Prefix::parse_interface_address(text);
}
net::Prefix allowed_ip(std::string_view text) {
  return *net::Prefix::parse(text);
}

wireguard::ConfPeer peer(std::initializer_list<std::string_view> allowed) {
  wireguard::ConfPeer p;
  for (auto a : allowed) p.allowed_ips.push_back(allowed_ip(a));
  return p;
}

bool has_route(const std::vector<platform::Route>& routes, const net::Prefix& dst, int ifindex) {
  return std::any_of(routes.begin(), routes.end(), [&](const platform::Route& r) {
    return r.dst == dst && r.ifindex == ifindex;
  });
}

size_t count_routes_via(const std::vector<platform::Route>& routes, int ifindex) {
  return size_t(std::count_if(routes.begin(), routes.end(),
                              [&](const platform::Route& r) { return r.ifindex == ifindex; }));
}

bool link_is_up(const std::string& ifname) {
  auto json = nlohmann::json::parse(run_capture("ip -j link show dev " + ifname), nullptr, false);
  if (!json.is_array() || json.empty()) return false;
  for (const auto& flag : json[0].value("flags", nlohmann::json::array())) {
    if (flag == "UP") return true;
  }
  return false;
}

SetupContext context_for(const std::string& ifname, std::vector<uint32_t>* marks = nullptr,
                         const std::vector<net::Endpoint>& endpoints = {}) {
  SetupContext ctx;
  ctx.ifname = ifname;
  ctx.set_fwmark = [marks](uint32_t mark) -> Status {
    if (marks != nullptr) marks->push_back(mark);
    return {};
  };
  ctx.peer_endpoints = [endpoints] { return endpoints; };
  return ctx;
}

TEST(InterfaceSetup, AddressesExplicitMtuAndMainTableRoutes) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    int tun = open_tun("wp0");
    CHILD_CHECK(tun >= 0);
    auto nl = Netlink::open();
    CHILD_REQUIRE_OK(nl);
    auto index = nl->link_index("wp0");
    CHILD_REQUIRE_OK(index);

    wireguard::WgQuickConfig config;
    config.iface.addresses = {pfx("10.0.0.2/24"), pfx("fd00::2/64")};
    config.iface.mtu = 1380;
    config.peers.push_back(peer({"10.0.0.0/24", "192.168.5.7/32", "fd00:1::/64"}));
    config.peers.push_back(peer({"10.10.0.0/16", "10.0.0.9/32"}));

    auto setup = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK_EQ(setup->mtu(), 1380u);
    CHILD_CHECK_EQ(setup->table(), platform::kMainTable);
    CHILD_CHECK(!setup->dns_warning().has_value());

    auto v4 = nl->addresses(*index, net::Family::kV4);
    CHILD_REQUIRE_OK(v4);
    CHILD_CHECK(std::count(v4->begin(), v4->end(), pfx("10.0.0.2/24")) == 1);
    auto v6 = nl->addresses(*index, net::Family::kV6);
    CHILD_REQUIRE_OK(v6);
    CHILD_CHECK(std::count(v6->begin(), v6->end(), pfx("fd00::2/64")) == 1);
    auto mtu = nl->link_mtu(*index);
    CHILD_REQUIRE_OK(mtu);
    CHILD_CHECK_EQ(*mtu, 1380u);
    CHILD_CHECK(link_is_up("wp0"));

    auto main4 = nl->routes(net::Family::kV4, platform::kMainTable);
    CHILD_REQUIRE_OK(main4);
    CHILD_CHECK(has_route(*main4, allowed_ip("10.10.0.0/16"), *index));
    CHILD_CHECK(has_route(*main4, allowed_ip("192.168.5.7/32"), *index));
    // 10.0.0.0/24 and 10.0.0.9/32 are covered by the address's subnet route: not added again.
    CHILD_CHECK(has_route(*main4, allowed_ip("10.0.0.0/24"), *index));
    CHILD_CHECK(!has_route(*main4, allowed_ip("10.0.0.9/32"), *index));
    CHILD_CHECK_EQ(count_routes_via(*main4, *index), size_t(3));
    auto main6 = nl->routes(net::Family::kV6, platform::kMainTable);
    CHILD_REQUIRE_OK(main6);
    CHILD_CHECK(has_route(*main6, allowed_ip("fd00:1::/64"), *index));

    // No policy routing, no firewall without a /0.
    auto rules = nl->rules(net::Family::kV4);
    CHILD_REQUIRE_OK(rules);
    CHILD_CHECK_EQ(rules->size(), size_t(3));  // local, main, default
    std::string tables;
    CHILD_REQUIRE_OK(platform::nft_run("list tables", &tables));
    CHILD_CHECK_EQ(tables, std::string());

    CHILD_REQUIRE_OK(setup->down());
    CHILD_REQUIRE_OK(setup->down());  // idempotent
    close(tun);
  });
}

TEST(InterfaceSetup, AutomaticMtu) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    int wp = open_tun("wp0");
    int up0 = open_tun("up0");
    int up1 = open_tun("up1");
    CHILD_CHECK(wp >= 0 && up0 >= 0 && up1 >= 0);
    auto nl = Netlink::open();
    CHILD_REQUIRE_OK(nl);
    auto i0 = nl->link_index("up0");
    CHILD_REQUIRE_OK(i0);
    auto i1 = nl->link_index("up1");
    CHILD_REQUIRE_OK(i1);
    CHILD_REQUIRE_OK(nl->set_mtu(*i0, 1400));
    CHILD_REQUIRE_OK(nl->set_mtu(*i1, 1300));
    CHILD_REQUIRE_OK(nl->set_link_up(*i0));
    CHILD_REQUIRE_OK(nl->set_link_up(*i1));
    CHILD_REQUIRE_OK(nl->add_address(*i0, pfx("192.0.2.1/24")));
    CHILD_REQUIRE_OK(nl->add_address(*i1, pfx("198.51.100.1/24")));
    CHILD_CHECK(system("ip route add 203.0.113.0/24 dev up0 mtu 1280") == 0);

    wireguard::WgQuickConfig config;  // no MTU=: automatic
    auto ep = [](std::string_view text) { return *net::Endpoint::parse(text); };

    // Nothing to go by: 1500 - 80.
    auto setup = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK_EQ(setup->mtu(), 1420u);

    // The default route's device.
    CHILD_CHECK(system("ip route add default via 192.0.2.254 dev up0") == 0);
    setup = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK_EQ(setup->mtu(), 1320u);

    // Toward one endpoint: its route's device MTU, minus the IPv4 overhead (60), rounded down to
    // a multiple of 16 (peers pad to 16).
    setup = InterfaceSetup::up(config, context_for("wp0", nullptr, {ep("198.51.100.9:51820")}));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK_EQ(setup->mtu(), 1232u);
    // Several endpoints: the smallest path MTU wins (as current wg-quick does).
    setup = InterfaceSetup::up(
        config, context_for("wp0", nullptr, {ep("192.0.2.9:51820"), ep("198.51.100.9:51820")}));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK_EQ(setup->mtu(), 1232u);
    // A route's own MTU metric beats its device's MTU.
    setup = InterfaceSetup::up(config, context_for("wp0", nullptr, {ep("203.0.113.5:51820")}));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK_EQ(setup->mtu(), 1216u);
    auto index = nl->link_index("wp0");
    CHILD_REQUIRE_OK(index);
    auto applied = nl->link_mtu(*index);
    CHILD_REQUIRE_OK(applied);
    CHILD_CHECK_EQ(*applied, 1216u);

    // When the path changes, refresh_mtu follows it.
    CHILD_CHECK(system("ip route replace 203.0.113.0/24 dev up0 mtu 1360") == 0);
    auto changed = setup->refresh_mtu();
    CHILD_REQUIRE_OK(changed);
    CHILD_CHECK(*changed);
    CHILD_CHECK_EQ(setup->mtu(), 1296u);
    changed = setup->refresh_mtu();
    CHILD_REQUIRE_OK(changed);
    CHILD_CHECK(!*changed);
    applied = nl->link_mtu(*index);
    CHILD_REQUIRE_OK(applied);
    CHILD_CHECK_EQ(*applied, 1296u);

    // An explicit MTU is never refreshed.
    config.iface.mtu = 1350;
    setup = InterfaceSetup::up(config, context_for("wp0", nullptr, {ep("203.0.113.5:51820")}));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK_EQ(setup->mtu(), 1350u);
    changed = setup->refresh_mtu();
    CHILD_REQUIRE_OK(changed);
    CHILD_CHECK(!*changed);
    close(wp);
    close(up0);
    close(up1);
  });
}

TEST(InterfaceSetup, NumberedNamedAndOffTables) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    int tun = open_tun("wp0");
    auto nl = Netlink::open();
    CHILD_REQUIRE_OK(nl);
    auto index = nl->link_index("wp0");
    CHILD_REQUIRE_OK(index);
    auto rules_before = nl->rules(net::Family::kV4);
    CHILD_REQUIRE_OK(rules_before);

    wireguard::WgQuickConfig config;
    config.iface.mtu = 1420;
    config.iface.table = "1234";
    config.peers.push_back(peer({"0.0.0.0/0", "::/0", "10.20.0.0/16"}));
    std::vector<uint32_t> marks;
    auto setup = InterfaceSetup::up(config, context_for("wp0", &marks));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK_EQ(setup->table(), 1234u);
    CHILD_CHECK_EQ(setup->fwmark(), 0u);
    CHILD_CHECK(marks.empty());
    auto t4 = nl->routes(net::Family::kV4, 1234);
    CHILD_REQUIRE_OK(t4);
    CHILD_CHECK(has_route(*t4, allowed_ip("0.0.0.0/0"), *index));
    CHILD_CHECK(has_route(*t4, allowed_ip("10.20.0.0/16"), *index));
    auto t6 = nl->routes(net::Family::kV6, 1234);
    CHILD_REQUIRE_OK(t6);
    CHILD_CHECK(has_route(*t6, allowed_ip("::/0"), *index));
    auto main4 = nl->routes(net::Family::kV4, platform::kMainTable);
    CHILD_REQUIRE_OK(main4);
    CHILD_CHECK_EQ(count_routes_via(*main4, *index), size_t(0));
    // A numbered table adds routes only: no rules, no firewall.
    auto rules_after = nl->rules(net::Family::kV4);
    CHILD_REQUIRE_OK(rules_after);
    CHILD_CHECK_EQ(rules_after->size(), rules_before->size());
    std::string tables;
    CHILD_REQUIRE_OK(platform::nft_run("list tables", &tables));
    CHILD_CHECK_EQ(tables, std::string());
    CHILD_REQUIRE_OK(setup->down());

    // A table name: "main" is built in.
    config.iface.table = "main";
    config.peers = {peer({"10.30.0.0/16"})};
    setup = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK_EQ(setup->table(), platform::kMainTable);
    main4 = nl->routes(net::Family::kV4, platform::kMainTable);
    CHILD_REQUIRE_OK(main4);
    CHILD_CHECK(has_route(*main4, allowed_ip("10.30.0.0/16"), *index));

    // Table=off: no routes at all.
    config.iface.table = "off";
    config.peers = {peer({"10.40.0.0/16", "0.0.0.0/0"})};
    setup = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK_EQ(setup->table(), 0u);
    main4 = nl->routes(net::Family::kV4, platform::kMainTable);
    CHILD_REQUIRE_OK(main4);
    CHILD_CHECK(!has_route(*main4, allowed_ip("10.40.0.0/16"), *index));
    auto busy = nl->table_has_routes(net::Family::kV4, 51820);
    CHILD_REQUIRE_OK(busy);
    CHILD_CHECK(!*busy);

    // Unknown names are reported as such.
    config.iface.table = "no-such-table";
    auto bad = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_CHECK(!bad.ok());
    if (!bad.ok()) {
      CHILD_CHECK_EQ(bad.error().message,
                     std::string("Table = 'no-such-table': neither a number nor a table name "
                                 "known to iproute2"));
    }
    close(tun);
  });
}

// Rules as ip(8) prints them, for an independent look at what the kernel holds.
std::vector<std::string> ip_rules(const char* family) {
  std::vector<std::string> out;
  std::string text = run_capture(fmt::format("ip {} rule show", family));
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto colon = line.find(':');
    if (colon != std::string::npos) line = line.substr(colon + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.erase(0, 1);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out.push_back(line);
  }
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(InterfaceSetup, DefaultRouteUsesPolicyRoutingAndFirewall) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    int tun = open_tun("wp0");
    auto nl = Netlink::open();
    CHILD_REQUIRE_OK(nl);
    auto index = nl->link_index("wp0");
    CHILD_REQUIRE_OK(index);

    wireguard::WgQuickConfig config;
    config.iface.addresses = {pfx("10.0.0.2/32"), pfx("fd00::2/128")};
    config.iface.mtu = 1420;
    config.peers.push_back(peer({"0.0.0.0/0", "::/0", "10.99.0.0/16"}));
    std::vector<uint32_t> marks;
    auto setup = InterfaceSetup::up(config, context_for("wp0", &marks));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK(marks == std::vector<uint32_t>{51820});
    CHILD_CHECK_EQ(setup->fwmark(), 51820u);
    CHILD_CHECK_EQ(setup->table(), 51820u);

    auto v4 = ip_rules("-4");
    CHILD_CHECK(contains(v4, "not from all fwmark 0xca6c lookup 51820"));
    CHILD_CHECK(contains(v4, "from all lookup main suppress_prefixlength 0"));
    auto v6 = ip_rules("-6");
    CHILD_CHECK(contains(v6, "not from all fwmark 0xca6c lookup 51820"));
    CHILD_CHECK(contains(v6, "from all lookup main suppress_prefixlength 0"));

    auto t4 = nl->routes(net::Family::kV4, 51820);
    CHILD_REQUIRE_OK(t4);
    CHILD_CHECK(has_route(*t4, allowed_ip("0.0.0.0/0"), *index));
    auto t6 = nl->routes(net::Family::kV6, 51820);
    CHILD_REQUIRE_OK(t6);
    CHILD_CHECK(has_route(*t6, allowed_ip("::/0"), *index));
    // Other prefixes still go into the main table.
    auto main4 = nl->routes(net::Family::kV4, platform::kMainTable);
    CHILD_REQUIRE_OK(main4);
    CHILD_CHECK(has_route(*main4, allowed_ip("10.99.0.0/16"), *index));
    CHILD_CHECK(!has_route(*main4, allowed_ip("0.0.0.0/0"), *index));

    auto valid_mark = platform::sysctl_read("net.ipv4.conf.all.src_valid_mark");
    CHILD_REQUIRE_OK(valid_mark);
    CHILD_CHECK_EQ(*valid_mark, std::string("1"));

    std::string nft4 = run_capture("nft list table ip waypost-wp0 2>&1");
    CHILD_CHECK_CONTAINS(nft4, "chain preraw");
    CHILD_CHECK_CONTAINS(nft4, "type filter hook prerouting priority raw; policy accept;");
    CHILD_CHECK_CONTAINS(nft4, "iifname != \"wp0\" ip daddr 10.0.0.2 fib saddr type != local drop");
    CHILD_CHECK_CONTAINS(nft4, "meta l4proto udp meta mark set ct mark");
    CHILD_CHECK_CONTAINS(nft4, "meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark");
    std::string nft6 = run_capture("nft list table ip6 waypost-wp0 2>&1");
    CHILD_CHECK_CONTAINS(nft6, "iifname != \"wp0\" ip6 daddr fd00::2 fib saddr type != local drop");

    // The daemon's own (marked) traffic bypasses the tunnel; everything else enters it.
    auto plain = nl->route_get(*net::IpAddress::parse("8.8.8.8"));
    CHILD_REQUIRE_OK(plain);
    CHILD_CHECK_EQ(plain->ifindex, *index);

    CHILD_REQUIRE_OK(setup->down());
    v4 = ip_rules("-4");
    CHILD_CHECK(!contains(v4, "not from all fwmark 0xca6c lookup 51820"));
    CHILD_CHECK(!contains(v4, "from all lookup main suppress_prefixlength 0"));
    v6 = ip_rules("-6");
    CHILD_CHECK(!contains(v6, "not from all fwmark 0xca6c lookup 51820"));
    CHILD_CHECK(!contains(v6, "from all lookup main suppress_prefixlength 0"));
    std::string tables;
    CHILD_REQUIRE_OK(platform::nft_run("list tables", &tables));
    CHILD_CHECK_EQ(tables, std::string());
    close(tun);
  });
}

TEST(InterfaceSetup, DefaultRoutePicksFreeTableOrConfiguredMark) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    int tun = open_tun("wp0");
    int other = open_tun("other0");
    auto nl = Netlink::open();
    CHILD_REQUIRE_OK(nl);
    auto o = nl->link_index("other0");
    CHILD_REQUIRE_OK(o);
    CHILD_REQUIRE_OK(nl->set_link_up(*o));
    // Tables 51820 (IPv4) and 51821 (IPv6) are taken: wg-quick moves on to 51822.
    CHILD_REQUIRE_OK(nl->add_route(*o, allowed_ip("10.1.0.0/16"), 51820));
    CHILD_REQUIRE_OK(nl->add_route(*o, allowed_ip("fd01::/64"), 51821));

    wireguard::WgQuickConfig config;
    config.iface.mtu = 1420;
    config.peers.push_back(peer({"0.0.0.0/0"}));
    std::vector<uint32_t> marks;
    auto setup = InterfaceSetup::up(config, context_for("wp0", &marks));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK(marks == std::vector<uint32_t>{51822});
    CHILD_CHECK_EQ(setup->table(), 51822u);
    CHILD_CHECK(contains(ip_rules("-4"), "not from all fwmark 0xca6e lookup 51822"));
    // Only IPv4 was routed: no IPv6 rules or firewall.
    CHILD_CHECK(!contains(ip_rules("-6"), "from all lookup main suppress_prefixlength 0"));
    CHILD_CHECK(!platform::nft_run("list table ip6 waypost-wp0").ok());
    CHILD_REQUIRE_OK(setup->down());

    // A configured FwMark is reused as the table, and nothing is set on the device.
    config.iface.fwmark = 4321;
    marks.clear();
    setup = InterfaceSetup::up(config, context_for("wp0", &marks));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK(marks.empty());
    CHILD_CHECK_EQ(setup->table(), 4321u);
    CHILD_CHECK(contains(ip_rules("-4"), "not from all fwmark 0x10e1 lookup 4321"));
    std::string nft4 = run_capture("nft list table ip waypost-wp0 2>&1");
    CHILD_CHECK_CONTAINS(nft4, "meta l4proto udp meta mark 0x000010e1 ct mark set meta mark");
    CHILD_REQUIRE_OK(setup->down());
    CHILD_CHECK(!contains(ip_rules("-4"), "not from all fwmark 0x10e1 lookup 4321"));

    // Without a way to set the fwmark, a /0 cannot be routed safely.
    config.iface.fwmark.reset();
    SetupContext no_mark = context_for("wp0");
    no_mark.set_fwmark = nullptr;
    auto bad = InterfaceSetup::up(config, no_mark);
    CHILD_CHECK(!bad.ok());
    if (!bad.ok()) {
      CHILD_CHECK_EQ(bad.error().message,
                     std::string("routing 0.0.0.0/0 through wp0 needs an fwmark, but none can be "
                                 "set"));
    }
    close(tun);
    close(other);
  });
}

TEST(InterfaceSetup, HooksRunInOrderWithInterfaceName) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    TempDir dir;
    CHILD_CHECK(!dir.path.empty());
    int tun = open_tun("wp0");
    std::string log = dir.path + "/hooks.log";

    wireguard::WgQuickConfig config;
    config.iface.mtu = 1420;
    auto append = [&](const std::string& what) { return "echo '" + what + "' >> " + log; };
    config.iface.pre_up = {append("pre-up %i"), append("pre-up-2 %i%i")};
    config.iface.post_up = {append("post-up %i") + " && ip link show dev %i >/dev/null"};
    config.iface.pre_down = {append("pre-down %i")};
    config.iface.post_down = {append("post-down %i")};

    CHILD_REQUIRE_OK(InterfaceSetup::run_pre_up(config, "wp0"));
    auto setup = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_REQUIRE_OK(setup);
    InterfaceSetup moved = std::move(*setup);
    CHILD_REQUIRE_OK(setup->down());  // moved-from: nothing to do, no hooks
    CHILD_REQUIRE_OK(moved.down());
    CHILD_REQUIRE_OK(moved.down());  // hooks do not run twice
    CHILD_CHECK_EQ(read_file(log), std::string("pre-up wp0\npre-up-2 wp0wp0\npost-up wp0\n"
                                               "pre-down wp0\npost-down wp0\n"));

    // A failing PreUp/PostUp is an error carrying the hook and its exit status.
    config.iface.pre_up = {"exit 4"};
    auto pre = InterfaceSetup::run_pre_up(config, "wp0");
    CHILD_CHECK(!pre.ok());
    if (!pre.ok()) {
      CHILD_CHECK_EQ(pre.error().message, std::string("PreUp hook `exit 4` failed: exit status 4"));
    }
    config.iface.post_up = {"echo %i >/dev/null; exit 3"};
    auto post = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_CHECK(!post.ok());
    if (!post.ok()) {
      CHILD_CHECK_EQ(
          post.error().message,
          std::string("PostUp hook `echo wp0 >/dev/null; exit 3` failed: exit status 3"));
    }
    // As under wg-quick's `set -e -o pipefail`, a failure mid-hook fails the hook.
    config.iface.post_up = {"false; true", "false | true"};
    for (const auto& hook : config.iface.post_up) {
      config.iface.post_up = {hook};
      auto mid = InterfaceSetup::up(config, context_for("wp0"));
      CHILD_CHECK(!mid.ok());
    }
    // Failing teardown hooks are reported, and teardown still completes.
    config.iface.post_up = {};
    config.iface.pre_down = {"exit 5"};
    config.iface.post_down = {append("post-down-after-failure %i")};
    setup = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_REQUIRE_OK(setup);
    auto down = setup->down();
    CHILD_CHECK(!down.ok());
    if (!down.ok()) {
      CHILD_CHECK_EQ(down.error().message,
                     std::string("PreDown hook `exit 5` failed: exit status 5"));
    }
    CHILD_CHECK_CONTAINS(read_file(log), "post-down-after-failure wp0\n");
    close(tun);
  });
}

TEST(InterfaceSetup, FailedPostUpUndoesPolicyRouting) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    int tun = open_tun("wp0");
    wireguard::WgQuickConfig config;
    config.iface.addresses = {pfx("10.0.0.2/32")};
    config.iface.mtu = 1420;
    config.iface.post_up = {"exit 1"};
    config.peers.push_back(peer({"0.0.0.0/0"}));
    auto setup = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_CHECK(!setup.ok());
    if (!setup.ok()) {
      CHILD_CHECK_EQ(setup.error().message,
                     std::string("PostUp hook `exit 1` failed: exit status 1"));
    }
    auto rules = ip_rules("-4");
    CHILD_CHECK(!contains(rules, "not from all fwmark 0xca6c lookup 51820"));
    CHILD_CHECK(!contains(rules, "from all lookup main suppress_prefixlength 0"));
    std::string tables;
    CHILD_REQUIRE_OK(platform::nft_run("list tables", &tables));
    CHILD_CHECK_EQ(tables, std::string());
    close(tun);
  });
}

TEST(InterfaceSetup, ErrorsNameWhatFailed) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    int tun = open_tun("wp0");
    wireguard::WgQuickConfig config;
    config.iface.mtu = 1420;

    auto missing = InterfaceSetup::up(config, context_for("nosuch0"));
    CHILD_CHECK(!missing.ok());
    if (!missing.ok()) {
      CHILD_CHECK_EQ(missing.error().message, std::string("interface 'nosuch0': No such device"));
    }
    auto bad_name = InterfaceSetup::up(config, context_for("wp0; rm -rf /"));
    CHILD_CHECK(!bad_name.ok());

    config.iface.addresses = {pfx("10.0.0.2/24"), pfx("10.0.0.2/24")};
    auto dup = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_CHECK(!dup.ok());
    if (!dup.ok()) {
      CHILD_CHECK(dup.error().message.starts_with("add address 10.0.0.2/24 dev wp0: File exists"));
    }

    // With Table=main the route is added as asked, so a clash with the subnet route of the
    // (already present) address is reported, like `ip route add ... table main` would.
    config.iface.addresses = {};
    config.iface.table = "main";
    config.peers.push_back(peer({"10.0.0.0/24"}));
    auto clash = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_CHECK(!clash.ok());
    if (!clash.ok()) {
      CHILD_CHECK(clash.error().message.starts_with(
          "add route 10.0.0.0/24 dev wp0 table main: File exists"));
    }

    config.iface.table.reset();
    config.iface.mtu = 20;
    auto tiny = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_CHECK(!tiny.ok());
    if (!tiny.ok()) CHILD_CHECK(tiny.error().message.starts_with("set mtu 20 on wp0: "));
    close(tun);
  });
}

// Installs a resolvconf stand-in that records its arguments and input.
std::string install_fake_resolvconf(const std::string& dir, const std::string& log) {
  std::string path = dir + "/resolvconf";
  std::ofstream script(path);
  script << "#!/bin/bash\n"
         << "echo \"args: $*\" >> " << log << "\n"
         << "if [[ $1 == -a ]]; then cat >> " << log << "; fi\n";
  script.close();
  chmod(path.c_str(), 0755);
  return path;
}

TEST(InterfaceSetup, DnsThroughResolvconf) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    TempDir dir;
    CHILD_CHECK(!dir.path.empty());
    std::string log = dir.path + "/resolvconf.log";
    std::string fake = install_fake_resolvconf(dir.path, log);
    setenv("PATH", (dir.path + ":/usr/sbin:/usr/bin:/sbin:/bin").c_str(), 1);
    std::string name = resolvconf_interface_prefix("/etc/resolvconf/interface-order", fake) + "wp0";

    int tun = open_tun("wp0");
    wireguard::WgQuickConfig config;
    config.iface.mtu = 1420;
    config.iface.dns_servers = {*net::IpAddress::parse("10.0.0.53"),
                                *net::IpAddress::parse("fd00::53")};
    config.iface.dns_search = {"example.com", "corp.example"};
    auto setup = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK(!setup->dns_warning().has_value());
    CHILD_CHECK_EQ(read_file(log), fmt::format("args: -a {} -m 0 -x\n"
                                               "nameserver 10.0.0.53\n"
                                               "nameserver fd00::53\n"
                                               "search example.com corp.example\n",
                                               name));
    CHILD_REQUIRE_OK(setup->down());
    CHILD_CHECK_CONTAINS(read_file(log), fmt::format("args: -d {} -f\n", name));

    // A failure after DNS was applied takes the DNS entry back out.
    std::filesystem::remove(log);
    config.iface.post_up = {"false"};
    auto failed = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_CHECK(!failed.ok());
    CHILD_CHECK_CONTAINS(read_file(log), fmt::format("args: -d {} -f\n", name));

    // Without resolvconf the daemon gets a warning to pass on, and up() still succeeds.
    std::filesystem::remove(fake);
    config.iface.post_up = {};
    setup = InterfaceSetup::up(config, context_for("wp0"));
    CHILD_REQUIRE_OK(setup);
    CHILD_CHECK(setup->dns_warning().has_value());
    if (setup->dns_warning()) {
      CHILD_CHECK_EQ(*setup->dns_warning(),
                     std::string("DNS= is set but resolvconf is not installed; DNS servers were "
                                 "not applied: 10.0.0.53, fd00::53 (search example.com "
                                 "corp.example)"));
    }
    CHILD_REQUIRE_OK(setup->down());
    close(tun);
  });
}

TEST(InterfaceSetup, ResolvconfInterfacePrefix) {
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  std::string order = dir.path + "/interface-order";
  std::string resolvconf = dir.path + "/resolvconf";
  std::ofstream(resolvconf) << "#!/bin/sh\n";

  EXPECT_EQ(resolvconf_interface_prefix(order, resolvconf), "");  // no order file
  std::ofstream(order) << "# interfaces in order\nlo.inet6\nlo.inet*\n  tun*  \nwg*\n*\n";
  EXPECT_EQ(resolvconf_interface_prefix(order, resolvconf), "tun.");
  // A symlinked resolvconf is some other implementation (openresolv, systemd's), without
  // interface-order semantics.
  std::string link = dir.path + "/resolvconf-link";
  ASSERT_EQ(symlink(resolvconf.c_str(), link.c_str()), 0);
  EXPECT_EQ(resolvconf_interface_prefix(order, link), "");
  std::ofstream(order) << "lo.inet*\n";
  EXPECT_EQ(resolvconf_interface_prefix(order, resolvconf), "");
}

}  // namespace
}  // namespace waypost::daemon
