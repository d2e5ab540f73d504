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
  EVP_PKEY* peer_key = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer.data(), kKeySize);
  if (peer_key == nullptr) return false;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(pkey_.get(), nullptr);
  size_t len = kKeySize;
  // OpenSSL refuses an all-zero shared secret, which is exactly the check WireGuard requires.
  bool ok = ctx != nullptr && EVP_PKEY_derive_init(ctx) == 1 &&
            EVP_PKEY_derive_set_peer(ctx, peer_key) == 1 &&
            EVP_PKEY_derive(ctx, out.data(), &len) == 1 && len == kKeySize;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer_key);
  if (!ok) secure_wipe(out.data(), out.size());
  return ok;
}

void X25519Key::reset() {
  pkey_.reset();
  private_.wipe();
  public_.fill(0);
}

PublicKey public_from_private(const PrivateKey& key) {
  return X25519Key::from_private(key).public_key();
}

}  // namespace waypost::crypto
