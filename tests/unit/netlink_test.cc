// rtnetlink client, nftables runner and sysctl access, exercised against the real kernel. Each
// test forks a child that moves into a fresh network namespace, so the host's own network
// configuration is never touched; the child reports failed checks back through a pipe.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "platform/firewall_nft.h"
#include "platform/netlink.h"
#include "platform/sysctl.h"

namespace waypost::platform {
namespace {

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
#define CHILD_CHECK_EQ(a, b)                                                              \
  do {                                                                                    \
    const auto& a_ = (a);                                                                 \
    const auto& b_ = (b);                                                                 \
    if (!(a_ == b_))                                                                      \
      checks.fail(__FILE__, __LINE__, fmt::format("{} == {}: {} vs {}", #a, #b, a_, b_)); \
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
// failures here. The namespace dies with the child, taking every link and route with it.
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

// A TUN device that exists while the returned descriptor is open (and has carrier then).
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

net::Prefix pfx(std::string_view text) {
  return *net::Prefix::parse_interface_address(text);
}
net::IpAddress ip_addr(std::string_view text) {
  return *net::IpAddress::parse(text);
}

bool has_route(const std::vector<Route>& routes, const net::Prefix& dst, int ifindex) {
  return std::any_of(routes.begin(), routes.end(),
                     [&](const Route& r) { return r.dst == dst && r.ifindex == ifindex; });
}

TEST(Netlink, LinksByNameAndIndex) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    int tun = open_tun("wp0");
    CHILD_CHECK(tun >= 0);
    auto nl = Netlink::open();
    CHILD_REQUIRE_OK(nl);
    auto index = nl->link_index("wp0");
    CHILD_REQUIRE_OK(index);
    auto name = nl->link_name(*index);
    CHILD_REQUIRE_OK(name);
    CHILD_CHECK_EQ(*name, std::string("wp0"));

    CHILD_REQUIRE_OK(nl->set_mtu(*index, 1380));
    auto mtu = nl->link_mtu(*index);
    CHILD_REQUIRE_OK(mtu);
    CHILD_CHECK_EQ(*mtu, 1380u);
    CHILD_REQUIRE_OK(nl->set_link_up(*index));

    // Errors name the object and carry the kernel's errno text.
    auto missing = nl->link_index("nosuchif");
    CHILD_CHECK(!missing.ok());
    if (!missing.ok()) {
      CHILD_CHECK_EQ(missing.error().message, std::string("interface 'nosuchif': No such device"));
    }
    auto bad_mtu = nl->set_mtu(*index, 10);
    CHILD_CHECK(!bad_mtu.ok());
    if (!bad_mtu.ok()) {
      CHILD_CHECK(bad_mtu.error().message.starts_with("set mtu 10 on wp0: Invalid argument"));
    }
    CHILD_CHECK(!nl->link_index("").ok());
    CHILD_CHECK(!nl->link_index("waytoolonginterfacename").ok());

    // Moving keeps the socket usable and empties the source.
    Netlink moved = std::move(*nl);
    CHILD_CHECK(moved.link_index("wp0").ok());
    CHILD_CHECK(!nl->link_index("wp0").ok());
    close(tun);
  });
}

TEST(Netlink, CreateAndDeleteLink) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    auto nl = Netlink::open();
    CHILD_REQUIRE_OK(nl);
    CHILD_REQUIRE_OK(nl->create_link("br9", "bridge"));
    auto index = nl->link_index("br9");
    CHILD_REQUIRE_OK(index);
    auto again = nl->create_link("br9", "bridge");
    CHILD_CHECK(!again.ok());
    if (!again.ok()) {
      CHILD_CHECK_EQ(again.error().message, std::string("create bridge link br9: File exists"));
    }
    CHILD_REQUIRE_OK(nl->delete_link(*index));
    CHILD_CHECK(!nl->link_index("br9").ok());
    CHILD_CHECK(!nl->delete_link(*index).ok());
  });
}

TEST(Netlink, AddressesKeepHostBits) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    int tun = open_tun("wp0");
    auto nl = Netlink::open();
    CHILD_REQUIRE_OK(nl);
    auto index = nl->link_index("wp0");
    CHILD_REQUIRE_OK(index);
    CHILD_REQUIRE_OK(nl->add_address(*index, pfx("10.9.0.2/24")));
    CHILD_REQUIRE_OK(nl->add_address(*index, pfx("fd00:9::2/64")));

    auto v4 = nl->addresses(*index, net::Family::kV4);
    CHILD_REQUIRE_OK(v4);
    CHILD_CHECK_EQ(v4->size(), size_t(1));
    CHILD_CHECK(std::count(v4->begin(), v4->end(), pfx("10.9.0.2/24")) == 1);
    auto v6 = nl->addresses(*index, net::Family::kV6);
    CHILD_REQUIRE_OK(v6);
    CHILD_CHECK(std::count(v6->begin(), v6->end(), pfx("fd00:9::2/64")) == 1);

    auto dup = nl->add_address(*index, pfx("10.9.0.2/24"));
    CHILD_CHECK(!dup.ok());
    if (!dup.ok()) {
      // The kernel's extended ack may add its own explanation after the errno text.
      CHILD_CHECK(dup.error().message.starts_with("add address 10.9.0.2/24 dev wp0: File exists"));
    }

    // NODAD: the IPv6 address is not left tentative, so it can be used at once.
    CHILD_REQUIRE_OK(nl->set_link_up(*index));
    // Checked with ip(8)'s JSON: the kernel's own link-local address may well be tentative.
    FILE* p = popen("ip -j -6 addr show dev wp0", "r");
    std::string out;
    char buf[512];
    while (p != nullptr && fgets(buf, sizeof(buf), p) != nullptr) out += buf;
    if (p != nullptr) pclose(p);
    auto json = nlohmann::json::parse(out, nullptr, false);
    bool found = false;
    if (json.is_array() && !json.empty()) {
      for (const auto& a : json[0].value("addr_info", nlohmann::json::array())) {
        if (a.value("local", "") != "fd00:9::2") continue;
        found = true;
        CHILD_CHECK_EQ(a.value("prefixlen", 0), 64);
        CHILD_CHECK(!a.value("tentative", false));
      }
    }
    CHILD_CHECK(found);
    close(tun);
  });
}

TEST(Netlink, RoutesInMainAndNumberedTables) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    int tun = open_tun("wp0");
    auto nl = Netlink::open();
    CHILD_REQUIRE_OK(nl);
    auto index = nl->link_index("wp0");
    CHILD_REQUIRE_OK(index);
    CHILD_REQUIRE_OK(nl->set_link_up(*index));

    CHILD_REQUIRE_OK(nl->add_route(*index, pfx("10.0.0.0/24")));
    CHILD_REQUIRE_OK(nl->add_route(*index, pfx("10.1.0.0/16"), 100));
    CHILD_REQUIRE_OK(nl->add_route(*index, pfx("0.0.0.0/0"), 51820));
    CHILD_REQUIRE_OK(nl->add_route(*index, pfx("::/0"), 51820));
    CHILD_REQUIRE_OK(nl->add_route(*index, pfx("fd00:1::/64")));

    auto main4 = nl->routes(net::Family::kV4, kMainTable);
    CHILD_REQUIRE_OK(main4);
    CHILD_CHECK(has_route(*main4, pfx("10.0.0.0/24"), *index));
    CHILD_CHECK(!has_route(*main4, pfx("10.1.0.0/16"), *index));
    auto t100 = nl->routes(net::Family::kV4, 100);
    CHILD_REQUIRE_OK(t100);
    CHILD_CHECK(has_route(*t100, pfx("10.1.0.0/16"), *index));
    auto big = nl->routes(net::Family::kV4, 51820);
    CHILD_REQUIRE_OK(big);
    CHILD_CHECK(big->size() == 1 && has_route(*big, pfx("0.0.0.0/0"), *index));
    auto main6 = nl->routes(net::Family::kV6, kMainTable);
    CHILD_REQUIRE_OK(main6);
    CHILD_CHECK(has_route(*main6, pfx("fd00:1::/64"), *index));

    auto has = nl->table_has_routes(net::Family::kV6, 51820);
    CHILD_REQUIRE_OK(has);
    CHILD_CHECK(*has);
    has = nl->table_has_routes(net::Family::kV4, 51821);
    CHILD_REQUIRE_OK(has);
    CHILD_CHECK(!*has);

    auto dup = nl->add_route(*index, pfx("0.0.0.0/0"), 51820);
    CHILD_CHECK(!dup.ok());
    if (!dup.ok()) {
      CHILD_CHECK_EQ(dup.error().message,
                     std::string("add route 0.0.0.0/0 dev wp0 table 51820: File exists"));
    }
    dup = nl->add_route(*index, pfx("10.0.0.0/24"));
    CHILD_CHECK(!dup.ok());
    if (!dup.ok()) {
      CHILD_CHECK_EQ(dup.error().message,
                     std::string("add route 10.0.0.0/24 dev wp0 table main: File exists"));
    }

    CHILD_REQUIRE_OK(nl->del_route(*index, pfx("0.0.0.0/0"), 51820));
    CHILD_REQUIRE_OK(nl->del_route(*index, pfx("::/0"), 51820));
    has = nl->table_has_routes(net::Family::kV4, 51820);
    CHILD_REQUIRE_OK(has);
    CHILD_CHECK(!*has);
    auto gone = nl->del_route(*index, pfx("::/0"), 51820);
    CHILD_CHECK(!gone.ok());
    if (!gone.ok()) CHILD_CHECK(gone.error().code == ESRCH || gone.error().code == ENOENT);
    close(tun);
  });
}

TEST(Netlink, RouteGetAndDefaultRoute) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    int tun = open_tun("up0");
    auto nl = Netlink::open();
    CHILD_REQUIRE_OK(nl);
    auto index = nl->link_index("up0");
    CHILD_REQUIRE_OK(index);
    CHILD_REQUIRE_OK(nl->set_link_up(*index));
    CHILD_REQUIRE_OK(nl->add_address(*index, pfx("192.0.2.1/24")));

    auto none = nl->default_route(net::Family::kV4);
    CHILD_CHECK(!none.ok());
    auto unreachable = nl->route_get(ip_addr("198.51.100.7"));
    CHILD_CHECK(!unreachable.ok());
    if (!unreachable.ok()) {
      CHILD_CHECK(unreachable.error().message.starts_with("route get 198.51.100.7: "));
    }

    auto info = nl->route_get(ip_addr("192.0.2.55"));
    CHILD_REQUIRE_OK(info);
    CHILD_CHECK_EQ(info->ifindex, *index);
    CHILD_CHECK_EQ(info->mtu, 0u);
    CHILD_CHECK(info->prefsrc == ip_addr("192.0.2.1"));

    // A route with an MTU metric reports it; a default route via a gateway is found.
    CHILD_CHECK(system("ip route add 203.0.113.0/24 dev up0 mtu 1300") == 0);
    CHILD_CHECK(system("ip route add default via 192.0.2.254 dev up0 mtu 1400") == 0);
    info = nl->route_get(ip_addr("203.0.113.9"));
    CHILD_REQUIRE_OK(info);
    CHILD_CHECK_EQ(info->mtu, 1300u);
    auto def = nl->default_route(net::Family::kV4);
    CHILD_REQUIRE_OK(def);
    CHILD_CHECK_EQ(def->ifindex, *index);
    CHILD_CHECK_EQ(def->mtu, 1400u);
    CHILD_CHECK(def->gateway == ip_addr("192.0.2.254"));
    info = nl->route_get(ip_addr("8.8.8.8"));
    CHILD_REQUIRE_OK(info);
    CHILD_CHECK(info->gateway == ip_addr("192.0.2.254"));

    // The fwmark steers the lookup through policy rules.
    int tun2 = open_tun("wp0");
    auto wp = nl->link_index("wp0");
    CHILD_REQUIRE_OK(wp);
    CHILD_REQUIRE_OK(nl->set_link_up(*wp));
    CHILD_REQUIRE_OK(nl->add_route(*wp, pfx("0.0.0.0/0"), 51820));
    CHILD_REQUIRE_OK(nl->add_rule(
        Rule{.family = net::Family::kV4, .table = 51820, .fwmark = 51820, .invert = true}));
    info = nl->route_get(ip_addr("8.8.8.8"));
    CHILD_REQUIRE_OK(info);
    CHILD_CHECK_EQ(info->ifindex, *wp);
    info = nl->route_get(ip_addr("8.8.8.8"), 51820);
    CHILD_REQUIRE_OK(info);
    CHILD_CHECK_EQ(info->ifindex, *index);

    // IPv6 lookups work the same way.
    CHILD_REQUIRE_OK(nl->add_address(*index, pfx("2001:db8::1/64")));
    info = nl->route_get(ip_addr("2001:db8::99"));
    CHILD_REQUIRE_OK(info);
    CHILD_CHECK_EQ(info->ifindex, *index);
    close(tun2);
    close(tun);
  });
}

bool has_rule(const std::vector<Rule>& rules, const Rule& want) {
  return std::any_of(rules.begin(), rules.end(), [&](const Rule& r) {
    return r.table == want.table && r.fwmark == want.fwmark && r.invert == want.invert &&
           r.suppress_prefixlength == want.suppress_prefixlength &&
           (want.priority == 0 || r.priority == want.priority);
  });
}

TEST(Netlink, PolicyRules) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    auto nl = Netlink::open();
    CHILD_REQUIRE_OK(nl);
    for (net::Family family : {net::Family::kV4, net::Family::kV6}) {
      Rule mark{.family = family, .table = 51820, .fwmark = 51820, .invert = true};
      Rule suppress{.family = family, .table = kMainTable, .suppress_prefixlength = 0};
      Rule fixed{.family = family, .table = 7, .priority = 1234};
      CHILD_REQUIRE_OK(nl->add_rule(mark));
      CHILD_REQUIRE_OK(nl->add_rule(suppress));
      CHILD_REQUIRE_OK(nl->add_rule(fixed));
      auto rules = nl->rules(family);
      CHILD_REQUIRE_OK(rules);
      CHILD_CHECK(has_rule(*rules, mark));
      CHILD_CHECK(has_rule(*rules, suppress));
      CHILD_CHECK(has_rule(*rules, fixed));

      CHILD_REQUIRE_OK(nl->del_rule(mark));
      CHILD_REQUIRE_OK(nl->del_rule(suppress));
      CHILD_REQUIRE_OK(nl->del_rule(fixed));
      rules = nl->rules(family);
      CHILD_REQUIRE_OK(rules);
      CHILD_CHECK(!has_rule(*rules, mark));
      CHILD_CHECK(!has_rule(*rules, suppress));
      CHILD_CHECK(!has_rule(*rules, fixed));
      auto again = nl->del_rule(mark);
      CHILD_CHECK(!again.ok());
      if (!again.ok()) {
        std::string want = fmt::format("delete -{} rule not fwmark 51820 table 51820: ",
                                       family == net::Family::kV4 ? 4 : 6);
        CHILD_CHECK(again.error().message.starts_with(want));
        CHILD_CHECK_EQ(again.error().code, ENOENT);
      }
    }
    // The cross-check with ip(8): it sees the rule as we meant it.
    CHILD_REQUIRE_OK(nl->add_rule(
        Rule{.family = net::Family::kV4, .table = 51820, .fwmark = 51820, .invert = true}));
    FILE* p = popen("ip -4 rule show", "r");
    std::string out;
    char buf[512];
    while (p != nullptr && fgets(buf, sizeof(buf), p) != nullptr) out += buf;
    if (p != nullptr) pclose(p);
    CHILD_CHECK(out.find("not from all fwmark 0xca6c lookup 51820") != std::string::npos);
  });
}

TEST(Netlink, RouteMonitorSeesChanges) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    int tun = open_tun("wp0");
    auto nl = Netlink::open();
    CHILD_REQUIRE_OK(nl);
    auto index = nl->link_index("wp0");
    CHILD_REQUIRE_OK(index);
    auto monitor = RouteMonitor::open();
    CHILD_REQUIRE_OK(monitor);
    CHILD_CHECK(!monitor->drain());  // nothing yet, and it must not block

    CHILD_REQUIRE_OK(nl->set_link_up(*index));
    pollfd pfd{monitor->fd(), POLLIN, 0};
    CHILD_CHECK(poll(&pfd, 1, 2000) == 1);
    CHILD_CHECK(monitor->drain());
    // Bringing the link up sets off IPv6 autoconfiguration, whose events trickle in for a while;
    // wait for quiet so that the next event is the route change.
    while (poll(&pfd, 1, 300) == 1) monitor->drain();

    CHILD_REQUIRE_OK(nl->add_route(*index, pfx("10.5.0.0/16")));
    pfd.revents = 0;
    CHILD_CHECK(poll(&pfd, 1, 2000) == 1);
    CHILD_CHECK(monitor->drain());

    CHILD_REQUIRE_OK(nl->del_route(*index, pfx("10.5.0.0/16")));
    pfd.revents = 0;
    CHILD_CHECK(poll(&pfd, 1, 2000) == 1);
    CHILD_CHECK(monitor->drain());
    close(tun);
  });
}

TEST(Sysctl, ReadWriteInsideNamespace) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    const char* key = "net.ipv4.conf.all.src_valid_mark";
    auto before = sysctl_read(key);
    CHILD_REQUIRE_OK(before);
    CHILD_CHECK_EQ(*before, std::string("0"));  // a fresh namespace starts with defaults
    CHILD_REQUIRE_OK(sysctl_write(key, "1"));
    auto after = sysctl_read(key);
    CHILD_REQUIRE_OK(after);
    CHILD_CHECK_EQ(*after, std::string("1"));

    auto missing = sysctl_read("net.ipv4.no_such_key");
    CHILD_CHECK(!missing.ok());
    if (!missing.ok()) {
      CHILD_CHECK_EQ(missing.error().message,
                     std::string("sysctl net.ipv4.no_such_key: No such file or directory"));
    }
    CHILD_CHECK(!sysctl_read("net..ipv4").ok());
    CHILD_CHECK(!sysctl_read("").ok());
    CHILD_CHECK(!sysctl_write("net/../../etc/passwd", "x").ok());
  });
}

TEST(Nft, RunsScriptsAndReportsErrors) {
  if (!is_root()) GTEST_SKIP() << "needs root for network namespaces";
  run_in_netns([](Checks& checks) {
    CHILD_REQUIRE_OK(nft_run(
        "add table ip wptest\n"
        "add chain ip wptest pre { type filter hook prerouting priority -300; }\n"
        "add rule ip wptest pre iifname != \"wp0\" ip daddr 10.0.0.2 fib saddr type != local "
        "drop\n"));
    std::string listing;
    CHILD_REQUIRE_OK(nft_run("list table ip wptest", &listing));
    CHILD_CHECK(listing.find("table ip wptest") != std::string::npos);
    CHILD_CHECK(listing.find("ip daddr 10.0.0.2") != std::string::npos);

    auto bad = nft_run("add rule ip wptest pre frobnicate\n");
    CHILD_CHECK(!bad.ok());
    if (!bad.ok()) {
      CHILD_CHECK(bad.error().message.starts_with("nftables: "));
      CHILD_CHECK(bad.error().message.find("syntax error") != std::string::npos);
      CHILD_CHECK(bad.error().message.find('\n') == std::string::npos);
    }
    CHILD_REQUIRE_OK(nft_run("delete table ip wptest"));
    auto gone = nft_run("list table ip wptest");
    CHILD_CHECK(!gone.ok());
  });
}

}  // namespace
}  // namespace waypost::platform
