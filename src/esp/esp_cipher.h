#pragma once
// The transforms of an ESP SA, through OpenSSL 3.
//
// Combined mode (AEAD): AES-GCM with a 16-byte ICV (RFC 4106) and ChaCha20-Poly1305 (RFC 7634).
// Both build the nonce the same way: the 4-byte salt that ends the SA's key material, then the
// packet's 8-byte IV; the associated data is the ESP header (SPI and the 32-bit sequence number:
// Waypost does not negotiate extended sequence numbers). The IV is the 64-bit sequence number,
// which never repeats under one key: RFC 4106 3.1 asks exactly that of it, and it costs no
// random bytes per packet.
//
// AES-CBC (RFC 3602) with HMAC-SHA1-96 (RFC 2404) or HMAC-SHA2 truncated to half its length
// (RFC 4868), what iOS, macOS and Windows offer besides GCM: encrypt, then the ICV over the ESP
// header, the IV and the ciphertext. A CBC IV must be unpredictable (RFC 3602 2.4), so it comes
// from OpenSSL's random generator, drawn in batches. The ICV is checked in constant time before
// anything is decrypted.
//
// One keyed context per direction: the key schedules are set once, each packet sets only its
// IV. Not thread-safe.

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "common/result.h"
#include "crypto/hmac.h"

namespace waypost::esp {

enum class Cipher : uint8_t {
  kAes128Gcm16,
  kAes256Gcm16,
  kChaCha20Poly1305,
  kAes128Cbc,
  kAes192Cbc,
  kAes256Cbc,
};

enum class Integrity : uint8_t {
  kNone,  // with an AEAD cipher
  kHmacSha1_96,
  kHmacSha256_128,
  kHmacSha384_192,
  kHmacSha512_256,
};

constexpr size_t kSaltSize = 4;  // AEAD
constexpr size_t kMaxIvSize = 16;
constexpr size_t kMaxIcvSize = 32;

constexpr bool is_aead(Cipher c) {
  return c == Cipher::kAes128Gcm16 || c == Cipher::kAes256Gcm16 || c == Cipher::kChaCha20Poly1305;
}
// Key bytes without the salt.
constexpr size_t key_size(Cipher c) {
  switch (c) {
    case Cipher::kAes128Gcm16:
    case Cipher::kAes128Cbc:
      return 16;
    case Cipher::kAes192Cbc:
      return 24;
    case Cipher::kAes256Gcm16:
    case Cipher::kChaCha20Poly1305:
    case Cipher::kAes256Cbc:
      return 32;
  }
  return 0;
}
// What the child SA's key material provides per direction for the cipher: key, then the salt
// of an AEAD.
constexpr size_t keymat_size(Cipher c) {
  return key_size(c) + (is_aead(c) ? kSaltSize : 0);
}
constexpr size_t iv_size(Cipher c) {
  return is_aead(c) ? 8 : 16;
}
// The encrypted part (payload, padding, trailer) is a multiple of this (RFC 4303 2.4).
constexpr size_t block_size(Cipher c) {
  return is_aead(c) ? 4 : 16;
}
constexpr size_t integrity_key_size(Integrity i) {
  switch (i) {
    case Integrity::kNone:
      return 0;
    case Integrity::kHmacSha1_96:
      return 20;
    case Integrity::kHmacSha256_128:
      return 32;
    case Integrity::kHmacSha384_192:
      return 48;
    case Integrity::kHmacSha512_256:
      return 64;
  }
  return 0;
}
constexpr size_t icv_size(Cipher c, Integrity i) {
  if (is_aead(c)) return 16;
  switch (i) {
    case Integrity::kNone:
      return 0;
    case Integrity::kHmacSha1_96:
      return 12;
    case Integrity::kHmacSha256_128:
      return 16;
    case Integrity::kHmacSha384_192:
      return 24;
    case Integrity::kHmacSha512_256:
      return 32;
  }
  return 0;
}

class EspCipher {
 public:
  // `keymat` is the cipher's key (and salt, for an AEAD: keymat_size(cipher) bytes);
  // `integrity_key` the HMAC key (empty with an AEAD, which needs kNone).
  static Result<EspCipher> create(Cipher cipher, Integrity integrity,
                                  std::span<const uint8_t> keymat,
                                  std::span<const uint8_t> integrity_key, bool encrypt);

  Cipher cipher() const { return cipher_; }
  uint32_t iv_size() const { return uint32_t(esp::iv_size(cipher_)); }
  uint32_t block() const { return uint32_t(block_size(cipher_)); }
  uint32_t icv_size() const { return uint32_t(esp::icv_size(cipher_, integrity_)); }

  // `header` is the ESP header (SPI, sequence number) followed by iv_size() bytes for the IV,
  // which seal() writes (`seq` is the packet's 64-bit sequence number); `data` (len bytes, a
  // multiple of block()) follows the IV and is encrypted in place; the ICV goes right after it.
  bool seal(uint8_t* header, uint64_t seq, uint8_t* data, size_t len);
  // Verifies the ICV that follows `data` (len bytes of ciphertext, after the header and IV)
  // and decrypts in place.
  bool open(const uint8_t* header, uint8_t* data, size_t len);

 private:
  struct CtxDeleter {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
  };
  bool seal_aead(uint8_t* header, uint8_t* data, size_t len);
  bool open_aead(const uint8_t* header, uint8_t* data, size_t len);
  bool seal_cbc(uint8_t* header, uint8_t* data, size_t len);
  bool open_cbc(const uint8_t* header, uint8_t* data, size_t len);
  // The full HMAC over header, IV and ciphertext (the ICV is its first icv_size() bytes).
  bool mac(const uint8_t* header, size_t total, std::span<uint8_t> out);
  bool set_aead_nonce(const uint8_t* iv);
  const uint8_t* next_random_iv();

  std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter> ctx_;
  crypto::Hmac hmac_;
  Cipher cipher_ = Cipher::kAes256Gcm16;
  Integrity integrity_ = Integrity::kNone;
  bool encrypt_ = false;
  uint8_t salt_[kSaltSize] = {};
  // CBC IVs, drawn from OpenSSL's generator 64 at a time.
  std::array<uint8_t, 64 * 16> iv_pool_{};
  size_t iv_used_ = sizeof(iv_pool_);
};

}  // namespace waypost::esp
