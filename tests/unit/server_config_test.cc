// The server's config.yaml: defaults, every key, every error message (with its line), the
// commented rendering and its round trip, and in-place rewriting of the users list.
#include "server/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server_config_equal.h"

namespace waypost::server {
namespace {

using Strings = std::vector<std::string>;

std::vector<std::string> strings(const std::vector<net::IpAddress>& v) {
  std::vector<std::string> out;
  out.reserve(v.size());
  for (const auto& a : v) {
    out.push_back(a.to_string());
  }
  return out;
}

ServerConfig parse_ok(std::string_view yaml) {
  auto c = parse_server_config(yaml);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message) << "\n--- input:\n" << yaml;
  return c.ok() ? *c : ServerConfig();
}

std::string parse_error(std::string_view yaml) {
  auto c = parse_server_config(yaml);
  EXPECT_FALSE(c.ok()) << "accepted:\n" << yaml;
  return c.ok() ? std::string() : c.error().message;
}

TEST(ServerConfig, Defaults) {
  const ServerConfig c;
  EXPECT_TRUE(c.users.empty());
  EXPECT_TRUE(c.wireguard_enabled);
  EXPECT_EQ(c.wireguard_port, 51820);
  EXPECT_EQ(c.wireguard_persistent_keepalive, 0);
  EXPECT_EQ(c.wireguard_network_ipv4.to_string(), "10.49.0.0/16");
  EXPECT_EQ(c.wireguard_network_ipv6.to_string(), "fd00:4977:6179::/48");
  EXPECT_TRUE(c.ipv6);
  EXPECT_EQ(c.reduce_mtu, 0u);
  EXPECT_TRUE(c.between_clients_drop);
  EXPECT_TRUE(c.block_smb);
  EXPECT_TRUE(c.block_netbios);
  EXPECT_FALSE(c.dns_adblocking);
  EXPECT_TRUE(c.dns_encryption);  // Algo's default too
  EXPECT_EQ(strings(c.dns_servers.ipv4), (Strings{"1.1.1.1", "1.0.0.1"}));
  EXPECT_TRUE(c.dns_servers.tls_names.empty());
  EXPECT_TRUE(c.adblock_allow.empty());
  EXPECT_EQ(c.dns_block_response, "0.0.0.0");
  EXPECT_TRUE(c.dns_dnssec);
  EXPECT_EQ(c.dns_cache_size, 4u);
  EXPECT_FALSE(c.dns_force);
  EXPECT_EQ(c.dns_tls_ca, "/etc/ssl/certs");
  EXPECT_EQ(strings(c.dns_servers.ipv6), (Strings{"2606:4700:4700::1111", "2606:4700:4700::1001"}));
  EXPECT_TRUE(c.adblock_lists.empty());
  EXPECT_FALSE(c.ondemand_cellular);
  EXPECT_FALSE(c.ondemand_wifi);
  EXPECT_TRUE(c.ondemand_wifi_exclude.empty());
  EXPECT_EQ(c.endpoint, "");
  EXPECT_EQ(c.wireguard_interface, "wp0");
  EXPECT_FALSE(c.restrict_input);
  EXPECT_EQ(c.ssh_port, 22);
  EXPECT_EQ(c.metrics_listen, "");
  EXPECT_TRUE(c.offloads);
}

TEST(ServerConfig, EmptyFileAndMissingKeysKeepDefaults) {
  EXPECT_TRUE(test::same_config(parse_ok(""), ServerConfig()));
  EXPECT_TRUE(test::same_config(parse_ok("# nothing here\n\n"), ServerConfig()));
  EXPECT_TRUE(test::same_config(parse_ok("---\n"), ServerConfig()));
  ServerConfig expected;
  expected.wireguard_port = 4000;
  EXPECT_TRUE(test::same_config(parse_ok("wireguard_port: 4000\n"), expected));
}

TEST(ServerConfig, EveryKey) {
  const ServerConfig c = parse_ok(R"(
users:
  - phone
  - "123"
  - alice@example.com
wireguard_enabled: false
wireguard_port: 443
wireguard_PersistentKeepalive: 25
wireguard_network_ipv4: 10.8.0.0/24
wireguard_network_ipv6: fd12:3456:789a::/64
ipv6: false
reduce_mtu: 80
BetweenClients_DROP: false
block_smb: false
block_netbios: false
dns_adblocking: true
dns_encryption: true
dns_servers:
  ipv4: [9.9.9.9, "192.0.2.53#dns.example.net"]
  ipv6:
    - 2620:fe::fe
adblock_lists:
  - https://example.com/hosts
  - /etc/waypost/blocklists/hosts
adblock_allow: [Example.com, cdn.example.org]
dns_block_response: NXDOMAIN
dns_dnssec: false
dns_cache_size: 16
dns_force: true
dns_tls_ca: /etc/waypost/test-ca.pem
ondemand_cellular: true
ondemand_wifi: true
ondemand_wifi_exclude: [home, "Café \"5G\""]
endpoint: vpn.example.com
wireguard_interface: wg-vpn
restrict_input: true
ssh_port: 4160
metrics_listen: 127.0.0.1:9586
offloads: false
)");
  EXPECT_EQ(c.users, (Strings{"phone", "123", "alice@example.com"}));
  EXPECT_FALSE(c.wireguard_enabled);
  EXPECT_EQ(c.wireguard_port, 443);
  EXPECT_EQ(c.wireguard_persistent_keepalive, 25);
  EXPECT_EQ(c.wireguard_network_ipv4.to_string(), "10.8.0.0/24");
  EXPECT_EQ(c.wireguard_network_ipv6.to_string(), "fd12:3456:789a::/64");
  EXPECT_FALSE(c.ipv6);
  EXPECT_EQ(c.reduce_mtu, 80u);
  EXPECT_FALSE(c.between_clients_drop);
  EXPECT_FALSE(c.block_smb);
  EXPECT_FALSE(c.block_netbios);
  EXPECT_TRUE(c.dns_adblocking);
  EXPECT_TRUE(c.dns_encryption);
  EXPECT_EQ(strings(c.dns_servers.ipv4), (Strings{"9.9.9.9", "192.0.2.53"}));
  EXPECT_EQ(strings(c.dns_servers.ipv6), (Strings{"2620:fe::fe"}));
  ASSERT_EQ(c.dns_servers.tls_names.size(), 1u);
  EXPECT_EQ(c.dns_servers.tls_names.begin()->first.to_string(), "192.0.2.53");
  EXPECT_EQ(c.dns_servers.tls_names.begin()->second, "dns.example.net");
  EXPECT_EQ(c.adblock_lists,
            (Strings{"https://example.com/hosts", "/etc/waypost/blocklists/hosts"}));
  EXPECT_EQ(c.adblock_allow, (Strings{"example.com", "cdn.example.org"}));
  EXPECT_EQ(c.dns_block_response, "nxdomain");
  EXPECT_FALSE(c.dns_dnssec);
  EXPECT_EQ(c.dns_cache_size, 16u);
  EXPECT_TRUE(c.dns_force);
  EXPECT_EQ(c.dns_tls_ca, "/etc/waypost/test-ca.pem");
  EXPECT_TRUE(c.ondemand_cellular);
  EXPECT_TRUE(c.ondemand_wifi);
  EXPECT_EQ(c.ondemand_wifi_exclude, (Strings{"home", "Café \"5G\""}));
  EXPECT_EQ(c.endpoint, "vpn.example.com");
  EXPECT_EQ(c.wireguard_interface, "wg-vpn");
  EXPECT_TRUE(c.restrict_input);
  EXPECT_EQ(c.ssh_port, 4160);
  EXPECT_EQ(c.metrics_listen, "127.0.0.1:9586");
  EXPECT_FALSE(c.offloads);
}

TEST(ServerConfig, BooleanSpellings) {
  for (const char* t : {"true", "True", "TRUE", "yes", "Yes", "on", "ON"}) {
    EXPECT_TRUE(parse_ok(std::string("offloads: false\nipv6: ") + t).ipv6) << t;
  }
  for (const char* f : {"false", "False", "no", "NO", "off", "Off"}) {
    EXPECT_FALSE(parse_ok(std::string("ipv6: ") + f).ipv6) << f;
  }
}

TEST(ServerConfig, ListForms) {
  EXPECT_EQ(parse_ok("ondemand_wifi_exclude: home, office ,cafe\n").ondemand_wifi_exclude,
            (Strings{"home", "office", "cafe"}));
  EXPECT_EQ(parse_ok("ondemand_wifi_exclude: home\n").ondemand_wifi_exclude, (Strings{"home"}));
  EXPECT_TRUE(parse_ok("ondemand_wifi_exclude: \"\"\n").ondemand_wifi_exclude.empty());
  EXPECT_TRUE(parse_ok("ondemand_wifi_exclude:\n").ondemand_wifi_exclude.empty());
  EXPECT_EQ(parse_ok("ondemand_wifi_exclude: [\"a,b\"]\n").ondemand_wifi_exclude, (Strings{"a,b"}));
  EXPECT_TRUE(parse_ok("users:\n").users.empty());
  EXPECT_TRUE(parse_ok("users: []\n").users.empty());
  EXPECT_EQ(parse_ok("users:\n- a\n- b\n").users, (Strings{"a", "b"}));
  EXPECT_TRUE(parse_ok("adblock_lists:\n").adblock_lists.empty());
  // A dns_servers mapping replaces the default as a whole.
  const ServerConfig c = parse_ok("dns_servers:\n  ipv4: [8.8.8.8]\n");
  EXPECT_EQ(strings(c.dns_servers.ipv4), (Strings{"8.8.8.8"}));
  EXPECT_TRUE(c.dns_servers.ipv6.empty());
}

TEST(ServerConfig, AcceptedEdgeValues) {
  EXPECT_EQ(parse_ok("endpoint: \"[2001:db8::1]\"\n").endpoint, "2001:db8::1");
  EXPECT_EQ(parse_ok("endpoint: 2001:db8::1\n").endpoint, "2001:db8::1");
  EXPECT_EQ(parse_ok("endpoint: 203.0.113.7\n").endpoint, "203.0.113.7");
  EXPECT_EQ(parse_ok("endpoint: my-vpn.example\n").endpoint, "my-vpn.example");
  EXPECT_EQ(parse_ok("endpoint:\n").endpoint, "");
  EXPECT_EQ(parse_ok("metrics_listen: \"[::1]:9586\"\n").metrics_listen, "[::1]:9586");
  EXPECT_EQ(parse_ok("metrics_listen: \"\"\n").metrics_listen, "");
  EXPECT_EQ(parse_ok("metrics_listen: 127.0.0.53:80\n").metrics_listen, "127.0.0.53:80");
  EXPECT_EQ(parse_ok("reduce_mtu: 500\n").reduce_mtu, 500u);
  EXPECT_EQ(parse_ok("wireguard_PersistentKeepalive: 65535\n").wireguard_persistent_keepalive,
            65535);
  EXPECT_EQ(parse_ok("wireguard_port: 1\n").wireguard_port, 1);
  EXPECT_EQ(parse_ok("wireguard_port: 65535\n").wireguard_port, 65535);
  EXPECT_EQ(parse_ok("wireguard_port: \"51821\"\n").wireguard_port, 51821);
  EXPECT_EQ(parse_ok("wireguard_network_ipv4: 10.0.0.0/8\nipsec_enabled: false\n")
                .wireguard_network_ipv4.length,
            8);
  EXPECT_EQ(parse_ok("strongswan_network: 10.0.0.0/24\n").strongswan_network.length, 24);
  EXPECT_EQ(parse_ok("strongswan_network_ipv6: fd00:1::/64\n").strongswan_network_ipv6.length, 64);
  EXPECT_FALSE(parse_ok("ipsec_enabled: false\n").ipsec_enabled);
  EXPECT_TRUE(parse_ok("").ipsec_enabled);
  EXPECT_EQ(parse_ok("").strongswan_network.to_string(), "10.48.0.0/16");
  // The pools may overlap when one side is off.
  EXPECT_EQ(parse_ok("strongswan_network: 10.49.0.0/16\nipsec_enabled: false\n")
                .strongswan_network.to_string(),
            "10.49.0.0/16");
  EXPECT_EQ(parse_ok("strongswan_network_ipv6: fd00:4977:6179::/48\nipv6: false\n")
                .strongswan_network_ipv6.to_string(),
            "fd00:4977:6179::/48");
  EXPECT_EQ(parse_ok("wireguard_network_ipv4: 10.0.0.0/30\n").wireguard_network_ipv4.length, 30);
  EXPECT_EQ(parse_ok("wireguard_network_ipv6: fd00::/48\n").wireguard_network_ipv6.length, 48);
  EXPECT_EQ(parse_ok("wireguard_network_ipv6: fd00::/120\n").wireguard_network_ipv6.length, 120);
  EXPECT_EQ(parse_ok("wireguard_interface: a.b_c=d+e-f\n").wireguard_interface, "a.b_c=d+e-f");
  EXPECT_EQ(parse_ok("users: [\"null\", \"true\"]\n").users, (Strings{"null", "true"}));
}

struct ErrorCase {
  const char* yaml;
  const char* message;
};

TEST(ServerConfig, ErrorMessages) {
  const ErrorCase cases[] = {
      {"wireguard_prot: 1\n", "line 1: unknown key 'wireguard_prot'"},
      // IKEv2 and WireGuard pools apart.
      {"users: [a]\nstrongswan_network: 10.49.128.0/24\n",
       "line 2: strongswan_network 10.49.128.0/24 overlaps wireguard_network_ipv4 10.49.0.0/16: "
       "give IKEv2 clients a network of their own (Algo's defaults are 10.48.0.0/16 and "
       "10.49.0.0/16), or set ipsec_enabled: false"},
      {"wireguard_network_ipv4: 10.0.0.0/8\n",
       "line 1: strongswan_network 10.48.0.0/16 overlaps wireguard_network_ipv4 10.0.0.0/8: "
       "give IKEv2 clients a network of their own (Algo's defaults are 10.48.0.0/16 and "
       "10.49.0.0/16), or set ipsec_enabled: false"},
      {"strongswan_network_ipv6: fd00:4977:6179:1::/64\n",
       "line 1: strongswan_network_ipv6 fd00:4977:6179:1::/64 overlaps wireguard_network_ipv6 "
       "fd00:4977:6179::/48: give IKEv2 clients a network of their own, or set ipsec_enabled: "
       "false"},
      {"strongswan_network: 10.48.0.1/16\n",
       "line 1: key 'strongswan_network': expected a network address with the host bits zero "
       "(10.48.0.0/16), got '10.48.0.1/16'"},
      {"users: [a]\n\nWireguard_port: 5\n", "line 3: unknown key 'Wireguard_port'"},
      {"ipv6: true\nipv6: false\n", "line 2: duplicate key 'ipv6'"},
      {"[a]: 1\n", "line 1: expected a key name, got a list"},
      {"- a\n", "line 1: expected a mapping of keys (key: value), got a list"},
      {"hello\n", "line 1: expected a mapping of keys (key: value), got 'hello'"},
      {"ipv6: true\n---\nipv6: false\n", "line 2: expected one YAML document, found more"},
      // yaml-cpp's LoadAll never returns on this one.
      {", bobers: /&&u\ncaro", "line 1: expected one YAML document, found more"},
      // Ports, numbers.
      {"wireguard_port: abc\n",
       "line 1: key 'wireguard_port': expected a port number (1-65535), got 'abc'"},
      {"wireguard_port: 0\n",
       "line 1: key 'wireguard_port': expected a port number (1-65535), got '0'"},
      {"wireguard_port: 65536\n",
       "line 1: key 'wireguard_port': expected a port number (1-65535), got '65536'"},
      {"wireguard_port: 0x10\n",
       "line 1: key 'wireguard_port': expected a port number (1-65535), got '0x10'"},
      {"wireguard_port: 051820\n",
       "line 1: key 'wireguard_port': expected a port number (1-65535), got '051820'"},
      {"wireguard_port: -1\n",
       "line 1: key 'wireguard_port': expected a port number (1-65535), got '-1'"},
      {"wireguard_port: 99999999999999999999\n",
       "line 1: key 'wireguard_port': expected a port number (1-65535), got "
       "'99999999999999999999'"},
      {"wireguard_port:\n",
       "line 1: key 'wireguard_port': expected a port number (1-65535), got nothing"},
      {"\n\nwireguard_PersistentKeepalive: 70000\n",
       "line 3: key 'wireguard_PersistentKeepalive': expected a number of seconds, 0 for off "
       "(0-65535), got '70000'"},
      {"reduce_mtu: 501\n",
       "line 1: key 'reduce_mtu': expected a number of bytes, 0 for automatic (0-500), got '501'"},
      {"ssh_port: 0\n", "line 1: key 'ssh_port': expected a port number (1-65535), got '0'"},
      // Booleans.
      {"wireguard_enabled: maybe\n",
       "line 1: key 'wireguard_enabled': expected true or false, got 'maybe'"},
      {"ipv6: [true]\n", "line 1: key 'ipv6': expected true or false, got a list"},
      {"block_smb:\n", "line 1: key 'block_smb': expected true or false, got nothing"},
      {"offloads: 1\n", "line 1: key 'offloads': expected true or false, got '1'"},
      {"BetweenClients_DROP: {a: 1}\n",
       "line 1: key 'BetweenClients_DROP': expected true or false, got a mapping"},
      {"block_netbios: y\n", "line 1: key 'block_netbios': expected true or false, got 'y'"},
      {"dns_adblocking: 2\n", "line 1: key 'dns_adblocking': expected true or false, got '2'"},
      {"dns_encryption: nope\n",
       "line 1: key 'dns_encryption': expected true or false, got 'nope'"},
      {"ondemand_cellular: x\n",
       "line 1: key 'ondemand_cellular': expected true or false, got 'x'"},
      {"ondemand_wifi: x\n", "line 1: key 'ondemand_wifi': expected true or false, got 'x'"},
      {"restrict_input: x\n", "line 1: key 'restrict_input': expected true or false, got 'x'"},
      // Networks.
      {"wireguard_network_ipv4: 10.49.0.0/31\n",
       "line 1: key 'wireguard_network_ipv4': expected an IPv4 network from /8 to /30 such as "
       "10.49.0.0/16, got '10.49.0.0/31'"},
      {"wireguard_network_ipv4: 10.0.0.0/7\n",
       "line 1: key 'wireguard_network_ipv4': expected an IPv4 network from /8 to /30 such as "
       "10.49.0.0/16, got '10.0.0.0/7'"},
      {"wireguard_network_ipv4: 10.49.0.0\n",
       "line 1: key 'wireguard_network_ipv4': expected an IPv4 network from /8 to /30 such as "
       "10.49.0.0/16, got '10.49.0.0'"},
      {"wireguard_network_ipv4: fd00::/64\n",
       "line 1: key 'wireguard_network_ipv4': expected an IPv4 network from /8 to /30 such as "
       "10.49.0.0/16, got 'fd00::/64'"},
      {"wireguard_network_ipv4: 10.49.0.1/16\n",
       "line 1: key 'wireguard_network_ipv4': expected a network address with the host bits zero "
       "(10.49.0.0/16), got '10.49.0.1/16'"},
      {"wireguard_network_ipv6: fd00::/47\n",
       "line 1: key 'wireguard_network_ipv6': expected an IPv6 network from /48 to /120 such as "
       "fd12:3456:789a::/48, got 'fd00::/47'"},
      {"wireguard_network_ipv6: fd00::/121\n",
       "line 1: key 'wireguard_network_ipv6': expected an IPv6 network from /48 to /120 such as "
       "fd12:3456:789a::/48, got 'fd00::/121'"},
      {"wireguard_network_ipv6: 10.0.0.0/16\n",
       "line 1: key 'wireguard_network_ipv6': expected an IPv6 network from /48 to /120 such as "
       "fd12:3456:789a::/48, got '10.0.0.0/16'"},
      {"wireguard_network_ipv6: fd00::1/64\n",
       "line 1: key 'wireguard_network_ipv6': expected a network address with the host bits zero "
       "(fd00::/64), got 'fd00::1/64'"},
      // Users.
      {"users: phone\n", "line 1: key 'users': expected a list of user names, got 'phone'"},
      {"users:\n  - phone\n  - .hidden\n",
       "line 3: key 'users': user name '.hidden' must not start with '.' or '-'"},
      {"users:\n  - \"-rf\"\n",
       "line 2: key 'users': user name '-rf' must not start with '.' or '-'"},
      {"users:\n  - a b\n",
       "line 2: key 'users': user name 'a b' may contain only letters, digits and _ . @ -"},
      {"users:\n  - phone\n  - laptop\n  - phone\n", "line 4: key 'users': duplicate user 'phone'"},
      {"users: [[a]]\n", "line 1: key 'users': expected a user name, got a list"},
      {"users:\n  - null\n",
       "line 2: key 'users': expected a user name (quote names such as \"null\"), got nothing"},
      {"users: [\"\"]\n", "line 1: key 'users': user name '' must be 1-64 characters long"},
      // DNS.
      {"dns_servers: [1.1.1.1]\n",
       "line 1: key 'dns_servers': expected a mapping with ipv4 and ipv6 lists, got a list"},
      {"dns_servers:\n  ipv4: [1.1.1]\n",
       "line 2: key 'dns_servers.ipv4': expected an IPv4 address, optionally #tls-name, got "
       "'1.1.1'"},
      {"dns_servers:\n  ipv4: ['1.1.1.1#']\n",
       "line 2: key 'dns_servers.ipv4': expected an IPv4 address, optionally #tls-name, got "
       "'1.1.1.1#'"},
      {"dns_servers:\n  ipv4: ['1.1.1.1#a b']\n",
       "line 2: key 'dns_servers.ipv4': expected an IPv4 address, optionally #tls-name, got "
       "'1.1.1.1#a b'"},
      {"dns_servers:\n  ipv4: 1.1.1.1\n",
       "line 2: key 'dns_servers.ipv4': expected a list of IPv4 addresses, got '1.1.1.1'"},
      {"dns_servers:\n  ipv4: [1.1.1.1]\n  ipv6:\n    - 1.0.0.1\n",
       "line 4: key 'dns_servers.ipv6': expected an IPv6 address, optionally #tls-name, got "
       "'1.0.0.1'"},
      {"dns_servers:\n  ipv6: ['::1']\n",
       "line 2: key 'dns_servers': expected at least one IPv4 address in ipv4"},
      {"dns_servers:\n  ipv4: [1.1.1.1]\n  ipv5: []\n",
       "line 3: unknown key 'ipv5' in dns_servers (expected ipv4 or ipv6)"},
      {"dns_servers:\n  ipv4: [1.1.1.1]\n  ipv4: [1.0.0.1]\n",
       "line 3: duplicate key 'dns_servers.ipv4'"},
      {"adblock_lists: [ftp://example.com/x]\n",
       "line 1: key 'adblock_lists': expected an absolute file path (or an http(s):// URL), got "
       "'ftp://example.com/x'"},
      {"adblock_lists: [hosts.txt]\n",
       "line 1: key 'adblock_lists': expected an absolute file path (or an http(s):// URL), got "
       "'hosts.txt'"},
      {"adblock_lists: https://example.com/x\n",
       "line 1: key 'adblock_lists': expected a list of block list files, got "
       "'https://example.com/x'"},
      {"adblock_allow: [\"a b\"]\n",
       "line 1: key 'adblock_allow': expected a domain name, got 'a b'"},
      {"dns_block_response: refused\n",
       "line 1: key 'dns_block_response': expected 0.0.0.0 or nxdomain, got 'refused'"},
      {"dns_cache_size: 0\n",
       "line 1: key 'dns_cache_size': expected a cache size in MiB (1-1024), got '0'"},
      {"dns_tls_ca: certs\n",
       "line 1: key 'dns_tls_ca': expected an absolute path to a PEM file or a CA directory, got "
       "'certs'"},
      {"dns_dnssec: maybe\n", "line 1: key 'dns_dnssec': expected true or false, got 'maybe'"},
      // Apple on-demand.
      {"ondemand_wifi_exclude: [\"\"]\n",
       "line 1: key 'ondemand_wifi_exclude': expected a Wi-Fi network name (1-32 bytes, no "
       "control characters), got ''"},
      {"ondemand_wifi_exclude: [\"123456789012345678901234567890123\"]\n",
       "line 1: key 'ondemand_wifi_exclude': expected a Wi-Fi network name (1-32 bytes, no "
       "control characters), got '123456789012345678901234567890123'"},
      {"ondemand_wifi_exclude: \"home, 123456789012345678901234567890123\"\n",
       "line 1: key 'ondemand_wifi_exclude': expected Wi-Fi network names (1-32 bytes, no control "
       "characters), got 'home, 123456789012345678901234567890123'"},
      {"ondemand_wifi_exclude: {a: b}\n",
       "line 1: key 'ondemand_wifi_exclude': expected a list of Wi-Fi network names (1-32 bytes, "
       "no control characters), got a mapping"},
      // Waypost keys.
      {"endpoint: vpn.example.com:51820\n",
       "line 1: key 'endpoint': expected a host name or IP address (without a port), got "
       "'vpn.example.com:51820'"},
      {"endpoint: -vpn.example.com\n",
       "line 1: key 'endpoint': expected a host name or IP address (without a port), got "
       "'-vpn.example.com'"},
      {"endpoint: 10.0.0\n",
       "line 1: key 'endpoint': expected a host name or IP address (without a port), got "
       "'10.0.0'"},
      {"endpoint: vpn..example\n",
       "line 1: key 'endpoint': expected a host name or IP address (without a port), got "
       "'vpn..example'"},
      {"endpoint: \"[10.0.0.1]\"\n",
       "line 1: key 'endpoint': expected a host name or IP address (without a port), got "
       "'[10.0.0.1]'"},
      {"endpoint: [a]\n",
       "line 1: key 'endpoint': expected a host name or IP address (without a port), got a list"},
      {"wireguard_interface: waypost-interface0\n",
       "line 1: key 'wireguard_interface': expected an interface name (1-15 characters of a-z "
       "A-Z 0-9 _ = + . -), got 'waypost-interface0'"},
      {"wireguard_interface: wp/0\n",
       "line 1: key 'wireguard_interface': expected an interface name (1-15 characters of a-z "
       "A-Z 0-9 _ = + . -), got 'wp/0'"},
      {"wireguard_interface: \"..\"\n",
       "line 1: key 'wireguard_interface': expected an interface name (1-15 characters of a-z "
       "A-Z 0-9 _ = + . -), got '..'"},
      {"wireguard_interface:\n",
       "line 1: key 'wireguard_interface': expected an interface name (1-15 characters of a-z "
       "A-Z 0-9 _ = + . -), got nothing"},
      {"metrics_listen: localhost:9586\n",
       "line 1: key 'metrics_listen': expected a loopback address and port such as "
       "127.0.0.1:9586 or [::1]:9586, or \"\" for off, got 'localhost:9586'"},
      {"metrics_listen: 127.0.0.1\n",
       "line 1: key 'metrics_listen': expected a loopback address and port such as "
       "127.0.0.1:9586 or [::1]:9586, or \"\" for off, got '127.0.0.1'"},
      {"metrics_listen: 0.0.0.0:9586\n",
       "line 1: key 'metrics_listen': expected a loopback address and port such as "
       "127.0.0.1:9586 or [::1]:9586, or \"\" for off, got '0.0.0.0:9586'"},
      {"metrics_listen: \"[2001:db8::1]:9586\"\n",
       "line 1: key 'metrics_listen': expected a loopback address and port such as "
       "127.0.0.1:9586 or [::1]:9586, or \"\" for off, got '[2001:db8::1]:9586'"},
      {"metrics_listen: 127.0.0.1:0\n",
       "line 1: key 'metrics_listen': expected a loopback address and port such as "
       "127.0.0.1:9586 or [::1]:9586, or \"\" for off, got '127.0.0.1:0'"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parse_error(c.yaml), c.message) << c.yaml;
  }
}

TEST(ServerConfig, SyntaxErrorsCarryTheLine) {
  EXPECT_EQ(parse_error("users:\n  - a\nipv6: [true}\n").substr(0, 7), "line 3:");
  EXPECT_EQ(parse_error("a: b: c\n").substr(0, 7), "line 1:");
  EXPECT_EQ(parse_error("ipv6: true\n  offloads: false\n").substr(0, 7), "line 2:");
  EXPECT_EQ(parse_error("users: *nothing\n").substr(0, 7), "line 1:");
}

TEST(ServerConfig, LongValuesAreShortenedInMessages) {
  const std::string label(100, 'a');
  const std::string msg = parse_error("endpoint: " + label + "\n");
  EXPECT_NE(msg.find("got '" + std::string(80, 'a') + "...'"), std::string::npos) << msg;
}

TEST(ServerConfig, ValidateUserName) {
  for (const char* ok : {"phone", "alice@example.com", "a_b.c-d", "0day", "X", "_", "a."}) {
    EXPECT_TRUE(validate_user_name(ok).ok()) << ok;
  }
  EXPECT_TRUE(validate_user_name(std::string(64, 'u')).ok());
  EXPECT_FALSE(validate_user_name(std::string(65, 'u')).ok());
  for (const char* bad : {"", ".x", "-x", "a b", "a/b", "caf\xc3\xa9", "a:b", "a\nb", "..", "a*"}) {
    EXPECT_FALSE(validate_user_name(bad).ok()) << bad;
  }
}

ServerConfig everything_changed() {
  ServerConfig c;
  c.users = {"phone", "null", "123", "@home", "a.b-c_d"};
  c.wireguard_enabled = false;
  c.wireguard_port = 443;
  c.wireguard_persistent_keepalive = 25;
  c.wireguard_network_ipv4 = net::Prefix::parse("172.16.0.0/20").value();
  c.wireguard_network_ipv6 = net::Prefix::parse("fd9a:1:2::/56").value();
  c.ipv6 = false;
  c.ipsec_enabled = false;
  c.strongswan_network = net::Prefix::parse("172.16.64.0/20").value();
  c.strongswan_network_ipv6 = net::Prefix::parse("fd9a:1:3::/56").value();
  c.reduce_mtu = 120;
  c.between_clients_drop = false;
  c.block_smb = false;
  c.block_netbios = false;
  c.dns_adblocking = true;
  c.dns_encryption = true;
  c.dns_servers.ipv4 = {net::IpAddress::parse("9.9.9.9").value(),
                        net::IpAddress::parse("192.0.2.53").value()};
  c.dns_servers.ipv6 = {};
  c.dns_servers.tls_names[net::IpAddress::parse("192.0.2.53").value()] = "dns.example.net";
  c.adblock_lists = {"https://example.com/hosts?a=1&b=\"2\"", "http://example.org/#x",
                     "/var/lib/block lists/hosts"};
  c.adblock_allow = {"example.com", "_dmarc.example.org"};
  c.dns_block_response = "nxdomain";
  c.dns_dnssec = false;
  c.dns_cache_size = 64;
  c.dns_force = true;
  c.dns_tls_ca = "/usr/local/share/ca certs";
  c.ondemand_cellular = true;
  c.ondemand_wifi = true;
  c.ondemand_wifi_exclude = {"home", "Caf\xc3\xa9 \"5G\"", "a,b", "back\\slash", "#hash", "  x"};
  c.endpoint = "2001:db8::7";
  c.wireguard_interface = "wg+1";
  c.restrict_input = true;
  c.ssh_port = 4160;
  c.metrics_listen = "[::1]:9586";
  c.offloads = false;
  c.web_enabled = false;
  c.web_port = 9443;
  c.web_listen = "tunnel";
  c.web_tls_cert = "/etc/ssl/vpn chain.pem";
  c.web_tls_key = "/etc/ssl/private/vpn.key";
  return c;
}

TEST(ServerConfig, RenderParsesBackToTheSameValues) {
  for (const ServerConfig& c : {ServerConfig(), everything_changed()}) {
    const std::string text = render_server_config(c);
    auto back = parse_server_config(text);
    ASSERT_TRUE(back.ok()) << back.error().message << "\n" << text;
    EXPECT_TRUE(test::same_config(*back, c)) << text;
    EXPECT_EQ(render_server_config(*back), text);
  }
  ServerConfig host;
  host.endpoint = "vpn.example.com";
  host.users = {"phone"};
  auto back = parse_server_config(render_server_config(host));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(test::same_config(*back, host));
}

TEST(ServerConfig, RenderHasEveryKeyWithAComment) {
  const std::string text = render_server_config(everything_changed());
  for (const char* key : {"users",
                          "wireguard_enabled",
                          "wireguard_port",
                          "wireguard_PersistentKeepalive",
                          "wireguard_network_ipv4",
                          "wireguard_network_ipv6",
                          "ipsec_enabled",
                          "strongswan_network",
                          "strongswan_network_ipv6",
                          "ipv6",
                          "reduce_mtu",
                          "BetweenClients_DROP",
                          "block_smb",
                          "block_netbios",
                          "dns_adblocking",
                          "dns_encryption",
                          "dns_servers",
                          "adblock_lists",
                          "adblock_allow",
                          "dns_block_response",
                          "dns_dnssec",
                          "dns_cache_size",
                          "dns_force",
                          "dns_tls_ca",
                          "ondemand_cellular",
                          "ondemand_wifi",
                          "ondemand_wifi_exclude",
                          "endpoint",
                          "wireguard_interface",
                          "restrict_input",
                          "ssh_port",
                          "metrics_listen",
                          "offloads",
                          "web_enabled",
                          "web_port",
                          "web_listen",
                          "web_tls_cert",
                          "web_tls_key"}) {
    const std::string at_line_start = std::string("\n") + key + ":";
    const size_t pos = text.find(at_line_start);
    ASSERT_NE(pos, std::string::npos) << key;
    EXPECT_EQ(text.find(at_line_start, pos + 1), std::string::npos) << key << " twice";
    // Some comment line comes before each key (keys in a group share one).
    EXPECT_NE(text.rfind("\n#", pos), std::string::npos) << key;
  }
  EXPECT_TRUE(text.starts_with("#"));
}

// ------------------------------------------------------------------------------------------
// rewrite_users

std::string rewrite_ok(std::string_view yaml, const Strings& users) {
  auto r = rewrite_users(yaml, users);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message) << "\n--- input:\n" << yaml;
  if (!r.ok()) {
    return {};
  }
  auto back = parse_server_config(*r);
  EXPECT_TRUE(back.ok());
  if (back.ok()) {
    EXPECT_EQ(back->users, users);
  }
  return *r;
}

constexpr const char* kCommented =
    "# Waypost\n"
    "endpoint: vpn.example.com  # where clients go\n"
    "\n"
    "users:   # devices\n"
    "  # Alice's phone\n"
    "  - alice   # iPhone\n"
    "  - bob\n"
    "\n"
    "# after the users\n"
    "wireguard_port: 51821  # custom\n";

TEST(RewriteUsers, BlockListKeepsEverythingElse) {
  EXPECT_EQ(rewrite_ok(kCommented, {"alice", "bob", "carol"}),
            "# Waypost\n"
            "endpoint: vpn.example.com  # where clients go\n"
            "\n"
            "users:   # devices\n"
            "  # Alice's phone\n"
            "  - alice   # iPhone\n"
            "  - bob\n"
            "  - carol\n"
            "\n"
            "# after the users\n"
            "wireguard_port: 51821  # custom\n");
}

TEST(RewriteUsers, RemovingAUserTakesItsCommentAlong) {
  EXPECT_EQ(rewrite_ok(kCommented, {"bob"}),
            "# Waypost\n"
            "endpoint: vpn.example.com  # where clients go\n"
            "\n"
            "users:   # devices\n"
            "  - bob\n"
            "\n"
            "# after the users\n"
            "wireguard_port: 51821  # custom\n");
  EXPECT_EQ(rewrite_ok(kCommented, {}),
            "# Waypost\n"
            "endpoint: vpn.example.com  # where clients go\n"
            "\n"
            "users:   # devices\n"
            "\n"
            "# after the users\n"
            "wireguard_port: 51821  # custom\n");
}

TEST(RewriteUsers, FlowLists) {
  EXPECT_EQ(rewrite_ok("users: [a, b]  # c\nipv6: false\n", {"a", "b", "c"}),
            "users: [a, b, c]  # c\nipv6: false\n");
  EXPECT_EQ(rewrite_ok("users: [a,  # first ]\n  'b', \"c\"]\nipv6: no\n", {"b"}),
            "users: [b]\nipv6: no\n");
  EXPECT_EQ(rewrite_ok("users: []\n", {"a"}), "users: [a]\n");
  EXPECT_EQ(rewrite_ok("users:\n  [a]\n", {}), "users:\n  []\n");
  EXPECT_EQ(rewrite_ok("users: ['a']\noffloads: off\n", {"null", "123", "@x"}),
            "users: [\"null\", \"123\", \"@x\"]\noffloads: off\n");
}

TEST(RewriteUsers, EmptyList) {
  EXPECT_EQ(rewrite_ok("users:\nipv6: false\n", {"a", "b"}), "users:\n  - a\n  - b\nipv6: false\n");
  EXPECT_EQ(rewrite_ok("users:  # none yet\n# next\nipv6: false\n", {"a"}),
            "users:  # none yet\n  - a\n# next\nipv6: false\n");
  EXPECT_EQ(rewrite_ok("ipv6: false\nusers:", {"a"}), "ipv6: false\nusers:\n  - a\n");
}

TEST(RewriteUsers, MissingKeyIsAppended) {
  EXPECT_EQ(rewrite_ok("ipv6: false\n", {"a"}), "ipv6: false\nusers:\n  - a\n");
  EXPECT_EQ(rewrite_ok("ipv6: false  # x", {"a"}), "ipv6: false  # x\nusers:\n  - a\n");
  EXPECT_EQ(rewrite_ok("", {"a"}), "users:\n  - a\n");
  EXPECT_EQ(rewrite_ok("# only a comment\n", {}), "# only a comment\nusers: []\n");
}

TEST(RewriteUsers, DisabledUsersListIsItsOwnKey) {
  const std::string yaml = "users: [a, b]\nipv6: false\n";
  auto added = rewrite_disabled_users(yaml, {"b"});
  ASSERT_TRUE(added.ok()) << added.error().message;
  EXPECT_EQ(*added, "users: [a, b]\nipv6: false\ndisabled_users:\n  - b\n");
  auto parsed = parse_server_config(*added);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->users, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parsed->disabled_users, (std::vector<std::string>{"b"}));
  EXPECT_TRUE(user_disabled(*parsed, "b"));
  EXPECT_FALSE(user_disabled(*parsed, "a"));
  auto cleared = rewrite_disabled_users(*added, {});
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(*cleared, "users: [a, b]\nipv6: false\ndisabled_users:\n");
  EXPECT_TRUE(parse_server_config(*cleared)->disabled_users.empty());
  // The users list is rewritten without touching disabled_users, and the other way round.
  auto users = rewrite_users(*added, {"a", "b", "c"});
  ASSERT_TRUE(users.ok());
  EXPECT_EQ(*users, "users: [a, b, c]\nipv6: false\ndisabled_users:\n  - b\n");
  // Rendering (server init, upgrades) keeps the list.
  auto rendered = parse_server_config(render_server_config(*parsed));
  ASSERT_TRUE(rendered.ok());
  EXPECT_EQ(rendered->disabled_users, (std::vector<std::string>{"b"}));
}

TEST(ServerConfig, DisabledUsersErrorsNameTheLine) {
  auto dup = parse_server_config("users: [a]\ndisabled_users: [a, a]\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().message, "line 2: key 'disabled_users': duplicate user 'a'");
  auto bad = parse_server_config("users: [a]\ndisabled_users: [\"a b\"]\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("line 2: key 'disabled_users'"), std::string::npos)
      << bad.error().message;
}

TEST(RewriteUsers, OtherLayouts) {
  // Items at the key's own column.
  EXPECT_EQ(rewrite_ok("users:\n- a\n- b\nipv6: false\n", {"a", "b", "c"}),
            "users:\n- a\n- b\n- c\nipv6: false\n");
  // Four-space indentation is kept for new items.
  EXPECT_EQ(rewrite_ok("users:\n    - a\n", {"a", "b"}), "users:\n    - a\n    - b\n");
  // CRLF line ends stay CRLF.
  EXPECT_EQ(rewrite_ok("users:\r\n  - a\r\nipv6: false\r\n", {"a", "b"}),
            "users:\r\n  - a\r\n  - b\r\nipv6: false\r\n");
  // Last line without a newline.
  EXPECT_EQ(rewrite_ok("ipv6: false\nusers:\n  - a", {"a", "b"}),
            "ipv6: false\nusers:\n  - a\n  - b\n");
  // Quoted key and quoted names.
  EXPECT_EQ(rewrite_ok("\"users\":\n  - \"a\"\n", {"b", "a"}), "\"users\":\n  - b\n  - \"a\"\n");
  // Reordering keeps each entry's own lines.
  EXPECT_EQ(rewrite_ok("users:\n  - a # A\n  - b # B\n", {"b", "a"}),
            "users:\n  - b # B\n  - a # A\n");
  // Names that need quotes.
  EXPECT_EQ(rewrite_ok("users:\n", {"null", "0day", "@x"}),
            "users:\n  - \"null\"\n  - \"0day\"\n  - \"@x\"\n");
}

TEST(RewriteUsers, RenderedConfigStaysIntact) {
  ServerConfig c = everything_changed();
  const std::string text = render_server_config(c);
  const std::string out = rewrite_ok(text, {"phone", "tablet"});
  auto back = parse_server_config(out);
  ASSERT_TRUE(back.ok());
  c.users = {"phone", "tablet"};
  EXPECT_TRUE(test::same_config(*back, c));
  // Only the users block changed.
  const size_t users_at = text.find("\nusers:\n");
  ASSERT_NE(users_at, std::string::npos);
  EXPECT_EQ(out.substr(0, users_at), text.substr(0, users_at));
  const size_t after = text.find("\n\n### WireGuard");
  EXPECT_TRUE(out.ends_with(text.substr(after)));
}

TEST(RewriteUsers, Errors) {
  auto bad_name = rewrite_users("users: []\n", {"ok", ".bad"});
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.error().message, "user name '.bad' must not start with '.' or '-'");
  auto dup = rewrite_users("users: []\n", {"a", "a"});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().message, "duplicate user 'a'");
  auto invalid = rewrite_users("users: []\nwireguard_port: x\n", {"a"});
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().message.substr(0, 7), "line 2:");
  auto anchored = rewrite_users("users: &u\n  - a\n", {"a", "b"});
  ASSERT_FALSE(anchored.ok());
  EXPECT_NE(anchored.error().message.find("edit it by hand"), std::string::npos)
      << anchored.error().message;
}

}  // namespace
}  // namespace waypost::server

namespace waypost::server {
namespace {

TEST(ServerConfigWeb, DefaultsAndValues) {
  auto d = parse_server_config("");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->web_enabled);
  EXPECT_EQ(d->web_port, 8443);
  EXPECT_EQ(d->web_listen, "all");
  EXPECT_EQ(d->web_tls_cert, "");
  auto c = parse_server_config(
      "web_enabled: false\nweb_port: 443\nweb_listen: tunnel\n"
      "web_tls_cert: /etc/waypost/web/cert.pem\nweb_tls_key: /etc/waypost/web/key.pem\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_FALSE(c->web_enabled);
  EXPECT_EQ(c->web_port, 443);
  EXPECT_EQ(c->web_listen, "tunnel");
  EXPECT_EQ(c->web_tls_cert, "/etc/waypost/web/cert.pem");
  EXPECT_EQ(c->web_tls_key, "/etc/waypost/web/key.pem");
}

TEST(ServerConfigWeb, ErrorsNameTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"web_port: 0\n", "line 1: key 'web_port': expected a port number (1-65535), got '0'"},
      {"web_listen: everywhere\n", "line 1: key 'web_listen': expected all or tunnel"},
      {"web_enabled: 2\n", "line 1: key 'web_enabled': expected true or false, got '2'"},
      {"web_tls_cert: cert.pem\nweb_tls_key: /k\n",
       "line 1: key 'web_tls_cert': expected an absolute path to a PEM file"},
      {"web_tls_cert: /c.pem\n",
       "line 1: web_tls_cert is set but web_tls_key is not: give both (your own certificate) or "
       "neither (a self-signed one)"},
      {"users: [a]\nweb_tls_key: /k.pem\n", "line 2: web_tls_key is set but web_tls_cert is not"},
      {"metrics_listen: 127.0.0.1:8443\n",
       "web_port 8443 is also metrics_listen's port: give one of them another"},
  };
  for (const auto& [yaml, expected] : cases) {
    auto r = parse_server_config(yaml);
    ASSERT_FALSE(r.ok()) << yaml;
    EXPECT_NE(r.error().message.find(expected), std::string::npos) << yaml << "\n"
                                                                   << r.error().message;
  }
  // With the web admin off, the ports may coincide.
  EXPECT_TRUE(parse_server_config("web_enabled: false\nmetrics_listen: 127.0.0.1:8443\n").ok());
}

}  // namespace
}  // namespace waypost::server
