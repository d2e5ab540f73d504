// The small pieces of the `waypost ipsec` daemon that decide something on their own: traffic
// selector ranges as prefixes, virtual IP leases from pools, and the in-memory log ring.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "common/log_ring.h"
#include "ipsec/address_pools.h"
#include "ipsec/range_prefixes.h"

namespace waypost::ipsec {
namespace {

net::IpAddress ip(std::string_view s) {
  return *net::IpAddress::parse(s);
}

std::vector<std::string> prefixes(std::string_view first, std::string_view last) {
  std::vector<std::string> out;
  for (const auto& p : range_to_prefixes(ip(first), ip(last))) out.push_back(p.to_string());
  return out;
}

TEST(RangePrefixes, SubnetIsOnePrefix) {
  EXPECT_EQ(prefixes("10.1.0.0", "10.1.255.255"), std::vector<std::string>{"10.1.0.0/16"});
  EXPECT_EQ(prefixes("10.3.0.1", "10.3.0.1"), std::vector<std::string>{"10.3.0.1/32"});
  EXPECT_EQ(prefixes("0.0.0.0", "255.255.255.255"), std::vector<std::string>{"0.0.0.0/0"});
  EXPECT_EQ(prefixes("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            std::vector<std::string>{"::/0"});
  EXPECT_EQ(prefixes("fd10:3::1", "fd10:3::1"), std::vector<std::string>{"fd10:3::1/128"});
}

TEST(RangePrefixes, RangeIsCoveredExactly) {
  EXPECT_EQ(prefixes("10.1.0.1", "10.1.0.100"),
            (std::vector<std::string>{"10.1.0.1/32", "10.1.0.2/31", "10.1.0.4/30", "10.1.0.8/29",
                                      "10.1.0.16/28", "10.1.0.32/27", "10.1.0.64/27",
                                      "10.1.0.96/30", "10.1.0.100/32"}));
  EXPECT_EQ(prefixes("10.0.0.255", "10.0.1.0"),
            (std::vector<std::string>{"10.0.0.255/32", "10.0.1.0/32"}));
  EXPECT_EQ(prefixes("255.255.255.254", "255.255.255.255"),
            std::vector<std::string>{"255.255.255.254/31"});
}

TEST(RangePrefixes, NonsenseGivesNothing) {
  EXPECT_TRUE(prefixes("10.0.0.2", "10.0.0.1").empty());
  EXPECT_TRUE(range_to_prefixes(ip("10.0.0.1"), ip("::1")).empty());
}

ike::Pool pool(std::string name, std::string_view first, std::string_view last) {
  ike::Pool p;
  p.name = std::move(name);
  p.addrs = {ip(first), ip(last)};
  return p;
}

TEST(AddressPools, SubnetSkipsNetworkAndBroadcast) {
  AddressPools pools;
  const auto p = pool("rw", "10.3.0.0", "10.3.0.3");  // 10.3.0.0/30: .1 and .2 usable
  EXPECT_EQ(pools.lease(p, "a", net::Family::kV4), ip("10.3.0.1"));
  EXPECT_EQ(pools.lease(p, "b", net::Family::kV4), ip("10.3.0.2"));
  EXPECT_EQ(pools.lease(p, "c", net::Family::kV4), std::nullopt);
  EXPECT_EQ(pools.lease(p, "d", net::Family::kV6), std::nullopt);
}

TEST(AddressPools, RangeIsUsedAsWritten) {
  AddressPools pools;
  const auto p = pool("r", "10.3.0.0", "10.3.0.4");  // not a subnet
  EXPECT_EQ(pools.lease(p, "a", net::Family::kV4), ip("10.3.0.0"));
}

TEST(AddressPools, IdentityGetsItsAddressBackAndOfflineOnesAreReused) {
  AddressPools pools;
  const auto p = pool("rw", "10.3.0.0", "10.3.0.3");
  const auto a = pools.lease(p, "alice", net::Family::kV4);
  const auto b = pools.lease(p, "bob", net::Family::kV4);
  ASSERT_TRUE(a && b);
  // Alice reconnects: her address again.
  pools.release(*a);
  EXPECT_EQ(pools.lease(p, "alice", net::Family::kV4), a);
  // A second device of Alice's while the first is online: no free address left.
  EXPECT_EQ(pools.lease(p, "alice", net::Family::kV4), std::nullopt);
  // Bob goes offline; Carol takes his address over (the pool has no never-used one left).
  pools.release(*b);
  EXPECT_EQ(pools.lease(p, "carol", net::Family::kV4), b);
  EXPECT_EQ(pools.leases().at("rw").at(*b).identity, "carol");
}

TEST(AddressPools, Ipv6Pool) {
  AddressPools pools;
  const auto p = pool("rw6", "fd10:3::", "fd10:3::ff");
  EXPECT_EQ(pools.lease(p, "a", net::Family::kV6), ip("fd10:3::1"));
  EXPECT_EQ(pools.lease(p, "b", net::Family::kV6), ip("fd10:3::2"));
}

TEST(LogRing, KeepsTheLastLinesNumberedAndFilters) {
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("ring-test",
                                                 std::make_shared<spdlog::sinks::null_sink_st>());
  spdlog::set_default_logger(logger);
  auto ring = LogRing::attach(3);
  spdlog::info("home[1]: one");
  spdlog::info("work[2]: two");
  spdlog::info("home[1]: three");
  spdlog::info("home[1]: four");
  EXPECT_EQ(ring->next_seq(), 4u);
  auto all = ring->read(0, "", 10);
  ASSERT_EQ(all.size(), 3u);  // the first line fell out
  EXPECT_EQ(all[0].seq, 1u);
  EXPECT_NE(all[0].text.find("work[2]: two"), std::string::npos);
  auto home = ring->read(2, "home[", 10);
  ASSERT_EQ(home.size(), 2u);
  EXPECT_NE(home[1].text.find("four"), std::string::npos);
  EXPECT_EQ(ring->read(0, "", 1).size(), 1u);
  spdlog::set_default_logger(previous);
}

}  // namespace
}  // namespace waypost::ipsec
