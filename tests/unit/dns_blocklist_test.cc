// Block and allow lists: the list formats people download, subdomain matching, allow-list
// precedence, and the load time of a 100k-domain list.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "dns/blocklist.h"

namespace waypost::dns {
namespace {

struct Parsed {
  LineKind kind;
  std::vector<std::pair<std::string, bool>> names;
};

Parsed parse(std::string_view line) {
  Parsed p;
  p.kind = parse_list_line(
      line,
      [](void* ctx, std::string_view name, bool sub) {
        static_cast<Parsed*>(ctx)->names.emplace_back(std::string(name), sub);
      },
      &p);
  return p;
}

std::shared_ptr<const Blocklist> lists(std::string_view text,
                                       const std::vector<std::string>& allow = {}) {
  auto b = Blocklist::from_texts({text}, allow);
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().message);
  return *b;
}

TEST(DnsBlocklist, HostsFileLines) {
  auto p = parse("0.0.0.0 ads.example.com");
  EXPECT_EQ(p.kind, LineKind::kDomains);
  ASSERT_EQ(p.names.size(), 1u);
  EXPECT_EQ(p.names[0].first, "ads.example.com");
  EXPECT_FALSE(p.names[0].second);

  p = parse("127.0.0.1\tTracker.Example.NET. other.example.org   # inline comment\r");
  EXPECT_EQ(p.kind, LineKind::kDomains);
  ASSERT_EQ(p.names.size(), 2u);
  EXPECT_EQ(p.names[0].first, "tracker.example.net");
  EXPECT_EQ(p.names[1].first, "other.example.org");

  EXPECT_EQ(parse(":: ads6.example.com").names.at(0).first, "ads6.example.com");
  EXPECT_EQ(parse("::1 ads6.example.com").kind, LineKind::kDomains);
}

TEST(DnsBlocklist, StevenBlackHeaderIsNotBlocked) {
  // The start of StevenBlack's unified hosts file.
  const char* header[] = {
      "# Title: StevenBlack/hosts",
      "127.0.0.1 localhost",
      "127.0.0.1 localhost.localdomain",
      "127.0.0.1 local",
      "255.255.255.255 broadcasthost",
      "::1 localhost",
      "::1 ip6-localhost",
      "::1 ip6-loopback",
      "fe80::1%lo0 localhost",
      "ff00::0 ip6-localnet",
      "ff00::0 ip6-mcastprefix",
      "ff02::1 ip6-allnodes",
      "ff02::2 ip6-allrouters",
      "ff02::3 ip6-allhosts",
      "0.0.0.0 0.0.0.0",
  };
  for (const char* line : header) {
    EXPECT_TRUE(parse(line).names.empty()) << line;
  }
  auto b = lists(
      "# Title: StevenBlack/hosts\n127.0.0.1 localhost\n::1 ip6-localhost\n"
      "255.255.255.255 broadcasthost\n\n# [ads]\n0.0.0.0 ads.example.com\n");
  EXPECT_EQ(b->blocked_domains(), 1u);
  EXPECT_FALSE(b->blocked("localhost"));
}

TEST(DnsBlocklist, OtherFormats) {
  EXPECT_EQ(parse("ads.example.com").names.at(0).first, "ads.example.com");
  EXPECT_EQ(parse("  ads.example.com.  ").names.at(0).first, "ads.example.com");
  auto wild = parse("*.example.com");
  EXPECT_EQ(wild.names.at(0).first, "example.com");
  EXPECT_TRUE(wild.names.at(0).second);
  EXPECT_EQ(parse("||ads.example.com^").names.at(0).first, "ads.example.com");
  EXPECT_EQ(parse("||ads.example.com^$important").kind, LineKind::kDomains);
  EXPECT_EQ(parse("address=/ads.example.com/0.0.0.0").names.at(0).first, "ads.example.com");
  EXPECT_EQ(parse("address=/a.example/b.example/").names.size(), 2u);
  EXPECT_EQ(parse("server=/ads.example.com/").kind, LineKind::kDomains);
  EXPECT_EQ(parse("_dmarc-test.example.com").kind, LineKind::kDomains);
  EXPECT_EQ(parse("xn--bcher-kva.example").kind, LineKind::kDomains);
}

TEST(DnsBlocklist, CommentsAndJunk) {
  for (const char* line : {"", "   ", "\r", "# comment", "! adblock comment", "[Adblock Plus 2.0]",
                           "#0.0.0.0 disabled.example.com"}) {
    EXPECT_EQ(parse(line).kind, LineKind::kBlank) << line;
  }
  for (const char* line : {
           "example.com##.banner",                // cosmetic rule: must not block example.com
           "@@||allowed.example.com^",            // adblock exception
           "||ads.example.com^$third-party",      // browser-only modifier
           "/banner/*/img^",                      // URL pattern
           "192.168.1.10 nas.example.com",        // a real hosts entry, not a block
           "address=/ads.example.com/192.0.2.1",  // a redirect
           "server=/corp.example/10.0.0.1",       // forwarding
           "ads.example.com extra words",
           "bad_label-.exa mple.com",
           "ünïcode.example",
           "a..b.example",
           "127.0.0.1",
           "*.",
       }) {
    auto p = parse(line);
    EXPECT_EQ(p.kind, LineKind::kIgnored) << line;
    EXPECT_TRUE(p.names.empty()) << line;
  }
  std::string label64(64, 'a');
  EXPECT_EQ(parse(label64 + ".example").kind, LineKind::kIgnored);
  std::string label63(63, 'a');
  EXPECT_EQ(parse(label63 + ".example").kind, LineKind::kDomains);
}

TEST(DnsBlocklist, SubdomainMatching) {
  auto b = lists("ads.example.com\n*.tracking.example\n");
  EXPECT_TRUE(b->blocked("ads.example.com"));
  EXPECT_TRUE(b->blocked("x.ads.example.com"));
  EXPECT_TRUE(b->blocked("a.b.c.ads.example.com"));
  EXPECT_FALSE(b->blocked("example.com"));
  EXPECT_FALSE(b->blocked("badads.example.com"));  // a suffix, not a subdomain
  EXPECT_FALSE(b->blocked("ads.example.com.evil"));
  EXPECT_FALSE(b->blocked("com"));
  EXPECT_FALSE(b->blocked(""));
  // A wildcard blocks below the name, not the name itself.
  EXPECT_FALSE(b->blocked("tracking.example"));
  EXPECT_TRUE(b->blocked("pixel.tracking.example"));
  // Listing the name too makes both apply.
  auto both = lists("*.tracking.example\ntracking.example\n");
  EXPECT_TRUE(both->blocked("tracking.example"));
  EXPECT_EQ(both->blocked_domains(), 1u);
}

TEST(DnsBlocklist, AllowListWinsAndCoversSubdomains) {
  auto b = lists("example.com\nads.example.net\n", {"good.example.com", "example.net"});
  EXPECT_TRUE(b->blocked("example.com"));
  EXPECT_TRUE(b->blocked("bad.example.com"));
  EXPECT_FALSE(b->blocked("good.example.com"));
  EXPECT_FALSE(b->blocked("cdn.good.example.com"));
  // The allow entry is a parent of the block entry: allowed.
  EXPECT_FALSE(b->blocked("ads.example.net"));
  EXPECT_FALSE(b->blocked("x.ads.example.net"));
  EXPECT_EQ(b->allowed_domains(), 2u);
}

TEST(DnsBlocklist, BadAllowEntryIsAnError) {
  auto b = Blocklist::from_texts({}, {"not a domain"});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("not a domain"), std::string::npos);
}

TEST(DnsBlocklist, MissingFileIsAnError) {
  auto b = Blocklist::load({"/nonexistent/waypost-list.txt"}, {});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("/nonexistent/waypost-list.txt"), std::string::npos);
}

TEST(DnsBlocklist, StatsCountIgnoredLines) {
  auto b = lists("# header\n0.0.0.0 a.example\nb.example\nexample.com##.ad\n\n");
  ASSERT_EQ(b->stats().size(), 1u);
  EXPECT_EQ(b->stats()[0].lines, 5u);
  EXPECT_EQ(b->stats()[0].domains, 2u);
  EXPECT_EQ(b->stats()[0].ignored, 1u);
  EXPECT_EQ(b->stats()[0].first_ignored, "example.com##.ad");
}

TEST(DnsBlocklist, HundredThousandDomainsLoadQuickly) {
  const auto path = std::filesystem::temp_directory_path() / "waypost_dns_100k.hosts";
  {
    std::ofstream f(path);
    f << "# generated\n127.0.0.1 localhost\n";
    for (int i = 0; i < 100000; ++i) {
      f << "0.0.0.0 ad" << i << ".tracker" << (i % 977) << ".example.com\n";
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto b = Blocklist::load({path.string()}, {"tracker5.example.com"});
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::filesystem::remove(path);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->blocked_domains(), 100000u);
  // Well under a second in an optimized build; sanitizer builds get a generous margin.
  EXPECT_LT(ms, 3000) << "loading 100k domains took " << ms << " ms";
  std::printf("100k domains: %lld ms, %zu KiB\n", static_cast<long long>(ms),
              (*b)->memory_bytes() >> 10);
  EXPECT_TRUE((*b)->blocked("ad12345.tracker621.example.com"));
  EXPECT_TRUE((*b)->blocked("sub.ad12345.tracker621.example.com"));
  EXPECT_FALSE((*b)->blocked("ad5.tracker5.example.com"));  // allowed parent
  EXPECT_FALSE((*b)->blocked("ad100000.tracker0.example.com"));
}

}  // namespace
}  // namespace waypost::dns
