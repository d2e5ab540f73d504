#include "net/ip.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>

#include <charconv>
#include <cstring>

namespace waypost::net {

IpAddress IpAddress::v4(uint32_t host_order) {
  IpAddress a;
  a.family = Family::kV4;
  a.bytes[0] = uint8_t(host_order >> 24);
  a.bytes[1] = uint8_t(host_order >> 16);
  a.bytes[2] = uint8_t(host_order >> 8);
  a.bytes[3] = uint8_t(host_order);
  return a;
}

IpAddress IpAddress::v4_bytes(const uint8_t* p) {
  IpAddress a;
  a.family = Family::kV4;
  std::memcpy(a.bytes.data(), p, 4);
  return a;
}

IpAddress IpAddress::v6_bytes(const uint8_t* p) {
  IpAddress a;
  a.family = Family::kV6;
  std::memcpy(a.bytes.data(), p, 16);
  return a;
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) {
    return make_error("invalid IP address '{}'", text);
  }
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, text.data(), text.size());
  IpAddress a;
  if (text.find(':') != std::string_view::npos) {
    if (inet_pton(AF_INET6, buf, a.bytes.data()) != 1) {
      return make_error("invalid IPv6 address '{}'", text);
    }
    a.family = Family::kV6;
  } else {
    if (inet_pton(AF_INET, buf, a.bytes.data()) != 1) {
      return make_error("invalid IPv4 address '{}'", text);
    }
    a.family = Family::kV4;
  }
  return a;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof(buf));
  return buf;
}

namespace {
void clear_host_bits(IpAddress& a, int length) {
  for (int i = 0; i < int(a.byte_length()); ++i) {
    int bits_here = length - i * 8;
    if (bits_here >= 8) continue;
    if (bits_here <= 0) {
      a.bytes[i] = 0;
    } else {
      a.bytes[i] &= uint8_t(0xff << (8 - bits_here));
    }
  }
}

Result<Prefix> parse_prefix(std::string_view text, bool clear) {
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return addr.take_error();
  int length = addr->bit_length();
  if (slash != std::string_view::npos) {
    auto len_text = text.substr(slash + 1);
    int parsed = -1;
    auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), parsed);
    if (len_text.empty() || ec != std::errc() || ptr != len_text.data() + len_text.size() ||
        parsed < 0 || parsed > addr->bit_length()) {
      return make_error("invalid prefix length in '{}'", text);
    }
    length = parsed;
  }
  Prefix p{*addr, uint8_t(length)};
  if (clear) clear_host_bits(p.address, length);
  return p;
}
}  // namespace

Result<Prefix> Prefix::parse(std::string_view text) {
  return parse_prefix(text, true);
}
Result<Prefix> Prefix::parse_interface_address(std::string_view text) {
  return parse_prefix(text, false);
}

bool Prefix::contains(const IpAddress& a) const {
  if (a.family != address.family) return false;
  IpAddress masked = a;
  clear_host_bits(masked, length);
  IpAddress mine = address;
  clear_host_bits(mine, length);
  return masked.bytes == mine.bytes;
}

std::string Prefix::to_string() const {
  return address.to_string() + "/" + std::to_string(length);
}

Endpoint Endpoint::from(const IpAddress& ip, uint16_t port) {
  Endpoint e;
  e.addr.sin6_family = AF_INET6;
  e.addr.sin6_port = htons(port);
  if (ip.is_v4()) {
    e.addr.sin6_addr.s6_addr[10] = 0xff;
    e.addr.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&e.addr.sin6_addr.s6_addr[12], ip.bytes.data(), 4);
  } else {
    std::memcpy(e.addr.sin6_addr.s6_addr, ip.bytes.data(), 16);
  }
  return e;
}

std::optional<Endpoint> Endpoint::from_sockaddr(const sockaddr* sa, socklen_t len) {
  if (sa->sa_family == AF_INET && len >= socklen_t(sizeof(sockaddr_in))) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return from(IpAddress::v4_bytes(reinterpret_cast<const uint8_t*>(&in->sin_addr)),
                ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6 && len >= socklen_t(sizeof(sockaddr_in6))) {
    Endpoint e;
    std::memcpy(&e.addr, sa, sizeof(sockaddr_in6));
    e.addr.sin6_flowinfo = 0;
    return e;
  }
  return std::nullopt;
}

namespace {
bool split_host_port(std::string_view text, std::string_view& host, std::string_view& port) {
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return false;  // bare IPv6 needs brackets
  }
  return !host.empty() && !port.empty();
}

Result<uint16_t> parse_port(std::string_view port, std::string_view text) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return make_error("invalid port in endpoint '{}'", text);
  }
  return uint16_t(value);
}
}  // namespace

Result<Endpoint> Endpoint::parse(std::string_view text) {
  std::string_view host, port;
  if (!split_host_port(text, host, port)) {
    return make_error("invalid endpoint '{}' (expected host:port or [v6]:port)", text);
  }
  auto p = parse_port(port, text);
  if (!p) return p.take_error();
  // Strip an IPv6 zone ("fe80::1%eth0") into sin6_scope_id.
  std::string_view zone;
  if (auto pct = host.find('%'); pct != std::string_view::npos) {
    zone = host.substr(pct + 1);
    host = host.substr(0, pct);
  }
  auto ip = IpAddress::parse(host);
  if (!ip) return make_error("invalid endpoint address in '{}'", text);
  Endpoint e = from(*ip, *p);
  if (!zone.empty()) {
    unsigned scope = 0;
    auto [ptr, ec] = std::from_chars(zone.data(), zone.data() + zone.size(), scope);
    if (ec != std::errc() || ptr != zone.data() + zone.size()) {
      std::string z(zone);
      scope = if_nametoindex(z.c_str());
      if (scope == 0) return make_error("unknown interface in endpoint '{}'", text);
    }
    e.addr.sin6_scope_id = scope;
  }
  return e;
}

Result<Endpoint> Endpoint::resolve(std::string_view text) {
  auto numeric = parse(text);
  if (numeric) return numeric;
  std::string_view host, port;
  if (!split_host_port(text, host, port)) return numeric;
  auto p = parse_port(port, text);
  if (!p) return p.take_error();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_protocol = IPPROTO_UDP;
  addrinfo* res = nullptr;
  std::string h(host);
  int rc = getaddrinfo(h.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return make_error("cannot resolve endpoint host '{}': {}", host, gai_strerror(rc));
  }
  // Prefer IPv4 like wg(8)'s resolver order does in practice when both exist? No: take the first
  // answer, which follows the system's address selection policy (RFC 6724, gai.conf).
  auto e = from_sockaddr(res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (!e) return make_error("cannot resolve endpoint host '{}'", host);
  e->addr.sin6_port = htons(*p);
  return *e;
}

bool Endpoint::is_v4() const {
  return IN6_IS_ADDR_V4MAPPED(&addr.sin6_addr);
}

IpAddress Endpoint::ip() const {
  if (is_v4()) return IpAddress::v4_bytes(&addr.sin6_addr.s6_addr[12]);
  return IpAddress::v6_bytes(addr.sin6_addr.s6_addr);
}

std::string Endpoint::to_string() const {
  if (!valid()) return "(none)";
  if (is_v4()) return ip().to_string() + ":" + std::to_string(port());
  std::string host = ip().to_string();
  if (addr.sin6_scope_id != 0) host += "%" + std::to_string(addr.sin6_scope_id);
  return "[" + host + "]:" + std::to_string(port());
}

socklen_t Endpoint::to_sockaddr(sockaddr_storage& out, bool v4_socket) const {
  std::memset(&out, 0, sizeof(out));
  if (v4_socket) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);
    in->sin_family = AF_INET;
    in->sin_port = addr.sin6_port;
    std::memcpy(&in->sin_addr, &addr.sin6_addr.s6_addr[12], 4);
    return sizeof(sockaddr_in);
  }
  std::memcpy(&out, &addr, sizeof(addr));
  return sizeof(sockaddr_in6);
}

bool Endpoint::operator==(const Endpoint& o) const {
  return addr.sin6_port == o.addr.sin6_port &&
         std::memcmp(&addr.sin6_addr, &o.addr.sin6_addr, 16) == 0 &&
         addr.sin6_scope_id == o.addr.sin6_scope_id;
}

}  // namespace waypost::net
