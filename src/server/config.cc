#include "server/config.h"

#include "server/config_text.h"

#include "crypto/random.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <exception>
#include <functional>
#include <set>
#include <sstream>
#include <utility>

#include <fmt/format.h>

namespace waypost::server {

namespace {

using namespace text;  // NOLINT: this file is their main user

// Client MTU 1420 - 500 = 920 is still well above IPv4's 576-byte minimum; a larger cut is
// almost certainly a typo (Algo sets no bound).
constexpr uint32_t kMaxReduceMtu = 500;

// For the built-in defaults only, which are known to parse.
net::IpAddress must_ip(std::string_view text) {
  return net::IpAddress::parse(text).value();
}

net::Prefix must_prefix(std::string_view text) {
  return net::Prefix::parse(text).value();
}

// Strict UTF-8 (no overlongs, no surrogates): strings from config.yaml end up in XML profiles,
// which must be valid UTF-8 or iOS refuses the whole file.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = uint8_t(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = uint8_t(s[i + k]);
      if ((cc & 0xc0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

bool has_control_chars(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return uint8_t(c) < 0x20 || c == 0x7f; });
}

// Decimal only: "0x10", "+5", "1_000" and "1e3" are YAML 1.1 integers in some tools and not in
// others, and "010" is octal in YAML 1.1, so the config accepts only what reads the same
// everywhere.
std::optional<uint32_t> parse_decimal(std::string_view s, uint32_t max) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    v = v * 10 + uint64_t(c - '0');
  }
  if (v > max) {
    return std::nullopt;
  }
  return uint32_t(v);
}

std::optional<bool> parse_bool_text(std::string_view s) {
  // YAML 1.1 spellings, which Ansible (and so Algo) accepts, in any letter case.
  const std::string l = lower(s);
  if (l == "true" || l == "yes" || l == "on") {
    return true;
  }
  if (l == "false" || l == "no" || l == "off") {
    return false;
  }
  return std::nullopt;
}

// A DNS name clients can resolve, or an IP literal (IPv6 optionally in brackets, stored bare).
std::optional<std::string> normalize_endpoint(std::string_view s) {
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') {
    auto a = net::IpAddress::parse(s.substr(1, s.size() - 2));
    if (!a || a->is_v4()) {
      return std::nullopt;
    }
    return std::string(s.substr(1, s.size() - 2));
  }
  if (s.find(':') != std::string_view::npos) {
    auto a = net::IpAddress::parse(s);
    if (!a) {
      return std::nullopt;
    }
    return std::string(s);
  }
  if (s.empty() || s.size() > 253) {
    return std::nullopt;
  }
  bool all_numeric = true;
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) {
      dot = s.size();
    }
    const std::string_view label = s.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return std::nullopt;
    }
    for (char c : label) {
      if (!is_ascii_alnum(c) && c != '-' && c != '_') {
        return std::nullopt;
      }
      if (c < '0' || c > '9') {
        all_numeric = false;
      }
    }
    start = dot + 1;
  }
  // "10.0.0" is neither a host name anyone can register nor an address inet_pton accepts.
  if (all_numeric && !net::IpAddress::parse(s)) {
    return std::nullopt;
  }
  return std::string(s);
}

// The metrics page is unauthenticated, so the daemon serves it on loopback only (reach it
// through an SSH tunnel or a local scraper).
bool valid_metrics_listen(std::string_view s) {
  auto e = net::Endpoint::parse(s);
  if (!e || e->port() == 0) {
    return false;
  }
  const net::IpAddress ip = e->ip();
  return ip.is_v4() ? ip.bytes[0] == 127 : ip == net::IpAddress::parse("::1").value();
}

bool valid_url(std::string_view s) {
  return (s.starts_with("https://") || s.starts_with("http://")) && s.size() <= 2048 &&
         std::none_of(s.begin(), s.end(), [](char c) { return uint8_t(c) <= 0x20 || c == 0x7f; });
}

bool valid_ssid(std::string_view s) {
  // 802.11 SSIDs are at most 32 bytes.
  return !s.empty() && s.size() <= 32 && valid_utf8(s) && !has_control_chars(s);
}

// ------------------------------------------------------------------------------------------
// Parsing

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return quoted(n.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "nothing";
  }
}

// One key/value pair being read; knows where it is for messages.
class Field {
 public:
  Field(std::string name, const YAML::Node& key, const YAML::Node& value)
      : name_(std::move(name)), key_(key), value_(value) {}

  const YAML::Node& value() const { return value_; }
  const std::string& name() const { return name_; }

  // The value's line; a missing value (`key:`) has no position of its own, so use the key's.
  int line() const { return line_of(value_.IsNull() ? key_.Mark() : value_.Mark()); }

  Error expected(std::string_view what) const {
    return make_error("line {}: key '{}': expected {}, got {}", line(), name_, what,
                      describe(value_));
  }
  Error expected_item(const YAML::Node& item, std::string_view what) const {
    // Null list items are positioned oddly by yaml-cpp; the list's own line is close enough.
    const int line = line_of(item.IsNull() ? value_.Mark() : item.Mark());
    return make_error("line {}: key '{}': expected {}, got {}", line, name_, what, describe(item));
  }

 private:
  std::string name_;
  YAML::Node key_;
  YAML::Node value_;
};

Result<bool> read_bool(const Field& f) {
  if (f.value().IsScalar()) {
    if (auto b = parse_bool_text(f.value().Scalar())) {
      return *b;
    }
  }
  return f.expected("true or false");
}

Result<uint32_t> read_uint(const Field& f, uint32_t min, uint32_t max, std::string_view what) {
  if (f.value().IsScalar()) {
    auto v = parse_decimal(f.value().Scalar(), max);
    if (v && *v >= min) {
      return *v;
    }
  }
  return f.expected(fmt::format("{} ({}-{})", what, min, max));
}

// A plain string; `key:` with nothing after it reads as "" where `allow_empty`.
Result<std::string> read_string(const Field& f, bool allow_empty, std::string_view what) {
  if (f.value().IsNull() && allow_empty) {
    return std::string();
  }
  if (f.value().IsScalar()) {
    return f.value().Scalar();
  }
  return f.expected(what);
}

// A list of scalars; `key:` with nothing after it is an empty list.
Result<std::vector<YAML::Node>> read_list(const Field& f, std::string_view what) {
  std::vector<YAML::Node> out;
  if (f.value().IsNull()) {
    return out;
  }
  if (!f.value().IsSequence()) {
    return f.expected(fmt::format("a list of {}", what));
  }
  for (auto it = f.value().begin(); it != f.value().end(); ++it) {
    out.push_back(*it);
  }
  return out;
}

Result<net::Prefix> read_network(const Field& f, net::Family family) {
  const bool v4 = family == net::Family::kV4;
  const int min_len = v4 ? 8 : 48;
  const int max_len = v4 ? 30 : 120;
  const std::string what =
      v4 ? fmt::format("an IPv4 network from /{} to /{} such as 10.49.0.0/16", min_len, max_len)
         : fmt::format("an IPv6 network from /{} to /{} such as fd12:3456:789a::/48", min_len,
                       max_len);
  if (!f.value().IsScalar()) {
    return f.expected(what);
  }
  const std::string& text = f.value().Scalar();
  if (text.find('/') == std::string::npos) {
    return f.expected(what);
  }
  auto with_host = net::Prefix::parse_interface_address(text);
  if (!with_host || with_host->address.family != family || with_host->length < min_len ||
      with_host->length > max_len) {
    return f.expected(what);
  }
  auto network = net::Prefix::parse(text);
  if (!network || network->address != with_host->address) {
    // "10.49.0.1/16" is probably meant as the server's address; the key wants the network.
    return f.expected(fmt::format("a network address with the host bits zero ({})",
                                  network ? network->to_string() : std::string("?")));
  }
  return *network;
}

// "ADDRESS" or "ADDRESS#TLS-NAME" (the name DNS-over-TLS checks the certificate against).
Result<std::vector<net::IpAddress>> read_resolvers(const Field& f, net::Family family,
                                                   std::map<net::IpAddress, std::string>& names) {
  const std::string what = family == net::Family::kV4 ? "an IPv4 address, optionally #tls-name"
                                                      : "an IPv6 address, optionally #tls-name";
  auto items = read_list(f, family == net::Family::kV4 ? "IPv4 addresses" : "IPv6 addresses");
  if (!items) {
    return items.take_error();
  }
  std::vector<net::IpAddress> out;
  for (const YAML::Node& item : *items) {
    if (!item.IsScalar()) {
      return f.expected_item(item, what);
    }
    std::string_view text = item.Scalar();
    std::string_view tls_name;
    if (auto hash = text.find('#'); hash != std::string_view::npos) {
      tls_name = text.substr(hash + 1);
      text = text.substr(0, hash);
      const bool ok_name = !tls_name.empty() && tls_name.size() <= 253 &&
                           std::all_of(tls_name.begin(), tls_name.end(), [](char c) {
                             return is_ascii_alnum(c) || c == '-' || c == '.';
                           });
      if (!ok_name) {
        return f.expected_item(item, what);
      }
    }
    auto a = net::IpAddress::parse(text);
    if (!a || a->family != family) {
      return f.expected_item(item, what);
    }
    if (!tls_name.empty()) names[*a] = std::string(tls_name);
    out.push_back(*a);
  }
  return out;
}

Status read_dns_servers(const Field& f, DnsServers& out) {
  if (!f.value().IsMap()) {
    return f.expected("a mapping with ipv4 and ipv6 lists");
  }
  // Given at all, the mapping replaces the default as a whole: keeping Cloudflare's IPv6
  // servers next to a hand-picked IPv4 resolver would be a surprise.
  DnsServers servers;
  std::set<std::string> seen;
  for (auto it = f.value().begin(); it != f.value().end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) {
      return make_error("line {}: key 'dns_servers': keys must be ipv4 or ipv6",
                        line_of(key.Mark()));
    }
    const std::string& name = key.Scalar();
    if (name != "ipv4" && name != "ipv6") {
      return make_error("line {}: unknown key '{}' in dns_servers (expected ipv4 or ipv6)",
                        line_of(key.Mark()), name);
    }
    if (!seen.insert(name).second) {
      return make_error("line {}: duplicate key 'dns_servers.{}'", line_of(key.Mark()), name);
    }
    Field sub("dns_servers." + name, key, value);
    auto list = read_resolvers(sub, name == "ipv4" ? net::Family::kV4 : net::Family::kV6,
                               servers.tls_names);
    if (!list) {
      return list.take_error();
    }
    (name == "ipv4" ? servers.ipv4 : servers.ipv6) = std::move(*list);
  }
  if (servers.ipv4.empty()) {
    // The tunnel always carries IPv4, so clients always need an IPv4 resolver; without one
    // they would keep asking the local network's resolver, which is the leak a VPN prevents.
    return make_error("line {}: key 'dns_servers': expected at least one IPv4 address in ipv4",
                      f.line());
  }
  out = std::move(servers);
  return {};
}

Status read_users(const Field& f, std::vector<std::string>& out) {
  auto items = read_list(f, "user names");
  if (!items) {
    return items.take_error();
  }
  std::vector<std::string> users;
  std::set<std::string> seen;
  for (const YAML::Node& item : *items) {
    if (item.IsNull()) {
      return f.expected_item(item, "a user name (quote names such as \"null\")");
    }
    if (!item.IsScalar()) {
      return f.expected_item(item, "a user name");
    }
    const std::string& name = item.Scalar();
    if (auto st = validate_user_name(name); !st) {
      return make_error("line {}: key '{}': {}", line_of(item.Mark()), f.name(),
                        st.error().message);
    }
    if (!seen.insert(name).second) {
      return make_error("line {}: key '{}': duplicate user '{}'", line_of(item.Mark()), f.name(),
                        name);
    }
    users.push_back(name);
  }
  out = std::move(users);
  return {};
}

Status read_wifi_exclude(const Field& f, std::vector<std::string>& out) {
  constexpr std::string_view kWhat = "Wi-Fi network names (1-32 bytes, no control characters)";
  std::vector<std::string> ssids;
  if (f.value().IsScalar()) {
    // Algo's prompt takes "home,work"; spaces around the commas are for readability.
    const std::string& text = f.value().Scalar();
    size_t start = 0;
    while (start <= text.size()) {
      size_t comma = text.find(',', start);
      if (comma == std::string::npos) {
        comma = text.size();
      }
      const std::string_view ssid = trim(std::string_view(text).substr(start, comma - start));
      if (!ssid.empty()) {
        if (!valid_ssid(ssid)) {
          return f.expected(kWhat);
        }
        ssids.emplace_back(ssid);
      }
      start = comma + 1;
    }
  } else {
    auto items = read_list(f, kWhat);
    if (!items) {
      return items.take_error();
    }
    for (const YAML::Node& item : *items) {
      if (!item.IsScalar() || !valid_ssid(item.Scalar())) {
        return f.expected_item(item, "a Wi-Fi network name (1-32 bytes, no control characters)");
      }
      ssids.push_back(item.Scalar());
    }
  }
  out = std::move(ssids);
  return {};
}

Status read_domains(const Field& f, std::vector<std::string>& out) {
  auto items = read_list(f, "domain names");
  if (!items) {
    return items.take_error();
  }
  std::vector<std::string> domains;
  for (const YAML::Node& item : *items) {
    const bool ok = item.IsScalar() && !item.Scalar().empty() && item.Scalar().size() <= 253 &&
                    std::all_of(item.Scalar().begin(), item.Scalar().end(), [](char c) {
                      return is_ascii_alnum(c) || c == '-' || c == '.' || c == '_';
                    });
    if (!ok) {
      return f.expected_item(item, "a domain name");
    }
    domains.push_back(lower(item.Scalar()));
  }
  out = std::move(domains);
  return {};
}

Status read_adblock_lists(const Field& f, std::vector<std::string>& out) {
  auto items = read_list(f, "block list files");
  if (!items) {
    return items.take_error();
  }
  std::vector<std::string> lists;
  for (const YAML::Node& item : *items) {
    // Local files are read by the resolver; URLs are accepted (Algo configs list them) but not
    // downloaded by the daemon, which says so in its status (docs/DNS.md).
    const bool ok =
        item.IsScalar() && (valid_url(item.Scalar()) ||
                            (item.Scalar().starts_with("/") && !has_control_chars(item.Scalar())));
    if (!ok) {
      return f.expected_item(item, "an absolute file path (or an http(s):// URL)");
    }
    lists.push_back(item.Scalar());
  }
  out = std::move(lists);
  return {};
}

using Reader = std::function<Status(const Field&, ServerConfig&)>;

template <typename T>
Reader set_bool(T ServerConfig::*member) {
  return [member](const Field& f, ServerConfig& c) -> Status {
    auto v = read_bool(f);
    if (!v) {
      return v.take_error();
    }
    c.*member = *v;
    return {};
  };
}

template <typename T>
Reader set_uint(T ServerConfig::*member, uint32_t min, uint32_t max, const std::string& what) {
  return [member, min, max, what](const Field& f, ServerConfig& c) -> Status {
    auto v = read_uint(f, min, max, what);
    if (!v) {
      return v.take_error();
    }
    c.*member = T(*v);
    return {};
  };
}

// An absolute file path, or "" for none.
Reader set_path(std::string ServerConfig::*member) {
  return [member](const Field& f, ServerConfig& c) -> Status {
    constexpr std::string_view kWhat = "an absolute path to a PEM file, or \"\" for none";
    auto v = read_string(f, true, kWhat);
    if (!v) {
      return v.take_error();
    }
    if (!v->empty() && (!v->starts_with("/") || has_control_chars(*v))) {
      return f.expected(kWhat);
    }
    c.*member = *v;
    return {};
  };
}

const std::vector<std::pair<std::string_view, Reader>>& readers() {
  static const auto* table = new std::vector<std::pair<std::string_view, Reader>>{
      {"users", [](const Field& f, ServerConfig& c) { return read_users(f, c.users); }},
      {"disabled_users",
       [](const Field& f, ServerConfig& c) { return read_users(f, c.disabled_users); }},
      {"wireguard_enabled", set_bool(&ServerConfig::wireguard_enabled)},
      {"wireguard_port", set_uint(&ServerConfig::wireguard_port, 1, 65535, "a port number")},
      {"wireguard_PersistentKeepalive", set_uint(&ServerConfig::wireguard_persistent_keepalive, 0,
                                                 65535, "a number of seconds, 0 for off")},
      {"wireguard_network_ipv4",
       [](const Field& f, ServerConfig& c) -> Status {
         auto p = read_network(f, net::Family::kV4);
         if (!p) {
           return p.take_error();
         }
         c.wireguard_network_ipv4 = *p;
         return {};
       }},
      {"wireguard_network_ipv6",
       [](const Field& f, ServerConfig& c) -> Status {
         auto p = read_network(f, net::Family::kV6);
         if (!p) {
           return p.take_error();
         }
         c.wireguard_network_ipv6 = *p;
         return {};
       }},
      {"config_version",
       [](const Field& f, ServerConfig& c) -> Status {
         auto v = read_uint(f, 1, 1000000, "a format number written by Waypost");
         if (!v) {
           return v.take_error();
         }
         if (*v > kConfigSchema) {
           return make_error(
               "line {}: config_version {} is newer than this Waypost understands ({}): the file "
               "was written by a newer Waypost; run that version (or restore a backup made "
               "before it)",
               f.line(), *v, kConfigSchema);
         }
         c.config_version = *v;
         return {};
       }},
      {"ipsec_enabled", set_bool(&ServerConfig::ipsec_enabled)},
      {"strongswan_network",
       [](const Field& f, ServerConfig& c) -> Status {
         auto p = read_network(f, net::Family::kV4);
         if (!p) {
           return p.take_error();
         }
         c.strongswan_network = *p;
         return {};
       }},
      {"strongswan_network_ipv6",
       [](const Field& f, ServerConfig& c) -> Status {
         auto p = read_network(f, net::Family::kV6);
         if (!p) {
           return p.take_error();
         }
         c.strongswan_network_ipv6 = *p;
         return {};
       }},
      {"ipv6", set_bool(&ServerConfig::ipv6)},
      {"reduce_mtu",
       set_uint(&ServerConfig::reduce_mtu, 0, kMaxReduceMtu, "a number of bytes, 0 for automatic")},
      {"BetweenClients_DROP", set_bool(&ServerConfig::between_clients_drop)},
      {"block_smb", set_bool(&ServerConfig::block_smb)},
      {"block_netbios", set_bool(&ServerConfig::block_netbios)},
      {"dns_adblocking", set_bool(&ServerConfig::dns_adblocking)},
      {"dns_encryption", set_bool(&ServerConfig::dns_encryption)},
      {"dns_servers",
       [](const Field& f, ServerConfig& c) { return read_dns_servers(f, c.dns_servers); }},
      {"adblock_lists",
       [](const Field& f, ServerConfig& c) { return read_adblock_lists(f, c.adblock_lists); }},
      {"adblock_allow",
       [](const Field& f, ServerConfig& c) { return read_domains(f, c.adblock_allow); }},
      {"dns_block_response",
       [](const Field& f, ServerConfig& c) -> Status {
         auto v = read_string(f, false, "0.0.0.0 or nxdomain");
         if (!v) {
           return v.take_error();
         }
         const std::string l = lower(*v);
         if (l != "0.0.0.0" && l != "nxdomain") {
           return f.expected("0.0.0.0 or nxdomain");
         }
         c.dns_block_response = l;
         return {};
       }},
      {"dns_dnssec", set_bool(&ServerConfig::dns_dnssec)},
      {"dns_cache_size", set_uint(&ServerConfig::dns_cache_size, 1, 1024, "a cache size in MiB")},
      {"dns_force", set_bool(&ServerConfig::dns_force)},
      {"dns_tls_ca",
       [](const Field& f, ServerConfig& c) -> Status {
         constexpr std::string_view kWhat = "an absolute path to a PEM file or a CA directory";
         auto v = read_string(f, false, kWhat);
         if (!v) {
           return v.take_error();
         }
         if (!v->starts_with("/") || has_control_chars(*v)) {
           return f.expected(kWhat);
         }
         c.dns_tls_ca = *v;
         return {};
       }},
      {"ondemand_cellular", set_bool(&ServerConfig::ondemand_cellular)},
      {"ondemand_wifi", set_bool(&ServerConfig::ondemand_wifi)},
      {"ondemand_wifi_exclude",
       [](const Field& f, ServerConfig& c) {
         return read_wifi_exclude(f, c.ondemand_wifi_exclude);
       }},
      {"endpoint",
       [](const Field& f, ServerConfig& c) -> Status {
         constexpr std::string_view kWhat = "a host name or IP address (without a port)";
         auto s = read_string(f, true, kWhat);
         if (!s) {
           return s.take_error();
         }
         if (s->empty()) {
           c.endpoint.clear();
           return {};
         }
         auto e = normalize_endpoint(*s);
         if (!e) {
           return f.expected(kWhat);
         }
         c.endpoint = *e;
         return {};
       }},
      {"wireguard_interface",
       [](const Field& f, ServerConfig& c) -> Status {
         constexpr std::string_view kWhat =
             "an interface name (1-15 characters of a-z A-Z 0-9 _ = + . -)";
         auto s = read_string(f, false, kWhat);
         if (!s) {
           return s.take_error();
         }
         // Linux refuses "." and ".." as interface names too.
         if (s->empty() || s->size() > 15 || !std::all_of(s->begin(), s->end(), is_ifname_char) ||
             *s == "." || *s == "..") {
           return f.expected(kWhat);
         }
         c.wireguard_interface = *s;
         return {};
       }},
      {"restrict_input", set_bool(&ServerConfig::restrict_input)},
      {"ssh_port", set_uint(&ServerConfig::ssh_port, 1, 65535, "a port number")},
      {"metrics_listen",
       [](const Field& f, ServerConfig& c) -> Status {
         constexpr std::string_view kWhat =
             "a loopback address and port such as 127.0.0.1:9586 or [::1]:9586, or \"\" for off";
         auto s = read_string(f, true, kWhat);
         if (!s) {
           return s.take_error();
         }
         if (!s->empty() && !valid_metrics_listen(*s)) {
           return f.expected(kWhat);
         }
         c.metrics_listen = *s;
         return {};
       }},
      {"offloads", set_bool(&ServerConfig::offloads)},
      {"web_enabled", set_bool(&ServerConfig::web_enabled)},
      {"web_port", set_uint(&ServerConfig::web_port, 1, 65535, "a port number")},
      {"web_listen",
       [](const Field& f, ServerConfig& c) -> Status {
         constexpr std::string_view kWhat = "all or tunnel";
         auto v = read_string(f, false, kWhat);
         if (!v) {
           return v.take_error();
         }
         if (*v != "all" && *v != "tunnel") {
           return f.expected(kWhat);
         }
         c.web_listen = *v;
         return {};
       }},
      {"web_tls_cert", set_path(&ServerConfig::web_tls_cert)},
      {"web_tls_key", set_path(&ServerConfig::web_tls_key)},
  };
  return *table;
}

// Counts the documents in a stream, stopping at two. YAML::LoadAll is not used: on some malformed
// input (found by fuzzing: "a: &&u") yaml-cpp 0.7 reports an endless series of empty documents.
bool overlap(const net::Prefix& a, const net::Prefix& b) {
  return a.contains(b.address) || b.contains(a.address);
}

// IKEv2 and WireGuard clients are routed by their addresses: the pools must not overlap.
Status check_pools_apart(const ServerConfig& c, const std::map<std::string, int>& lines) {
  if (!c.ipsec_enabled) {
    return {};
  }
  auto where = [&](const std::string& a, const std::string& b) {
    auto ia = lines.find(a);
    auto ib = lines.find(b);
    if (ia != lines.end()) {
      return fmt::format("line {}: ", ia->second);
    }
    return ib != lines.end() ? fmt::format("line {}: ", ib->second) : std::string();
  };
  if (overlap(c.strongswan_network, c.wireguard_network_ipv4)) {
    return make_error(
        "{}strongswan_network {} overlaps wireguard_network_ipv4 {}: give IKEv2 clients a network "
        "of their own (Algo's defaults are 10.48.0.0/16 and 10.49.0.0/16), or set ipsec_enabled: "
        "false",
        where("strongswan_network", "wireguard_network_ipv4"), c.strongswan_network.to_string(),
        c.wireguard_network_ipv4.to_string());
  }
  if (c.ipv6 && overlap(c.strongswan_network_ipv6, c.wireguard_network_ipv6)) {
    return make_error(
        "{}strongswan_network_ipv6 {} overlaps wireguard_network_ipv6 {}: give IKEv2 clients a "
        "network of their own, or set ipsec_enabled: false",
        where("strongswan_network_ipv6", "wireguard_network_ipv6"),
        c.strongswan_network_ipv6.to_string(), c.wireguard_network_ipv6.to_string());
  }
  return {};
}

// A certificate needs its key and the other way round; the web port must not be the port the
// metrics page already listens on.
Status check_web_settings(const ServerConfig& c, const std::map<std::string, int>& lines) {
  auto at = [&](const std::string& key) {
    auto it = lines.find(key);
    return it != lines.end() ? fmt::format("line {}: ", it->second) : std::string();
  };
  if (c.web_tls_cert.empty() != c.web_tls_key.empty()) {
    const std::string given = c.web_tls_cert.empty() ? "web_tls_key" : "web_tls_cert";
    const std::string missing = c.web_tls_cert.empty() ? "web_tls_cert" : "web_tls_key";
    return make_error(
        "{}{} is set but {} is not: give both (your own certificate) or neither "
        "(a self-signed one)",
        at(given), given, missing);
  }
  if (c.web_enabled && !c.metrics_listen.empty()) {
    auto metrics = net::Endpoint::parse(c.metrics_listen);
    if (metrics && metrics->port() == c.web_port) {
      return make_error("{}web_port {} is also metrics_listen's port: give one of them another",
                        at("web_port"), c.web_port);
    }
  }
  return {};
}

Result<ServerConfig> parse_document(const YAML::Node& root) {
  ServerConfig config;
  config.config_version = 1;  // until the file says otherwise
  if (root.IsNull()) {
    // An empty file (or one with only comments) means "all defaults".
    return config;
  }
  if (!root.IsMap()) {
    return make_error("line {}: expected a mapping of keys (key: value), got {}",
                      line_of(root.Mark()), describe(root));
  }
  std::set<std::string> seen;
  std::map<std::string, int> lines;  // where each key was, for errors about two keys
  for (auto it = root.begin(); it != root.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) {
      return make_error("line {}: expected a key name, got {}", line_of(key.Mark()), describe(key));
    }
    const std::string& name = key.Scalar();
    const auto& table = readers();
    auto reader = std::find_if(table.begin(), table.end(),
                               [&](const auto& entry) { return entry.first == name; });
    if (reader == table.end()) {
      return make_error("line {}: unknown key {}", line_of(key.Mark()), quoted(name));
    }
    if (!seen.insert(name).second) {
      // YAML says keys are unique; some parsers keep the first, some the last. Refuse instead
      // of guessing which one the user meant.
      return make_error("line {}: duplicate key '{}'", line_of(key.Mark()), name);
    }
    Field field(name, key, value);
    if (auto st = reader->second(field, config); !st) {
      return st.take_error();
    }
    lines[name] = line_of(key.Mark());
  }
  if (auto st = check_pools_apart(config, lines); !st) {
    return st.take_error();
  }
  if (auto st = check_web_settings(config, lines); !st) {
    return st.take_error();
  }
  return config;
}

}  // namespace

net::Prefix random_ula48() {
  net::IpAddress a;
  a.family = net::Family::kV6;
  a.bytes.fill(0);
  a.bytes[0] = 0xfd;
  crypto::system_random().fill({a.bytes.data() + 1, 5});
  return net::Prefix{a, 48};
}

ServerConfig::ServerConfig()
    : wireguard_network_ipv4(must_prefix("10.49.0.0/16")),
      // A placeholder: `server init` writes a random RFC 4193 /48 so that two Waypost servers
      // never share a ULA prefix.
      wireguard_network_ipv6(must_prefix("fd00:4977:6179::/48")),
      strongswan_network(must_prefix("10.48.0.0/16")),
      // Also a placeholder replaced at init, like wireguard_network_ipv6.
      strongswan_network_ipv6(must_prefix("fd00:4977:6180::/48")),
      dns_servers{{must_ip("1.1.1.1"), must_ip("1.0.0.1")},
                  {must_ip("2606:4700:4700::1111"), must_ip("2606:4700:4700::1001")}} {}

Status validate_user_name(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return make_error("user name {} must be 1-64 characters long", quoted(name));
  }
  const bool chars_ok = std::all_of(name.begin(), name.end(), [](char c) {
    return is_ascii_alnum(c) || c == '_' || c == '.' || c == '@' || c == '-';
  });
  if (!chars_ok) {
    return make_error("user name {} may contain only letters, digits and _ . @ -", quoted(name));
  }
  // Names become file names (<user>.conf) and command-line arguments: no hidden files, nothing
  // that looks like an option.
  if (name.front() == '.' || name.front() == '-') {
    return make_error("user name {} must not start with '.' or '-'", quoted(name));
  }
  return {};
}

Result<ServerConfig> parse_server_config(std::string_view yaml) {
  // yaml-cpp reports errors by throwing; nothing may escape this function.
  try {
    return parse_document(load_single_document(std::string(yaml))).or_kind(ErrorKind::kParse);
  } catch (const YAML::Exception& e) {
    return make_error(ErrorKind::kParse, "line {}: {}", line_of(e.mark), e.msg);
  } catch (const std::exception& e) {
    return make_error(ErrorKind::kParse, "line 1: cannot read the configuration: {}", e.what());
  }
}

}  // namespace waypost::server
