#pragma once
// The combined-mode (AEAD) transforms of an ESP SA, through OpenSSL 3: AES-GCM with a 16-byte ICV
// (RFC 4106) and ChaCha20-Poly1305 (RFC 7634). Both build the nonce the same way: the 4-byte salt
// that ends the SA's key material, then the packet's 8-byte IV; the associated data is the ESP
// header (SPI and the 32-bit sequence number: Waypost does not negotiate extended sequence
// numbers). The IV is the 64-bit sequence number, which never repeats under one key: RFC 4106
// 3.1 asks exactly that of it, and it costs no random bytes per packet.
//
// One keyed context per direction: the key schedule is set once, each packet sets only its
// nonce. Not thread-safe.

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>

#include "common/result.h"

namespace waypost::esp {

enum class Aead : uint8_t {
  kAes128Gcm16,
  kAes256Gcm16,
  kChaCha20Poly1305,
};

constexpr size_t kSaltSize = 4;
constexpr size_t kIvSize = 8;
constexpr size_t kIcvSize = 16;

// Key bytes without the salt.
constexpr size_t key_size(Aead a) {
  return a == Aead::kAes128Gcm16 ? 16 : 32;
}
// What the child SA's key material provides per direction: key then salt.
constexpr size_t keymat_size(Aead a) {
  return key_size(a) + kSaltSize;
}

class AeadContext {
 public:
  // `keymat` is key || salt (keymat_size(aead) bytes).
  static Result<AeadContext> create(Aead aead, std::span<const uint8_t> keymat, bool encrypt);

  // Encrypts `data` (len bytes) in place and writes the ICV right after it. `iv` is the 8 bytes
  // that go on the wire; `aad` the ESP header.
  bool seal(std::span<const uint8_t, kIvSize> iv, std::span<const uint8_t> aad, uint8_t* data,
            size_t len);
  // Verifies the ICV that follows `data` (len bytes of ciphertext) and decrypts in place.
  bool open(std::span<const uint8_t, kIvSize> iv, std::span<const uint8_t> aad, uint8_t* data,
            size_t len);
  Aead aead() const { return aead_; }

 private:
  struct CtxDeleter {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
  };
  bool set_nonce(std::span<const uint8_t, kIvSize> iv);

  std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter> ctx_;
  Aead aead_ = Aead::kAes256Gcm16;
  bool encrypt_ = false;
  uint8_t salt_[kSaltSize] = {};
};

}  // namespace waypost::esp
