#include "esp/esp_cipher.h"

#include <cstring>

namespace waypost::esp {

namespace {
const EVP_CIPHER* cipher_for(Aead a) {
  switch (a) {
    case Aead::kAes128Gcm16:
      return EVP_aes_128_gcm();
    case Aead::kAes256Gcm16:
      return EVP_aes_256_gcm();
    case Aead::kChaCha20Poly1305:
      return EVP_chacha20_poly1305();
  }
  return nullptr;
}
}  // namespace

Result<AeadContext> AeadContext::create(Aead aead, std::span<const uint8_t> keymat, bool encrypt) {
  if (keymat.size() != keymat_size(aead)) {
    return make_error(ErrorKind::kProtocol, "ESP key material has {} bytes, the cipher needs {}",
                      keymat.size(), keymat_size(aead));
  }
  AeadContext c;
  c.aead_ = aead;
  c.encrypt_ = encrypt;
  std::memcpy(c.salt_, keymat.data() + key_size(aead), kSaltSize);
  c.ctx_.reset(EVP_CIPHER_CTX_new());
  const EVP_CIPHER* cipher = cipher_for(aead);
  if (!c.ctx_ || cipher == nullptr ||
      EVP_CipherInit_ex(c.ctx_.get(), cipher, nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.ctx_.get(), EVP_CTRL_AEAD_SET_IVLEN, int(kSaltSize + kIvSize),
                          nullptr) != 1 ||
      EVP_CipherInit_ex(c.ctx_.get(), nullptr, nullptr, keymat.data(), nullptr, -1) != 1) {
    return make_error(ErrorKind::kProtocol, "ESP cipher setup failed in OpenSSL");
  }
  return c;
}

bool AeadContext::set_nonce(std::span<const uint8_t, kIvSize> iv) {
  uint8_t nonce[kSaltSize + kIvSize];
  std::memcpy(nonce, salt_, kSaltSize);
  std::memcpy(nonce + kSaltSize, iv.data(), kIvSize);
  return EVP_CipherInit_ex(ctx_.get(), nullptr, nullptr, nullptr, nonce, -1) == 1;
}

bool AeadContext::seal(std::span<const uint8_t, kIvSize> iv, std::span<const uint8_t> aad,
                       uint8_t* data, size_t len) {
  if (!ctx_ || !encrypt_ || !set_nonce(iv)) return false;
  int n = 0;
  if (EVP_CipherUpdate(ctx_.get(), nullptr, &n, aad.data(), int(aad.size())) != 1) return false;
  if (len > 0 && EVP_CipherUpdate(ctx_.get(), data, &n, data, int(len)) != 1) return false;
  int tail = 0;
  if (EVP_CipherFinal_ex(ctx_.get(), data + len, &tail) != 1) return false;
  return EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_GET_TAG, int(kIcvSize), data + len) == 1;
}

bool AeadContext::open(std::span<const uint8_t, kIvSize> iv, std::span<const uint8_t> aad,
                       uint8_t* data, size_t len) {
  if (!ctx_ || encrypt_ || !set_nonce(iv)) return false;
  int n = 0;
  if (EVP_CipherUpdate(ctx_.get(), nullptr, &n, aad.data(), int(aad.size())) != 1) return false;
  if (len > 0 && EVP_CipherUpdate(ctx_.get(), data, &n, data, int(len)) != 1) return false;
  // The tag is compared in constant time inside OpenSSL's final step.
  if (EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_SET_TAG, int(kIcvSize), data + len) != 1) {
    return false;
  }
  int tail = 0;
  return EVP_CipherFinal_ex(ctx_.get(), data + len, &tail) == 1;
}

}  // namespace waypost::esp
