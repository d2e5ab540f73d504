#include "web/recovery_codes.h"

#include <array>
#include <cctype>

#include "common/secret.h"
#include "web/base32.h"

namespace waypost::web {

namespace {

constexpr size_t kCodeBytes = 10;    // 80 bits
constexpr size_t kCodeSymbols = 16;  // base32 of 10 bytes, no padding

std::string grouped_lower(std::string_view canonical) {
  std::string out;
  for (size_t i = 0; i < canonical.size(); ++i) {
    if (i > 0 && i % 4 == 0) out.push_back('-');
    out.push_back(char(std::tolower(static_cast<unsigned char>(canonical[i]))));
  }
  return out;
}

}  // namespace

RecoveryCodes make_recovery_codes(crypto::Random& random) {
  RecoveryCodes out;
  for (size_t i = 0; i < kRecoveryCodeCount; ++i) {
    std::array<uint8_t, kCodeBytes> raw{};
    random.fill(raw);
    const std::string canonical = base32_encode(raw);
    secure_wipe(raw.data(), raw.size());
    out.hashes.push_back(hash_token(canonical));
    out.codes.push_back(grouped_lower(canonical));
  }
  return out;
}

std::optional<std::string> normalize_recovery_code(std::string_view typed) {
  std::string canonical;
  for (char ch : typed) {
    if (ch == '-' || ch == ' ') continue;
    const auto c = static_cast<unsigned char>(ch);
    const bool base32 = std::isalpha(c) != 0 || (ch >= '2' && ch <= '7');
    if (!base32 || c >= 0x80) return std::nullopt;
    canonical.push_back(char(std::toupper(c)));
    if (canonical.size() > kCodeSymbols) return std::nullopt;
  }
  if (canonical.size() != kCodeSymbols) return std::nullopt;
  return canonical;
}

std::optional<TokenHash> hash_recovery_code(std::string_view typed) {
  auto canonical = normalize_recovery_code(typed);
  if (!canonical) return std::nullopt;
  return hash_token(*canonical);
}

bool looks_like_recovery_code(std::string_view typed) {
  return normalize_recovery_code(typed).has_value();
}

}  // namespace waypost::web
