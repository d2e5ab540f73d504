#include "ike/nat_detection.h"

#include <algorithm>

#include "common/bytes.h"
#include "crypto/hmac.h"

namespace waypost::ike {

namespace {

std::array<uint8_t, 8> be64(uint64_t v) {
  std::array<uint8_t, 8> out{};
  store_be64(out.data(), v);
  return out;
}

}  // namespace

NatHash nat_detection_hash(uint64_t spi_i, uint64_t spi_r, const net::Endpoint& endpoint) {
  const auto spi_i_bytes = be64(spi_i);
  const auto spi_r_bytes = be64(spi_r);
  const net::IpAddress ip = endpoint.ip();
  const uint16_t port = endpoint.port();
  const std::array<uint8_t, 2> port_bytes = {uint8_t(port >> 8), uint8_t(port)};
  NatHash out{};
  // SHA-1 cannot fail for in-memory input; a zero hash would only read as "NAT", the safe side.
  (void)crypto::digest(crypto::HashAlg::kSha1,
                       {spi_i_bytes, spi_r_bytes,
                        std::span<const uint8_t>(ip.bytes.data(), ip.byte_length()), port_bytes},
                       out);
  return out;
}

bool nat_hash_matches(const std::vector<const std::vector<uint8_t>*>& hashes, uint64_t spi_i,
                      uint64_t spi_r, const net::Endpoint& endpoint) {
  const NatHash expected = nat_detection_hash(spi_i, spi_r, endpoint);
  return std::any_of(hashes.begin(), hashes.end(), [&](const std::vector<uint8_t>* h) {
    return std::equal(h->begin(), h->end(), expected.begin(), expected.end());
  });
}

}  // namespace waypost::ike
