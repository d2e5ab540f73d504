#pragma once
// Curve25519 key types shared by every protocol module.

#include <array>
#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/secret.h"

namespace waypost::crypto {

constexpr size_t kKeySize = 32;
using PublicKey = std::array<uint8_t, kKeySize>;
using PrivateKey = Secret<kKeySize>;
using SymmetricKey = Secret<kKeySize>;

// Base64 forms as used by wg(8) and wg-quick files.
std::string key_to_base64(std::span<const uint8_t, kKeySize> key);
Result<PublicKey> public_key_from_base64(std::string_view text);
Result<PrivateKey> private_key_from_base64(std::string_view text);

}  // namespace waypost::crypto
