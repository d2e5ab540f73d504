#include "wireguard/conf.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/encoding.h"

namespace waypost::wireguard {

namespace {

// Bounds for MTU=. 576 is the smallest datagram every IPv4 host must accept (RFC 791); anything
// lower cannot carry useful traffic once WireGuard's 80 bytes of overhead are taken. 65535 is
// the largest IP packet. (IPv6 on the tunnel additionally needs 1280, which is the routing
// code's business: the file itself is valid.)
constexpr uint32_t kMinMtu = 576;
constexpr uint32_t kMaxMtu = 65535;

// Longest DNS name (RFC 1035), also used to bound endpoint host names.
constexpr size_t kMaxHostName = 253;

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z');
}

bool all_of(std::string_view s, bool (*pred)(char)) {
  for (char c : s) {
    if (!pred(c)) {
      return false;
    }
  }
  return true;
}

// Plain unsigned numbers in the given base: no sign, no spaces, at least one digit.
std::optional<uint64_t> parse_unsigned(std::string_view s, uint64_t max, int base = 10) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || v > max) {
    return std::nullopt;
  }
  return v;
}

// Port numbers for ListenPort (0 = pick one) or Endpoint (must be a real port).
std::optional<uint16_t> parse_port(std::string_view s, uint16_t min) {
  if (!all_of(s, is_digit)) {
    return std::nullopt;
  }
  auto v = parse_unsigned(s, 65535);
  if (!v || *v < min) {
    return std::nullopt;
  }
  return uint16_t(*v);
}

// Valid characters of interface names (wg-quick's set) and of routing table names.
bool is_ifname_char(char c) {
  return is_alnum(c) || c == '_' || c == '=' || c == '+' || c == '.' || c == '-';
}
bool is_table_char(char c) {
  return is_alnum(c) || c == '_' || c == '.' || c == '-';
}
bool is_host_char(char c) {
  return is_alnum(c) || c == '.' || c == '-' || c == '_';
}
// Search domains; '~' admits systemd-resolved routing domains ("~example.com", "~.").
bool is_domain_char(char c) {
  return is_host_char(c) || c == '~';
}

// Checks that an endpoint looks like "host:port" or "[v6addr]:port". Names are only resolved
// when the config is applied, so a host name is checked for shape, not existence.
Status validate_endpoint(std::string_view text) {
  std::string_view host, port;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return make_error("invalid endpoint '{}': missing ']'", text);
    }
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return make_error("invalid endpoint '{}' (expected [address]:port)", text);
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    // A zone ("fe80::1%eth0") is resolved when applied; check the address and the zone's shape.
    std::string_view address = host;
    if (auto pct = host.find('%'); pct != std::string_view::npos) {
      address = host.substr(0, pct);
      std::string_view zone = host.substr(pct + 1);
      if (zone.empty() || zone.size() > 15 || !all_of(zone, is_ifname_char)) {
        return make_error("invalid endpoint '{}': bad zone '{}'", text, zone);
      }
    }
    auto ip = net::IpAddress::parse(address);
    if (!ip || ip->is_v4()) {
      return make_error("invalid endpoint '{}': '{}' is not an IPv6 address", text, address);
    }
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return make_error("invalid endpoint '{}' (expected host:port)", text);
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return make_error("invalid endpoint '{}': IPv6 addresses need brackets, as in [{}]:{}", text,
                        host, port);
    }
    if (host.empty() || host.size() > kMaxHostName || !all_of(host, is_host_char) ||
        host.front() == '.' || host.front() == '-') {
      return make_error("invalid endpoint '{}': bad host '{}'", text, host);
    }
  }
  if (!parse_port(port, 1)) {
    return make_error("invalid endpoint '{}': port must be 1-65535", text);
  }
  return {};
}

// Splits a list value on commas (and, for wg-quick's own keys, whitespace too, since wg-quick
// word-splits them). Empty entries are reported rather than skipped: "a,,b" is a typo.
Result<std::vector<std::string_view>> split_list(std::string_view value, bool split_spaces) {
  std::vector<std::string_view> out;
  while (true) {
    auto comma = value.find(',');
    std::string_view item = trim(value.substr(0, comma));
    if (item.empty()) {
      return make_error("empty entry in list");
    }
    if (split_spaces) {
      while (!item.empty()) {
        size_t end = 0;
        while (end < item.size() && !is_space(item[end])) {
          ++end;
        }
        out.push_back(item.substr(0, end));
        item = trim(item.substr(end));
      }
    } else {
      out.push_back(item);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
  return out;
}

enum class ConfKey {
  // [Interface]
  kPrivateKey,
  kListenPort,
  kFwMark,
  kAddress,
  kDns,
  kMtu,
  kTable,
  kPreUp,
  kPostUp,
  kPreDown,
  kPostDown,
  kSaveConfig,
  // [Peer]
  kPublicKey,
  kPresharedKey,
  kAllowedIps,
  kEndpoint,
  kPersistentKeepalive,
  kCount,
};

struct KeyInfo {
  std::string_view name;
  ConfKey key;
  bool peer;        // [Peer] key rather than [Interface]
  bool repeatable;  // may appear more than once per section
};

constexpr std::array<KeyInfo, size_t(ConfKey::kCount)> kKeys = {{
    {"PrivateKey", ConfKey::kPrivateKey, false, false},
    {"ListenPort", ConfKey::kListenPort, false, false},
    {"FwMark", ConfKey::kFwMark, false, false},
    {"Address", ConfKey::kAddress, false, true},
    {"DNS", ConfKey::kDns, false, true},
    {"MTU", ConfKey::kMtu, false, false},
    {"Table", ConfKey::kTable, false, false},
    {"PreUp", ConfKey::kPreUp, false, true},
    {"PostUp", ConfKey::kPostUp, false, true},
    {"PreDown", ConfKey::kPreDown, false, true},
    {"PostDown", ConfKey::kPostDown, false, true},
    {"SaveConfig", ConfKey::kSaveConfig, false, false},
    {"PublicKey", ConfKey::kPublicKey, true, false},
    {"PresharedKey", ConfKey::kPresharedKey, true, false},
    {"AllowedIPs", ConfKey::kAllowedIps, true, true},
    {"Endpoint", ConfKey::kEndpoint, true, false},
    {"PersistentKeepalive", ConfKey::kPersistentKeepalive, true, false},
}};

const KeyInfo* find_key(std::string_view name) {
  for (const auto& k : kKeys) {
    if (iequals(k.name, name)) {
      return &k;
    }
  }
  return nullptr;
}

enum class Section { kNone, kInterface, kPeer };

class Parser {
 public:
  Result<WgQuickConfig> run(std::string_view text) {
    // Tolerate a UTF-8 byte order mark, which some Windows editors write.
    if (text.starts_with("\xEF\xBB\xBF")) {
      text.remove_prefix(3);
    }
    int line_no = 0;
    while (!text.empty()) {
      ++line_no;
      auto nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
      if (Status s = parse_line(line_no, line); !s) {
        return s.take_error();
      }
    }
    if (Status s = end_section(); !s) {
      return s.take_error();
    }
    return std::move(config_);
  }

 private:
  Status parse_line(int line_no, std::string_view raw) {
    if (raw.ends_with('\r')) {
      raw.remove_suffix(1);  // CRLF files
    }
    for (char c : raw) {
      // Control characters have no business in a config and would be mangled (or truncate a
      // command at a NUL) on their way to the shell or the kernel.
      if ((uint8_t(c) < 0x20 && c != '\t') || c == 0x7f) {
        return make_error("line {}: control character in line", line_no);
      }
    }
    // Like wg-quick (${line%%\#*}), '#' starts a comment anywhere, even inside a value.
    const std::string_view stripped = raw.substr(0, raw.find('#'));
    const std::string_view content = trim(stripped);
    if (content.empty()) {
      return {};
    }
    if (content.front() == '[') {
      return section_header(line_no, content);
    }
    const auto eq = stripped.find('=');
    if (eq == std::string_view::npos) {
      return make_error("line {}: expected 'Key = Value'", line_no);
    }
    const std::string_view key_text = trim(stripped.substr(0, eq));
    if (key_text.empty()) {
      return make_error("line {}: missing key before '='", line_no);
    }
    if (section_ == Section::kNone) {
      return make_error("line {}: key '{}' outside of an [Interface] or [Peer] section", line_no,
                        key_text);
    }
    const KeyInfo* info = find_key(key_text);
    const bool in_peer = section_ == Section::kPeer;
    if (info == nullptr || info->peer != in_peer) {
      return make_error("line {}: unknown key '{}' in {} section", line_no, key_text,
                        in_peer ? "[Peer]" : "[Interface]");
    }
    int& first_line = seen_[size_t(info->key)];
    if (!info->repeatable && first_line != 0) {
      return make_error("line {}: key '{}': given more than once (first on line {})", line_no,
                        key_text, first_line);
    }
    if (first_line == 0) {
      first_line = line_no;
    }
    std::string_view value = trim(stripped.substr(eq + 1));
    if (is_hook(info->key)) {
      // wg-quick hands hook commands to the shell with '#' intact (wireguard-tools commit
      // "wg-quick: pass on # comments to {Pre,Post}{Up,Down}"), so the shell decides what is a
      // comment and `echo a\#b` keeps working. Take the raw rest of the line.
      value = trim(raw.substr(eq + 1));
    }
    if (value.empty()) {
      return make_error("line {}: key '{}': value missing", line_no, key_text);
    }
    if (Status s = apply(line_no, *info, value); !s) {
      return make_error("line {}: key '{}': {}", line_no, key_text, s.error().message);
    }
    return {};
  }

  static bool is_hook(ConfKey k) {
    return k == ConfKey::kPreUp || k == ConfKey::kPostUp || k == ConfKey::kPreDown ||
           k == ConfKey::kPostDown;
  }

  Status section_header(int line_no, std::string_view content) {
    if (Status s = end_section(); !s) {
      return s;
    }
    if (iequals(content, "[Interface]")) {
      section_ = Section::kInterface;
      // Several [Interface] sections are merged, as wg(8) does; a key still may not repeat.
      return {};
    }
    if (iequals(content, "[Peer]")) {
      section_ = Section::kPeer;
      config_.peers.emplace_back().line = line_no;
      have_public_key_ = false;
      for (const auto& k : kKeys) {
        if (k.peer) {
          seen_[size_t(k.key)] = 0;
        }
      }
      return {};
    }
    return make_error("line {}: unknown section '{}' (expected [Interface] or [Peer])", line_no,
                      content);
  }

  Status end_section() {
    if (section_ == Section::kPeer && !have_public_key_) {
      return make_error("line {}: [Peer] section has no PublicKey", config_.peers.back().line);
    }
    return {};
  }

  Status apply(int line_no, const KeyInfo& info, std::string_view value) {
    ConfInterface& iface = config_.iface;
    switch (info.key) {
      case ConfKey::kPrivateKey: {
        auto k = crypto::private_key_from_base64(value);
        if (!k) {
          return k.take_error();  // never echo the value: it is a secret
        }
        iface.private_key = std::move(*k);
        return {};
      }
      case ConfKey::kListenPort: {
        auto port = parse_port(value, 0);
        if (!port) {
          return make_error("invalid port '{}' (expected 0-65535)", value);
        }
        iface.listen_port = *port;
        return {};
      }
      case ConfKey::kFwMark: {
        // wg(8) accepts "off", decimal, or hex with a lowercase "0x".
        std::optional<uint64_t> mark;
        if (iequals(value, "off")) {
          mark = 0;
        } else if (value.size() > 2 && value.starts_with("0x")) {
          mark = parse_unsigned(value.substr(2), UINT32_MAX, 16);
        } else if (all_of(value, is_digit)) {
          mark = parse_unsigned(value, UINT32_MAX);
        }
        if (!mark) {
          return make_error("invalid fwmark '{}' (expected off, 0-4294967295 or 0x0-0xffffffff)",
                            value);
        }
        iface.fwmark = uint32_t(*mark);
        return {};
      }
      case ConfKey::kAddress: {
        auto items = split_list(value, true);
        if (!items) {
          return items.take_error();
        }
        for (auto item : *items) {
          auto p = net::Prefix::parse_interface_address(item);
          if (!p) {
            return make_error("invalid address '{}'", item);
          }
          iface.addresses.push_back(*p);
        }
        return {};
      }
      case ConfKey::kDns: {
        auto items = split_list(value, true);
        if (!items) {
          return items.take_error();
        }
        for (auto item : *items) {
          // wg-quick's rule: digits and dots, or anything with a colon, is a server address.
          const bool looks_like_ip = item.find(':') != std::string_view::npos ||
                                     all_of(item, [](char c) { return is_digit(c) || c == '.'; });
          if (looks_like_ip) {
            auto ip = net::IpAddress::parse(item);
            if (!ip) {
              return make_error("invalid DNS server address '{}'", item);
            }
            iface.dns_servers.push_back(*ip);
          } else if (item.size() <= kMaxHostName && all_of(item, is_domain_char)) {
            iface.dns_search.emplace_back(item);
          } else {
            return make_error("invalid DNS entry '{}' (neither an IP address nor a domain)", item);
          }
        }
        return {};
      }
      case ConfKey::kMtu: {
        auto mtu = all_of(value, is_digit) ? parse_unsigned(value, kMaxMtu) : std::nullopt;
        if (!mtu || *mtu < kMinMtu) {
          return make_error("invalid MTU '{}' (expected {}-{})", value, kMinMtu, kMaxMtu);
        }
        iface.mtu = uint32_t(*mtu);
        return {};
      }
      case ConfKey::kTable: {
        // "off", "auto", a table number, or a name from /etc/iproute2/rt_tables.
        const bool numeric = all_of(value, is_digit);
        if (!all_of(value, is_table_char) ||
            (numeric && !parse_unsigned(value, UINT32_MAX).has_value())) {
          return make_error("invalid table '{}' (expected off, auto, a number or a table name)",
                            value);
        }
        iface.table = std::string(value);
        return {};
      }
      case ConfKey::kPreUp:
        iface.pre_up.emplace_back(value);
        return {};
      case ConfKey::kPostUp:
        iface.post_up.emplace_back(value);
        return {};
      case ConfKey::kPreDown:
        iface.pre_down.emplace_back(value);
        return {};
      case ConfKey::kPostDown:
        iface.post_down.emplace_back(value);
        return {};
      case ConfKey::kSaveConfig:
        if (iequals(value, "true")) {
          iface.save_config = true;
        } else if (iequals(value, "false")) {
          iface.save_config = false;
        } else {
          return make_error("invalid value '{}' (expected true or false)", value);
        }
        return {};
      case ConfKey::kPublicKey: {
        auto k = crypto::public_key_from_base64(value);
        if (!k) {
          return k.take_error();
        }
        auto [it, inserted] = peer_lines_.emplace(*k, line_no);
        if (!inserted) {
          return make_error("duplicate peer: the peer on line {} has the same public key",
                            it->second);
        }
        config_.peers.back().public_key = *k;
        have_public_key_ = true;
        return {};
      }
      case ConfKey::kPresharedKey: {
        // A preshared key is a 32-byte secret exactly like a private key.
        auto k = crypto::private_key_from_base64(value);
        if (!k) {
          return k.take_error();
        }
        config_.peers.back().preshared_key = std::move(*k);
        return {};
      }
      case ConfKey::kAllowedIps: {
        auto items = split_list(value, false);
        if (!items) {
          return items.take_error();
        }
        for (auto item : *items) {
          auto p = net::Prefix::parse(item);
          if (!p) {
            return make_error("invalid prefix '{}'", item);
          }
          config_.peers.back().allowed_ips.push_back(*p);
        }
        return {};
      }
      case ConfKey::kEndpoint: {
        if (Status s = validate_endpoint(value); !s) {
          return s;
        }
        config_.peers.back().endpoint = std::string(value);
        return {};
      }
      case ConfKey::kPersistentKeepalive: {
        std::optional<uint64_t> secs;
        if (iequals(value, "off")) {
          secs = 0;
        } else if (all_of(value, is_digit)) {
          secs = parse_unsigned(value, 65535);
        }
        if (!secs) {
          return make_error("invalid interval '{}' (expected off or 0-65535 seconds)", value);
        }
        config_.peers.back().persistent_keepalive = uint16_t(*secs);
        return {};
      }
      case ConfKey::kCount:
        break;
    }
    return make_error("internal error: unhandled key");
  }

  WgQuickConfig config_;
  Section section_ = Section::kNone;
  bool have_public_key_ = false;
  std::array<int, size_t(ConfKey::kCount)> seen_{};  // line of each key's first use in its section
  std::map<crypto::PublicKey, int> peer_lines_;      // public key -> line it was given on
};

void append_list(std::string& out, std::string_view key, const std::vector<std::string>& items) {
  if (items.empty()) {
    return;
  }
  out += key;
  out += " = ";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out += ", ";
    }
    out += items[i];
  }
  out += '\n';
}

void append_line(std::string& out, std::string_view key, std::string_view value) {
  out += key;
  out += " = ";
  out += value;
  out += '\n';
}

}  // namespace

Result<WgQuickConfig> parse_wg_quick(std::string_view text) {
  return Parser().run(text).or_kind(ErrorKind::kParse);
}

std::string format_wg_quick(const WgQuickConfig& config) {
  const ConfInterface& iface = config.iface;
  std::string out = "[Interface]\n";
  if (iface.private_key) {
    std::string key = crypto::key_to_base64(iface.private_key->span());
    append_line(out, "PrivateKey", key);
    secure_wipe(key.data(), key.size());
  }
  if (iface.listen_port) {
    append_line(out, "ListenPort", std::to_string(*iface.listen_port));
  }
  if (iface.fwmark) {
    append_line(out, "FwMark", *iface.fwmark == 0 ? "off" : fmt::format("{:#x}", *iface.fwmark));
  }
  std::vector<std::string> items;
  for (const auto& a : iface.addresses) {
    items.push_back(a.to_string());
  }
  append_list(out, "Address", items);
  items.clear();
  for (const auto& d : iface.dns_servers) {
    items.push_back(d.to_string());
  }
  items.insert(items.end(), iface.dns_search.begin(), iface.dns_search.end());
  append_list(out, "DNS", items);
  if (iface.mtu) {
    append_line(out, "MTU", std::to_string(*iface.mtu));
  }
  if (iface.table) {
    append_line(out, "Table", *iface.table);
  }
  for (const auto& cmd : iface.pre_up) {
    append_line(out, "PreUp", cmd);
  }
  for (const auto& cmd : iface.post_up) {
    append_line(out, "PostUp", cmd);
  }
  for (const auto& cmd : iface.pre_down) {
    append_line(out, "PreDown", cmd);
  }
  for (const auto& cmd : iface.post_down) {
    append_line(out, "PostDown", cmd);
  }
  if (iface.save_config) {
    append_line(out, "SaveConfig", "true");
  }
  for (const auto& peer : config.peers) {
    out += "\n[Peer]\n";
    append_line(out, "PublicKey", crypto::key_to_base64(peer.public_key));
    if (peer.preshared_key) {
      std::string key = crypto::key_to_base64(peer.preshared_key->span());
      append_line(out, "PresharedKey", key);
      secure_wipe(key.data(), key.size());
    }
    items.clear();
    for (const auto& p : peer.allowed_ips) {
      items.push_back(p.to_string());
    }
    append_list(out, "AllowedIPs", items);
    if (peer.endpoint) {
      append_line(out, "Endpoint", *peer.endpoint);
    }
    if (peer.persistent_keepalive != 0) {
      append_line(out, "PersistentKeepalive", std::to_string(peer.persistent_keepalive));
    }
  }
  return out;
}

Result<std::string> interface_name_from_path(std::string_view path) {
  const auto slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (!base.ends_with(".conf")) {
    return make_error("'{}': the file name must be an interface name followed by .conf", path);
  }
  base.remove_suffix(5);
  // Linux also refuses "." and ".." as interface names (dev_valid_name).
  if (base.empty() || base.size() > 15 || !all_of(base, is_ifname_char) || base == "." ||
      base == "..") {
    return make_error(
        "'{}': '{}' is not a valid interface name (1-15 characters of a-z A-Z 0-9 _ = + . -)", path,
        base);
  }
  return std::string(base);
}

}  // namespace waypost::wireguard
