#include "ike/cookies.h"

#include <openssl/crypto.h>

#include "common/bytes.h"
#include "crypto/hmac.h"

namespace waypost::ike {

namespace {

constexpr size_t kSecretSize = 32;

}  // namespace

CookieJar::CookieJar(const Clock& clock, crypto::Random& random) : clock_(clock), random_(random) {
  for (auto& s : secrets_) {
    s = crypto::SecretBytes(kSecretSize);
    random_.fill(s.span());
  }
  rotated_at_ = clock_.now();
}

void CookieJar::rotate_if_due() {
  // One new secret per period that has passed (at most two: then both are new), so a cookie is
  // never accepted more than two periods after it was made, however rarely we are asked.
  const Nanos now = clock_.now();
  for (int step = 0; step < 2 && now - rotated_at_ >= kRotation; ++step) {
    ++version_;
    random_.fill(secrets_[version_ & 1].span());
    rotated_at_ += kRotation;
  }
  if (now - rotated_at_ >= kRotation) rotated_at_ = now;
}

std::vector<uint8_t> CookieJar::compute(uint8_t version, std::span<const uint8_t> nonce_i,
                                        const net::IpAddress& ip, uint64_t spi_i) const {
  std::array<uint8_t, 8> spi{};
  store_be64(spi.data(), spi_i);
  std::vector<uint8_t> out(1 + crypto::digest_size(crypto::HashAlg::kSha256));
  out[0] = version;
  if (!crypto::digest(crypto::HashAlg::kSha256,
                      {secrets_[version & 1].span(), nonce_i,
                       std::span<const uint8_t>(ip.bytes.data(), ip.byte_length()), spi},
                      std::span(out).subspan(1))) {
    out.clear();
  }
  return out;
}

std::vector<uint8_t> CookieJar::make(std::span<const uint8_t> nonce_i, const net::IpAddress& ip,
                                     uint64_t spi_i) {
  rotate_if_due();
  return compute(version_, nonce_i, ip, spi_i);
}

bool CookieJar::verify(std::span<const uint8_t> cookie, std::span<const uint8_t> nonce_i,
                       const net::IpAddress& ip, uint64_t spi_i) {
  rotate_if_due();
  if (cookie.empty()) return false;
  const uint8_t v = cookie[0];
  // Only the current secret and the one before it.
  if (v != version_ && v != uint8_t(version_ - 1)) return false;
  const std::vector<uint8_t> expected = compute(v, nonce_i, ip, spi_i);
  return !expected.empty() && expected.size() == cookie.size() &&
         CRYPTO_memcmp(expected.data(), cookie.data(), cookie.size()) == 0;
}

}  // namespace waypost::ike
