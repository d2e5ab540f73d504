#include "server/bundles.h"

#include <qrencode.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "common/atomic_file.h"
#include "common/secret.h"
#include "server/dns_settings.h"
#include "server/plist.h"
#include "wireguard/conf.h"
#include "wireguard/messages.h"

namespace waypost::server {

namespace {

// wg-quick's default for an IPv4 or IPv6 underlay: 1500 - 80 bytes of outer headers.
constexpr uint32_t kClientMtu = wireguard::kDefaultMtu;

// ISO/IEC 18004 asks for a quiet zone of four modules around the symbol.
constexpr int kPngQuietZone = 4;
// About 8 pixels per module: sharp on paper and on screens, and phone cameras lock on quickly.
constexpr int kPngScale = 8;
// Terminals are short; two modules of margin scan reliably there and keep the code on screen.
constexpr int kTerminalQuietZone = 2;

// A string holding key material, wiped when it goes out of scope.
class WipedString {
 public:
  explicit WipedString(std::string s) : s_(std::move(s)) {}
  WipedString(const WipedString&) = delete;
  WipedString& operator=(const WipedString&) = delete;
  ~WipedString() { secure_wipe(s_.data(), s_.size()); }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

std::string endpoint_with_port(const ServerConfig& config) {
  // An IPv6 literal needs brackets, or its colons would run into the port's.
  if (config.endpoint.find(':') != std::string::npos) {
    return fmt::format("[{}]:{}", config.endpoint, config.wireguard_port);
  }
  return fmt::format("{}:{}", config.endpoint, config.wireguard_port);
}

// A UUID that stays the same for the same (endpoint, user, OS, role), so that installing a
// regenerated profile replaces the old one instead of adding a second VPN next to it.
std::string profile_uuid(std::string_view role, const ServerConfig& config, const std::string& user,
                         AppleOs os) {
  return stable_uuid({role, config.endpoint, user, os == AppleOs::kIos ? "ios" : "macos"});
}

// ------------------------------------------------------------------------------------------
// PNG

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(uint8_t(v >> 24));
  out.push_back(uint8_t(v >> 16));
  out.push_back(uint8_t(v >> 8));
  out.push_back(uint8_t(v));
}

void put_chunk(std::vector<uint8_t>& out, const char type[4], const uint8_t* data, size_t size) {
  put_be32(out, uint32_t(size));
  const size_t type_at = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data, data + size);
  // The CRC covers the chunk type and data, not the length.
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, out.data() + type_at, uInt(4 + size));
  put_be32(out, uint32_t(crc));
}

struct QrDeleter {
  // The symbol encodes the private key: wipe it before libqrencode frees it.
  void operator()(QRcode* q) const {
    secure_wipe(q->data, size_t(q->width) * size_t(q->width));
    QRcode_free(q);
  }
};
using QrPtr = std::unique_ptr<QRcode, QrDeleter>;

Result<QrPtr> encode_qr(std::string_view text) {
  if (text.empty()) {
    return make_error("cannot make a QR code of empty text");
  }
  // encodeData takes a length, so any bytes are fine (encodeString8bit stops at a NUL).
  QrPtr q(QRcode_encodeData(int(text.size()), reinterpret_cast<const unsigned char*>(text.data()),
                            0, QR_ECLEVEL_M));
  if (!q) {
    const int e = errno;
    if (e == ERANGE) {
      return make_error("text of {} bytes is too long for a QR code", text.size());
    }
    return make_error("cannot make a QR code: {}", std::strerror(e));
  }
  return q;
}

bool dark_module(const QRcode& q, int x, int y) {
  if (x < 0 || y < 0 || x >= q.width || y >= q.width) {
    return false;  // quiet zone
  }
  return (q.data[size_t(y) * size_t(q.width) + size_t(x)] & 1) != 0;
}

Status make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) {
    return {};
  }
  return make_error("cannot create directory {}: {}", path, std::strerror(errno));
}

}  // namespace

std::string client_conf(const ServerConfig& config, const ServerState& state,
                        const std::string& user) {
  auto it = state.users.find(user);
  if (it == state.users.end() || !it->second.private_key) {
    return {};
  }
  const UserState& u = it->second;
  const bool v6 = config.ipv6 && u.ipv6.has_value();

  wireguard::WgQuickConfig c;
  c.iface.private_key = *u.private_key;
  c.iface.addresses.push_back(net::Prefix{u.ipv4, 32});
  if (v6) {
    c.iface.addresses.push_back(net::Prefix{*u.ipv6, 128});
  }
  // The server's own resolver when it runs one (so blocking and encryption apply and nothing
  // leaks to the local network's resolver), else dns_servers.
  c.iface.dns_servers = client_dns_servers(config, v6);
  // With reduce_mtu 0 the client keeps wg-quick's 1420 and the server clamps TCP MSS; writing
  // the MTU out anyway makes the profile behave the same in apps that pick other defaults.
  c.iface.mtu = kClientMtu - config.reduce_mtu;

  wireguard::ConfPeer peer;
  peer.public_key = state.public_key;
  // An imported peer without a preshared key keeps having none (zero means none in WireGuard).
  if (!u.preshared_key.is_zero()) {
    peer.preshared_key = u.preshared_key;
  }
  // ::/0 even without IPv6 in the tunnel: routing IPv6 into the tunnel (where it is dropped)
  // keeps it from leaking around the VPN on dual-stack networks.
  peer.allowed_ips = {net::Prefix::parse("0.0.0.0/0").value(), net::Prefix::parse("::/0").value()};
  peer.endpoint = endpoint_with_port(config);
  peer.persistent_keepalive = config.wireguard_persistent_keepalive;
  c.peers.push_back(std::move(peer));
  return wireguard::format_wg_quick(c);
}

std::string apple_mobileconfig(const ServerConfig& config, const ServerState& state,
                               const std::string& user, AppleOs os) {
  const WipedString conf(client_conf(config, state, user));
  const std::string name = fmt::format("Waypost {}", config.endpoint);
  const std::string vpn_uuid = profile_uuid("vpn", config, user, os);
  const std::string outer_uuid = profile_uuid("profile", config, user, os);

  Plist p;
  p.begin();
  p.open("dict");
  p.key("PayloadContent");
  p.open("array");
  p.open("dict");
  // Route everything through the tunnel on macOS too (the "send all traffic" switch).
  p.key("IPv4");
  p.open("dict");
  p.integer("OverridePrimary", 1);
  p.close("dict");
  p.string("PayloadDescription", fmt::format("WireGuard VPN to {} for {}", config.endpoint, user));
  // The WireGuard app's documentation asks for "VPN" here; the tunnel's own name is
  // UserDefinedName.
  p.string("PayloadDisplayName", "VPN");
  p.string("PayloadIdentifier", "com.waypost.vpn." + vpn_uuid);
  p.string("PayloadType", "com.apple.vpn.managed");
  p.string("PayloadUUID", vpn_uuid);
  p.integer("PayloadVersion", 1);
  p.string("UserDefinedName", name);
  p.key("VPN");
  p.open("dict");
  p.string("AuthenticationMethod", "Password");
  on_demand_rules(p, config.ondemand_wifi, config.ondemand_cellular, config.ondemand_wifi_exclude);
  p.string("RemoteAddress", endpoint_with_port(config));
  p.close("dict");
  p.string("VPNSubType", os == AppleOs::kIos ? "com.wireguard.ios" : "com.wireguard.macos");
  p.string("VPNType", "VPN");
  p.key("VendorConfig");
  p.open("dict");
  p.string("WgQuickConfig", conf.str());
  p.close("dict");
  p.close("dict");
  p.close("array");
  p.string("PayloadDisplayName", fmt::format("{} ({})", name, user));
  // The same identifier on every regeneration: installing the new profile replaces the old.
  p.string("PayloadIdentifier", "com.waypost.profile." + outer_uuid);
  p.string("PayloadOrganization", "Waypost");
  p.boolean("PayloadRemovalDisallowed", false);
  p.string("PayloadType", "Configuration");
  p.string("PayloadUUID", outer_uuid);
  p.integer("PayloadVersion", 1);
  p.close("dict");
  p.end();
  return std::move(p.text());
}

Result<std::string> qr_svg(std::string_view text) {
  auto q = encode_qr(text);
  if (!q) {
    return q.take_error();
  }
  const QRcode& code = **q;
  constexpr int kQuiet = 4;
  const int size = code.width + 2 * kQuiet;
  std::string path;
  for (int y = 0; y < code.width; ++y) {
    for (int x = 0; x < code.width; ++x) {
      if (dark_module(code, x, y)) {
        path += fmt::format("M{} {}h1v1h-1z", x + kQuiet, y + kQuiet);
      }
    }
  }
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {0} {0}\" "
      "shape-rendering=\"crispEdges\"><rect width=\"{0}\" height=\"{0}\" fill=\"#fff\"/>"
      "<path fill=\"#000\" d=\"{1}\"/></svg>\n",
      size, path);
}

Result<std::vector<uint8_t>> qr_png(std::string_view text) {
  auto q = encode_qr(text);
  if (!q) {
    return q.take_error();
  }
  const QRcode& code = **q;
  const int modules = code.width + 2 * kPngQuietZone;
  const int size = modules * kPngScale;

  // Raw image: each row is a filter byte (0 = none) followed by one gray byte per pixel.
  const size_t row_bytes = 1 + size_t(size);
  std::vector<uint8_t> raw(row_bytes * size_t(size), 0xff);
  for (int y = 0; y < size; ++y) {
    uint8_t* row = raw.data() + size_t(y) * row_bytes;
    row[0] = 0;
    for (int x = 0; x < size; ++x) {
      if (dark_module(code, x / kPngScale - kPngQuietZone, y / kPngScale - kPngQuietZone)) {
        row[1 + size_t(x)] = 0x00;
      }
    }
  }
  uLongf packed_size = compressBound(uLong(raw.size()));
  std::vector<uint8_t> packed(packed_size);
  const int rc = compress2(packed.data(), &packed_size, raw.data(), uLong(raw.size()), 9);
  secure_wipe(raw.data(), raw.size());
  if (rc != Z_OK) {
    return make_error("cannot compress the QR code image");
  }
  packed.resize(packed_size);

  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, uint32_t(size));
  put_be32(ihdr, uint32_t(size));
  // Bit depth 8, colour type 0 (grayscale), deflate, adaptive filtering, no interlace.
  ihdr.insert(ihdr.end(), {8, 0, 0, 0, 0});
  put_chunk(png, "IHDR", ihdr.data(), ihdr.size());
  put_chunk(png, "IDAT", packed.data(), packed.size());
  put_chunk(png, "IEND", nullptr, 0);
  secure_wipe(packed.data(), packed.size());
  return png;
}

Result<std::string> qr_terminal(std::string_view text) {
  auto q = encode_qr(text);
  if (!q) {
    return q.take_error();
  }
  const QRcode& code = **q;
  // Light modules are drawn as blocks: on the usual dark terminal the blocks show as light and
  // the background as dark, which is how a scanner expects a QR code to look.
  const int lo = -kTerminalQuietZone;
  const int hi = code.width + kTerminalQuietZone;  // exclusive
  std::string out;
  for (int y = lo; y < hi; y += 2) {
    for (int x = lo; x < hi; ++x) {
      const bool top = !dark_module(code, x, y);
      // A last odd row has nothing below it: leave the lower half as background.
      const bool bottom = y + 1 < hi && !dark_module(code, x, y + 1);
      if (top && bottom) {
        out += "\u2588";
      } else if (top) {
        out += "\u2580";
      } else if (bottom) {
        out += "\u2584";
      } else {
        out += ' ';
      }
    }
    out += '\n';
  }
  return out;
}

bool has_client_profile(const UserState& user) {
  return user.private_key.has_value();
}

std::string bundle_dir(const std::string& dir, const ServerConfig& config) {
  return dir + "/configs/" + config.endpoint + "/wireguard";
}

std::string conf_path(const std::string& dir, const ServerConfig& config, const std::string& user) {
  return bundle_dir(dir, config) + "/" + user + ".conf";
}

std::string png_path(const std::string& dir, const ServerConfig& config, const std::string& user) {
  return bundle_dir(dir, config) + "/" + user + ".png";
}

std::string mobileconfig_path(const std::string& dir, const ServerConfig& config,
                              const std::string& user, AppleOs os) {
  return bundle_dir(dir, config) + (os == AppleOs::kIos ? "/apple/ios/" : "/apple/macos/") + user +
         ".mobileconfig";
}

Status write_bundles(const std::string& dir, const ServerConfig& config, const ServerState& state,
                     const std::string& user) {
  if (config.endpoint.empty()) {
    return make_error("cannot write client profiles: config.yaml has no endpoint");
  }
  auto it = state.users.find(user);
  if (it == state.users.end()) {
    return make_error("cannot write client profiles: no keys for user '{}'", user);
  }
  if (!has_client_profile(it->second)) {
    return make_error("cannot write client profiles for user '{}': {}", user, kNoPrivateKey);
  }
  // The user name is a file name here; config parsing already enforces this, but a bad name
  // must never reach the file system by another route.
  if (auto st = validate_user_name(user); !st) {
    return st.take_error();
  }
  const std::string base = bundle_dir(dir, config);
  for (const std::string& d : {dir + "/configs", dir + "/configs/" + config.endpoint, base,
                               base + "/apple", base + "/apple/ios", base + "/apple/macos"}) {
    if (auto st = make_dir(d); !st) {
      return st;
    }
  }
  const WipedString conf(client_conf(config, state, user));
  if (auto st = write_file_atomic(conf_path(dir, config, user), conf.str(), 0600); !st) {
    return st;
  }
  auto png = qr_png(conf.str());
  if (!png) {
    return png.take_error();
  }
  const std::string_view png_bytes(reinterpret_cast<const char*>(png->data()), png->size());
  auto st = write_file_atomic(png_path(dir, config, user), png_bytes, 0600);
  // The image encodes the private key as well.
  secure_wipe(png->data(), png->size());
  if (!st) {
    return st;
  }
  for (AppleOs os : {AppleOs::kIos, AppleOs::kMacos}) {
    const WipedString profile(apple_mobileconfig(config, state, user, os));
    if (auto s = write_file_atomic(mobileconfig_path(dir, config, user, os), profile.str(), 0600);
        !s) {
      return s;
    }
  }
  return {};
}

void remove_bundles(const std::string& dir, const ServerConfig& config, const std::string& user) {
  if (config.endpoint.empty() || !validate_user_name(user)) {
    return;
  }
  for (const std::string& path : {conf_path(dir, config, user), png_path(dir, config, user),
                                  mobileconfig_path(dir, config, user, AppleOs::kIos),
                                  mobileconfig_path(dir, config, user, AppleOs::kMacos)}) {
    ::unlink(path.c_str());
  }
}

}  // namespace waypost::server
