#pragma once
// ICMP and ICMPv6 echo messages as raw sockets send and receive them: a request is the ICMP
// message alone (the kernel adds the IP header); what a raw IPv4 socket receives starts with
// the IP header, what a raw ICMPv6 socket receives does not (RFC 3542 3).

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "net/ip.h"

namespace waypost::net {

// An echo request of `family` with `id`, `seq` and `payload`. The IPv4 checksum is filled in;
// the ICMPv6 one is left 0 for the kernel, which must fill it (it needs the pseudo-header).
std::vector<uint8_t> make_echo_request(Family family, uint16_t id, uint16_t seq,
                                       std::span<const uint8_t> payload);

struct EchoReply {
  uint16_t id = 0;
  uint16_t seq = 0;
  std::span<const uint8_t> payload;  // a view into the received bytes
};

// The echo reply in what a raw socket of `family` received, or nothing when it is anything
// else (another ICMP type, a truncated or malformed packet, an IPv4 fragment).
std::optional<EchoReply> parse_echo_reply(Family family, std::span<const uint8_t> received);

}  // namespace waypost::net
