#include "dns/config.h"

#include <charconv>

namespace waypost::dns {

namespace {

struct KnownResolver {
  const char* address;
  const char* tls_name;
};

// Published DNS-over-TLS names of the public resolvers people usually list by address alone
// (Algo's defaults are Cloudflare's). Anything else must name its certificate explicitly.
constexpr KnownResolver kKnownResolvers[] = {
    {"1.1.1.1", "cloudflare-dns.com"},
    {"1.0.0.1", "cloudflare-dns.com"},
    {"2606:4700:4700::1111", "cloudflare-dns.com"},
    {"2606:4700:4700::1001", "cloudflare-dns.com"},
    {"1.1.1.2", "security.cloudflare-dns.com"},
    {"1.0.0.2", "security.cloudflare-dns.com"},
    {"2606:4700:4700::1112", "security.cloudflare-dns.com"},
    {"2606:4700:4700::1002", "security.cloudflare-dns.com"},
    {"1.1.1.3", "family.cloudflare-dns.com"},
    {"1.0.0.3", "family.cloudflare-dns.com"},
    {"2606:4700:4700::1113", "family.cloudflare-dns.com"},
    {"2606:4700:4700::1003", "family.cloudflare-dns.com"},
    {"8.8.8.8", "dns.google"},
    {"8.8.4.4", "dns.google"},
    {"2001:4860:4860::8888", "dns.google"},
    {"2001:4860:4860::8844", "dns.google"},
    {"9.9.9.9", "dns.quad9.net"},
    {"149.112.112.112", "dns.quad9.net"},
    {"2620:fe::fe", "dns.quad9.net"},
    {"2620:fe::9", "dns.quad9.net"},
};

bool valid_tls_name(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.front() == '-') {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return name.find("..") == std::string_view::npos;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

std::string Upstream::to_string() const {
  std::string s = address.to_string();
  s += '@';
  s += std::to_string(port);
  if (!tls_name.empty()) {
    s += '#';
    s += tls_name;
  }
  return s;
}

Result<Upstream> parse_upstream(std::string_view text, bool encryption) {
  const std::string_view original = text;
  Upstream u;
  u.port = encryption ? 853 : 53;
  std::string_view name;
  if (auto hash = text.find('#'); hash != std::string_view::npos) {
    name = text.substr(hash + 1);
    text = text.substr(0, hash);
    if (!valid_tls_name(name)) {
      return make_error("DNS server '{}': invalid TLS name '{}'", original, name);
    }
  }
  std::string_view addr = text;
  std::string_view port;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return make_error("DNS server '{}': missing ']'", original);
    }
    addr = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != '@') {
        return make_error("DNS server '{}': expected '@PORT' after ']'", original);
      }
      port = rest.substr(1);
      has_port = true;
    }
  } else if (auto at = text.find('@'); at != std::string_view::npos) {
    addr = text.substr(0, at);
    port = text.substr(at + 1);
    has_port = true;
  }
  auto ip = net::IpAddress::parse(addr);
  if (!ip) {
    return make_error("DNS server '{}': expected ADDRESS[@PORT][#TLS-NAME], {}", original,
                      ip.error().message);
  }
  u.address = *ip;
  if (has_port) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return make_error("DNS server '{}': invalid port '{}'", original, port);
    }
    u.port = uint16_t(value);
  }
  u.tls_name = std::string(name);
  if (encryption && u.tls_name.empty()) {
    const std::string canonical = u.address.to_string();
    for (const auto& k : kKnownResolvers) {
      if (iequals(canonical, k.address)) u.tls_name = k.tls_name;
    }
    if (u.tls_name.empty()) {
      return make_error(
          "DNS server '{}': DNS-over-TLS needs the server's certificate name; write it as "
          "'{}#dns.example.net'",
          original, u.address.is_v4() ? canonical : "[" + canonical + "]@853");
    }
  }
  return u;
}

Result<BlockResponse> parse_block_response(std::string_view text) {
  if (iequals(text, "0.0.0.0") || iequals(text, "zero") || iequals(text, "null") ||
      iequals(text, "zero_address")) {
    return BlockResponse::kZeroAddress;
  }
  if (iequals(text, "nxdomain")) return BlockResponse::kNxdomain;
  return make_error("dns_block_response: expected '0.0.0.0' or 'nxdomain', got '{}'", text);
}

Status validate(const ResolverConfig& c) {
  if (c.listen.empty()) return make_error("DNS resolver: no listen address");
  if (c.allowed_clients.empty()) {
    return make_error("DNS resolver: no allowed client prefixes (it would answer nobody)");
  }
  if (c.upstreams.empty()) {
    // Never fall back to recursion from the root: that would send every name in plaintext to
    // whichever servers the root delegates to.
    return make_error("DNS resolver: no upstream DNS servers");
  }
  for (const auto& u : c.upstreams) {
    if (u.port == 0) return make_error("DNS server {}: port 0", u.to_string());
    if (c.encryption && u.tls_name.empty()) {
      return make_error(
          "DNS server {}: DNS-over-TLS needs a TLS name to check the certificate against",
          u.to_string());
    }
    if (!u.tls_name.empty() && !valid_tls_name(u.tls_name)) {
      return make_error("DNS server {}: invalid TLS name", u.to_string());
    }
  }
  if (c.upstream_timeout <= 0) return make_error("DNS resolver: upstream timeout must be > 0");
  if (c.max_inflight == 0) return make_error("DNS resolver: max_inflight must be > 0");
  if (c.max_inflight > (1u << 20)) return make_error("DNS resolver: max_inflight too large");
  if (c.cache_bytes < (64u << 10)) {
    return make_error("DNS resolver: cache size {} bytes is below the 64 KiB minimum",
                      c.cache_bytes);
  }
  if (c.cache_bytes > (size_t(4) << 30)) {
    return make_error("DNS resolver: cache size {} bytes is above the 4 GiB maximum",
                      c.cache_bytes);
  }
  if (c.tcp_idle_timeout <= 0) return make_error("DNS resolver: TCP idle timeout must be > 0");
  return {};
}

}  // namespace waypost::dns
