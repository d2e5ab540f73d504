#pragma once
// The Internet checksum (RFC 1071) with 64-bit accumulation, and the pseudo-header sums TCP and
// UDP need. Values are kept unfolded (uint64_t) until the end so that pieces can be added.

#include <cstdint>
#include <cstring>

namespace waypost {

// Adds `len` bytes to a running sum, treating them as big-endian 16-bit words starting at an
// even offset of the checksummed data (callers pass pieces that start at even offsets).
inline uint64_t checksum_add(uint64_t sum, const uint8_t* p, size_t len) {
  // Sum 32-bit big-endian words into a 64-bit accumulator: carries collect in the upper half.
  while (len >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    sum += __builtin_bswap32(w);
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    sum += uint32_t(p[0]) << 8 | p[1];
    p += 2;
    len -= 2;
  }
  if (len == 1) sum += uint32_t(p[0]) << 8;
  return sum;
}

inline uint16_t checksum_fold(uint64_t sum) {
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

// The value to store in a checksum field: the complement of the folded sum.
inline uint16_t checksum_finish(uint64_t sum) { return uint16_t(~checksum_fold(sum)); }

// Pseudo-header sums (RFC 793 / RFC 8200 section 8.1) for an upper-layer packet of `length`.
inline uint64_t pseudo_header_v4(const uint8_t* ip_header, uint8_t protocol, uint32_t length) {
  uint64_t sum = checksum_add(0, ip_header + 12, 8);  // source and destination
  return sum + protocol + length;
}
inline uint64_t pseudo_header_v6(const uint8_t* ip_header, uint8_t next_header, uint32_t length) {
  uint64_t sum = checksum_add(0, ip_header + 8, 32);
  return sum + next_header + length;
}

}  // namespace waypost
