// Client bundles: the wg-quick text (checked by parsing it back), the Apple profile's structure,
// the QR code PNG (chunks, CRCs, pixels against libqrencode's own modules) and the terminal
// rendering, and the files written under configs/<endpoint>/wireguard/. tests/unit/plist_check.py
// additionally loads sample profiles with Python's plistlib.
#include "server/bundles.h"

#include <gtest/gtest.h>
#include <qrencode.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "common/atomic_file.h"
#include "crypto/random.h"
#include "wireguard/conf.h"

namespace waypost::server {
namespace {

using Strings = std::vector<std::string>;

struct Fixture {
  ServerConfig config;
  ServerState state;
};

Fixture make_fixture(const std::function<void(ServerConfig&)>& tweak = {}) {
  Fixture f;
  f.config.users = {"phone", "alice@example.com"};
  f.config.endpoint = "vpn.example.com";
  f.config.wireguard_network_ipv6 = net::Prefix::parse("fd12:3456:789a::/48").value();
  if (tweak) {
    tweak(f.config);
  }
  crypto::SeededRandom rng(7);
  auto r = reconcile(f.state, f.config, rng, 1000);
  EXPECT_TRUE(r.ok());
  return f;
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

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// ------------------------------------------------------------------------------------------
// client_conf

TEST(ClientConf, ParsesBackWithEveryValue) {
  Fixture f = make_fixture([](ServerConfig& c) { c.wireguard_persistent_keepalive = 25; });
  const std::string text = client_conf(f.config, f.state, "phone");
  auto parsed = wireguard::parse_wg_quick(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message << "\n" << text;
  const UserState& u = f.state.users.at("phone");
  ASSERT_TRUE(parsed->iface.private_key.has_value());
  EXPECT_TRUE(parsed->iface.private_key->equals(u.private_key->span()));
  EXPECT_EQ(strings(parsed->iface.addresses), (Strings{"10.49.0.2/32", "fd12:3456:789a::2/128"}));
  // dns_encryption is on by default: the server's own resolver, on its tunnel addresses.
  EXPECT_EQ(strings(parsed->iface.dns_servers), (Strings{"10.49.0.1", "fd12:3456:789a::1"}));
  EXPECT_EQ(parsed->iface.mtu, 1420u);
  EXPECT_FALSE(parsed->iface.listen_port.has_value());
  ASSERT_EQ(parsed->peers.size(), 1u);
  const auto& peer = parsed->peers[0];
  EXPECT_EQ(peer.public_key, f.state.public_key);
  ASSERT_TRUE(peer.preshared_key.has_value());
  EXPECT_TRUE(peer.preshared_key->equals(u.preshared_key.span()));
  EXPECT_EQ(strings(peer.allowed_ips), (Strings{"0.0.0.0/0", "::/0"}));
  EXPECT_EQ(peer.endpoint, "vpn.example.com:51820");
  EXPECT_EQ(peer.persistent_keepalive, 25);

  EXPECT_TRUE(text.starts_with("[Interface]\nPrivateKey = "));
  EXPECT_NE(text.find("\n[Peer]\nPublicKey = "), std::string::npos);
  EXPECT_NE(text.find("AllowedIPs = 0.0.0.0/0, ::/0\n"), std::string::npos);
}

TEST(ClientConf, Ipv6OffKeepsTheV6DefaultRouteButNoV6AddressOrDns) {
  Fixture f = make_fixture([](ServerConfig& c) { c.ipv6 = false; });
  auto parsed = wireguard::parse_wg_quick(client_conf(f.config, f.state, "phone"));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(strings(parsed->iface.addresses), (Strings{"10.49.0.2/32"}));
  EXPECT_EQ(strings(parsed->iface.dns_servers), (Strings{"10.49.0.1"}));
  EXPECT_EQ(strings(parsed->peers[0].allowed_ips), (Strings{"0.0.0.0/0", "::/0"}));
}

TEST(ClientConf, DnsServersDirectlyWhenTheResolverIsOff) {
  Fixture f = make_fixture([](ServerConfig& c) {
    c.dns_encryption = false;
    c.dns_adblocking = false;
  });
  auto parsed = wireguard::parse_wg_quick(client_conf(f.config, f.state, "phone"));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(strings(parsed->iface.dns_servers),
            (Strings{"1.1.1.1", "1.0.0.1", "2606:4700:4700::1111", "2606:4700:4700::1001"}));
  Fixture g = make_fixture([](ServerConfig& c) {
    c.dns_encryption = false;
    c.dns_adblocking = true;  // blocking alone runs the resolver too
    c.ipv6 = false;
  });
  parsed = wireguard::parse_wg_quick(client_conf(g.config, g.state, "phone"));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(strings(parsed->iface.dns_servers), (Strings{"10.49.0.1"}));
}

TEST(ClientConf, MtuKeepaliveAndEndpointForms) {
  Fixture f = make_fixture([](ServerConfig& c) {
    c.reduce_mtu = 80;
    c.wireguard_port = 443;
    c.endpoint = "2001:db8::10";
  });
  const std::string text = client_conf(f.config, f.state, "alice@example.com");
  auto parsed = wireguard::parse_wg_quick(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->iface.mtu, 1340u);
  EXPECT_EQ(parsed->peers[0].endpoint, "[2001:db8::10]:443");
  EXPECT_EQ(parsed->peers[0].persistent_keepalive, 0);
  EXPECT_EQ(text.find("PersistentKeepalive"), std::string::npos);
  EXPECT_EQ(strings(parsed->iface.addresses), (Strings{"10.49.0.3/32", "fd12:3456:789a::3/128"}));
}

TEST(ClientConf, UnknownUserIsEmpty) {
  Fixture f = make_fixture();
  EXPECT_EQ(client_conf(f.config, f.state, "nobody"), "");
}

// ------------------------------------------------------------------------------------------
// apple_mobileconfig

// Checks that every element is closed in order, and returns the element names seen.
testing::AssertionResult well_formed(const std::string& xml) {
  std::vector<std::string> stack;
  size_t pos = 0;
  while ((pos = xml.find('<', pos)) != std::string::npos) {
    const size_t end = xml.find('>', pos);
    if (end == std::string::npos) {
      return testing::AssertionFailure() << "unterminated tag at " << pos;
    }
    std::string tag = xml.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag.starts_with("?") || tag.starts_with("!")) {
      continue;
    }
    if (tag.ends_with("/")) {
      continue;
    }
    const std::string name = tag.substr(0, tag.find(' '));
    if (name.starts_with("/")) {
      if (stack.empty() || stack.back() != name.substr(1)) {
        return testing::AssertionFailure() << "unbalanced </" << name << ">";
      }
      stack.pop_back();
    } else {
      stack.push_back(name);
    }
  }
  if (!stack.empty()) {
    return testing::AssertionFailure() << "unclosed <" << stack.back() << ">";
  }
  return testing::AssertionSuccess();
}

// The <string> following <key>name</key>, after `from`.
std::string string_after(const std::string& xml, const std::string& key, size_t from = 0) {
  const size_t k = xml.find("<key>" + key + "</key>", from);
  if (k == std::string::npos) {
    return "<missing>";
  }
  const size_t s = xml.find("<string>", k);
  const size_t e = xml.find("</string>", s);
  return xml.substr(s + 8, e - s - 8);
}

std::vector<std::string> actions(const std::string& xml) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = xml.find("<key>Action</key>", pos)) != std::string::npos) {
    out.push_back(string_after(xml, "Action", pos));
    ++pos;
  }
  return out;
}

TEST(AppleMobileconfig, StructureAndKeys) {
  Fixture f = make_fixture();
  for (AppleOs os : {AppleOs::kIos, AppleOs::kMacos}) {
    const std::string xml = apple_mobileconfig(f.config, f.state, "phone", os);
    EXPECT_TRUE(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist"));
    EXPECT_NE(xml.find("<plist version=\"1.0\">"), std::string::npos);
    EXPECT_TRUE(well_formed(xml));
    EXPECT_EQ(string_after(xml, "VPNSubType"),
              os == AppleOs::kIos ? "com.wireguard.ios" : "com.wireguard.macos");
    EXPECT_EQ(string_after(xml, "VPNType"), "VPN");
    EXPECT_EQ(string_after(xml, "PayloadType"), "com.apple.vpn.managed");
    EXPECT_EQ(string_after(xml, "RemoteAddress"), "vpn.example.com:51820");
    EXPECT_EQ(string_after(xml, "UserDefinedName"), "Waypost vpn.example.com");
    EXPECT_EQ(string_after(xml, "WgQuickConfig"), client_conf(f.config, f.state, "phone"));
    EXPECT_NE(xml.find("<key>OnDemandEnabled</key>\n\t\t\t\t<integer>0</integer>"),
              std::string::npos);
    EXPECT_EQ(actions(xml), (Strings{"Connect"}));
    // The outer payload comes after the PayloadContent array.
    const size_t outer = xml.find("</array>\n\t<key>PayloadDisplayName</key>");
    ASSERT_NE(outer, std::string::npos);
    EXPECT_EQ(string_after(xml, "PayloadDisplayName", outer), "Waypost vpn.example.com (phone)");
    EXPECT_EQ(string_after(xml, "PayloadType", outer), "Configuration");
  }
}

TEST(AppleMobileconfig, OnDemandRulesForEveryCombination) {
  for (int wifi = 0; wifi < 2; ++wifi) {
    for (int cell = 0; cell < 2; ++cell) {
      for (int exclude = 0; exclude < 2; ++exclude) {
        Fixture f = make_fixture([&](ServerConfig& c) {
          c.ondemand_wifi = wifi != 0;
          c.ondemand_cellular = cell != 0;
          if (exclude != 0) {
            c.ondemand_wifi_exclude = {"home", "office"};
          }
        });
        const std::string xml = apple_mobileconfig(f.config, f.state, "phone", AppleOs::kIos);
        SCOPED_TRACE(testing::Message()
                     << "wifi=" << wifi << " cell=" << cell << " exclude=" << exclude);
        EXPECT_TRUE(well_formed(xml));
        const bool on = wifi != 0 || cell != 0;
        Strings expected;
        if (on) {
          if (exclude != 0) {
            expected.push_back("Disconnect");
          }
          expected.push_back(wifi != 0 ? "Connect" : "Disconnect");
          expected.push_back(cell != 0 ? "Connect" : "Disconnect");
        }
        expected.push_back(on ? "Disconnect" : "Connect");
        EXPECT_EQ(actions(xml), expected);
        EXPECT_NE(xml.find(std::string("<key>OnDemandEnabled</key>\n\t\t\t\t<integer>") +
                           (on ? "1" : "0")),
                  std::string::npos);
        const bool has_ssids = on && exclude != 0;
        EXPECT_EQ(xml.find("<key>SSIDMatch</key>") != std::string::npos, has_ssids);
        if (has_ssids) {
          EXPECT_NE(xml.find("<key>SSIDMatch</key>\n\t\t\t\t\t\t<array>\n\t\t\t\t\t\t\t<string>"
                             "home</string>\n\t\t\t\t\t\t\t<string>office</string>"),
                    std::string::npos)
              << xml;
        }
        if (on) {
          EXPECT_EQ(count(xml, "<string>WiFi</string>"), exclude != 0 ? 2u : 1u);
          EXPECT_EQ(count(xml, "<string>Cellular</string>"), 1u);
        }
      }
    }
  }
}

TEST(AppleMobileconfig, EscapesEveryString) {
  Fixture f = make_fixture([](ServerConfig& c) {
    c.ondemand_wifi = true;
    c.ondemand_wifi_exclude = {"<Tom & \"Jerry's\">"};
  });
  const std::string xml = apple_mobileconfig(f.config, f.state, "phone", AppleOs::kMacos);
  EXPECT_TRUE(well_formed(xml));
  EXPECT_NE(xml.find("<string>&lt;Tom &amp; &quot;Jerry&apos;s&quot;&gt;</string>"),
            std::string::npos);
  EXPECT_EQ(xml.find("Tom & "), std::string::npos);
  // Every '&' starts an entity.
  for (size_t pos = xml.find('&'); pos != std::string::npos; pos = xml.find('&', pos + 1)) {
    const std::string rest = xml.substr(pos, 6);
    EXPECT_TRUE(rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;") ||
                rest.starts_with("&quot;") || rest.starts_with("&apos;"))
        << rest;
  }
}

TEST(AppleMobileconfig, UuidsAreStableAndDistinct) {
  Fixture f = make_fixture();
  const std::regex uuid("[0-9A-F]{8}-[0-9A-F]{4}-8[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}");
  auto uuids = [&](const std::string& user, AppleOs os) {
    const std::string xml = apple_mobileconfig(f.config, f.state, user, os);
    const size_t outer = xml.find("</array>\n\t<key>PayloadDisplayName</key>");
    return std::make_pair(string_after(xml, "PayloadUUID"),
                          string_after(xml, "PayloadUUID", outer));
  };
  const auto ios = uuids("phone", AppleOs::kIos);
  EXPECT_TRUE(std::regex_match(ios.first, uuid)) << ios.first;
  EXPECT_TRUE(std::regex_match(ios.second, uuid)) << ios.second;
  EXPECT_NE(ios.first, ios.second);
  EXPECT_EQ(uuids("phone", AppleOs::kIos), ios);
  EXPECT_NE(uuids("phone", AppleOs::kMacos).first, ios.first);
  EXPECT_NE(uuids("alice@example.com", AppleOs::kIos).first, ios.first);
  EXPECT_EQ(apple_mobileconfig(f.config, f.state, "phone", AppleOs::kIos),
            apple_mobileconfig(f.config, f.state, "phone", AppleOs::kIos));
}

// ------------------------------------------------------------------------------------------
// QR codes

struct QrModules {
  int width = 0;
  std::vector<bool> dark;
  bool at(int x, int y) const {
    return x >= 0 && y >= 0 && x < width && y < width &&
           dark[size_t(y) * size_t(width) + size_t(x)];
  }
};

QrModules reference_modules(const std::string& text) {
  QRcode* q = QRcode_encodeData(
      int(text.size()), reinterpret_cast<const unsigned char*>(text.data()), 0, QR_ECLEVEL_M);
  QrModules m;
  if (q == nullptr) {
    ADD_FAILURE() << "libqrencode failed";
    return m;
  }
  m.width = q->width;
  for (int i = 0; i < q->width * q->width; ++i) {
    m.dark.push_back((q->data[i] & 1) != 0);
  }
  QRcode_free(q);
  return m;
}

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

TEST(QrPng, ValidPngWithTheRightModules) {
  Fixture f = make_fixture();
  const std::string text = client_conf(f.config, f.state, "phone");
  auto png = qr_png(text);
  ASSERT_TRUE(png.ok()) << png.error().message;
  const std::vector<uint8_t>& b = *png;
  const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  ASSERT_GT(b.size(), 8u);
  ASSERT_EQ(std::memcmp(b.data(), signature, 8), 0);

  Strings types;
  std::vector<uint8_t> idat;
  uint32_t width = 0, height = 0;
  size_t pos = 8;
  while (pos + 12 <= b.size()) {
    const uint32_t len = be32(&b[pos]);
    ASSERT_LE(pos + 12 + len, b.size());
    const std::string type(reinterpret_cast<const char*>(&b[pos + 4]), 4);
    const uint8_t* data = &b[pos + 8];
    const uint32_t crc = be32(&b[pos + 8 + len]);
    EXPECT_EQ(crc, uint32_t(crc32(0, &b[pos + 4], 4 + len))) << type;
    if (type == "IHDR") {
      ASSERT_EQ(len, 13u);
      width = be32(data);
      height = be32(data + 4);
      EXPECT_EQ(data[8], 8);   // bit depth
      EXPECT_EQ(data[9], 0);   // grayscale
      EXPECT_EQ(data[12], 0);  // not interlaced
    } else if (type == "IDAT") {
      idat.insert(idat.end(), data, data + len);
    }
    types.push_back(type);
    pos += 12 + len;
  }
  EXPECT_EQ(pos, b.size());
  EXPECT_EQ(types, (Strings{"IHDR", "IDAT", "IEND"}));

  const QrModules m = reference_modules(text);
  ASSERT_GT(m.width, 0);
  // Four modules of quiet zone on each side, eight pixels per module.
  EXPECT_EQ(width, uint32_t((m.width + 8) * 8));
  EXPECT_EQ(height, width);

  std::vector<uint8_t> raw(size_t(height) * (1 + width));
  uLongf raw_len = raw.size();
  ASSERT_EQ(uncompress(raw.data(), &raw_len, idat.data(), uLong(idat.size())), Z_OK);
  ASSERT_EQ(raw_len, raw.size());
  for (uint32_t y = 0; y < height; ++y) {
    const uint8_t* row = &raw[y * (1 + width)];
    ASSERT_EQ(row[0], 0) << "filter byte of row " << y;
    for (uint32_t x = 0; x < width; ++x) {
      const bool dark = m.at(int(x / 8) - 4, int(y / 8) - 4);
      ASSERT_EQ(row[1 + x], dark ? 0x00 : 0xff) << x << "," << y;
    }
  }
}

// Splits UTF-8 text into code points (as strings).
std::vector<std::string> glyphs(const std::string& line) {
  std::vector<std::string> out;
  for (size_t i = 0; i < line.size();) {
    size_t n = 1;
    const auto c = uint8_t(line[i]);
    if (c >= 0xf0) {
      n = 4;
    } else if (c >= 0xe0) {
      n = 3;
    } else if (c >= 0xc0) {
      n = 2;
    }
    out.push_back(line.substr(i, n));
    i += n;
  }
  return out;
}

TEST(QrTerminal, TwoRowsPerLineLightModulesAsBlocks) {
  const std::string text = "[Interface]\nPrivateKey = test\n";
  auto t = qr_terminal(text);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const QrModules m = reference_modules(text);
  const int size = m.width + 4;  // two modules of quiet zone on each side
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < t->size()) {
    const size_t nl = t->find('\n', start);
    ASSERT_NE(nl, std::string::npos);
    lines.push_back(t->substr(start, nl - start));
    start = nl + 1;
  }
  ASSERT_EQ(int(lines.size()), (size + 1) / 2);
  for (int row = 0; row < int(lines.size()); ++row) {
    const auto g = glyphs(lines[size_t(row)]);
    ASSERT_EQ(int(g.size()), size) << "line " << row;
    for (int x = 0; x < size; ++x) {
      const int y = row * 2;
      const bool top = !m.at(x - 2, y - 2);
      const bool bottom = y + 1 < size && !m.at(x - 2, y + 1 - 2);
      const char* expected = top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
      ASSERT_EQ(g[size_t(x)], expected) << x << "," << row;
    }
  }
  // The quiet zone is light: the first line is all full blocks.
  EXPECT_EQ(glyphs(lines[0]), std::vector<std::string>(size_t(size), "\u2588"));
}

TEST(Qr, Errors) {
  EXPECT_FALSE(qr_png("").ok());
  EXPECT_FALSE(qr_terminal("").ok());
  auto big = qr_png(std::string(5000, 'x'));
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("too long"), std::string::npos) << big.error().message;
  // Any bytes, NUL included, are fine.
  EXPECT_TRUE(qr_png(std::string("a\0b", 3)).ok());
}

// ------------------------------------------------------------------------------------------
// Files

std::string temp_dir() {
  char tmpl[] = "/tmp/wp-bundles-XXXXXX";
  return mkdtemp(tmpl);
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(Bundles, PathsFollowAlgosLayout) {
  ServerConfig c;
  c.endpoint = "vpn.example.com";
  EXPECT_EQ(bundle_dir("/srv", c), "/srv/configs/vpn.example.com/wireguard");
  EXPECT_EQ(conf_path("/srv", c, "phone"), "/srv/configs/vpn.example.com/wireguard/phone.conf");
  EXPECT_EQ(png_path("/srv", c, "phone"), "/srv/configs/vpn.example.com/wireguard/phone.png");
  EXPECT_EQ(mobileconfig_path("/srv", c, "phone", AppleOs::kIos),
            "/srv/configs/vpn.example.com/wireguard/apple/ios/phone.mobileconfig");
  EXPECT_EQ(mobileconfig_path("/srv", c, "phone", AppleOs::kMacos),
            "/srv/configs/vpn.example.com/wireguard/apple/macos/phone.mobileconfig");
}

TEST(Bundles, WriteAndRemove) {
  const std::string dir = temp_dir();
  Fixture f = make_fixture();
  ASSERT_TRUE(write_bundles(dir, f.config, f.state, "phone").ok());
  const Strings files = {conf_path(dir, f.config, "phone"), png_path(dir, f.config, "phone"),
                         mobileconfig_path(dir, f.config, "phone", AppleOs::kIos),
                         mobileconfig_path(dir, f.config, "phone", AppleOs::kMacos)};
  for (const auto& file : files) {
    EXPECT_EQ(mode_of(file), 0600u) << file;
  }
  for (const std::string& d :
       {dir + "/configs", dir + "/configs/vpn.example.com", bundle_dir(dir, f.config),
        bundle_dir(dir, f.config) + "/apple", bundle_dir(dir, f.config) + "/apple/ios",
        bundle_dir(dir, f.config) + "/apple/macos"}) {
    EXPECT_EQ(mode_of(d), 0700u) << d;
  }
  auto conf = read_file(files[0]);
  ASSERT_TRUE(conf.ok());
  EXPECT_EQ(*conf, client_conf(f.config, f.state, "phone"));
  auto profile = read_file(files[2]);
  ASSERT_TRUE(profile.ok());
  EXPECT_EQ(*profile, apple_mobileconfig(f.config, f.state, "phone", AppleOs::kIos));
  auto png = read_file(files[1]);
  ASSERT_TRUE(png.ok());
  EXPECT_TRUE(png->starts_with("\x89PNG\r\n\x1a\n"));

  // Rewriting works over existing files and directories.
  ASSERT_TRUE(write_bundles(dir, f.config, f.state, "phone").ok());
  ASSERT_TRUE(write_bundles(dir, f.config, f.state, "alice@example.com").ok());

  remove_bundles(dir, f.config, "phone");
  for (const auto& file : files) {
    EXPECT_FALSE(std::filesystem::exists(file)) << file;
  }
  EXPECT_TRUE(std::filesystem::exists(conf_path(dir, f.config, "alice@example.com")));
  remove_bundles(dir, f.config, "phone");  // already gone: no error, no crash
  std::filesystem::remove_all(dir);
}

TEST(Bundles, WriteErrors) {
  const std::string dir = temp_dir();
  Fixture f = make_fixture();
  auto unknown = write_bundles(dir, f.config, f.state, "nobody");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "cannot write client profiles: no keys for user 'nobody'");
  f.config.endpoint.clear();
  auto no_endpoint = write_bundles(dir, f.config, f.state, "phone");
  ASSERT_FALSE(no_endpoint.ok());
  EXPECT_EQ(no_endpoint.error().message,
            "cannot write client profiles: config.yaml has no endpoint");
  EXPECT_FALSE(std::filesystem::exists(dir + "/configs"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace waypost::server
