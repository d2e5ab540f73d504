#include "server/config.h"

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

// Values quoted in error messages are cut here so that one pasted blob does not flood the
// terminal.
constexpr size_t kMaxQuoted = 80;

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

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_ifname_char(char c) {
  return is_ascii_alnum(c) || c == '_' || c == '=' || c == '+' || c == '.' || c == '-';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = char(c - 'A' + 'a');
    }
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
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

int line_of(const YAML::Mark& m) {
  return m.line >= 0 ? m.line + 1 : 1;
}

std::string quoted(std::string_view s) {
  if (s.size() > kMaxQuoted) {
    return fmt::format("'{}...'", s.substr(0, kMaxQuoted));
  }
  return fmt::format("'{}'", s);
}

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

Result<std::vector<net::IpAddress>> read_addresses(const Field& f, net::Family family) {
  const std::string what = family == net::Family::kV4 ? "an IPv4 address" : "an IPv6 address";
  auto items = read_list(f, family == net::Family::kV4 ? "IPv4 addresses" : "IPv6 addresses");
  if (!items) {
    return items.take_error();
  }
  std::vector<net::IpAddress> out;
  for (const YAML::Node& item : *items) {
    if (!item.IsScalar()) {
      return f.expected_item(item, what);
    }
    auto a = net::IpAddress::parse(item.Scalar());
    if (!a || a->family != family) {
      return f.expected_item(item, what);
    }
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
    auto list = read_addresses(sub, name == "ipv4" ? net::Family::kV4 : net::Family::kV6);
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
      return make_error("line {}: key 'users': {}", line_of(item.Mark()), st.error().message);
    }
    if (!seen.insert(name).second) {
      return make_error("line {}: key 'users': duplicate user '{}'", line_of(item.Mark()), name);
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

Status read_adblock_lists(const Field& f, std::vector<std::string>& out) {
  auto items = read_list(f, "URLs");
  if (!items) {
    return items.take_error();
  }
  std::vector<std::string> urls;
  for (const YAML::Node& item : *items) {
    if (!item.IsScalar() || !valid_url(item.Scalar())) {
      return f.expected_item(item, "an http:// or https:// URL");
    }
    urls.push_back(item.Scalar());
  }
  out = std::move(urls);
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
Reader set_uint(T ServerConfig::*member, uint32_t min, uint32_t max, std::string what) {
  return [member, min, max, what](const Field& f, ServerConfig& c) -> Status {
    auto v = read_uint(f, min, max, what);
    if (!v) {
      return v.take_error();
    }
    c.*member = T(*v);
    return {};
  };
}

const std::vector<std::pair<std::string_view, Reader>>& readers() {
  static const auto* table = new std::vector<std::pair<std::string_view, Reader>>{
      {"users", [](const Field& f, ServerConfig& c) { return read_users(f, c.users); }},
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
  };
  return *table;
}

// Counts the documents in a stream, stopping at two. YAML::LoadAll is not used: on some malformed
// input (found by fuzzing: "a: &&u") yaml-cpp 0.7 reports an endless series of empty documents.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (count_++ == 1) {
      second_ = mark;
    }
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  int count() const { return count_; }
  const YAML::Mark& second() const { return second_; }

 private:
  int count_ = 0;
  YAML::Mark second_ = YAML::Mark::null_mark();
};

// Throws YAML::Exception like the rest of yaml-cpp; callers catch it.
YAML::Node load_single_document(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
  }
  if (counter.count() > 1) {
    throw YAML::ParserException(counter.second(), "expected one YAML document, found more");
  }
  return YAML::Load(text);
}

Result<ServerConfig> parse_document(const YAML::Node& root) {
  ServerConfig config;
  if (root.IsNull()) {
    // An empty file (or one with only comments) means "all defaults".
    return config;
  }
  if (!root.IsMap()) {
    return make_error("line {}: expected a mapping of keys (key: value), got {}",
                      line_of(root.Mark()), describe(root));
  }
  std::set<std::string> seen;
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
  }
  return config;
}

// ------------------------------------------------------------------------------------------
// Rendering

bool is_yaml_special_word(std::string_view s) {
  static const std::set<std::string> kWords = {"null", "~",  "true", "false", "yes",
                                               "no",   "on", "off",  "y",     "n"};
  return kWords.count(lower(s)) != 0;
}

// A YAML scalar that reads back as exactly `s`: plain when that is unambiguous, else
// double-quoted with escapes.
std::string yaml_scalar(std::string_view s) {
  bool plain = !s.empty() && !is_yaml_special_word(s) && (is_ascii_alnum(s[0]) || s[0] == '_') &&
               !(s[0] >= '0' && s[0] <= '9') && std::all_of(s.begin(), s.end(), [](char c) {
                 return is_ascii_alnum(c) || c == '_' || c == '.' || c == '-' || c == '/';
               });
  if (plain) {
    return std::string(s);
  }
  std::string out = "\"";
  for (char c : s) {
    const auto u = uint8_t(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// Numbers and addresses made only of digits and dots read back fine without quotes, but names
// starting with a digit are quoted (as Algo recommends) so that nobody mistakes them for numbers.
std::string yaml_number_like(std::string_view s) {
  const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '.' || c == '/';
  });
  return plain ? std::string(s) : yaml_scalar(s);
}

void render_list(std::string& out, std::string_view key, const std::vector<std::string>& items,
                 std::string_view indent = "") {
  if (items.empty()) {
    out += fmt::format("{}{}: []\n", indent, key);
    return;
  }
  out += fmt::format("{}{}:\n", indent, key);
  for (const auto& item : items) {
    out += fmt::format("{}  - {}\n", indent, item);
  }
}

std::string yes_no(bool b) {
  return b ? "true" : "false";
}

// ------------------------------------------------------------------------------------------
// Rewriting the users list in place

struct TextLine {
  std::string_view content;  // without the line break
  std::string_view eol;      // "\n", "\r\n" or "" on a last line without one
};

std::vector<TextLine> split_lines(std::string_view text) {
  std::vector<TextLine> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.push_back({text.substr(start), {}});
      break;
    }
    size_t end = nl;
    if (end > start && text[end - 1] == '\r') {
      --end;
    }
    lines.push_back({text.substr(start, end - start), text.substr(end, nl + 1 - end)});
    start = nl + 1;
  }
  return lines;
}

size_t indent_of(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') {
    ++n;
  }
  return n;
}

bool blank_or_comment(std::string_view line) {
  const std::string_view t = trim(line);
  return t.empty() || t.front() == '#';
}

bool is_item_at(std::string_view line, size_t column) {
  return line.size() > column && indent_of(line) == column && line[column] == '-' &&
         (line.size() == column + 1 || line[column + 1] == ' ' || line[column + 1] == '\t');
}

std::string flow_list(const std::vector<std::string>& users) {
  std::string out = "[";
  for (size_t i = 0; i < users.size(); ++i) {
    out += (i == 0 ? "" : ", ") + yaml_scalar(users[i]);
  }
  return out + "]";
}

// The end (inclusive) of the flow collection that opens at text[open], skipping quoted strings
// and comments; npos if it never closes.
size_t flow_end(std::string_view text, size_t open) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') {
          ++i;
        }
      }
    } else if (c == '\'') {
      for (++i; i < text.size(); ++i) {
        if (text[i] == '\'') {
          if (i + 1 < text.size() && text[i + 1] == '\'') {
            ++i;
          } else {
            break;
          }
        }
      }
    } else if (c == '#' && i > 0 && (text[i - 1] == ' ' || text[i - 1] == '\t')) {
      while (i < text.size() && text[i] != '\n') {
        ++i;
      }
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) {
        return i;
      }
    }
  }
  return std::string_view::npos;
}

// Where the top-level `users` key is: its line and column (0-based), and the value's names in
// order; nullopt when there is none.
struct UsersKey {
  size_t line = 0;
  size_t column = 0;
  std::vector<std::string> names;  // empty unless the value is a list
};

Result<std::optional<UsersKey>> find_users_key(std::string_view yaml) {
  try {
    const YAML::Node root = load_single_document(std::string(yaml));
    if (!root.IsMap()) {
      return std::optional<UsersKey>();
    }
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == "users") {
        UsersKey k;
        k.line = size_t(std::max(0, it->first.Mark().line));
        k.column = size_t(std::max(0, it->first.Mark().column));
        const YAML::Node value = it->second;
        if (value.IsSequence()) {
          for (const auto& item : value) {
            k.names.push_back(item.IsScalar() ? item.Scalar() : std::string());
          }
        }
        return std::optional<UsersKey>(k);
      }
    }
    return std::optional<UsersKey>();
  } catch (const YAML::Exception& e) {
    return make_error("line {}: {}", line_of(e.mark), e.msg);
  } catch (const std::exception& e) {
    return make_error("line 1: cannot read the configuration: {}", e.what());
  }
}

Error cannot_rewrite(size_t line, std::string_view why) {
  return make_error("line {}: cannot update the users list automatically ({}); edit it by hand",
                    line + 1, why);
}

Result<std::string> replace_users(std::string_view yaml, const UsersKey& key,
                                  const std::vector<std::string>& users) {
  const std::vector<TextLine> lines = split_lines(yaml);
  if (key.line >= lines.size()) {
    return cannot_rewrite(key.line, "the key is not where the parser says");
  }
  std::string_view key_line = lines[key.line].content;
  size_t skip = 0;
  if (key.line == 0 && key_line.starts_with("\xEF\xBB\xBF")) {
    skip = 3;  // yaml-cpp does not count a byte order mark as a column
  }
  const size_t column = key.column + skip;
  if (column >= key_line.size() ||
      key_line.substr(skip, key.column).find_first_not_of(' ') != std::string_view::npos) {
    return cannot_rewrite(key.line, "users is not a plain block key");
  }
  // The key token, possibly quoted, then the colon.
  size_t pos = column;
  if (key_line[pos] == '"' || key_line[pos] == '\'') {
    const size_t close = key_line.find(key_line[pos], pos + 1);
    if (close == std::string_view::npos) {
      return cannot_rewrite(key.line, "unusual key quoting");
    }
    pos = close + 1;
  } else if (key_line.substr(pos).starts_with("users")) {
    pos += 5;
  } else {
    return cannot_rewrite(key.line, "unusual key spelling");
  }
  while (pos < key_line.size() && (key_line[pos] == ' ' || key_line[pos] == '\t')) {
    ++pos;
  }
  if (pos >= key_line.size() || key_line[pos] != ':') {
    return cannot_rewrite(key.line, "no colon after the key");
  }
  ++pos;
  // Offset of the key line in the whole text.
  const size_t key_offset = size_t(key_line.data() - yaml.data());
  const size_t after_colon = key_offset + pos;

  // The first significant character after the colon decides between a flow list and a block
  // list (or nothing).
  size_t first = after_colon;
  while (first < yaml.size()) {
    const char c = yaml[first];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++first;
    } else if (c == '#') {
      while (first < yaml.size() && yaml[first] != '\n') {
        ++first;
      }
    } else {
      break;
    }
  }
  if (first < yaml.size() && yaml[first] == '[') {
    const size_t close = flow_end(yaml, first);
    if (close == std::string_view::npos) {
      return cannot_rewrite(key.line, "unterminated list");
    }
    std::string out(yaml.substr(0, first));
    out += flow_list(users);
    out += yaml.substr(close + 1);
    return out;
  }

  const std::string_view rest = trim(key_line.substr(pos));
  if (!rest.empty() && rest.front() != '#') {
    return cannot_rewrite(key.line, "users has an anchor, tag or inline value");
  }
  // The block: following lines indented deeper than the key, or items at the key's own
  // column ("users:\n- a" is valid YAML). Comments and blank lines after the last item are not
  // part of it; they stay where they are.
  size_t end = key.line;  // last line of the block (inclusive)
  for (size_t i = key.line + 1; i < lines.size(); ++i) {
    const std::string_view l = lines[i].content;
    if (blank_or_comment(l)) {
      continue;
    }
    if (indent_of(l) > key.column || is_item_at(l, key.column)) {
      end = i;
      continue;
    }
    break;
  }
  // Entries: an item line with its continuation lines and the comments just above it, so that
  // "# Alice's phone" stays with alice (and leaves with her).
  struct Entry {
    size_t first;
    size_t last;
  };
  std::vector<Entry> entries;
  size_t item_indent = key.column + 2;
  bool simple = true;
  if (end > key.line) {
    size_t i = key.line + 1;
    while (i < lines.size() && blank_or_comment(lines[i].content)) {
      ++i;
    }
    item_indent = indent_of(lines[i].content);
    size_t entry_start = key.line + 1;
    for (size_t j = key.line + 1; j <= end; ++j) {
      const std::string_view l = lines[j].content;
      if (blank_or_comment(l)) {
        continue;
      }
      if (is_item_at(l, item_indent)) {
        entries.push_back({entry_start, j});
      } else if (entries.empty()) {
        simple = false;
      } else {
        entries.back().last = j;
      }
      entry_start = j + 1;
    }
  }
  if (entries.size() != key.names.size()) {
    simple = false;
  }
  const std::string_view eol = lines[key.line].eol.empty() ? "\n" : lines[key.line].eol;

  std::string out(yaml.substr(0, key_offset));
  out += key_line;
  out += eol;
  for (const auto& user : users) {
    auto old = std::find(key.names.begin(), key.names.end(), user);
    if (simple && old != key.names.end()) {
      const Entry& e = entries[size_t(old - key.names.begin())];
      for (size_t j = e.first; j <= e.last; ++j) {
        out += lines[j].content;
        out += eol;
      }
    } else {
      out += std::string(item_indent, ' ') + "- " + yaml_scalar(user);
      out += eol;
    }
  }
  if (end + 1 < lines.size()) {
    const size_t tail = size_t(lines[end + 1].content.data() - yaml.data());
    out += yaml.substr(tail);
  }
  return out;
}

}  // namespace

ServerConfig::ServerConfig()
    : wireguard_network_ipv4(must_prefix("10.49.0.0/16")),
      // A placeholder: `server init` writes a random RFC 4193 /48 so that two Waypost servers
      // never share a ULA prefix.
      wireguard_network_ipv6(must_prefix("fd00:4977:6179::/48")),
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
    return parse_document(load_single_document(std::string(yaml)));
  } catch (const YAML::Exception& e) {
    return make_error("line {}: {}", line_of(e.mark), e.msg);
  } catch (const std::exception& e) {
    return make_error("line 1: cannot read the configuration: {}", e.what());
  }
}

std::string render_server_config(const ServerConfig& c) {
  std::string out;
  out +=
      "# Waypost server configuration.\n"
      "# Keys that Algo VPN's config.cfg also has keep Algo's names and meaning; the others are\n"
      "# Waypost's own. docs/SERVER-CONFIG.md describes every key. Unknown keys are errors.\n"
      "\n"
      "# One entry per device (each gets its own keys and addresses). Names: 1-64 letters,\n"
      "# digits and _ . @ -; quote names that look like numbers, e.g. \"123\".\n";
  std::vector<std::string> items;
  for (const auto& u : c.users) {
    items.push_back(yaml_scalar(u));
  }
  render_list(out, "users", items);

  out += fmt::format(
      "\n"
      "### WireGuard ###\n"
      "\n"
      "# Serve WireGuard at all.\n"
      "wireguard_enabled: {}\n"
      "\n"
      "# UDP port clients connect to. Change it if a network on the way blocks this one.\n"
      "wireguard_port: {}\n"
      "\n"
      "# Seconds between keepalives from clients, for NATs that forget idle mappings; 0 = off.\n"
      "wireguard_PersistentKeepalive: {}\n"
      "\n"
      "# Tunnel address pools: the server takes the first address, users the next free ones.\n"
      "wireguard_network_ipv4: {}\n"
      "wireguard_network_ipv6: {}\n"
      "\n"
      "# IPv6 inside the tunnel (clients get an IPv6 address and IPv6 DNS servers).\n"
      "ipv6: {}\n"
      "\n"
      "# Lowers the client MTU to 1420 - reduce_mtu (0-500). 0 keeps 1420: the server clamps\n"
      "# TCP MSS, which is enough on almost every network. Raise it if connections hang.\n"
      "reduce_mtu: {}\n",
      yes_no(c.wireguard_enabled), c.wireguard_port, c.wireguard_persistent_keepalive,
      c.wireguard_network_ipv4.to_string(), yaml_scalar(c.wireguard_network_ipv6.to_string()),
      yes_no(c.ipv6), c.reduce_mtu);

  out += fmt::format(
      "\n"
      "### Firewall ###\n"
      "\n"
      "# Clients cannot reach each other through the server (false for a \"road warrior\" LAN).\n"
      "BetweenClients_DROP: {}\n"
      "# Drop Windows file sharing (SMB, TCP 445) and NetBIOS (137-139) from clients.\n"
      "block_smb: {}\n"
      "block_netbios: {}\n",
      yes_no(c.between_clients_drop), yes_no(c.block_smb), yes_no(c.block_netbios));

  out += fmt::format(
      "\n"
      "### DNS ###\n"
      "\n"
      "# Resolvers written into client profiles.\n"
      "dns_servers:\n");
  items.clear();
  for (const auto& a : c.dns_servers.ipv4) {
    items.push_back(yaml_number_like(a.to_string()));
  }
  render_list(out, "ipv4", items, "  ");
  items.clear();
  for (const auto& a : c.dns_servers.ipv6) {
    items.push_back(yaml_scalar(a.to_string()));
  }
  render_list(out, "ipv6", items, "  ");
  out += fmt::format(
      "\n"
      "# Ad blocking and DNS encryption by the server's own resolver. Accepted now; they take\n"
      "# effect when the built-in resolver lands. Until then clients use dns_servers above.\n"
      "dns_adblocking: {}\n"
      "dns_encryption: {}\n"
      "# Block lists (hosts-file format) for dns_adblocking.\n",
      yes_no(c.dns_adblocking), yes_no(c.dns_encryption));
  items.clear();
  for (const auto& u : c.adblock_lists) {
    items.push_back(yaml_scalar(u));
  }
  render_list(out, "adblock_lists", items);

  out += fmt::format(
      "\n"
      "### Apple profiles (.mobileconfig) ###\n"
      "\n"
      "# Connect on demand: automatically whenever the device is on cellular / on Wi-Fi.\n"
      "ondemand_cellular: {}\n"
      "ondemand_wifi: {}\n"
      "# Wi-Fi networks (SSIDs) where the VPN stays off, e.g. your home network.\n",
      yes_no(c.ondemand_cellular), yes_no(c.ondemand_wifi));
  items.clear();
  for (const auto& s : c.ondemand_wifi_exclude) {
    items.push_back(yaml_scalar(s));
  }
  render_list(out, "ondemand_wifi_exclude", items);

  out += fmt::format(
      "\n"
      "### Waypost ###\n"
      "\n"
      "# Host name or IP address that clients connect to; written into their profiles.\n"
      "endpoint: {}\n"
      "\n"
      "# Name of the server's WireGuard interface.\n"
      "wireguard_interface: {}\n"
      "\n"
      "# Drop all input to the server itself except WireGuard, SSH on ssh_port, ping and DNS\n"
      "# from clients.\n"
      "restrict_input: {}\n"
      "ssh_port: {}\n"
      "\n"
      "# Prometheus metrics at http://<metrics_listen>/metrics, on a loopback address and port\n"
      "# such as 127.0.0.1:9586 or [::1]:9586; \"\" = off.\n"
      "metrics_listen: {}\n"
      "\n"
      "# Segmentation and receive offloads (GSO/GRO) for throughput.\n"
      "offloads: {}\n",
      c.endpoint.empty() ? std::string("\"\"") : yaml_scalar(c.endpoint),
      yaml_scalar(c.wireguard_interface), yes_no(c.restrict_input), c.ssh_port,
      c.metrics_listen.empty() ? std::string("\"\"") : yaml_scalar(c.metrics_listen),
      yes_no(c.offloads));
  return out;
}

Result<std::string> rewrite_users(std::string_view yaml, const std::vector<std::string>& users) {
  std::set<std::string> seen;
  for (const auto& u : users) {
    if (auto st = validate_user_name(u); !st) {
      return st.take_error();
    }
    if (!seen.insert(u).second) {
      return make_error("duplicate user '{}'", u);
    }
  }
  auto original = parse_server_config(yaml);
  if (!original) {
    return original.take_error();
  }
  auto key = find_users_key(yaml);
  if (!key) {
    return key.take_error();
  }
  std::string out;
  if (!key->has_value()) {
    // No users key yet (a hand-written file): add one at the end.
    out = std::string(yaml);
    if (!out.empty() && out.back() != '\n') {
      out += '\n';
    }
    if (users.empty()) {
      out += "users: []\n";
    } else {
      out += "users:\n";
      for (const auto& u : users) {
        out += "  - " + yaml_scalar(u) + "\n";
      }
    }
  } else {
    auto replaced = replace_users(yaml, **key, users);
    if (!replaced) {
      return replaced.take_error();
    }
    out = std::move(*replaced);
  }
  // Whatever the text looked like, the result must mean exactly "the old config with these
  // users"; anything else would silently change a setting the user did not touch.
  auto check = parse_server_config(out);
  ServerConfig expected = std::move(*original);
  expected.users = users;
  if (!check || render_server_config(*check) != render_server_config(expected)) {
    return make_error("cannot update the users list automatically ({}); edit config.yaml by hand",
                      check ? "the layout of the file is unusual" : check.error().message);
  }
  return out;
}

}  // namespace waypost::server
