#include "web/totp.h"

#include <openssl/crypto.h>

#include <array>
#include <cstdlib>

#include <fmt/format.h>

#include "crypto/hmac.h"
#include "web/base32.h"

namespace waypost::web {

int64_t totp_step(int64_t unix_time) {
  // Floor division: times before 1970 never occur here, but a negative step must not round up.
  return unix_time >= 0 ? unix_time / kTotpStepSeconds
                        : -((-unix_time + kTotpStepSeconds - 1) / kTotpStepSeconds);
}

std::string hotp_code(std::span<const uint8_t> secret, int64_t step, int digits) {
  std::array<uint8_t, 8> counter{};
  auto c = uint64_t(step);
  for (int i = 7; i >= 0; --i) {
    counter[size_t(i)] = uint8_t(c & 0xff);
    c >>= 8;
  }
  std::array<uint8_t, 20> mac{};
  if (!crypto::hmac(crypto::HashAlg::kSha1, secret, {counter}, mac)) {
    // HMAC-SHA1 fails only when OpenSSL cannot allocate; no code is better than a wrong one.
    std::abort();
  }
  // RFC 4226 section 5.3, dynamic truncation.
  const size_t offset = mac[19] & 0x0f;
  const uint32_t binary = (uint32_t(mac[offset] & 0x7f) << 24) | (uint32_t(mac[offset + 1]) << 16) |
                          (uint32_t(mac[offset + 2]) << 8) | uint32_t(mac[offset + 3]);
  uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  OPENSSL_cleanse(mac.data(), mac.size());
  return fmt::format("{:0{}}", binary % modulus, digits);
}

std::optional<int64_t> totp_verify(std::span<const uint8_t> secret, std::string_view code,
                                   int64_t unix_time, int64_t last_used_step) {
  if (code.size() != size_t(kTotpDigits)) return std::nullopt;
  for (char ch : code) {
    if (ch < '0' || ch > '9') return std::nullopt;
  }
  const int64_t now = totp_step(unix_time);
  std::optional<int64_t> matched;
  // All three candidates are computed and compared whatever matches, so the time taken does not
  // say which step (if any) the code belonged to.
  for (int64_t step = now - 1; step <= now + 1; ++step) {
    const std::string expected = hotp_code(secret, step);
    const bool equal = CRYPTO_memcmp(expected.data(), code.data(), code.size()) == 0;
    if (equal && step > last_used_step && !matched) matched = step;
  }
  return matched;
}

std::string percent_encode(std::string_view text) {
  std::string out;
  for (char ch : text) {
    const auto c = uint8_t(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string otpauth_uri(std::string_view server, std::string_view admin,
                        std::span<const uint8_t> secret) {
  // The issuer names the server so that an admin of two Waypost servers can tell the entries
  // apart in the app; it appears both as the label's prefix and as a parameter, as the key URI
  // format recommends for older and newer apps alike.
  const std::string issuer = fmt::format("Waypost ({})", server);
  return fmt::format("otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={}&period={}",
                     percent_encode(issuer), percent_encode(admin), base32_encode(secret),
                     percent_encode(issuer), kTotpDigits, kTotpStepSeconds);
}

}  // namespace waypost::web
