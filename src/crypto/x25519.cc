#include "crypto/x25519.h"

namespace waypost::crypto {

void clamp_private_key(PrivateKey& key) {
  key.data()[0] &= 248;
  key.data()[31] = (key.data()[31] & 127) | 64;
}

X25519Key X25519Key::from_private(const PrivateKey& key) {
  X25519Key k;
  k.pkey_.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, key.data(), kKeySize));
  if (!k.pkey_) return {};
  size_t len = kKeySize;
  if (EVP_PKEY_get_raw_public_key(k.pkey_.get(), k.public_.data(), &len) != 1 || len != kKeySize) {
    return {};
  }
  k.private_ = key;
  return k;
}

X25519Key X25519Key::generate(Random& random) {
  PrivateKey key;
  random.fill(key.span());
  clamp_private_key(key);
  return from_private(key);
}

bool X25519Key::derive(std::span<uint8_t, kKeySize> out, const PublicKey& peer) const {
  if (!pkey_) return false;
  if (!ctx_) {
    ctx_.reset(EVP_PKEY_CTX_new(pkey_.get(), nullptr));
    if (!ctx_ || EVP_PKEY_derive_init(ctx_.get()) != 1) {
      ctx_.reset();
      return false;
    }
  }
  EVP_PKEY* peer_key = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer.data(), kKeySize);
  if (peer_key == nullptr) return false;
  size_t len = kKeySize;
  // Any 32 bytes are a valid X25519 public key, so skip the (costly) generic peer validation;
  // OpenSSL still refuses an all-zero shared secret, which is the check WireGuard requires.
  bool ok = EVP_PKEY_derive_set_peer_ex(ctx_.get(), peer_key, 0) == 1 &&
            EVP_PKEY_derive(ctx_.get(), out.data(), &len) == 1 && len == kKeySize;
  EVP_PKEY_free(peer_key);
  if (!ok) secure_wipe(out.data(), out.size());
  return ok;
}

void X25519Key::reset() {
  ctx_.reset();
  pkey_.reset();
  private_.wipe();
  public_.fill(0);
}

PublicKey public_from_private(const PrivateKey& key) {
  return X25519Key::from_private(key).public_key();
}

}  // namespace waypost::crypto
