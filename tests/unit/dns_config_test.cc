// Upstream strings, block-response names, config validation and the libunbound config text.
#include <gtest/gtest.h>

#include "dns/config.h"
#include "dns/unbound_context.h"

namespace waypost::dns {
namespace {

Upstream ok(std::string_view text, bool encryption) {
  auto u = parse_upstream(text, encryption);
  EXPECT_TRUE(u.ok()) << text << ": " << (u.ok() ? "" : u.error().message);
  return u.ok() ? *u : Upstream{};
}

TEST(DnsConfig, UpstreamStrings) {
  Upstream u = ok("1.1.1.1", false);
  EXPECT_EQ(u.address.to_string(), "1.1.1.1");
  EXPECT_EQ(u.port, 53);
  EXPECT_EQ(u.tls_name, "");
  EXPECT_EQ(u.to_string(), "1.1.1.1@53");

  u = ok("1.1.1.1@853#cloudflare-dns.com", true);
  EXPECT_EQ(u.port, 853);
  EXPECT_EQ(u.tls_name, "cloudflare-dns.com");
  EXPECT_EQ(u.to_string(), "1.1.1.1@853#cloudflare-dns.com");

  u = ok("[2606:4700:4700::1111]@853#cloudflare-dns.com", true);
  EXPECT_FALSE(u.address.is_v4());
  EXPECT_EQ(u.port, 853);
  EXPECT_EQ(u.to_string(), "2606:4700:4700::1111@853#cloudflare-dns.com");

  u = ok("2606:4700:4700::1111#cloudflare-dns.com", true);
  EXPECT_EQ(u.port, 853);
  u = ok("[2001:db8::53]", false);
  EXPECT_EQ(u.port, 53);
  u = ok("2001:db8::53@5353", false);
  EXPECT_EQ(u.port, 5353);
  u = ok("192.0.2.53@8853#dns.example.net", true);
  EXPECT_EQ(u.port, 8853);
  EXPECT_EQ(u.tls_name, "dns.example.net");
}

TEST(DnsConfig, WellKnownResolversGetTheirTlsNames) {
  EXPECT_EQ(ok("1.1.1.1", true).tls_name, "cloudflare-dns.com");
  EXPECT_EQ(ok("1.1.1.1", true).port, 853);
  EXPECT_EQ(ok("2606:4700:4700::1001", true).tls_name, "cloudflare-dns.com");
  EXPECT_EQ(ok("8.8.4.4", true).tls_name, "dns.google");
  EXPECT_EQ(ok("[2620:fe::fe]", true).tls_name, "dns.quad9.net");
  // An explicit name wins.
  EXPECT_EQ(ok("1.1.1.1#one.one.one.one", true).tls_name, "one.one.one.one");
}

TEST(DnsConfig, BadUpstreamStrings) {
  for (const char* bad : {"", "dns.example.net", "1.1.1", "1.1.1.1@", "1.1.1.1@0", "1.1.1.1@65536",
                          "1.1.1.1@53x", "[2001:db8::1", "[2001:db8::1]853", "1.1.1.1#",
                          "1.1.1.1#bad name", "1.1.1.1#-x.example", "::1@@53"}) {
    EXPECT_FALSE(parse_upstream(bad, false).ok()) << bad;
  }
  // Encryption with an unknown address and no name cannot check a certificate.
  auto u = parse_upstream("192.0.2.53", true);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().message.find("192.0.2.53#dns.example.net"), std::string::npos)
      << u.error().message;
  u = parse_upstream("2001:db8::53", true);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().message.find("[2001:db8::53]@853#"), std::string::npos) << u.error().message;
}

TEST(DnsConfig, BlockResponse) {
  EXPECT_EQ(*parse_block_response("0.0.0.0"), BlockResponse::kZeroAddress);
  EXPECT_EQ(*parse_block_response("NXDOMAIN"), BlockResponse::kNxdomain);
  EXPECT_FALSE(parse_block_response("refused").ok());
}

ResolverConfig valid_config() {
  ResolverConfig c;
  c.listen.push_back(*net::IpAddress::parse("10.49.0.1"));
  c.allowed_clients.push_back(*net::Prefix::parse("10.49.0.0/16"));
  c.upstreams.push_back(ok("1.1.1.1", true));
  return c;
}

TEST(DnsConfig, Validation) {
  EXPECT_TRUE(validate(valid_config()).ok());
  auto c = valid_config();
  c.upstreams.clear();
  EXPECT_FALSE(validate(c).ok());  // never recursion from the root
  c = valid_config();
  c.upstreams[0].tls_name.clear();
  EXPECT_FALSE(validate(c).ok());  // TLS without a name to check
  c.encryption = false;
  EXPECT_TRUE(validate(c).ok());
  c = valid_config();
  c.allowed_clients.clear();
  EXPECT_FALSE(validate(c).ok());
  c = valid_config();
  c.listen.clear();
  EXPECT_FALSE(validate(c).ok());
  c = valid_config();
  c.cache_bytes = 1000;
  EXPECT_FALSE(validate(c).ok());
}

TEST(DnsConfig, UnboundConfigIsForwardOnlyAndNeverAsksLibunboundForTls) {
  auto c = valid_config();
  std::string t = unbound_config_text(c, {"127.0.0.1@40001", "127.0.0.1@40002"}, true);
  EXPECT_NE(t.find("name: \".\""), std::string::npos);
  EXPECT_NE(t.find("forward-first: no"), std::string::npos);
  EXPECT_NE(t.find("forward-addr: 127.0.0.1@40001\n"), std::string::npos);
  EXPECT_NE(t.find("forward-addr: 127.0.0.1@40002\n"), std::string::npos);
  EXPECT_NE(t.find("tcp-upstream: yes"), std::string::npos);
  EXPECT_NE(t.find("module-config: \"validator iterator\""), std::string::npos);
  EXPECT_NE(t.find("msg-cache-size: 1048576"), std::string::npos);
  EXPECT_NE(t.find("rrset-cache-size: 2097152"), std::string::npos);
  // Quick recovery after an upstream outage (tests/netns/test_dns.sh [down]).
  EXPECT_NE(t.find("infra-host-ttl: 5\n"), std::string::npos);
  // Debian's libunbound has no TLS: given this option it would send plaintext.
  EXPECT_EQ(t.find("tls-upstream"), std::string::npos);
  c.dnssec = false;
  t = unbound_config_text(c, {"192.0.2.53@53"}, false);
  EXPECT_NE(t.find("module-config: \"iterator\""), std::string::npos);
  EXPECT_EQ(t.find("tcp-upstream"), std::string::npos);
}

}  // namespace
}  // namespace waypost::dns
