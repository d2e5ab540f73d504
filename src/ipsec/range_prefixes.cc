#include "ipsec/range_prefixes.h"

namespace waypost::ipsec {

namespace {

bool bit_set(const net::IpAddress& a, int from_bottom) {
  const int index = int(a.byte_length()) - 1 - from_bottom / 8;
  return (a.bytes[size_t(index)] >> (from_bottom % 8) & 1) != 0;
}

// `a` with its lowest `host_bits` bits set.
net::IpAddress with_low_bits(net::IpAddress a, int host_bits) {
  for (int i = 0; i < host_bits; ++i) {
    const int index = int(a.byte_length()) - 1 - i / 8;
    a.bytes[size_t(index)] |= uint8_t(1u << (i % 8));
  }
  return a;
}

// a + 1; false when it wrapped around (a was the family's last address).
bool increment(net::IpAddress& a) {
  for (size_t i = a.byte_length(); i-- > 0;) {
    if (++a.bytes[i] != 0) return true;
  }
  return false;
}

}  // namespace

std::vector<net::Prefix> range_to_prefixes(const net::IpAddress& first,
                                           const net::IpAddress& last) {
  std::vector<net::Prefix> out;
  if (first.family != last.family || last < first) return out;
  const int bits = first.bit_length();
  net::IpAddress cur = first;
  for (;;) {
    // The largest aligned block starting at `cur` that ends within the range.
    int host = 0;
    while (host < bits && !bit_set(cur, host) && !(last < with_low_bits(cur, host + 1))) ++host;
    out.push_back({cur, uint8_t(bits - host)});
    net::IpAddress end = with_low_bits(cur, host);
    if (end == last || !increment(end)) break;
    cur = end;
  }
  return out;
}

}  // namespace waypost::ipsec
