// config.yaml's DNS keys -> the resolver's settings and the firewall's DNS redirect.
#include <gtest/gtest.h>

#include "server/dns_settings.h"
#include "server/firewall.h"

namespace waypost::server {
namespace {

net::IpAddress ip(const char* text) {
  return net::IpAddress::parse(text).value();
}

TEST(ServerDnsSettings, DefaultsListenOnTheTunnelAddressesAndAskOverTls) {
  ServerConfig c;
  ASSERT_TRUE(runs_resolver(c));
  auto s = resolver_settings(c);
  ASSERT_TRUE(s.ok()) << s.error().message;
  const dns::ResolverConfig& r = s->config;
  // WireGuard's addresses, then IKEv2's (ipsec_enabled is on by default).
  ASSERT_EQ(r.listen.size(), 4u);
  EXPECT_EQ(r.listen[0].to_string(), "10.49.0.1");
  EXPECT_EQ(r.listen[1].to_string(), "fd00:4977:6179::1");
  EXPECT_EQ(r.listen[2].to_string(), "10.48.0.1");
  EXPECT_EQ(r.listen[3].to_string(), "fd00:4977:6180::1");
  ASSERT_EQ(r.allowed_clients.size(), 4u);
  EXPECT_EQ(r.allowed_clients[0].to_string(), "10.49.0.0/16");
  EXPECT_EQ(r.allowed_clients[2].to_string(), "10.48.0.0/16");
  c.ipsec_enabled = false;
  EXPECT_EQ(resolver_settings(c)->config.listen.size(), 2u);
  EXPECT_TRUE(r.encryption);
  ASSERT_EQ(r.upstreams.size(), 4u);
  EXPECT_EQ(r.upstreams[0].to_string(), "1.1.1.1@853#cloudflare-dns.com");
  EXPECT_EQ(r.upstreams[2].port, 853);
  EXPECT_TRUE(r.dnssec);
  EXPECT_EQ(r.cache_bytes, size_t{4} << 20);
  EXPECT_EQ(r.ca_bundle, "/etc/ssl/certs");
  EXPECT_FALSE(r.adblocking);
  EXPECT_EQ(r.block_response, dns::BlockResponse::kZeroAddress);
}

TEST(ServerDnsSettings, EveryKeyIsMapped) {
  ServerConfig c;
  c.ipv6 = false;
  c.dns_adblocking = true;
  c.dns_servers.ipv4 = {ip("192.0.2.53")};
  c.dns_servers.ipv6 = {};
  c.dns_servers.tls_names[ip("192.0.2.53")] = "dns.example.net";
  c.adblock_lists = {"/etc/waypost/hosts", "https://example.com/hosts"};
  c.adblock_allow = {"example.org"};
  c.dns_block_response = "nxdomain";
  c.dns_dnssec = false;
  c.dns_cache_size = 16;
  c.dns_tls_ca = "/etc/waypost/ca.pem";
  auto s = resolver_settings(c);
  ASSERT_TRUE(s.ok()) << s.error().message;
  const dns::ResolverConfig& r = s->config;
  ASSERT_EQ(r.listen.size(), 2u);  // WireGuard's and IKEv2's IPv4 address
  ASSERT_EQ(r.upstreams.size(), 1u);
  EXPECT_EQ(r.upstreams[0].to_string(), "192.0.2.53@853#dns.example.net");
  EXPECT_TRUE(r.adblocking);
  EXPECT_EQ(r.blocklists, (std::vector<std::string>{"/etc/waypost/hosts"}));
  EXPECT_EQ(s->skipped_urls, (std::vector<std::string>{"https://example.com/hosts"}));
  EXPECT_EQ(r.allowlist, (std::vector<std::string>{"example.org"}));
  EXPECT_EQ(r.block_response, dns::BlockResponse::kNxdomain);
  EXPECT_FALSE(r.dnssec);
  EXPECT_EQ(r.cache_bytes, size_t{16} << 20);
  EXPECT_EQ(r.ca_bundle, "/etc/waypost/ca.pem");
}

TEST(ServerDnsSettings, UnknownUpstreamWithoutTlsNameIsAnErrorNamingTheKey) {
  ServerConfig c;
  c.dns_servers.ipv4 = {ip("192.0.2.53")};
  c.dns_servers.ipv6 = {};
  auto s = resolver_settings(c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("dns_servers"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("192.0.2.53"), std::string::npos) << s.error().message;
  c.dns_encryption = false;
  c.dns_adblocking = true;  // plain DNS needs no name
  s = resolver_settings(c);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->config.upstreams[0].port, 53);
}

TEST(ServerDnsSettings, ClientsGetTheResolverOrDnsServers) {
  ServerConfig c;
  EXPECT_EQ(client_dns_servers(c, true).size(), 2u);
  EXPECT_EQ(client_dns_servers(c, false).size(), 1u);
  c.dns_encryption = false;
  EXPECT_FALSE(runs_resolver(c));
  EXPECT_EQ(client_dns_servers(c, true),
            (std::vector<net::IpAddress>{ip("1.1.1.1"), ip("1.0.0.1"), ip("2606:4700:4700::1111"),
                                         ip("2606:4700:4700::1001")}));
}

TEST(ServerDnsSettings, DnsForceRedirectsOnlyWhenTheResolverRuns) {
  ServerConfig c;
  EXPECT_EQ(firewall_script(c).find("dnat"), std::string::npos);
  c.dns_force = true;
  const std::string s = firewall_script(c);
  EXPECT_NE(s.find("type nat hook prerouting priority dstnat"), std::string::npos) << s;
  EXPECT_NE(s.find("iifname \"wp0\" ip daddr != 10.49.0.1 meta l4proto { tcp, udp } th dport 53 "
                   "dnat ip to 10.49.0.1"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("dnat ip6 to fd00:4977:6179::1"), std::string::npos) << s;
  c.dns_encryption = false;  // no resolver: nothing to redirect to
  EXPECT_EQ(firewall_script(c).find("dnat"), std::string::npos);
}

}  // namespace
TEST(ServerFirewall, RestrictInputOpensTheWebPortAsWebListenSays) {
  ServerConfig c;
  c.restrict_input = true;
  EXPECT_NE(firewall_script(c).find("    tcp dport 8443 accept\n"), std::string::npos);
  c.web_listen = "tunnel";
  std::string s = firewall_script(c);
  EXPECT_EQ(s.find("    tcp dport 8443 accept\n"), std::string::npos) << s;
  EXPECT_NE(s.find("iifname \"wp0\" tcp dport 8443 accept"), std::string::npos) << s;
  EXPECT_NE(s.find("iifname \"wp0-ike\" tcp dport 8443 accept"), std::string::npos) << s;
  c.web_enabled = false;
  s = firewall_script(c);
  EXPECT_EQ(s.find("8443"), std::string::npos) << s;
}

}  // namespace waypost::server
