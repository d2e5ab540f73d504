#pragma once
// Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP) as every authenticator app makes
// them: HMAC-SHA1, 6 digits, 30-second steps. The server accepts the step before and after the
// current one (RFC 6238 section 5.2 suggests one step of tolerance for clock drift and typing
// time) and never the same step twice for one admin (section 5.2's one-time use), so a code seen
// over someone's shoulder is useless once it was entered.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace waypost::web {

inline constexpr int kTotpDigits = 6;
inline constexpr int64_t kTotpStepSeconds = 30;
inline constexpr size_t kTotpSecretBytes = 20;  // 160 bits, RFC 4226's recommended length

// The step number at a Unix time: floor(unix_time / 30) (T0 = 0).
int64_t totp_step(int64_t unix_time);

// The code for one step with HMAC-SHA1 and `digits` (6..8) digits, zero-padded.
std::string hotp_code(std::span<const uint8_t> secret, int64_t step, int digits = kTotpDigits);

// The step that `code` matches among step-1, step, step+1 of unix_time, skipping steps at or
// below `last_used_step` (the last one this admin used); nothing if none matches. Compares in
// constant time. `code` must be exactly six ASCII digits.
std::optional<int64_t> totp_verify(std::span<const uint8_t> secret, std::string_view code,
                                   int64_t unix_time, int64_t last_used_step);

// The otpauth:// URI (Google Authenticator's key URI format) that the setup page shows as a QR
// code: label "Waypost (<server>):<admin>", issuer "Waypost (<server>)", the base32 secret.
std::string otpauth_uri(std::string_view server, std::string_view admin,
                        std::span<const uint8_t> secret);

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string percent_encode(std::string_view text);

}  // namespace waypost::web
