#pragma once
// MTU handling on raw inner packets, so that a tunnel whose path MTU is smaller than the TUN MTU
// never turns into a blackhole:
//   - clamp_tcp_mss lowers the MSS option of SYN and SYN-ACK segments, which covers TCP in both
//     directions even when only one end of the tunnel runs Waypost (see LAB-NOTES.md);
//   - make_packet_too_big synthesizes the ICMP error a router would send for a packet that does
//     not fit (IPv4 with DF, and IPv6), addressed to the local sender through the TUN device;
//   - fragment_ipv4 splits IPv4 packets without DF, as a router would.
// Everything here works in place or in caller-provided buffers: nothing allocates, and no header
// field (lengths, IHL, option lengths, extension header lengths) is trusted before it is checked
// against the bytes actually present.

#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>

#include "common/checksum.h"
#include "net/ip.h"

namespace waypost::dataplane {

constexpr uint32_t kIpv4HeaderSize = 20;  // without options
constexpr uint32_t kIpv6HeaderSize = 40;
constexpr uint32_t kUdpHeaderSize = 8;
constexpr uint32_t kTcpHeaderSize = 20;  // without options
constexpr uint32_t kEthernetMtu = 1500;

// What a tunnel that carries inner packets in UDP adds to each of them: the protocol's own bytes
// (`protocol_bytes`: WireGuard's header and tag; ESP's SPI, sequence, IV, trailer and ICV) plus
// UDP and the outer IP header. The one place this arithmetic is written down.
constexpr uint32_t udp_tunnel_overhead(uint32_t protocol_bytes, net::Family outer) {
  return protocol_bytes + kUdpHeaderSize +
         (outer == net::Family::kV4 ? kIpv4HeaderSize : kIpv6HeaderSize);
}

constexpr uint32_t kIpv4MinMtu = 68;        // RFC 791: every IPv4 link carries 68 bytes
constexpr uint32_t kIpv6MinMtu = 1280;      // RFC 8200 section 5
constexpr uint32_t kIcmpV4ErrorMax = 576;   // RFC 1812 4.3.2.3: ICMP errors stay within 576
constexpr uint32_t kIcmpV6ErrorMax = 1280;  // RFC 4443 2.4(c): within the IPv6 minimum MTU

constexpr uint8_t kIpProtoIcmp = 1;
constexpr uint8_t kIpProtoTcp = 6;
constexpr uint8_t kIpProtoIcmpV6 = 58;

// Checksums: common/checksum.h (checksum_add / checksum_fold / checksum_finish / pseudo_header_*).

// --- Locating the upper-layer header ----------------------------------------------------------

struct TransportHeader {
  uint8_t protocol = 0;   // IPv4 protocol, or IPv6 next header after the walked extensions
  uint32_t offset = 0;    // where that header starts (even: IHL and extension lengths are)
  uint32_t end = 0;       // end of the IP packet according to its header (<= size)
  bool fragment = false;  // a first fragment: the upper layer continues in other fragments
};

// Finds the upper-layer header of an IPv4 or IPv6 packet. Returns nullopt for malformed packets
// (bad version, IHL, total/payload length beyond `size`, truncated extension header) and for
// non-first fragments, which carry no upper-layer header. IPv6 extension headers walked: hop-by-
// hop (first only), routing, destination options and fragment, at most 8 of them; anything else
// (AH, ESP, No Next Header, ...) is returned as the protocol, so callers leave it alone. An IPv6
// payload length of 0 (jumbogram) leaves no room for an upper layer and is treated as malformed
// by the callers below.
std::optional<TransportHeader> find_transport_header(const uint8_t* packet, uint32_t size);

// --- TCP MSS clamping -------------------------------------------------------------------------

// The MSS that keeps a TCP segment within `mtu`: mtu - 40 for IPv4, mtu - 60 for IPv6 (fixed
// headers only; TCP options are counted in the segment by the sender, RFC 6691). 0 when the
// MTU cannot carry any payload; saturates at 65535.
uint16_t mss_for_mtu(uint32_t mtu, bool ipv6);

// If `packet` is an IPv4 or IPv6 packet carrying a TCP segment with SYN set (SYN or SYN-ACK)
// whose MSS option exceeds `max_mss`, lowers it to `max_mss`, updates the TCP checksum
// incrementally (RFC 1624) and returns true. Left untouched (false): non-TCP, non-SYN, non-first
// fragments, first fragments without the whole TCP header, IPv6 headers find_transport_header
// does not walk (including AH, whose ICV would break), truncated packets, malformed option lists
// (an option running past the data offset, length < 2, an MSS option whose length is not 4), and
// SYNs without an MSS option (adding one would grow the packet). Every MSS option present is
// clamped. max_mss 0 clamps nothing.
bool clamp_tcp_mss(uint8_t* packet, uint32_t size, uint16_t max_mss);

// --- ICMP "fragmentation needed" / "packet too big" --------------------------------------------

// True for a well-formed-enough IPv4 header with DF set.
bool ipv4_dont_fragment(const uint8_t* packet, uint32_t size);

// Builds in `out` the ICMP error telling the sender of `packet` that it does not fit `mtu`, sent
// from `from` (a tunnel address of this host, same family) to the packet's source, TTL/hop limit
// 64. IPv4: type 3 code 4 with the next-hop MTU, only for packets with DF (others are
// fragmented instead), quoting the original from its IP header on, the whole error within 576
// bytes. IPv6: type 2 (Packet Too Big), quoting up to 1280 bytes in all; the reported MTU is at
// least 1280, since no IPv6 link may be smaller. The quote is shortened to fit out_capacity but
// must include the IP header and 8 more bytes. `out` must not overlap `packet`.
// Returns the error's length, or 0 when no error must be sent: the packet fits the (reported)
// MTU; it is malformed or a non-first fragment; it is an ICMP error itself (v4 types 3, 4, 5, 11,
// 12; v6 types < 128); its source is unspecified, loopback, multicast or (v4) broadcast or class
// E; (v4) its destination is multicast or the limited broadcast (RFC 1812 4.3.2.7); `from` has
// the other family; or out_capacity is too small.
uint32_t make_packet_too_big(const uint8_t* packet, uint32_t size, uint32_t mtu,
                             const net::IpAddress& from, uint8_t* out, uint32_t out_capacity);

// --- IPv4 fragmentation (RFC 791) ---------------------------------------------------------------

// Receives one fragment; the bytes are valid only during the call (they live in the scratch
// buffer, which the next fragment overwrites).
using FragmentFn = void (*)(void* context, const uint8_t* fragment, uint32_t length);

// Splits an IPv4 packet into fragments of at most min(mtu, scratch_capacity) bytes, built one
// at a time in `scratch` and passed to `emit`. Payload offsets are multiples of 8; an already
// fragmented input keeps its offset base, and its MF bit is carried on its last piece; the first
// fragment keeps all IP options, the others only those with the "copied" bit; every header
// checksum is recomputed; identification, TOS, TTL, protocol and addresses are kept.
// A packet that already fits `mtu` is emitted once, unchanged, straight from `packet`.
// Returns false and emits nothing when the packet has to be split but cannot be: DF set,
// mtu (or the scratch buffer) below 68, malformed header or options, or offsets that would not
// fit 13 bits.
bool fragment_ipv4(const uint8_t* packet, uint32_t size, uint32_t mtu, uint8_t* scratch,
                   uint32_t scratch_capacity, FragmentFn emit, void* context);

// The same with any callable `void(const uint8_t*, uint32_t)`; no allocation (the callable is
// passed by address).
template <typename Emit>
bool fragment_ipv4(const uint8_t* packet, uint32_t size, uint32_t mtu, uint8_t* scratch,
                   uint32_t scratch_capacity, Emit&& emit) {
  using E = std::remove_reference_t<Emit>;
  return fragment_ipv4(
      packet, size, mtu, scratch, scratch_capacity,
      [](void* context, const uint8_t* fragment, uint32_t length) {
        (*static_cast<E*>(context))(fragment, length);
      },
      const_cast<void*>(static_cast<const void*>(std::addressof(emit))));
}

}  // namespace waypost::dataplane
