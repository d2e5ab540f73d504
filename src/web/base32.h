#pragma once
// RFC 4648 base32 (alphabet A-Z 2-7), the encoding authenticator apps expect for TOTP secrets in
// otpauth:// URIs and for typing a secret by hand.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace waypost::web {

// Upper case, without '=' padding (Google Authenticator's key URI format omits it).
std::string base32_encode(std::span<const uint8_t> bytes);

// Accepts upper or lower case, optional '=' padding at the end, and spaces or '-' between groups
// (people copy secrets as "ABCD EFGH ..."). Refuses any other character, padding in the middle,
// a length no encoder produces, and nonzero unused trailing bits (so each value has one spelling).
std::optional<std::vector<uint8_t>> base32_decode(std::string_view text);

}  // namespace waypost::web
