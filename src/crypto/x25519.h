#pragma once
// X25519 through OpenSSL 3. A private key is held as an EVP_PKEY so that its public half is
// computed once; creating the EVP_PKEY from raw bytes costs a scalar multiplication.

#include <openssl/evp.h>

#include <memory>

#include "crypto/keys.h"
#include "crypto/random.h"

namespace waypost::crypto {

class X25519Key {
 public:
  X25519Key() = default;
  static X25519Key from_private(const PrivateKey& key);
  // A fresh key from the given randomness (clamped as RFC 7748 requires).
  static X25519Key generate(Random& random);

  bool valid() const { return pkey_ != nullptr; }
  const PublicKey& public_key() const { return public_; }
  const PrivateKey& private_key() const { return private_; }
  // Shared secret with a peer's public key; false when the result is all zeros (low-order point).
  bool derive(std::span<uint8_t, kKeySize> out, const PublicKey& peer) const;
  void reset();

 private:
  struct PkeyDeleter {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  };
  struct CtxDeleter {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
  };
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey_;
  // The derive context is set up once per key (fetching the exchange method is not free) and
  // reused for every peer; the handshake is single-threaded per key.
  mutable std::unique_ptr<EVP_PKEY_CTX, CtxDeleter> ctx_;
  PublicKey public_{};
  PrivateKey private_;
};

// Clamps 32 random bytes into an X25519 private key (as `wg genkey` does).
void clamp_private_key(PrivateKey& key);
PublicKey public_from_private(const PrivateKey& key);

}  // namespace waypost::crypto
