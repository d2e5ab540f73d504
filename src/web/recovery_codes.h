#pragma once
// Recovery codes: ten single-use codes shown once when an admin sets up TOTP, for signing in
// without the phone. Each is 80 random bits written as 16 base32 characters in four groups
// ("k7qd-3mza-x2pe-yfhw" style), kept in web.db only as SHA-256 hashes. 80 bits make an offline
// search of a stolen hash hopeless without a slow hash; the login rate limit bounds online
// guessing.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/random.h"
#include "web/token.h"

namespace waypost::web {

inline constexpr size_t kRecoveryCodeCount = 10;

struct RecoveryCodes {
  std::vector<std::string> codes;  // to show once
  std::vector<TokenHash> hashes;   // to store
};

RecoveryCodes make_recovery_codes(crypto::Random& random);

// The canonical form of a typed code: groups joined, upper case, separators and spaces dropped;
// nothing unless it is 16 base32 characters.
std::optional<std::string> normalize_recovery_code(std::string_view typed);

// The hash of a code as typed (after normalisation); nothing if it cannot be a recovery code.
std::optional<TokenHash> hash_recovery_code(std::string_view typed);

// Whether `typed` looks like a recovery code rather than a six-digit TOTP code.
bool looks_like_recovery_code(std::string_view typed);

}  // namespace waypost::web
