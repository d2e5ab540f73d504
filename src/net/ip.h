#pragma once
// IP addresses, prefixes and UDP endpoints as plain values, with the text forms users type
// ("10.0.0.1/24", "[fd00::1]:51820").

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace waypost::net {

enum class Family : uint8_t { kV4 = 4, kV6 = 6 };

struct IpAddress {
  Family family = Family::kV4;
  std::array<uint8_t, 16> bytes{};  // v4 uses the first 4 bytes

  static IpAddress v4(uint32_t host_order);
  static IpAddress v4_bytes(const uint8_t* p);
  static IpAddress v6_bytes(const uint8_t* p);
  static Result<IpAddress> parse(std::string_view text);

  int bit_length() const { return family == Family::kV4 ? 32 : 128; }
  size_t byte_length() const { return family == Family::kV4 ? 4 : 16; }
  bool is_v4() const { return family == Family::kV4; }
  std::string to_string() const;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 false positive on a defaulted <=>
  auto operator<=>(const IpAddress&) const = default;
};

struct Prefix {
  IpAddress address;  // always stored with host bits cleared
  uint8_t length = 0;

  // Parses "a.b.c.d/n", "x::y/n"; a bare address means a host prefix (/32 or /128).
  // Host bits are cleared, as wg(8) does.
  static Result<Prefix> parse(std::string_view text);
  // Like parse, but keeps host bits (wg-quick Address= "10.0.0.2/24" is an address on a subnet).
  static Result<Prefix> parse_interface_address(std::string_view text);
  bool contains(const IpAddress& a) const;
  bool is_default() const { return length == 0; }
  std::string to_string() const;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 false positive on a defaulted <=>
  auto operator<=>(const Prefix&) const = default;
};

// A UDP endpoint. Stored as sockaddr_in6; IPv4 endpoints are kept as v4-mapped addresses so that
// one dual-stack socket serves both families.
struct Endpoint {
  sockaddr_in6 addr{};

  static Endpoint from(const IpAddress& ip, uint16_t port);
  static std::optional<Endpoint> from_sockaddr(const sockaddr* sa, socklen_t len);
  // Numeric "1.2.3.4:51820" or "[fd00::1]:51820". Hostnames are resolved by resolve().
  static Result<Endpoint> parse(std::string_view text);
  // Numeric parse first, then getaddrinfo for hostnames (used when loading configs).
  static Result<Endpoint> resolve(std::string_view text);

  bool valid() const { return addr.sin6_family == AF_INET6; }
  bool is_v4() const;
  IpAddress ip() const;
  uint16_t port() const { return ntohs(addr.sin6_port); }
  std::string to_string() const;  // the form `wg` prints
  // For sockets of family AF_INET (used when the host has IPv6 disabled).
  socklen_t to_sockaddr(sockaddr_storage& out, bool v4_socket) const;

  bool operator==(const Endpoint& o) const;
};

}  // namespace waypost::net
