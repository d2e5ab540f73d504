// PrefixTrie: known-answer tables for longest-prefix matching, and a randomized comparison
// against a linear scan (the obviously correct, slow definition).
#include "dataplane/prefix_trie.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace waypost::dataplane {
namespace {

net::Prefix pfx(std::string_view text) {
  auto p = net::Prefix::parse(text);
  EXPECT_TRUE(p.ok()) << text;
  return p.ok() ? *p : net::Prefix{};
}

net::IpAddress ip_addr(std::string_view text) {
  auto a = net::IpAddress::parse(text);
  EXPECT_TRUE(a.ok()) << text;
  return a.ok() ? *a : net::IpAddress{};
}

// Values are small ints; 0 is "no value".
using Trie = PrefixTrie<int>;

struct Query {
  const char* address;
  int expected;
};

void check(const Trie& t, const std::vector<Query>& queries) {
  for (const auto& q : queries) {
    const auto a = ip_addr(q.address);
    EXPECT_EQ(t.lookup(a), q.expected) << q.address;
    // The raw-byte forms must agree with the typed form.
    if (a.is_v4()) {
      EXPECT_EQ(t.lookup_v4(a.bytes.data()), q.expected) << q.address;
    } else {
      EXPECT_EQ(t.lookup_v6(a.bytes.data()), q.expected) << q.address;
    }
  }
}

std::vector<std::pair<std::string, int>> contents(const Trie& t) {
  std::vector<std::pair<std::string, int>> out;
  t.for_each([&](const net::Prefix& p, int v) { out.emplace_back(p.to_string(), v); });
  return out;
}

TEST(PrefixTrie, EmptyTrieMatchesNothing) {
  Trie t;
  EXPECT_EQ(t.size(), 0u);
  check(t, {{"0.0.0.0", 0}, {"10.1.2.3", 0}, {"::", 0}, {"fd00::1", 0}});
  EXPECT_FALSE(t.remove(pfx("10.0.0.0/8")));
  EXPECT_EQ(t.remove_value(1), 0u);
}

TEST(PrefixTrie, OverlappingIpv4Prefixes) {
  Trie t;
  t.insert(pfx("10.0.0.0/8"), 1);
  t.insert(pfx("10.1.0.0/16"), 2);
  t.insert(pfx("10.1.2.0/24"), 3);
  t.insert(pfx("10.1.2.3/32"), 4);
  t.insert(pfx("192.168.0.0/16"), 5);
  t.insert(pfx("192.168.128.0/17"), 6);
  t.insert(pfx("172.16.0.0/12"), 7);
  EXPECT_EQ(t.size(), 7u);
  check(t, {
               {"10.0.0.1", 1},
               {"10.255.255.255", 1},
               {"10.1.0.1", 2},
               {"10.1.3.1", 2},
               {"10.1.2.1", 3},
               {"10.1.2.3", 4},
               {"10.1.2.4", 3},
               {"11.0.0.0", 0},
               {"9.255.255.255", 0},
               {"192.168.1.1", 5},
               {"192.168.127.255", 5},
               {"192.168.128.0", 6},
               {"192.168.255.255", 6},
               {"192.169.0.0", 0},
               {"172.16.0.1", 7},
               {"172.31.255.255", 7},
               {"172.32.0.0", 0},
               // A v4-looking v6 address must not match v4 routes.
               {"::ffff:10.1.2.3", 0},
           });
}

TEST(PrefixTrie, InsertionOrderDoesNotMatter) {
  const std::vector<std::pair<const char*, int>> routes = {
      {"10.0.0.0/8", 1},   {"10.1.0.0/16", 2}, {"10.1.2.0/24", 3}, {"10.1.2.3/32", 4},
      {"10.128.0.0/9", 5}, {"0.0.0.0/0", 6},   {"10.1.2.2/31", 7},
  };
  const std::vector<Query> queries = {
      {"10.0.0.1", 1}, {"10.1.0.1", 2},   {"10.1.2.1", 3}, {"10.1.2.3", 4},
      {"10.1.2.2", 7}, {"10.200.0.1", 5}, {"11.0.0.1", 6}, {"0.0.0.0", 6},
  };
  std::vector<size_t> order(routes.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::shuffle(order.begin(), order.end(), rng);
    Trie t;
    for (size_t i : order) {
      t.insert(pfx(routes[i].first), routes[i].second);
    }
    check(t, queries);
  }
}

TEST(PrefixTrie, OverlappingIpv6Prefixes) {
  Trie t;
  t.insert(pfx("fd00::/8"), 1);
  t.insert(pfx("fd00:1::/32"), 2);
  t.insert(pfx("fd00:1:2::/48"), 3);
  t.insert(pfx("fd00:1:2:3::/64"), 4);
  t.insert(pfx("fd00:1:2:3::1/128"), 5);
  t.insert(pfx("2001:db8::/32"), 6);
  // Prefix lengths on both sides of the 64-bit word boundary.
  t.insert(pfx("2001:db8:0:0:8000::/65"), 7);
  t.insert(pfx("2001:db8::/63"), 8);
  check(t, {
               {"fd12::1", 1},
               {"fd00:1::1", 2},
               {"fd00:1:2::1", 3},
               {"fd00:1:2:3::2", 4},
               {"fd00:1:2:3::1", 5},
               {"fd00:1:2:4::1", 3},
               {"fe80::1", 0},
               {"2001:db8::1", 8},
               {"2001:db8:0:1::1", 8},
               {"2001:db8:0:2::1", 6},
               {"2001:db8::8000:0:0:1", 7},
               {"2001:db8::7fff:0:0:1", 8},
               {"2001:db9::", 0},
               {"10.0.0.1", 0},
           });
}

TEST(PrefixTrie, DefaultRoutesPerFamily) {
  Trie t;
  t.insert(pfx("0.0.0.0/0"), 1);
  check(t, {{"1.2.3.4", 1}, {"255.255.255.255", 1}, {"0.0.0.0", 1}, {"::1", 0}});
  t.insert(pfx("::/0"), 2);
  check(t, {{"1.2.3.4", 1}, {"::1", 2}, {"ffff::", 2}});
  t.insert(pfx("10.0.0.0/8"), 3);
  t.insert(pfx("fd00::/8"), 4);
  check(t, {{"10.9.9.9", 3}, {"11.9.9.9", 1}, {"fd00::9", 4}, {"fe00::9", 2}});
  EXPECT_TRUE(t.remove(pfx("0.0.0.0/0")));
  check(t, {{"10.9.9.9", 3}, {"11.9.9.9", 0}, {"fe00::9", 2}});
  EXPECT_EQ(t.size(), 3u);
}

TEST(PrefixTrie, HostRoutes) {
  Trie t;
  t.insert(pfx("192.0.2.1/32"), 1);
  t.insert(pfx("192.0.2.2"), 2);  // a bare address is a /32
  t.insert(pfx("2001:db8::1/128"), 3);
  t.insert(pfx("2001:db8::"), 4);
  check(t, {{"192.0.2.1", 1},
            {"192.0.2.2", 2},
            {"192.0.2.3", 0},
            {"192.0.2.0", 0},
            {"2001:db8::1", 3},
            {"2001:db8::", 4},
            {"2001:db8::2", 0}});
  t.insert(pfx("255.255.255.255/32"), 5);
  t.insert(pfx("0.0.0.0/32"), 6);
  check(t, {{"255.255.255.255", 5}, {"0.0.0.0", 6}, {"0.0.0.1", 0}});
}

TEST(PrefixTrie, InsertingAnExistingPrefixMovesIt) {
  Trie t;
  t.insert(pfx("10.0.0.0/24"), 1);
  t.insert(pfx("10.0.1.0/24"), 1);
  t.insert(pfx("10.0.0.0/24"), 2);  // given to another peer, as `wg set ... allowed-ips`
  EXPECT_EQ(t.size(), 2u);
  check(t, {{"10.0.0.5", 2}, {"10.0.1.5", 1}});
  // The old owner no longer holds it.
  EXPECT_FALSE(t.remove_if_value(pfx("10.0.0.0/24"), 1));
  EXPECT_EQ(t.remove_value(1), 1u);
  check(t, {{"10.0.0.5", 2}, {"10.0.1.5", 0}});
}

TEST(PrefixTrie, HostBitsAreIgnoredOnInsertAndRemove) {
  Trie t;
  // Not produced by parse, but must not corrupt the trie.
  net::Prefix sloppy{ip_addr("10.1.2.3"), 8};
  t.insert(sloppy, 1);
  check(t, {{"10.200.0.1", 1}, {"11.0.0.1", 0}});
  EXPECT_EQ(contents(t), (std::vector<std::pair<std::string, int>>{{"10.0.0.0/8", 1}}));
  EXPECT_TRUE(t.remove(net::Prefix{ip_addr("10.9.9.9"), 8}));
  EXPECT_EQ(t.size(), 0u);
}

TEST(PrefixTrie, OverlongPrefixIsIgnored) {
  Trie t;
  t.insert(net::Prefix{ip_addr("10.0.0.0"), 33}, 1);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.remove(net::Prefix{ip_addr("10.0.0.0"), 33}));
}

TEST(PrefixTrie, InsertingNoValueRemoves) {
  Trie t;
  t.insert(pfx("10.0.0.0/8"), 1);
  t.insert(pfx("10.0.0.0/8"), 0);
  EXPECT_EQ(t.size(), 0u);
  check(t, {{"10.0.0.1", 0}});
}

TEST(PrefixTrie, RemoveKeepsCoveringAndCoveredRoutes) {
  Trie t;
  t.insert(pfx("10.0.0.0/8"), 1);
  t.insert(pfx("10.1.0.0/16"), 2);
  t.insert(pfx("10.1.1.0/24"), 3);
  t.insert(pfx("10.1.2.0/24"), 4);
  EXPECT_FALSE(t.remove(pfx("10.1.0.0/17")));  // not stored: nothing changes
  EXPECT_FALSE(t.remove(pfx("10.0.0.0/7")));
  EXPECT_EQ(t.size(), 4u);
  EXPECT_TRUE(t.remove(pfx("10.1.0.0/16")));  // a middle node with two children
  EXPECT_FALSE(t.remove(pfx("10.1.0.0/16")));
  check(t, {{"10.1.1.1", 3}, {"10.1.2.1", 4}, {"10.1.3.1", 1}});
  EXPECT_TRUE(t.remove(pfx("10.1.1.0/24")));  // a leaf whose parent is a bare branch point
  check(t, {{"10.1.1.1", 1}, {"10.1.2.1", 4}});
  EXPECT_TRUE(t.remove(pfx("10.0.0.0/8")));  // a node with one child
  check(t, {{"10.1.1.1", 0}, {"10.1.2.1", 4}});
  EXPECT_TRUE(t.remove(pfx("10.1.2.0/24")));
  EXPECT_EQ(t.size(), 0u);
  check(t, {{"10.1.2.1", 0}});
}

TEST(PrefixTrie, RemoveIfValue) {
  Trie t;
  t.insert(pfx("fd00::/64"), 1);
  EXPECT_FALSE(t.remove_if_value(pfx("fd00::/64"), 2));
  EXPECT_EQ(t.lookup(ip_addr("fd00::1")), 1);
  EXPECT_FALSE(t.remove_if_value(pfx("fd00::/63"), 1));
  EXPECT_TRUE(t.remove_if_value(pfx("fd00::/64"), 1));
  EXPECT_EQ(t.lookup(ip_addr("fd00::1")), 0);
}

TEST(PrefixTrie, RemoveValueTakesEveryPrefixOfThatValue) {
  Trie t;
  t.insert(pfx("10.0.0.0/8"), 1);
  t.insert(pfx("10.1.0.0/16"), 2);
  t.insert(pfx("10.1.1.0/24"), 1);
  t.insert(pfx("0.0.0.0/0"), 1);
  t.insert(pfx("fd00::/8"), 1);
  t.insert(pfx("fd00:1::/32"), 2);
  EXPECT_EQ(t.remove_value(1), 4u);
  EXPECT_EQ(t.size(), 2u);
  check(t, {{"10.1.1.1", 2}, {"10.2.0.1", 0}, {"fd00:1::1", 2}, {"fd00:2::1", 0}});
  EXPECT_EQ(t.remove_value(1), 0u);
  EXPECT_EQ(t.remove_value(0), 0u);  // "no value" is not a value
}

TEST(PrefixTrie, ForEachListsPrefixesInOrder) {
  Trie t;
  t.insert(pfx("fd00::/8"), 5);
  t.insert(pfx("10.1.0.0/16"), 2);
  t.insert(pfx("10.0.0.0/8"), 1);
  t.insert(pfx("192.168.0.0/16"), 4);
  t.insert(pfx("10.128.0.0/9"), 3);
  t.insert(pfx("::/0"), 6);
  const std::vector<std::pair<std::string, int>> expected = {
      {"10.0.0.0/8", 1},     {"10.1.0.0/16", 2}, {"10.128.0.0/9", 3},
      {"192.168.0.0/16", 4}, {"::/0", 6},        {"fd00::/8", 5},
  };
  EXPECT_EQ(contents(t), expected);
  t.clear();
  EXPECT_EQ(t.size(), 0u);
  EXPECT_TRUE(contents(t).empty());
  check(t, {{"10.0.0.1", 0}, {"fd00::1", 0}});
  // Usable after clear.
  t.insert(pfx("10.0.0.0/8"), 1);
  check(t, {{"10.0.0.1", 1}});
}

TEST(PrefixTrie, PointerValues) {
  // The intended use: values are peer pointers, nullptr means none.
  struct Peer {
    int id;
  };
  Peer a{1}, b{2};
  PrefixTrie<const Peer*> t;
  t.insert(pfx("0.0.0.0/0"), &a);
  t.insert(pfx("10.0.0.0/8"), &b);
  EXPECT_EQ(t.lookup(ip_addr("10.0.0.1")), &b);
  EXPECT_EQ(t.lookup(ip_addr("8.8.8.8")), &a);
  EXPECT_EQ(t.lookup(ip_addr("::1")), nullptr);
  EXPECT_EQ(t.remove_value(&b), 1u);
  EXPECT_EQ(t.lookup(ip_addr("10.0.0.1")), &a);
}

// ---- randomized comparison against a linear scan ----

struct NaiveTable {
  std::map<net::Prefix, int> routes;

  void insert(const net::Prefix& p, int v) { routes[p] = v; }
  int lookup(const net::IpAddress& a) const {
    int best = 0, best_len = -1;
    for (const auto& [p, v] : routes) {
      if (p.contains(a) && p.length > best_len) {
        best = v;
        best_len = p.length;
      }
    }
    return best;
  }
};

// Addresses drawn from a small neighbourhood so that prefixes nest and collide a lot.
net::IpAddress random_address(std::mt19937& rng, bool v6) {
  net::IpAddress a;
  a.family = v6 ? net::Family::kV6 : net::Family::kV4;
  const size_t n = a.byte_length();
  for (size_t i = 0; i < n; ++i) {
    // Mostly a few fixed patterns, sometimes anything: deep shared paths plus variety.
    const uint32_t r = rng() % 8;
    a.bytes[i] = r < 3 ? 0 : r < 5 ? 0xff : r < 6 ? uint8_t(0x80 >> (rng() % 8)) : uint8_t(rng());
  }
  return a;
}

net::Prefix random_prefix(std::mt19937& rng, bool v6) {
  const net::IpAddress a = random_address(rng, v6);
  const int max = a.bit_length();
  // Favour lengths around byte/word boundaries and the extremes.
  static constexpr int kInteresting[] = {0, 1, 7, 8, 9, 15, 16, 24, 31, 32, 63, 64, 65, 127, 128};
  int len = int(rng() % (max + 1));
  if (rng() % 2 == 0) {
    len = std::min(max, kInteresting[rng() % std::size(kInteresting)]);
  }
  auto p = net::Prefix::parse(a.to_string() + "/" + std::to_string(len));
  EXPECT_TRUE(p.ok());
  return *p;
}

TEST(PrefixTrie, RandomizedAgainstLinearScan) {
  std::mt19937 rng(20240607);
  for (int round = 0; round < 20; ++round) {
    Trie t;
    NaiveTable naive;
    for (int step = 0; step < 2000; ++step) {
      const bool v6 = rng() % 2 == 0;
      const uint32_t op = rng() % 10;
      if (op < 5) {
        const net::Prefix p = random_prefix(rng, v6);
        const int v = 1 + int(rng() % 6);
        t.insert(p, v);
        naive.insert(p, v);
      } else if (op < 7) {
        // Remove something that is there (most of the time) or a random prefix.
        net::Prefix p = random_prefix(rng, v6);
        if (!naive.routes.empty() && rng() % 4 != 0) {
          auto it = naive.routes.begin();
          std::advance(it, rng() % naive.routes.size());
          p = it->first;
        }
        const bool present = naive.routes.erase(p) > 0;
        EXPECT_EQ(t.remove(p), present) << p.to_string();
      } else if (op < 8) {
        const net::Prefix p = random_prefix(rng, v6);
        const int v = 1 + int(rng() % 6);
        auto it = naive.routes.find(p);
        const bool hit = it != naive.routes.end() && it->second == v;
        if (hit) {
          naive.routes.erase(it);
        }
        EXPECT_EQ(t.remove_if_value(p, v), hit) << p.to_string();
      } else if (op < 9 && rng() % 8 == 0) {
        const int v = 1 + int(rng() % 6);
        size_t n = std::erase_if(naive.routes, [v](const auto& e) { return e.second == v; });
        EXPECT_EQ(t.remove_value(v), n);
      } else {
        for (int q = 0; q < 8; ++q) {
          const net::IpAddress a = random_address(rng, rng() % 2 == 0);
          ASSERT_EQ(t.lookup(a), naive.lookup(a)) << a.to_string() << " round " << round;
        }
      }
      ASSERT_EQ(t.size(), naive.routes.size());
    }
    // The final contents agree exactly (std::map orders v4 before v6 and by address, length).
    std::vector<std::pair<std::string, int>> expected;
    for (const auto& [p, v] : naive.routes) {
      expected.emplace_back(p.to_string(), v);
    }
    EXPECT_EQ(contents(t), expected);
    // Drain through remove() so the node recycling is exercised to empty.
    for (const auto& [p, v] : naive.routes) {
      EXPECT_TRUE(t.remove(p));
    }
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.lookup(ip_addr("0.0.0.0")), 0);
  }
}

TEST(PrefixTrie, ManyPeers) {
  // 10 000 peers with a /32 and a /128 each plus shared default routes: the daemon's scale.
  PrefixTrie<uint32_t> t;
  for (uint32_t i = 1; i <= 10000; ++i) {
    net::IpAddress v4 = net::IpAddress::v4(0x0a000000u | i);
    t.insert(net::Prefix{v4, 32}, i);
    uint8_t raw[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, uint8_t(i >> 8), uint8_t(i)};
    t.insert(net::Prefix{net::IpAddress::v6_bytes(raw), 128}, i);
  }
  t.insert(pfx("0.0.0.0/0"), 10001);
  EXPECT_EQ(t.size(), 20001u);
  for (uint32_t i = 1; i <= 10000; i += 97) {
    const uint32_t addr = 0x0a000000u | i;
    uint8_t raw[4];
    store_be32(raw, addr);
    EXPECT_EQ(t.lookup_v4(raw), i);
  }
  EXPECT_EQ(t.lookup(ip_addr("10.0.39.17")), 10001u);  // 10000 < 0x2711
  EXPECT_EQ(t.remove_value(5000), 2u);
  EXPECT_EQ(t.lookup(net::IpAddress::v4(0x0a000000u | 5000)), 10001u);
}

}  // namespace
}  // namespace waypost::dataplane
