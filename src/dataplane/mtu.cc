#include "dataplane/mtu.h"

#include <algorithm>
#include <cstring>

#include "common/bytes.h"

namespace waypost::dataplane {
namespace {

constexpr uint32_t kIcmpHeaderSize = 8;
constexpr uint8_t kDefaultTtl = 64;

constexpr uint16_t kIpv4Reserved = 0x8000;
constexpr uint16_t kIpv4DontFragment = 0x4000;
constexpr uint16_t kIpv4MoreFragments = 0x2000;
constexpr uint16_t kIpv4OffsetMask = 0x1fff;

constexpr uint8_t kV6HopByHop = 0;
constexpr uint8_t kV6Routing = 43;
constexpr uint8_t kV6Fragment = 44;
constexpr uint8_t kV6DestinationOptions = 60;
constexpr int kMaxExtensionHeaders = 8;

constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpOptionEnd = 0;
constexpr uint8_t kTcpOptionNop = 1;
constexpr uint8_t kTcpOptionMss = 2;
constexpr uint8_t kTcpOptionMssLength = 4;

constexpr uint8_t kIpOptionEnd = 0;
constexpr uint8_t kIpOptionNop = 1;
constexpr uint8_t kIpOptionCopied = 0x80;

constexpr uint16_t byte_swap(uint16_t v) {
  return uint16_t(v << 8 | v >> 8);
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), in one's-complement arithmetic. Unlike eqn. 2 it
// cannot produce 0xffff where a full recomputation would give 0x0000.
uint16_t checksum_replace(uint16_t check, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = uint32_t(uint16_t(~check)) + uint16_t(~old_word) + new_word;
  return uint16_t(~checksum_fold(sum));
}

void set_ipv4_header_checksum(uint8_t* header, uint32_t header_length) {
  store_be16(header + 10, 0);
  store_be16(header + 10, checksum_finish(checksum_add(0, header, header_length)));
}

// RFC 1812 4.3.2.7 and RFC 1122 3.2.2: no error to a source that does not name one host.
bool ipv4_unicast_source(const uint8_t* a) {
  return a[0] != 0 && a[0] != 127 && a[0] < 224;  // 0/8, loopback, multicast, class E/broadcast
}

bool ipv4_group_destination(const uint8_t* a) {
  const bool limited_broadcast = a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255;
  return (a[0] >= 224 && a[0] < 240) || limited_broadcast;
}

bool ipv6_unicast_source(const uint8_t* a) {
  if (a[0] == 0xff) {
    return false;  // multicast
  }
  static constexpr uint8_t kZero[15] = {};
  if (std::memcmp(a, kZero, 15) == 0 && (a[15] == 0 || a[15] == 1)) {
    return false;  // unspecified or loopback
  }
  return true;
}

// ICMPv4 error types (RFC 1812 4.3.2.7 "ICMP error message"): destination unreachable, source
// quench, redirect, time exceeded, parameter problem.
bool icmpv4_error_type(uint8_t type) {
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

uint32_t packet_too_big_v4(const uint8_t* packet, const TransportHeader& l4, uint32_t mtu,
                           const net::IpAddress& from, uint8_t* out, uint32_t out_capacity) {
  if (!from.is_v4() || (load_be16(packet + 6) & kIpv4DontFragment) == 0) {
    return 0;
  }
  const uint32_t length = l4.end;
  const uint32_t reported = std::max(mtu, kIpv4MinMtu);
  if (length <= reported) {
    return 0;
  }
  if (l4.protocol == kIpProtoIcmp) {
    // A first fragment too short to show its ICMP type might be an error: stay silent.
    if (l4.offset >= length || icmpv4_error_type(packet[l4.offset])) {
      return 0;
    }
  }
  if (!ipv4_unicast_source(packet + 12) || ipv4_group_destination(packet + 16)) {
    return 0;
  }
  constexpr uint32_t kHeaders = kIpv4HeaderSize + kIcmpHeaderSize;
  const uint32_t min_quote = std::min(length, l4.offset + 8);
  if (out_capacity < kHeaders + min_quote) {
    return 0;
  }
  const uint32_t quote = std::min({length, kIcmpV4ErrorMax - kHeaders, out_capacity - kHeaders});
  const uint32_t total = kHeaders + quote;

  out[0] = 0x45;
  out[1] = 0;
  store_be16(out + 2, uint16_t(total));
  store_be16(out + 4, 0);  // RFC 6864: atomic datagrams may use any identification
  store_be16(out + 6, kIpv4DontFragment);
  out[8] = kDefaultTtl;
  out[9] = kIpProtoIcmp;
  std::memcpy(out + 12, from.bytes.data(), 4);
  std::memcpy(out + 16, packet + 12, 4);
  set_ipv4_header_checksum(out, kIpv4HeaderSize);

  uint8_t* icmp = out + kIpv4HeaderSize;
  icmp[0] = 3;  // destination unreachable
  icmp[1] = 4;  // fragmentation needed and DF set
  store_be16(icmp + 2, 0);
  store_be16(icmp + 4, 0);
  store_be16(icmp + 6, uint16_t(reported));  // RFC 1191 next-hop MTU; < length <= 65535
  std::memcpy(icmp + kIcmpHeaderSize, packet, quote);
  store_be16(icmp + 2, checksum_finish(checksum_add(0, icmp, kIcmpHeaderSize + quote)));
  return total;
}

uint32_t packet_too_big_v6(const uint8_t* packet, const TransportHeader& l4, uint32_t mtu,
                           const net::IpAddress& from, uint8_t* out, uint32_t out_capacity) {
  if (from.is_v4()) {
    return 0;
  }
  const uint32_t length = l4.end;
  const uint32_t reported = std::max(mtu, kIpv6MinMtu);
  if (length <= reported) {
    return 0;
  }
  if (l4.protocol == kIpProtoIcmpV6) {
    if (l4.offset >= length || packet[l4.offset] < 128) {
      return 0;  // an ICMPv6 error (or too short to tell)
    }
  }
  // RFC 4443 2.4(e) allows Packet Too Big for multicast destinations, so only the source is
  // checked.
  if (!ipv6_unicast_source(packet + 8)) {
    return 0;
  }
  constexpr uint32_t kHeaders = kIpv6HeaderSize + kIcmpHeaderSize;
  const uint32_t min_quote = std::min(length, kIpv6HeaderSize + 8);
  if (out_capacity < kHeaders + min_quote) {
    return 0;
  }
  const uint32_t quote = std::min({length, kIcmpV6ErrorMax - kHeaders, out_capacity - kHeaders});
  const uint32_t icmp_length = kIcmpHeaderSize + quote;

  store_be32(out, 0x60000000);  // version 6, traffic class 0, flow label 0
  store_be16(out + 4, uint16_t(icmp_length));
  out[6] = kIpProtoIcmpV6;
  out[7] = kDefaultTtl;
  std::memcpy(out + 8, from.bytes.data(), 16);
  std::memcpy(out + 24, packet + 8, 16);

  uint8_t* icmp = out + kIpv6HeaderSize;
  icmp[0] = 2;  // packet too big
  icmp[1] = 0;
  store_be16(icmp + 2, 0);
  store_be32(icmp + 4, reported);
  std::memcpy(icmp + kIcmpHeaderSize, packet, quote);
  uint64_t sum = pseudo_header_v6(out, kIpProtoIcmpV6, icmp_length);
  store_be16(icmp + 2, checksum_finish(checksum_add(sum, icmp, icmp_length)));
  return kIpv6HeaderSize + icmp_length;
}

// Collects the IP options a non-first fragment carries (RFC 791: those with the copied flag).
// Returns false on a malformed option list.
bool copied_ipv4_options(const uint8_t* options, uint32_t length, uint8_t* out,
                         uint32_t& out_length) {
  out_length = 0;
  uint32_t i = 0;
  while (i < length) {
    const uint8_t type = options[i];
    if (type == kIpOptionEnd) {
      break;
    }
    if (type == kIpOptionNop) {
      ++i;  // not copied
      continue;
    }
    if (length - i < 2) {
      return false;
    }
    const uint8_t option_length = options[i + 1];
    if (option_length < 2 || option_length > length - i) {
      return false;
    }
    if ((type & kIpOptionCopied) != 0) {
      std::memcpy(out + out_length, options + i, option_length);
      out_length += option_length;
    }
    i += option_length;
  }
  return true;
}

}  // namespace

std::optional<TransportHeader> find_transport_header(const uint8_t* packet, uint32_t size) {
  if (packet == nullptr || size < 1) {
    return std::nullopt;
  }
  const int version = packet[0] >> 4;
  if (version == 4) {
    if (size < kIpv4HeaderSize) {
      return std::nullopt;
    }
    const uint32_t ihl = uint32_t(packet[0] & 0x0f) * 4;
    const uint32_t total = load_be16(packet + 2);
    if (ihl < kIpv4HeaderSize || total < ihl || total > size) {
      return std::nullopt;
    }
    const uint16_t fragment = load_be16(packet + 6);
    if ((fragment & kIpv4OffsetMask) != 0) {
      return std::nullopt;
    }
    return TransportHeader{packet[9], ihl, total, (fragment & kIpv4MoreFragments) != 0};
  }
  if (version != 6 || size < kIpv6HeaderSize) {
    return std::nullopt;
  }
  const uint32_t end = kIpv6HeaderSize + load_be16(packet + 4);
  if (end > size) {
    return std::nullopt;
  }
  uint8_t next = packet[6];
  uint32_t offset = kIpv6HeaderSize;
  bool fragment = false;
  for (int count = 0;; ++count) {
    if (next != kV6HopByHop && next != kV6Routing && next != kV6DestinationOptions &&
        next != kV6Fragment) {
      return TransportHeader{next, offset, end, fragment};
    }
    // Every walked extension header is at least 8 bytes; offset <= end holds throughout.
    if (count == kMaxExtensionHeaders || end - offset < 8) {
      return std::nullopt;
    }
    if (next == kV6HopByHop && count != 0) {
      return std::nullopt;  // RFC 8200 4.1: hop-by-hop only right after the IPv6 header
    }
    const uint8_t* h = packet + offset;
    uint32_t length = 8;
    if (next == kV6Fragment) {
      const uint16_t offset_flags = load_be16(h + 2);
      if ((offset_flags & 0xfff8) != 0) {
        return std::nullopt;  // non-first fragment
      }
      fragment = fragment || (offset_flags & 1) != 0;
    } else {
      length = (uint32_t(h[1]) + 1) * 8;
      if (length > end - offset) {
        return std::nullopt;
      }
    }
    next = h[0];
    offset += length;
  }
}

uint16_t mss_for_mtu(uint32_t mtu, bool ipv6) {
  const uint32_t overhead =
      ipv6 ? kIpv6HeaderSize + kTcpHeaderSize : kIpv4HeaderSize + kTcpHeaderSize;
  if (mtu <= overhead) {
    return 0;
  }
  return uint16_t(std::min<uint32_t>(mtu - overhead, 0xffff));
}

bool clamp_tcp_mss(uint8_t* packet, uint32_t size, uint16_t max_mss) {
  if (max_mss == 0) {
    return false;
  }
  const std::optional<TransportHeader> l4 = find_transport_header(packet, size);
  if (!l4 || l4->protocol != kIpProtoTcp || l4->end - l4->offset < kTcpHeaderSize) {
    return false;
  }
  uint8_t* tcp = packet + l4->offset;
  if ((tcp[13] & kTcpSyn) == 0) {
    return false;
  }
  const uint32_t data_offset = uint32_t(tcp[12] >> 4) * 4;
  if (data_offset < kTcpHeaderSize || data_offset > l4->end - l4->offset) {
    return false;
  }

  // Validate the whole option list before changing anything: a malformed list is left as is.
  // At most 10 MSS options fit in 40 bytes of options.
  uint32_t mss_positions[10];
  int mss_count = 0;
  uint32_t i = kTcpHeaderSize;
  while (i < data_offset) {
    const uint8_t kind = tcp[i];
    if (kind == kTcpOptionEnd) {
      break;
    }
    if (kind == kTcpOptionNop) {
      ++i;
      continue;
    }
    if (data_offset - i < 2) {
      return false;
    }
    const uint8_t length = tcp[i + 1];
    if (length < 2 || length > data_offset - i) {
      return false;
    }
    if (kind == kTcpOptionMss) {
      if (length != kTcpOptionMssLength) {
        return false;
      }
      mss_positions[mss_count++] = i + 2;
    }
    i += length;
  }

  bool changed = false;
  uint16_t check = load_be16(tcp + 16);
  for (int k = 0; k < mss_count; ++k) {
    const uint32_t at = mss_positions[k];
    const uint16_t old_mss = load_be16(tcp + at);
    if (old_mss <= max_mss) {
      continue;
    }
    store_be16(tcp + at, max_mss);
    // The TCP header starts at an even offset, so the checksum's 16-bit words are aligned with
    // it. A field at an odd offset straddles two words, its high byte in the low half of one
    // and its low byte in the high half of the next: it adds its byte-swapped value to the sum.
    if ((at & 1) != 0) {
      check = checksum_replace(check, byte_swap(old_mss), byte_swap(max_mss));
    } else {
      check = checksum_replace(check, old_mss, max_mss);
    }
    changed = true;
  }
  if (changed) {
    store_be16(tcp + 16, check);
  }
  return changed;
}

bool ipv4_dont_fragment(const uint8_t* packet, uint32_t size) {
  return packet != nullptr && size >= kIpv4HeaderSize && (packet[0] >> 4) == 4 &&
         (load_be16(packet + 6) & kIpv4DontFragment) != 0;
}

uint32_t make_packet_too_big(const uint8_t* packet, uint32_t size, uint32_t mtu,
                             const net::IpAddress& from, uint8_t* out, uint32_t out_capacity) {
  if (out == nullptr) {
    return 0;
  }
  const std::optional<TransportHeader> l4 = find_transport_header(packet, size);
  if (!l4) {
    return 0;  // malformed, or a non-first fragment
  }
  if ((packet[0] >> 4) == 4) {
    return packet_too_big_v4(packet, *l4, mtu, from, out, out_capacity);
  }
  return packet_too_big_v6(packet, *l4, mtu, from, out, out_capacity);
}

bool fragment_ipv4(const uint8_t* packet, uint32_t size, uint32_t mtu, uint8_t* scratch,
                   uint32_t scratch_capacity, FragmentFn emit, void* context) {
  if (packet == nullptr || size < kIpv4HeaderSize || (packet[0] >> 4) != 4) {
    return false;
  }
  const uint32_t header_length = uint32_t(packet[0] & 0x0f) * 4;
  const uint32_t total = load_be16(packet + 2);
  if (header_length < kIpv4HeaderSize || total < header_length || total > size) {
    return false;
  }
  if (total <= mtu) {
    emit(context, packet, total);
    return true;
  }
  const uint16_t flags_offset = load_be16(packet + 6);
  const uint32_t limit = std::min(mtu, scratch_capacity);
  if ((flags_offset & kIpv4DontFragment) != 0 || limit < kIpv4MinMtu || scratch == nullptr) {
    return false;
  }

  uint8_t later_options[40];
  uint32_t later_options_length = 0;
  if (!copied_ipv4_options(packet + kIpv4HeaderSize, header_length - kIpv4HeaderSize, later_options,
                           later_options_length)) {
    return false;
  }
  const uint32_t later_header_length = kIpv4HeaderSize + (later_options_length + 3) / 4 * 4;

  const uint32_t payload = total - header_length;
  const uint32_t base = uint32_t(flags_offset & kIpv4OffsetMask) * 8;
  // The last piece must still start at an offset that fits 13 bits (in units of 8); a datagram
  // reaching past 65535 bytes is invalid anyway.
  if (base + payload > 0xffff) {
    return false;
  }
  const bool more_after = (flags_offset & kIpv4MoreFragments) != 0;
  // With limit >= 68 and headers <= 60 bytes, each fragment carries at least 8 bytes.
  const uint32_t first_chunk = (limit - header_length) / 8 * 8;
  const uint32_t later_chunk = (limit - later_header_length) / 8 * 8;

  uint32_t position = 0;
  while (position < payload) {
    const bool first = position == 0;
    const uint32_t this_header = first ? header_length : later_header_length;
    const uint32_t chunk = first ? first_chunk : later_chunk;
    const bool last = payload - position <= chunk;
    const uint32_t length = last ? payload - position : chunk;

    std::memcpy(scratch, packet, kIpv4HeaderSize);
    if (first) {
      std::memcpy(scratch + kIpv4HeaderSize, packet + kIpv4HeaderSize,
                  header_length - kIpv4HeaderSize);
    } else {
      std::memcpy(scratch + kIpv4HeaderSize, later_options, later_options_length);
      std::memset(scratch + kIpv4HeaderSize + later_options_length, kIpOptionEnd,
                  later_header_length - kIpv4HeaderSize - later_options_length);
    }
    scratch[0] = uint8_t(0x40 | this_header / 4);
    store_be16(scratch + 2, uint16_t(this_header + length));
    auto field = uint16_t((flags_offset & kIpv4Reserved) | (base + position) / 8);
    if (!last || more_after) {
      field |= kIpv4MoreFragments;
    }
    store_be16(scratch + 6, field);
    set_ipv4_header_checksum(scratch, this_header);
    std::memcpy(scratch + this_header, packet + header_length + position, length);
    emit(context, scratch, this_header + length);
    position += length;
  }
  return true;
}

}  // namespace waypost::dataplane
