#include "crypto/aead.h"

#include <sodium.h>

#include <cstring>

#include "common/bytes.h"

namespace waypost::crypto {

namespace {
// libsodium picks its fastest implementation at init; calling it more than once is harmless.
const int kSodiumReady = sodium_init();

void make_nonce(uint8_t nonce[12], uint64_t counter) {
  std::memset(nonce, 0, 4);
  store_le64(nonce + 4, counter);
}
}  // namespace

ChaChaPoly::ChaChaPoly(std::span<const uint8_t, kKeySize> key, bool encrypt) : encrypt_(encrypt) {
  ctx_.reset(EVP_CIPHER_CTX_new());
  if (ctx_ && EVP_CipherInit_ex(ctx_.get(), EVP_chacha20_poly1305(), nullptr, key.data(), nullptr,
                                encrypt ? 1 : 0) != 1) {
    ctx_.reset();
  }
}

bool ChaChaPoly::seal(uint64_t counter, std::span<const uint8_t> plaintext, std::span<uint8_t> out,
                      std::span<const uint8_t> ad) {
  if (!ctx_ || !encrypt_ || out.size() != plaintext.size() + kAeadTagSize) return false;
  uint8_t nonce[12];
  make_nonce(nonce, counter);
  EVP_CIPHER_CTX* c = ctx_.get();
  int len = 0;
  if (EVP_CipherInit_ex(c, nullptr, nullptr, nullptr, nonce, 1) != 1) return false;
  if (!ad.empty() && EVP_EncryptUpdate(c, nullptr, &len, ad.data(), int(ad.size())) != 1) {
    return false;
  }
  if (!plaintext.empty() &&
      EVP_EncryptUpdate(c, out.data(), &len, plaintext.data(), int(plaintext.size())) != 1) {
    return false;
  }
  if (EVP_EncryptFinal_ex(c, out.data() + plaintext.size(), &len) != 1) return false;
  return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, kAeadTagSize,
                             out.data() + plaintext.size()) == 1;
}

bool ChaChaPoly::open(uint64_t counter, std::span<const uint8_t> in, std::span<uint8_t> out,
                      std::span<const uint8_t> ad) {
  if (!ctx_ || encrypt_ || in.size() < kAeadTagSize || out.size() != in.size() - kAeadTagSize) {
    return false;
  }
  uint8_t nonce[12];
  make_nonce(nonce, counter);
  uint8_t tag[kAeadTagSize];
  std::memcpy(tag, in.data() + out.size(), kAeadTagSize);  // before an in-place decrypt
  EVP_CIPHER_CTX* c = ctx_.get();
  int len = 0;
  if (EVP_CipherInit_ex(c, nullptr, nullptr, nullptr, nonce, 0) != 1) return false;
  if (!ad.empty() && EVP_DecryptUpdate(c, nullptr, &len, ad.data(), int(ad.size())) != 1) {
    return false;
  }
  if (!out.empty() && EVP_DecryptUpdate(c, out.data(), &len, in.data(), int(out.size())) != 1) {
    return false;
  }
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, kAeadTagSize, tag) != 1) return false;
  return EVP_DecryptFinal_ex(c, out.data() + out.size(), &len) == 1;
}

bool aead_seal(std::span<uint8_t> out, std::span<const uint8_t, kKeySize> key, uint64_t counter,
               std::span<const uint8_t> plaintext, std::span<const uint8_t> ad) {
  ChaChaPoly c(key, true);
  return c.seal(counter, plaintext, out, ad);
}

bool aead_open(std::span<uint8_t> out, std::span<const uint8_t, kKeySize> key, uint64_t counter,
               std::span<const uint8_t> ciphertext, std::span<const uint8_t> ad) {
  ChaChaPoly c(key, false);
  return c.open(counter, ciphertext, out, ad);
}

bool xaead_seal(std::span<uint8_t> out, std::span<const uint8_t, kKeySize> key,
                std::span<const uint8_t, kXNonceSize> nonce, std::span<const uint8_t> plaintext,
                std::span<const uint8_t> ad) {
  if (kSodiumReady < 0 || out.size() != plaintext.size() + kAeadTagSize) return false;
  unsigned long long len = 0;
  return crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), &len, plaintext.data(),
                                                    plaintext.size(), ad.data(), ad.size(),
                                                    nullptr, nonce.data(), key.data()) == 0;
}

bool xaead_open(std::span<uint8_t> out, std::span<const uint8_t, kKeySize> key,
                std::span<const uint8_t, kXNonceSize> nonce, std::span<const uint8_t> ciphertext,
                std::span<const uint8_t> ad) {
  if (ciphertext.size() < kAeadTagSize || out.size() != ciphertext.size() - kAeadTagSize) {
    return false;
  }
  unsigned long long len = 0;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &len, nullptr, ciphertext.data(),
                                                    ciphertext.size(), ad.data(), ad.size(),
                                                    nonce.data(), key.data()) == 0;
}

}  // namespace waypost::crypto
