// wg-quick(8) configuration files: parsing, every error message, and formatting round trips.
#include "wireguard/conf.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/encoding.h"

namespace waypost::wireguard {
namespace {

// Keys are 32 bytes 0x00..0x1f, 0x25..0x44 and so on (any 32 bytes are a valid X25519 key).
constexpr const char* kKey0 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr const char* kKey1 = "JSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QEFCQ0Q=";
constexpr const char* kKey2 = "SktMTU5PUFFSU1RVVldYWVpbXF1eX2BhYmNkZWZnaGk=";
constexpr const char* kKey3 = "b3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY4=";

std::string b64(std::span<const uint8_t> k) {
  return to_base64(k);
}

std::vector<std::string> strings(const std::vector<net::Prefix>& v) {
  std::vector<std::string> out;
  out.reserve(v.size());
  for (const auto& p : v) {
    out.push_back(p.to_string());
  }
  return out;
}

std::vector<std::string> strings(const std::vector<net::IpAddress>& v) {
  std::vector<std::string> out;
  out.reserve(v.size());
  for (const auto& a : v) {
    out.push_back(a.to_string());
  }
  return out;
}

using Strings = std::vector<std::string>;

// Field-by-field equality, ignoring ConfPeer::line (which depends on the layout of the text).
void expect_same(const WgQuickConfig& a, const WgQuickConfig& b) {
  ASSERT_EQ(a.iface.private_key.has_value(), b.iface.private_key.has_value());
  if (a.iface.private_key) {
    EXPECT_TRUE(a.iface.private_key->equals(b.iface.private_key->span()));
  }
  EXPECT_EQ(a.iface.listen_port, b.iface.listen_port);
  EXPECT_EQ(a.iface.fwmark, b.iface.fwmark);
  EXPECT_EQ(a.iface.addresses, b.iface.addresses);
  EXPECT_EQ(a.iface.dns_servers, b.iface.dns_servers);
  EXPECT_EQ(a.iface.dns_search, b.iface.dns_search);
  EXPECT_EQ(a.iface.mtu, b.iface.mtu);
  EXPECT_EQ(a.iface.table, b.iface.table);
  EXPECT_EQ(a.iface.pre_up, b.iface.pre_up);
  EXPECT_EQ(a.iface.post_up, b.iface.post_up);
  EXPECT_EQ(a.iface.pre_down, b.iface.pre_down);
  EXPECT_EQ(a.iface.post_down, b.iface.post_down);
  EXPECT_EQ(a.iface.save_config, b.iface.save_config);
  ASSERT_EQ(a.peers.size(), b.peers.size());
  for (size_t i = 0; i < a.peers.size(); ++i) {
    const ConfPeer& x = a.peers[i];
    const ConfPeer& y = b.peers[i];
    EXPECT_EQ(x.public_key, y.public_key) << "peer " << i;
    ASSERT_EQ(x.preshared_key.has_value(), y.preshared_key.has_value()) << "peer " << i;
    if (x.preshared_key) {
      EXPECT_TRUE(x.preshared_key->equals(y.preshared_key->span())) << "peer " << i;
    }
    EXPECT_EQ(x.allowed_ips, y.allowed_ips) << "peer " << i;
    EXPECT_EQ(x.endpoint, y.endpoint) << "peer " << i;
    EXPECT_EQ(x.persistent_keepalive, y.persistent_keepalive) << "peer " << i;
  }
}

WgQuickConfig parse_ok(std::string_view text) {
  auto r = parse_wg_quick(text);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message) << "\n--- input:\n" << text;
  return r.ok() ? std::move(r).value() : WgQuickConfig{};
}

std::string parse_error(std::string_view text) {
  auto r = parse_wg_quick(text);
  EXPECT_FALSE(r.ok()) << "unexpectedly parsed:\n" << text;
  return r.ok() ? std::string() : r.error().message;
}

TEST(Conf, FullRealisticFile) {
  const std::string text = std::string(R"(# Office gateway, managed by hand
[Interface]
PrivateKey = )") + kKey0 + R"(
ListenPort = 51820
FwMark = 0xca6c
Address = 10.8.0.1/24, fd08::1/64
DNS = 10.8.0.53, fd08::53, corp.example.com
MTU = 1420
Table = 1234
PreUp = sysctl -w net.ipv4.ip_forward=1
PostUp = iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE
PostDown = iptables -D FORWARD -i %i -j ACCEPT; iptables -t nat -D POSTROUTING -o eth0 -j MASQUERADE
SaveConfig = false

# laptop
[Peer]
PublicKey = )" + kKey1 + R"(
PresharedKey = )" + kKey2 + R"(
AllowedIPs = 10.8.0.2/32, fd08::2/128

[Peer]
# branch office router
PublicKey = )" + kKey3 + R"(
Endpoint = branch.example.com:51820
AllowedIPs = 10.8.0.3/32
AllowedIPs = 192.168.10.0/24
PersistentKeepalive = 25
)";
  WgQuickConfig c = parse_ok(text);
  ASSERT_TRUE(c.iface.private_key);
  EXPECT_EQ(b64(c.iface.private_key->span()), kKey0);
  EXPECT_EQ(c.iface.listen_port, 51820);
  EXPECT_EQ(c.iface.fwmark, 0xca6cu);
  EXPECT_EQ(strings(c.iface.addresses), (Strings{"10.8.0.1/24", "fd08::1/64"}));
  EXPECT_EQ(strings(c.iface.dns_servers), (Strings{"10.8.0.53", "fd08::53"}));
  EXPECT_EQ(c.iface.dns_search, (Strings{"corp.example.com"}));
  EXPECT_EQ(c.iface.mtu, 1420u);
  EXPECT_EQ(c.iface.table, "1234");
  EXPECT_EQ(c.iface.pre_up, (Strings{"sysctl -w net.ipv4.ip_forward=1"}));
  EXPECT_EQ(c.iface.post_up, (Strings{"iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A "
                                      "POSTROUTING -o eth0 -j MASQUERADE"}));
  EXPECT_EQ(c.iface.post_down.size(), 1u);
  EXPECT_TRUE(c.iface.pre_down.empty());
  EXPECT_FALSE(c.iface.save_config);

  ASSERT_EQ(c.peers.size(), 2u);
  EXPECT_EQ(b64(c.peers[0].public_key), kKey1);
  ASSERT_TRUE(c.peers[0].preshared_key);
  EXPECT_EQ(b64(c.peers[0].preshared_key->span()), kKey2);
  EXPECT_EQ(strings(c.peers[0].allowed_ips), (Strings{"10.8.0.2/32", "fd08::2/128"}));
  EXPECT_FALSE(c.peers[0].endpoint);
  EXPECT_EQ(c.peers[0].persistent_keepalive, 0);
  EXPECT_EQ(c.peers[0].line, 16);

  EXPECT_EQ(b64(c.peers[1].public_key), kKey3);
  EXPECT_FALSE(c.peers[1].preshared_key);
  EXPECT_EQ(c.peers[1].endpoint, "branch.example.com:51820");
  EXPECT_EQ(strings(c.peers[1].allowed_ips), (Strings{"10.8.0.3/32", "192.168.10.0/24"}));
  EXPECT_EQ(c.peers[1].persistent_keepalive, 25);
  EXPECT_EQ(c.peers[1].line, 21);

  expect_same(c, parse_ok(format_wg_quick(c)));
}

TEST(Conf, EmptyAndCommentOnlyFilesAreValid) {
  for (const char* text : {"", "\n\n", "# nothing here\n   \n\t# indented\n", "[Interface]\n"}) {
    WgQuickConfig c = parse_ok(text);
    EXPECT_FALSE(c.iface.private_key);
    EXPECT_TRUE(c.peers.empty());
  }
}

TEST(Conf, SectionsAndKeysAreCaseInsensitive) {
  const std::string text = std::string("[INTERFACE]\nprivatekey = ") + kKey0 +
                           "\nlistenport=1\naddress = 10.0.0.1/32\ndns=1.1.1.1\nmtu = 1280\n"
                           "saveconfig = TRUE\npostup = echo hi\n[peer]\nPUBLICKEY = " +
                           kKey1 +
                           "\nallowedips = 0.0.0.0/0\npersistentkeepalive = OFF\n"
                           "ENDPOINT = 192.0.2.1:1\n[pEeR]\npublicKey = " +
                           kKey2 + "\n";
  WgQuickConfig c = parse_ok(text);
  EXPECT_TRUE(c.iface.private_key);
  EXPECT_EQ(c.iface.listen_port, 1);
  EXPECT_EQ(c.iface.mtu, 1280u);
  EXPECT_TRUE(c.iface.save_config);
  EXPECT_EQ(c.iface.post_up, (Strings{"echo hi"}));
  ASSERT_EQ(c.peers.size(), 2u);
  EXPECT_EQ(strings(c.peers[0].allowed_ips), (Strings{"0.0.0.0/0"}));
  EXPECT_EQ(c.peers[0].endpoint, "192.0.2.1:1");
}

TEST(Conf, CommentsWhitespaceAndLineEndings) {
  const std::string text = std::string("\xEF\xBB\xBF") +  // BOM
                           "  [Interface]   # the device\r\n"
                           "\tPrivateKey\t=\t" +
                           kKey0 +
                           "   # trailing comment\r\n"
                           "Address=10.0.0.1/24,10.0.0.2/24   10.0.0.3/24 #more\r\n"
                           "#Address = 10.9.9.9/32\r\n"
                           "   DNS = 9.9.9.9 ,  example.org# no space before the comment\r\n"
                           "[Peer] # first\r\n"
                           "PublicKey = " +
                           kKey1 +
                           "\r\n"
                           "AllowedIPs = 10.1.0.0/16 # , 10.2.0.0/16 is commented out\r\n"
                           "AllowedIPs=10.3.0.0/16";  // no final newline
  WgQuickConfig c = parse_ok(text);
  EXPECT_EQ(b64(c.iface.private_key->span()), kKey0);
  EXPECT_EQ(strings(c.iface.addresses), (Strings{"10.0.0.1/24", "10.0.0.2/24", "10.0.0.3/24"}));
  EXPECT_EQ(strings(c.iface.dns_servers), (Strings{"9.9.9.9"}));
  EXPECT_EQ(c.iface.dns_search, (Strings{"example.org"}));
  ASSERT_EQ(c.peers.size(), 1u);
  EXPECT_EQ(strings(c.peers[0].allowed_ips), (Strings{"10.1.0.0/16", "10.3.0.0/16"}));
}

TEST(Conf, HookCommandsKeepHashAsWgQuickDoes) {
  // Since wireguard-tools 1.0.20250521 wg-quick passes hook lines to the shell unstripped, so
  // that quoted or escaped '#' survive; the shell itself drops real comments.
  WgQuickConfig c = parse_ok(
      "[Interface]\n"
      "PostUp = echo 'a#b' > /tmp/x   # write it\n"
      "PostUp = logger up\n"
      "PreDown = # only a comment, harmless to the shell\n"
      "PostDown = ip rule del table 51820 =2\n");
  EXPECT_EQ(c.iface.post_up, (Strings{"echo 'a#b' > /tmp/x   # write it", "logger up"}));
  EXPECT_EQ(c.iface.pre_down, (Strings{"# only a comment, harmless to the shell"}));
  EXPECT_EQ(c.iface.post_down, (Strings{"ip rule del table 51820 =2"}));
  expect_same(c, parse_ok(format_wg_quick(c)));
}

TEST(Conf, RepeatableKeysAccumulateInOrder) {
  WgQuickConfig c = parse_ok(
      "[Interface]\n"
      "Address = 10.0.0.1/24\n"
      "Address = fd00::1/64, 10.0.1.1/24\n"
      "DNS = 1.1.1.1\n"
      "DNS = a.example, 2606:4700:4700::1111\n"
      "DNS = b.example\n"
      "PreUp = one\nPreUp = two\nPreUp = three\n");
  EXPECT_EQ(strings(c.iface.addresses), (Strings{"10.0.0.1/24", "fd00::1/64", "10.0.1.1/24"}));
  EXPECT_EQ(strings(c.iface.dns_servers), (Strings{"1.1.1.1", "2606:4700:4700::1111"}));
  EXPECT_EQ(c.iface.dns_search, (Strings{"a.example", "b.example"}));
  EXPECT_EQ(c.iface.pre_up, (Strings{"one", "two", "three"}));
}

TEST(Conf, AddressKeepsHostBitsAllowedIpsClearsThem) {
  WgQuickConfig c = parse_ok(std::string("[Interface]\nAddress = 10.0.0.7/24, fd00::7/64\n") +
                             "[Peer]\nPublicKey = " + kKey1 +
                             "\nAllowedIPs = 10.0.0.7/24, fd00::7/64, 192.0.2.9\n");
  EXPECT_EQ(strings(c.iface.addresses), (Strings{"10.0.0.7/24", "fd00::7/64"}));
  EXPECT_EQ(strings(c.peers[0].allowed_ips), (Strings{"10.0.0.0/24", "fd00::/64", "192.0.2.9/32"}));
}

TEST(Conf, NumericValueForms) {
  auto iface = [](const std::string& body) {
    return parse_ok("[Interface]\n" + body + "\n").iface;
  };
  EXPECT_EQ(iface("FwMark = off").fwmark, 0u);
  EXPECT_EQ(iface("FwMark = OFF").fwmark, 0u);
  EXPECT_EQ(iface("FwMark = 0").fwmark, 0u);
  EXPECT_EQ(iface("FwMark = 51820").fwmark, 51820u);
  EXPECT_EQ(iface("FwMark = 0xffffffff").fwmark, 0xffffffffu);
  EXPECT_EQ(iface("FwMark = 4294967295").fwmark, 0xffffffffu);
  EXPECT_FALSE(iface("MTU = 1420").fwmark);
  EXPECT_EQ(iface("ListenPort = 0").listen_port, 0);
  EXPECT_EQ(iface("ListenPort = 65535").listen_port, 65535);
  EXPECT_EQ(iface("MTU = 576").mtu, 576u);
  EXPECT_EQ(iface("MTU = 65535").mtu, 65535u);
  EXPECT_EQ(iface("Table = off").table, "off");
  EXPECT_EQ(iface("Table = auto").table, "auto");
  EXPECT_EQ(iface("Table = vpn_routes").table, "vpn_routes");
  EXPECT_TRUE(iface("SaveConfig = true").save_config);
  EXPECT_FALSE(iface("SaveConfig = False").save_config);
  auto peer = [](const std::string& body) {
    return parse_ok(std::string("[Peer]\nPublicKey = ") + kKey1 + "\n" + body + "\n").peers[0];
  };
  EXPECT_EQ(peer("PersistentKeepalive = 0").persistent_keepalive, 0);
  EXPECT_EQ(peer("PersistentKeepalive = off").persistent_keepalive, 0);
  EXPECT_EQ(peer("PersistentKeepalive = 65535").persistent_keepalive, 65535);
  EXPECT_EQ(peer("Endpoint = [2001:db8::1]:51820").endpoint, "[2001:db8::1]:51820");
  EXPECT_EQ(peer("Endpoint = [fe80::1%eth0]:51820").endpoint, "[fe80::1%eth0]:51820");
  EXPECT_EQ(peer("Endpoint = 203.0.113.5:65535").endpoint, "203.0.113.5:65535");
  EXPECT_EQ(peer("Endpoint = vpn-1.example.net:1").endpoint, "vpn-1.example.net:1");
}

struct ErrorCase {
  std::string text;
  std::string message;
};

TEST(Conf, ErrorsNameLineAndKey) {
  const std::string pk = kKey1;
  const std::string peer = "[Peer]\nPublicKey = " + pk + "\n";  // two lines
  const std::vector<ErrorCase> cases = {
      // Structure.
      {"PrivateKey = " + std::string(kKey0) + "\n",
       "line 1: key 'PrivateKey' outside of an [Interface] or [Peer] section"},
      {"# c\n[Interface]\n[Peers]\n",
       "line 3: unknown section '[Peers]' (expected [Interface] or [Peer])"},
      {"[Interface\n", "line 1: unknown section '[Interface' (expected [Interface] or [Peer])"},
      {"[Interface]\nListenPort 51820\n", "line 2: expected 'Key = Value'"},
      {"[Interface]\n = 5\n", "line 2: missing key before '='"},
      {"[Interface]\nListenPort =\n", "line 2: key 'ListenPort': value missing"},
      {"[Interface]\nListenPort = # later\n", "line 2: key 'ListenPort': value missing"},
      {"[Interface]\nPostUp =   \n", "line 2: key 'PostUp': value missing"},
      {"[Interface]\nListenPort = 1\x01\n", "line 2: control character in line"},
      {std::string("[Interface]\nPostUp = a\0b\n", 25), "line 2: control character in line"},
      {"[Interface]\nFoo = bar\n", "line 2: unknown key 'Foo' in [Interface] section"},
      {"[Interface]\nPublicKey = " + pk + "\n",
       "line 2: unknown key 'PublicKey' in [Interface] section"},
      {peer + "ListenPort = 1\n", "line 3: unknown key 'ListenPort' in [Peer] section"},
      {peer + "AllowedIP = 10.0.0.0/8\n", "line 3: unknown key 'AllowedIP' in [Peer] section"},
      {"[Interface]\nMTU = 1420\nmtu = 1280\n",
       "line 3: key 'mtu': given more than once (first on line 2)"},
      {"[Interface]\nListenPort = 1\n[Peer]\nPublicKey = " + pk + "\n[Interface]\nListenPort = 2\n",
       "line 6: key 'ListenPort': given more than once (first on line 2)"},
      {peer + "PublicKey = " + std::string(kKey2) + "\n",
       "line 3: key 'PublicKey': given more than once (first on line 2)"},
      // Peers.
      {"[Interface]\n[Peer]\nAllowedIPs = 10.0.0.0/8\n[Peer]\nPublicKey = " + pk + "\n",
       "line 2: [Peer] section has no PublicKey"},
      {peer + "[Peer]\n", "line 3: [Peer] section has no PublicKey"},
      {peer + "\n[Peer]\nPublicKey = " + pk + "\n",
       "line 5: key 'PublicKey': duplicate peer: the peer on line 2 has the same public key"},
      // Keys.
      {"[Interface]\nPrivateKey = abc\n",
       "line 2: key 'PrivateKey': invalid key (expected 44 characters of base64)"},
      {"[Interface]\nPrivateKey = " + std::string(kKey0).substr(1) + "A\n",
       "line 2: key 'PrivateKey': invalid key (expected 44 characters of base64)"},
      {"[Peer]\nPublicKey = " + pk.substr(0, 43) + "\n",
       "line 2: key 'PublicKey': invalid key (expected 44 characters of base64)"},
      {peer + "PresharedKey = nope\n",
       "line 3: key 'PresharedKey': invalid key (expected 44 characters of base64)"},
      // Numbers.
      {"[Interface]\nListenPort = 65536\n",
       "line 2: key 'ListenPort': invalid port '65536' (expected 0-65535)"},
      {"[Interface]\nListenPort = -1\n",
       "line 2: key 'ListenPort': invalid port '-1' (expected 0-65535)"},
      {"[Interface]\nListenPort = wireguard\n",
       "line 2: key 'ListenPort': invalid port 'wireguard' (expected 0-65535)"},
      {"[Interface]\nFwMark = 0x100000000\n",
       "line 2: key 'FwMark': invalid fwmark '0x100000000' (expected off, 0-4294967295 or "
       "0x0-0xffffffff)"},
      {"[Interface]\nFwMark = 0x\n",
       "line 2: key 'FwMark': invalid fwmark '0x' (expected off, 0-4294967295 or 0x0-0xffffffff)"},
      {"[Interface]\nFwMark = 0X10\n",
       "line 2: key 'FwMark': invalid fwmark '0X10' (expected off, 0-4294967295 or "
       "0x0-0xffffffff)"},
      {"[Interface]\nFwMark = +5\n",
       "line 2: key 'FwMark': invalid fwmark '+5' (expected off, 0-4294967295 or 0x0-0xffffffff)"},
      {"[Interface]\nMTU = 575\n", "line 2: key 'MTU': invalid MTU '575' (expected 576-65535)"},
      {"[Interface]\nMTU = 65536\n", "line 2: key 'MTU': invalid MTU '65536' (expected 576-65535)"},
      {"[Interface]\nMTU = 1420 bytes\n",
       "line 2: key 'MTU': invalid MTU '1420 bytes' (expected 576-65535)"},
      {peer + "PersistentKeepalive = 65536\n",
       "line 3: key 'PersistentKeepalive': invalid interval '65536' (expected off or 0-65535 "
       "seconds)"},
      {peer + "PersistentKeepalive = on\n",
       "line 3: key 'PersistentKeepalive': invalid interval 'on' (expected off or 0-65535 "
       "seconds)"},
      {"[Interface]\nTable = main table\n",
       "line 2: key 'Table': invalid table 'main table' (expected off, auto, a number or a table "
       "name)"},
      {"[Interface]\nTable = 4294967296\n",
       "line 2: key 'Table': invalid table '4294967296' (expected off, auto, a number or a table "
       "name)"},
      {"[Interface]\nSaveConfig = yes\n",
       "line 2: key 'SaveConfig': invalid value 'yes' (expected true or false)"},
      // Addresses and prefixes.
      {"[Interface]\nAddress = 10.0.0.1/33\n",
       "line 2: key 'Address': invalid address '10.0.0.1/33'"},
      {"[Interface]\nAddress = 10.0.0.1/24,,10.0.0.2/24\n",
       "line 2: key 'Address': empty entry in list"},
      {"[Interface]\nAddress = 10.0.0.256\n",
       "line 2: key 'Address': invalid address '10.0.0.256'"},
      {peer + "\n\n\n\nAllowedIPs = 10.0.0.0/8, 10.0.0.0/33\n",
       "line 7: key 'AllowedIPs': invalid prefix '10.0.0.0/33'"},
      {peer + "AllowedIPs = 10.0.0.0/8,\n", "line 3: key 'AllowedIPs': empty entry in list"},
      {peer + "AllowedIPs = 10.0.0.0/8 10.1.0.0/16\n",
       "line 3: key 'AllowedIPs': invalid prefix '10.0.0.0/8 10.1.0.0/16'"},
      {peer + "AllowedIPs = fd00::/129\n", "line 3: key 'AllowedIPs': invalid prefix 'fd00::/129'"},
      {peer + "AllowedIPs = -10.0.0.0/8\n",
       "line 3: key 'AllowedIPs': invalid prefix '-10.0.0.0/8'"},
      {"[Interface]\nDNS = 1.1.1\n", "line 2: key 'DNS': invalid DNS server address '1.1.1'"},
      {"[Interface]\nDNS = fd00::53::1\n",
       "line 2: key 'DNS': invalid DNS server address 'fd00::53::1'"},
      {"[Interface]\nDNS = 1.1.1.1/32\n",
       "line 2: key 'DNS': invalid DNS entry '1.1.1.1/32' (neither an IP address nor a domain)"},
      // Endpoints.
      {peer + "Endpoint = example.com\n",
       "line 3: key 'Endpoint': invalid endpoint 'example.com' (expected host:port)"},
      {peer + "Endpoint = example.com:\n",
       "line 3: key 'Endpoint': invalid endpoint 'example.com:': port must be 1-65535"},
      {peer + "Endpoint = 192.0.2.1:0\n",
       "line 3: key 'Endpoint': invalid endpoint '192.0.2.1:0': port must be 1-65535"},
      {peer + "Endpoint = 192.0.2.1:65536\n",
       "line 3: key 'Endpoint': invalid endpoint '192.0.2.1:65536': port must be 1-65535"},
      {peer + "Endpoint = 192.0.2.1:+5\n",
       "line 3: key 'Endpoint': invalid endpoint '192.0.2.1:+5': port must be 1-65535"},
      {peer + "Endpoint = :51820\n",
       "line 3: key 'Endpoint': invalid endpoint ':51820': bad host ''"},
      {peer + "Endpoint = bad/host:51820\n",
       "line 3: key 'Endpoint': invalid endpoint 'bad/host:51820': bad host 'bad/host'"},
      {peer + "Endpoint = 2001:db8::1:51820\n",
       "line 3: key 'Endpoint': invalid endpoint '2001:db8::1:51820': IPv6 addresses need "
       "brackets, as in [2001:db8::1]:51820"},
      {peer + "Endpoint = [2001:db8::1:51820\n",
       "line 3: key 'Endpoint': invalid endpoint '[2001:db8::1:51820': missing ']'"},
      {peer + "Endpoint = [2001:db8::1]51820\n",
       "line 3: key 'Endpoint': invalid endpoint '[2001:db8::1]51820' (expected [address]:port)"},
      {peer + "Endpoint = [192.0.2.1]:51820\n",
       "line 3: key 'Endpoint': invalid endpoint '[192.0.2.1]:51820': '192.0.2.1' is not an IPv6 "
       "address"},
      {peer + "Endpoint = [fe80::1%]:51820\n",
       "line 3: key 'Endpoint': invalid endpoint '[fe80::1%]:51820': bad zone ''"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parse_error(c.text), c.message) << "input:\n" << c.text;
  }
}

TEST(Conf, SecretsAreNotEchoedInErrors) {
  // A private key one character short must not appear in the message (it ends up in logs).
  const std::string almost = std::string(kKey0).substr(0, 43);
  std::string msg = parse_error("[Interface]\nPrivateKey = " + almost + "\n");
  EXPECT_EQ(msg.find(almost), std::string::npos) << msg;
  msg = parse_error("[Interface]\n" + almost + "\n");  // pasted without the key name
  EXPECT_EQ(msg.find(almost), std::string::npos) << msg;
}

TEST(Conf, FormatIsCanonicalAndRoundTrips) {
  WgQuickConfig c;
  c.iface.private_key = crypto::private_key_from_base64(kKey0).value();
  c.iface.listen_port = 51820;
  c.iface.fwmark = 0x1234;
  c.iface.addresses = {net::Prefix::parse_interface_address("10.0.0.2/24").value(),
                       net::Prefix::parse_interface_address("fd00::2/64").value()};
  c.iface.dns_servers = {net::IpAddress::parse("10.0.0.1").value()};
  c.iface.dns_search = {"lan", "example.com"};
  c.iface.mtu = 1380;
  c.iface.table = "off";
  c.iface.pre_up = {"echo pre"};
  c.iface.post_up = {"echo 'up #1'", "echo up2"};
  c.iface.pre_down = {"echo pd"};
  c.iface.post_down = {"echo down"};
  c.iface.save_config = true;
  ConfPeer& p = c.peers.emplace_back();
  p.public_key = crypto::public_key_from_base64(kKey1).value();
  p.preshared_key = crypto::private_key_from_base64(kKey2).value();
  p.allowed_ips = {net::Prefix::parse("0.0.0.0/0").value(), net::Prefix::parse("::/0").value()};
  p.endpoint = "[2001:db8::1]:51820";
  p.persistent_keepalive = 25;
  ConfPeer& q = c.peers.emplace_back();
  q.public_key = crypto::public_key_from_base64(kKey3).value();

  const std::string expected = std::string("[Interface]\nPrivateKey = ") + kKey0 +
                               "\n"
                               "ListenPort = 51820\n"
                               "FwMark = 0x1234\n"
                               "Address = 10.0.0.2/24, fd00::2/64\n"
                               "DNS = 10.0.0.1, lan, example.com\n"
                               "MTU = 1380\n"
                               "Table = off\n"
                               "PreUp = echo pre\n"
                               "PostUp = echo 'up #1'\n"
                               "PostUp = echo up2\n"
                               "PreDown = echo pd\n"
                               "PostDown = echo down\n"
                               "SaveConfig = true\n"
                               "\n[Peer]\nPublicKey = " +
                               kKey1 + "\nPresharedKey = " + kKey2 +
                               "\n"
                               "AllowedIPs = 0.0.0.0/0, ::/0\n"
                               "Endpoint = [2001:db8::1]:51820\n"
                               "PersistentKeepalive = 25\n"
                               "\n[Peer]\nPublicKey = " +
                               kKey3 + "\n";
  const std::string text = format_wg_quick(c);
  EXPECT_EQ(text, expected);
  WgQuickConfig back = parse_ok(text);
  expect_same(c, back);
  EXPECT_EQ(format_wg_quick(back), text);
}

TEST(Conf, FormatDistinguishesUnsetFromZero) {
  // "FwMark = off" and "ListenPort = 0" are explicit settings, not absence: keep them.
  WgQuickConfig c = parse_ok("[Interface]\nFwMark = off\nListenPort = 0\n");
  EXPECT_EQ(format_wg_quick(c), "[Interface]\nListenPort = 0\nFwMark = off\n");
  expect_same(c, parse_ok(format_wg_quick(c)));
  EXPECT_EQ(format_wg_quick(WgQuickConfig{}), "[Interface]\n");
}

TEST(Conf, InterfaceNameFromPath) {
  EXPECT_EQ(interface_name_from_path("/etc/wireguard/wp0.conf").value(), "wp0");
  EXPECT_EQ(interface_name_from_path("wg-office.conf").value(), "wg-office");
  EXPECT_EQ(interface_name_from_path("./a_b=c+d.e-f.conf").value(), "a_b=c+d.e-f");
  EXPECT_EQ(interface_name_from_path("/x/123456789012345.conf").value(), "123456789012345");
  EXPECT_EQ(interface_name_from_path("/x/.conf/wg0.conf").value(), "wg0");

  EXPECT_EQ(interface_name_from_path("/etc/wireguard/wp0").error().message,
            "'/etc/wireguard/wp0': the file name must be an interface name followed by .conf");
  EXPECT_EQ(interface_name_from_path("/etc/wireguard/wp0.conf/").error().message,
            "'/etc/wireguard/wp0.conf/': the file name must be an interface name followed by "
            ".conf");
  EXPECT_EQ(interface_name_from_path("/x/1234567890123456.conf").error().message,
            "'/x/1234567890123456.conf': '1234567890123456' is not a valid interface name (1-15 "
            "characters of a-z A-Z 0-9 _ = + . -)");
  EXPECT_FALSE(interface_name_from_path("/x/.conf").ok());
  EXPECT_FALSE(interface_name_from_path(".conf").ok());
  EXPECT_FALSE(interface_name_from_path("/x/wg 0.conf").ok());
  EXPECT_FALSE(interface_name_from_path("/x/wg:0.conf").ok());
  EXPECT_FALSE(interface_name_from_path("/x/..conf").ok());
  EXPECT_FALSE(interface_name_from_path("/x/...conf").ok());
  EXPECT_FALSE(interface_name_from_path("").ok());
}

}  // namespace
}  // namespace waypost::wireguard
