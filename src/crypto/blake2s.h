#pragma once
// BLAKE2s as WireGuard uses it: HASH (BLAKE2s-256), MAC (keyed BLAKE2s, 16-byte output),
// HMAC-BLAKE2s and the HKDF built on it. All through OpenSSL 3 (BLAKE2S-256, BLAKE2SMAC, HMAC).

#include <cstdint>
#include <initializer_list>
#include <span>

namespace waypost::crypto {

constexpr size_t kHashSize = 32;
constexpr size_t kMacSize = 16;

// HASH(a || b || ...)
void blake2s_hash(std::span<uint8_t, kHashSize> out,
                  std::initializer_list<std::span<const uint8_t>> parts);
// MAC(key, data): keyed BLAKE2s with a 16-byte output; key is 1..32 bytes.
void blake2s_mac(std::span<uint8_t, kMacSize> out, std::span<const uint8_t> key,
                 std::initializer_list<std::span<const uint8_t>> parts);
// HMAC(key, data) with BLAKE2s-256.
void hmac_blake2s(std::span<uint8_t, kHashSize> out, std::span<const uint8_t> key,
                  std::span<const uint8_t> data);
// KDF_n(key, input) from the WireGuard paper: HKDF-Extract then n expansions of 32 bytes.
// Outputs may be null for the ones not needed (but at least the first n must be non-null).
void kdf(std::span<const uint8_t, kHashSize> key, std::span<const uint8_t> input, uint8_t* out1,
         uint8_t* out2 = nullptr, uint8_t* out3 = nullptr);

}  // namespace waypost::crypto
