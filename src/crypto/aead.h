#pragma once
// ChaCha20-Poly1305 (RFC 8439) through OpenSSL 3, and XChaCha20-Poly1305 through libsodium, which
// OpenSSL lacks. The nonce is WireGuard's: 32 zero bits then a 64-bit little-endian counter.

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>

#include "crypto/keys.h"

namespace waypost::crypto {

constexpr size_t kAeadTagSize = 16;
constexpr size_t kXNonceSize = 24;

// A keyed context reused for every packet of a session: the key schedule is set once and each
// packet only sets its nonce. Not thread-safe; one per direction per thread.
class ChaChaPoly {
 public:
  ChaChaPoly() = default;
  ChaChaPoly(std::span<const uint8_t, kKeySize> key, bool encrypt);
  bool valid() const { return ctx_ != nullptr; }

  // out.size() must be plaintext.size() + 16; out may alias plaintext exactly (in place).
  bool seal(uint64_t counter, std::span<const uint8_t> plaintext, std::span<uint8_t> out,
            std::span<const uint8_t> ad = {});
  // in holds ciphertext || tag; out.size() must be in.size() - 16; may alias in exactly.
  bool open(uint64_t counter, std::span<const uint8_t> in, std::span<uint8_t> out,
            std::span<const uint8_t> ad = {});

 private:
  struct CtxDeleter {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
  };
  std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter> ctx_;
  bool encrypt_ = false;
};

// In-place forms with the key given per call, for worker threads that cannot share a session's
// keyed context (each thread keeps its own context). `data` holds `len` bytes of plaintext
// followed by room for the tag (seal), or ciphertext then tag (open, len = ciphertext length).
bool seal_in_place(std::span<const uint8_t, kKeySize> key, uint64_t counter, uint8_t* data,
                   size_t len);
bool open_in_place(std::span<const uint8_t, kKeySize> key, uint64_t counter, uint8_t* data,
                   size_t len);

// One-shot forms used by the handshake.
bool aead_seal(std::span<uint8_t> out, std::span<const uint8_t, kKeySize> key, uint64_t counter,
               std::span<const uint8_t> plaintext, std::span<const uint8_t> ad);
bool aead_open(std::span<uint8_t> out, std::span<const uint8_t, kKeySize> key, uint64_t counter,
               std::span<const uint8_t> ciphertext, std::span<const uint8_t> ad);

bool xaead_seal(std::span<uint8_t> out, std::span<const uint8_t, kKeySize> key,
                std::span<const uint8_t, kXNonceSize> nonce, std::span<const uint8_t> plaintext,
                std::span<const uint8_t> ad);
bool xaead_open(std::span<uint8_t> out, std::span<const uint8_t, kKeySize> key,
                std::span<const uint8_t, kXNonceSize> nonce, std::span<const uint8_t> ciphertext,
                std::span<const uint8_t> ad);

}  // namespace waypost::crypto
