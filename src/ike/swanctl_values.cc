#include "ike/swanctl_values.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

#include "common/encoding.h"

namespace waypost::ike {

namespace {

constexpr uint64_t kMaxSeconds = uint64_t{10} * 366 * 24 * 3600;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::optional<uint64_t> decimal(std::string_view s, uint64_t max) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), is_digit)) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

// Host names as local_addrs/remote_addrs take them: letters, digits, '-', '.', '_'.
bool is_hostname(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.front() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z') || c == '-' || c == '.' || c == '_';
  });
}

// The last address of a prefix.
net::IpAddress last_of(const net::Prefix& p) {
  net::IpAddress a = p.address;
  const int bits = a.bit_length();
  for (int i = p.length; i < bits; ++i) a.bytes[i / 8] |= uint8_t(0x80 >> (i % 8));
  return a;
}

// The prefix a range is, if it is one.
std::optional<net::Prefix> as_prefix(const AddressRange& r) {
  const int bits = r.first.bit_length();
  for (int len = bits; len >= 0; --len) {
    if (len < bits && (r.first.bytes[len / 8] & uint8_t(0x80 >> (len % 8))) != 0) break;
    const net::Prefix p{r.first, uint8_t(len)};
    if (last_of(p) == r.last) return p;
  }
  return std::nullopt;
}

struct ProtocolName {
  std::string_view name;
  uint8_t number;
};
constexpr std::array kProtocols{
    ProtocolName{"icmp", 1},       ProtocolName{"tcp", 6},     ProtocolName{"udp", 17},
    ProtocolName{"gre", 47},       ProtocolName{"esp", 50},    ProtocolName{"ah", 51},
    ProtocolName{"ipv6-icmp", 58}, ProtocolName{"icmpv6", 58}, ProtocolName{"sctp", 132},
};

Status parse_proto_port(std::string_view spec, TrafficSelectorSpec& ts) {
  const size_t slash = spec.find('/');
  const std::string_view proto = spec.substr(0, slash);
  if (!proto.empty() && proto != "%any") {
    if (auto n = decimal(proto, 255)) {
      ts.protocol = uint8_t(*n);
    } else {
      auto it = std::find_if(kProtocols.begin(), kProtocols.end(),
                             [&](const ProtocolName& p) { return p.name == lowercase(proto); });
      if (it == kProtocols.end()) {
        return make_error(
            "unknown protocol '{}' (a number or tcp, udp, icmp, ipv6-icmp, sctp, gre)", proto);
      }
      ts.protocol = it->number;
    }
  }
  if (slash == std::string_view::npos) return {};
  const std::string_view port = spec.substr(slash + 1);
  if (port.empty() || port == "%any") return {};
  if (port == "opaque" || port == "%opaque") {
    ts.opaque = true;
    ts.from_port = 65535;
    ts.to_port = 0;
    return {};
  }
  const size_t dash = port.find('-');
  const auto from = decimal(port.substr(0, dash), 65535);
  const auto to = dash == std::string_view::npos ? from : decimal(port.substr(dash + 1), 65535);
  if (!from || !to || *to < *from) {
    return make_error(
        "invalid port '{}' (a number 0-65535 or a range like 1000-2000; service "
        "names are not supported)",
        port);
  }
  if (ts.protocol == 0) return make_error("a port needs a protocol, as in [tcp/{}]", port);
  ts.from_port = uint16_t(*from);
  ts.to_port = uint16_t(*to);
  return {};
}

// "type:value" prefixes of identities.
struct IdPrefix {
  std::string_view prefix;
  IdType type;
};
constexpr std::array kIdPrefixes{
    IdPrefix{"ipv4", IdType::kIpv4},        IdPrefix{"ipv6", IdType::kIpv6},
    IdPrefix{"rfc822", IdType::kRfc822},    IdPrefix{"email", IdType::kRfc822},
    IdPrefix{"userfqdn", IdType::kRfc822},  IdPrefix{"fqdn", IdType::kFqdn},
    IdPrefix{"dns", IdType::kFqdn},         IdPrefix{"asn1dn", IdType::kDerAsn1Dn},
    IdPrefix{"asn1gn", IdType::kDerAsn1Gn}, IdPrefix{"keyid", IdType::kKeyId},
};

// A distinguished name written as text: RDNs "attr=value" separated by ',' or '/'.
bool looks_like_dn(std::string_view s) {
  if (s.find('=') == std::string_view::npos) return false;
  size_t start = s.front() == '/' ? 1 : 0;
  while (start < s.size()) {
    size_t end = s.find_first_of(",/", start);
    if (end == std::string_view::npos) end = s.size();
    const std::string_view rdn = trim(s.substr(start, end - start));
    const size_t eq = rdn.find('=');
    if (eq == 0 || eq == std::string_view::npos) return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

Result<Seconds> parse_time(std::string_view text) {
  text = trim(text);
  uint64_t unit = 1;
  std::string_view digits = text;
  if (!text.empty()) {
    switch (text.back()) {
      case 's':
        digits.remove_suffix(1);
        break;
      case 'm':
        unit = 60;
        digits.remove_suffix(1);
        break;
      case 'h':
        unit = 3600;
        digits.remove_suffix(1);
        break;
      case 'd':
        unit = 86400;
        digits.remove_suffix(1);
        break;
      default:
        break;
    }
  }
  const auto v = decimal(digits, kMaxSeconds);
  if (!v || *v * unit > kMaxSeconds) {
    return make_error("invalid time '{}' (seconds, or a number with s, m, h or d)", text);
  }
  return Seconds(*v * unit);
}

Result<bool> parse_bool(std::string_view text) {
  const std::string v = lowercase(trim(text));
  if (v == "yes" || v == "true" || v == "on" || v == "enabled" || v == "1") return true;
  if (v == "no" || v == "false" || v == "off" || v == "disabled" || v == "0") return false;
  return make_error("invalid value '{}' (yes or no)", text);
}

Result<uint64_t> parse_number(std::string_view text, uint64_t max) {
  text = trim(text);
  std::optional<uint64_t> v;
  if (text.size() > 2 && text[0] == '0' && lower(text[1]) == 'x') {
    uint64_t n = 0;
    const std::string_view hex = text.substr(2);
    auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), n, 16);
    if (ec == std::errc() && ptr == hex.data() + hex.size() && n <= max) v = n;
  } else {
    v = decimal(text, max);
  }
  if (!v) return make_error("invalid number '{}' (0-{})", text, max);
  return *v;
}

Result<std::vector<std::string>> split_list(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string_view item =
        trim(text.substr(start, comma == std::string_view::npos ? text.npos : comma - start));
    if (item.empty() && comma != std::string_view::npos) {
      return make_error("empty entry in the list '{}'", text);
    }
    while (!item.empty()) {
      size_t end = item.find_first_of(" \t");
      if (end == std::string_view::npos) end = item.size();
      out.emplace_back(item.substr(0, end));
      item = trim(item.substr(end));
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

bool AddressRange::contains(const net::IpAddress& a) const {
  return a.family == first.family && first <= a && a <= last;
}

Result<AddressRange> parse_address_range(std::string_view text) {
  text = trim(text);
  const size_t dash = text.find('-');
  if (dash != std::string_view::npos) {
    auto first = net::IpAddress::parse(text.substr(0, dash));
    auto last = net::IpAddress::parse(text.substr(dash + 1));
    if (!first || !last) return make_error("invalid address range '{}'", text);
    if (first->family != last->family || *last < *first) {
      return make_error(
          "invalid address range '{}' (the first address must come first, both of "
          "one family)",
          text);
    }
    return AddressRange{*first, *last};
  }
  if (text.find('/') != std::string_view::npos) {
    auto p = net::Prefix::parse(text);
    if (!p) return make_error("invalid subnet '{}'", text);
    return AddressRange{p->address, last_of(*p)};
  }
  auto a = net::IpAddress::parse(text);
  if (!a) return make_error("invalid address '{}'", text);
  return AddressRange{*a, *a};
}

std::string to_string(const AddressRange& r) {
  if (r.first == r.last) return r.first.to_string();
  if (auto p = as_prefix(r)) return p->to_string();
  return r.first.to_string() + "-" + r.last.to_string();
}

bool AddressSpec::is_specific() const {
  return kind == Kind::kHostname || (kind == Kind::kRange && range.first == range.last);
}

Result<AddressSpec> parse_address_spec(std::string_view text) {
  AddressSpec spec;
  spec.text = std::string(text);
  if (text == "%any") return spec;
  if (text == "%any4") {
    spec.family = net::Family::kV4;
    return spec;
  }
  if (text == "%any6") {
    spec.family = net::Family::kV6;
    return spec;
  }
  const bool numeric = text.find_first_of(":/") != std::string_view::npos ||
                       (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
                         return is_digit(c) || c == '.' || c == '-';
                       }));
  if (numeric) {
    auto range = parse_address_range(text);
    if (!range) return range.take_error();
    spec.kind = AddressSpec::Kind::kRange;
    spec.range = *range;
    spec.family = range->first.family;
    return spec;
  }
  if (!is_hostname(text)) {
    return make_error("invalid address '{}' (an IP address, subnet, range, host name or %any)",
                      text);
  }
  spec.kind = AddressSpec::Kind::kHostname;
  return spec;
}

Result<TrafficSelectorSpec> parse_traffic_selector(std::string_view text) {
  TrafficSelectorSpec ts;
  ts.text = std::string(text);
  std::string_view net = text;
  if (const size_t open = text.find('['); open != std::string_view::npos) {
    if (text.back() != ']' || text.find('[', open + 1) != std::string_view::npos) {
      return make_error("invalid traffic selector '{}' (expected subnet[protocol/port])", text);
    }
    if (auto st = parse_proto_port(text.substr(open + 1, text.size() - open - 2), ts); !st) {
      return st.take_error().context(fmt::format("traffic selector '{}'", text));
    }
    net = text.substr(0, open);
  }
  if (net == "dynamic") {
    ts.dynamic = true;
    return ts;
  }
  if (net.empty()) return make_error("traffic selector '{}' has no subnet", text);
  auto range = parse_address_range(net);
  if (!range) return range.take_error();
  ts.range = *range;
  return ts;
}

bool Identity::matches(const Identity& other) const {
  if (any) return true;
  if (other.any || type != other.type) return false;
  if (type == IdType::kFqdn || type == IdType::kRfc822) {
    return lowercase(value) == lowercase(other.value);
  }
  return value == other.value;
}

Result<Identity> parse_identity(std::string_view text) {
  Identity id;
  id.text = std::string(text);
  text = trim(text);
  if (text.empty() || text == "%any" || text == "%any4" || text == "%any6") return id;
  id.any = false;
  if (const size_t colon = text.find(':'); colon != std::string_view::npos) {
    const std::string prefix = lowercase(text.substr(0, colon));
    auto it = std::find_if(kIdPrefixes.begin(), kIdPrefixes.end(),
                           [&](const IdPrefix& p) { return p.prefix == prefix; });
    if (it != kIdPrefixes.end()) {
      id.type = it->type;
      id.value = std::string(text.substr(colon + 1));
      if (id.value.empty()) return make_error("identity '{}' has no value", text);
      if (id.value.front() == '#') {
        std::vector<uint8_t> bytes((id.value.size() - 1) / 2);
        if (id.value.size() < 3 || id.value.size() % 2 == 0 ||
            !from_hex(std::string_view(id.value).substr(1), bytes)) {
          return make_error("identity '{}': invalid hex after '#'", text);
        }
      }
      return id;
    }
    if (prefix.starts_with("{")) {
      return make_error("identity '{}': numeric identity types are not supported", text);
    }
  }
  if (auto ip = net::IpAddress::parse(text)) {
    id.type = ip->is_v4() ? IdType::kIpv4 : IdType::kIpv6;
    id.value = ip->to_string();
    return id;
  }
  if (looks_like_dn(text)) {
    id.type = IdType::kDerAsn1Dn;
    id.value = std::string(text);
    return id;
  }
  if (text.find('=') != std::string_view::npos) {
    return make_error(
        "identity '{}' looks like a distinguished name but is not one "
        "(expected attr=value parts separated by commas, as in C=CH, O=x, CN=y)",
        text);
  }
  if (text.front() == '@') {
    if (text.size() > 1 && text[1] == '#') {
      return make_error("identity '{}': '@#' key IDs are not supported (use keyid:#hex)", text);
    }
    id.type = IdType::kFqdn;
    id.value = std::string(text.substr(1));
    if (!id.value.empty() && id.value.front() == '@') {  // "@@user@domain": an e-mail identity
      id.type = IdType::kRfc822;
      id.value.erase(0, 1);
    }
    if (id.value.empty()) return make_error("identity '{}' has no name after '@'", text);
    return id;
  }
  id.type = text.find('@') != std::string_view::npos ? IdType::kRfc822 : IdType::kFqdn;
  id.value = std::string(text);
  return id;
}

Result<SecretBytes> parse_secret(std::string_view text) {
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    const std::string_view hex = text.substr(2);
    SecretBytes bytes(hex.size() / 2);
    if (hex.empty() || hex.size() % 2 != 0 || !from_hex(hex, bytes.span())) {
      return make_error("invalid hex secret after '0x'");  // never echo the secret
    }
    return bytes;
  }
  if (text.size() >= 2 && text[0] == '0' && text[1] == 's') {
    const std::string_view b64 = text.substr(2);
    size_t pad = 0;
    if (!b64.empty() && b64.back() == '=') ++pad;
    if (b64.size() > 1 && b64[b64.size() - 2] == '=') ++pad;
    SecretBytes bytes(b64.size() % 4 == 0 ? b64.size() / 4 * 3 - pad : 0);
    if (b64.empty() || b64.size() % 4 != 0 || !from_base64(b64, bytes.span())) {
      return make_error("invalid Base64 secret after '0s'");
    }
    return bytes;
  }
  if (text.empty()) return make_error("empty secret");
  return SecretBytes(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace waypost::ike
