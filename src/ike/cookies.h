#pragma once
// Stateless COOKIEs (RFC 7296 2.6): when too many IKE SAs are half-open, a responder answers an
// IKE_SA_INIT request with a COOKIE notify instead of doing a key exchange, and keeps no state
// until the initiator repeats its request with the cookie, which proves it receives at the
// address it claims. cookie = version (1 byte) | SHA-256(secret | Ni | IPi | SPIi); the secret
// changes every few minutes and the previous one is still accepted.

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "common/clock.h"
#include "crypto/random.h"
#include "crypto/secret_bytes.h"
#include "net/ip.h"

namespace waypost::ike {

class CookieJar {
 public:
  static constexpr Nanos kRotation = seconds(120);

  CookieJar(const Clock& clock, crypto::Random& random);

  std::vector<uint8_t> make(std::span<const uint8_t> nonce_i, const net::IpAddress& ip,
                            uint64_t spi_i);
  // Constant-time; accepts cookies made with the current or the previous secret.
  bool verify(std::span<const uint8_t> cookie, std::span<const uint8_t> nonce_i,
              const net::IpAddress& ip, uint64_t spi_i);

 private:
  void rotate_if_due();
  std::vector<uint8_t> compute(uint8_t version, std::span<const uint8_t> nonce_i,
                               const net::IpAddress& ip, uint64_t spi_i) const;

  const Clock& clock_;
  crypto::Random& random_;
  std::array<crypto::SecretBytes, 2> secrets_;  // indexed by version & 1
  uint8_t version_ = 0;
  Nanos rotated_at_ = 0;
};

}  // namespace waypost::ike
