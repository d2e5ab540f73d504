// Packet builders for the MTU tests: IPv4/IPv6 TCP and UDP packets with correct checksums, and
// an RFC 1071 checksum written independently of the production code, so the tests never check
// the code against itself.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

namespace waypost::dataplane::mtu_test {

using Bytes = std::vector<uint8_t>;

inline uint16_t be16(const Bytes& b, size_t at) {
  return uint16_t(b[at] << 8 | b[at + 1]);
}
inline uint32_t be32(const Bytes& b, size_t at) {
  return uint32_t(be16(b, at)) << 16 | be16(b, at + 2);
}
inline void put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = uint8_t(v >> 8);
  b[at + 1] = uint8_t(v);
}

// RFC 1071, the plain way: 32-bit accumulator over 16-bit words, folded at the end.
inline uint16_t reference_checksum(const Bytes& data) {
  uint32_t sum = 0;
  for (size_t i = 0; i < data.size(); i += 2) {
    uint32_t word = uint32_t(data[i]) << 8;
    if (i + 1 < data.size()) {
      word |= data[i + 1];
    }
    sum += word;
  }
  while (sum > 0xffff) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return uint16_t(~sum);
}

// The upper-layer checksum of `packet` recomputed from scratch, the field at `l4 + field` taken
// as zero. `l4` is where the upper-layer header starts, `protocol` its number.
inline uint16_t l4_checksum_from_scratch(const Bytes& packet, size_t l4, uint8_t protocol,
                                         size_t field) {
  Bytes buffer;
  const size_t end = (packet[0] >> 4) == 4 ? be16(packet, 2) : 40 + be16(packet, 4);
  const size_t length = end - l4;
  if ((packet[0] >> 4) == 4) {
    buffer.insert(buffer.end(), packet.begin() + 12, packet.begin() + 20);
    buffer.insert(buffer.end(), {0, protocol, uint8_t(length >> 8), uint8_t(length)});
  } else {
    buffer.insert(buffer.end(), packet.begin() + 8, packet.begin() + 40);
    buffer.insert(buffer.end(), {0, 0, uint8_t(length >> 8), uint8_t(length), 0, 0, 0, protocol});
  }
  size_t zero_at = buffer.size() + field;
  buffer.insert(buffer.end(), packet.begin() + long(l4), packet.begin() + long(end));
  buffer[zero_at] = 0;
  buffer[zero_at + 1] = 0;
  return reference_checksum(buffer);
}

inline uint16_t ipv4_header_checksum_from_scratch(const Bytes& p) {
  Bytes header(p.begin(), p.begin() + (p[0] & 0x0f) * 4);
  header[10] = header[11] = 0;
  return reference_checksum(header);
}

inline void set_ipv4_checksum(Bytes& p) {
  put16(p, 10, ipv4_header_checksum_from_scratch(p));
}

// Builds an IPv4 TCP segment (no IP options) with the given TCP options (padded to 4 bytes with
// EOL), flags and payload length, checksums correct.
inline Bytes tcp_v4(const Bytes& options, uint8_t flags, size_t payload = 0) {
  const size_t option_length = (options.size() + 3) / 4 * 4;
  const size_t tcp_length = 20 + option_length;
  Bytes p(20 + tcp_length + payload, 0);
  p[0] = 0x45;
  put16(p, 2, uint16_t(p.size()));
  put16(p, 4, 0x1234);
  put16(p, 6, 0x4000);
  p[8] = 64;
  p[9] = 6;
  const uint8_t addresses[8] = {10, 0, 0, 2, 192, 0, 2, 7};
  std::memcpy(&p[12], addresses, 8);
  set_ipv4_checksum(p);
  put16(p, 20, 40000);
  put16(p, 22, 443);
  put16(p, 24, 0x0102);
  put16(p, 26, 0x0304);
  p[32] = uint8_t(tcp_length / 4 << 4);
  p[33] = flags;
  put16(p, 34, 64240);
  std::copy(options.begin(), options.end(), p.begin() + 40);
  for (size_t i = 0; i < payload; ++i) {
    p[20 + tcp_length + i] = uint8_t(i * 13);
  }
  put16(p, 36, l4_checksum_from_scratch(p, 20, 6, 16));
  return p;
}

// The same over IPv6, with `extensions` (already chained: their first byte is rewritten) between
// the fixed header and TCP. `first_next` is the fixed header's next header.
inline Bytes tcp_v6(const Bytes& options, uint8_t flags, const Bytes& extensions = {},
                    uint8_t first_next = 6) {
  const size_t option_length = (options.size() + 3) / 4 * 4;
  const size_t tcp_length = 20 + option_length;
  Bytes p(40 + extensions.size() + tcp_length, 0);
  p[0] = 0x60;
  put16(p, 4, uint16_t(p.size() - 40));
  p[6] = first_next;
  p[7] = 64;
  p[8] = 0xfd;
  p[23] = 2;
  p[24] = 0x20;
  p[25] = 0x01;
  p[26] = 0x0d;
  p[27] = 0xb8;
  p[39] = 7;
  std::copy(extensions.begin(), extensions.end(), p.begin() + 40);
  const size_t t = 40 + extensions.size();
  put16(p, t, 40000);
  put16(p, t + 2, 443);
  p[t + 12] = uint8_t(tcp_length / 4 << 4);
  p[t + 13] = flags;
  std::copy(options.begin(), options.end(), p.begin() + long(t) + 20);
  put16(p, t + 16, l4_checksum_from_scratch(p, t, 6, 16));
  return p;
}

inline Bytes udp_v4(size_t total, bool dont_fragment,
                    const std::array<uint8_t, 4>& src = {10, 0, 0, 2},
                    const std::array<uint8_t, 4>& dst = {192, 0, 2, 7}) {
  Bytes p(total, 0);
  p[0] = 0x45;
  put16(p, 2, uint16_t(total));
  put16(p, 4, 0xbeef);
  put16(p, 6, dont_fragment ? 0x4000 : 0);
  p[8] = 63;
  p[9] = 17;
  std::copy(src.begin(), src.end(), p.begin() + 12);
  std::copy(dst.begin(), dst.end(), p.begin() + 16);
  for (size_t i = 20; i < total; ++i) {
    p[i] = uint8_t(i * 7);
  }
  set_ipv4_checksum(p);
  return p;
}

inline Bytes udp_v6(size_t total, uint8_t src_first = 0xfd, uint8_t src_last = 2) {
  Bytes p(total, 0);
  p[0] = 0x60;
  put16(p, 4, uint16_t(total - 40));
  p[6] = 17;
  p[7] = 63;
  p[8] = src_first;
  p[23] = src_last;
  p[24] = 0x20;
  p[25] = 0x01;
  p[39] = 7;
  for (size_t i = 40; i < total; ++i) {
    p[i] = uint8_t(i * 7);
  }
  return p;
}

}  // namespace waypost::dataplane::mtu_test
