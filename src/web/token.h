#pragma once
// Bearer secrets of the web admin (session cookies, API tokens, setup links): random bytes shown
// to their holder once as hex, and kept in web.db only as their SHA-256. A stolen database copy
// then lets nobody sign in; a 128-bit or longer random token needs no slow hash, because there is
// nothing to guess.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "crypto/random.h"

namespace waypost::web {

using TokenHash = std::array<uint8_t, 32>;  // SHA-256

// `bytes` random bytes (16 for setup links, 32 for sessions and API tokens) as lowercase hex.
std::string random_token(crypto::Random& random, size_t bytes);

// SHA-256 of the token's text exactly as the client sends it.
TokenHash hash_token(std::string_view token);

// Constant-time equality (CRYPTO_memcmp), so that a comparison's duration does not tell how many
// leading bytes matched.
bool same_hash(std::span<const uint8_t> a, std::span<const uint8_t> b);

}  // namespace waypost::web
