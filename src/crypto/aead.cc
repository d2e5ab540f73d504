#include "crypto/aead.h"

#include <openssl/core_names.h>
#include <openssl/params.h>
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

namespace {
// Fetched once: an explicit fetch avoids the per-context implicit fetch of the legacy
// EVP_chacha20_poly1305() handle.
EVP_CIPHER* chacha20_poly1305() {
  static EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  return c;
}
}  // namespace

ChaChaPoly::ChaChaPoly(std::span<const uint8_t, kKeySize> key, bool encrypt) : encrypt_(encrypt) {
  ctx_.reset(EVP_CIPHER_CTX_new());
  if (ctx_ && EVP_CipherInit_ex2(ctx_.get(), chacha20_poly1305(), key.data(), nullptr,
                                 encrypt ? 1 : 0, nullptr) != 1) {
    ctx_.reset();
  }
}

// Per packet only the nonce changes. The calls below are the cheapest OpenSSL 3 offers for an
// AEAD: *_Init_ex2 with only an IV, and the tag through OSSL_PARAMs rather than the legacy ctrl
// (which converts to params anyway, at twice the cost).
bool ChaChaPoly::seal(uint64_t counter, std::span<const uint8_t> plaintext, std::span<uint8_t> out,
                      std::span<const uint8_t> ad) {
  if (!ctx_ || !encrypt_ || out.size() != plaintext.size() + kAeadTagSize) return false;
  uint8_t nonce[12];
  make_nonce(nonce, counter);
  EVP_CIPHER_CTX* c = ctx_.get();
  int len = 0;
  if (EVP_EncryptInit_ex2(c, nullptr, nullptr, nonce, nullptr) != 1) return false;
  if (!ad.empty() && EVP_EncryptUpdate(c, nullptr, &len, ad.data(), int(ad.size())) != 1) {
    return false;
  }
  if (!plaintext.empty() &&
      EVP_EncryptUpdate(c, out.data(), &len, plaintext.data(), int(plaintext.size())) != 1) {
    return false;
  }
  if (EVP_EncryptFinal_ex(c, out.data() + plaintext.size(), &len) != 1) return false;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out.data() + plaintext.size(),
                                        kAeadTagSize),
      OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_get_params(c, params) == 1;
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
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kAeadTagSize),
      OSSL_PARAM_construct_end()};
  if (EVP_DecryptInit_ex2(c, nullptr, nullptr, nonce, params) != 1) return false;
  if (!ad.empty() && EVP_DecryptUpdate(c, nullptr, &len, ad.data(), int(ad.size())) != 1) {
    return false;
  }
  if (!out.empty() && EVP_DecryptUpdate(c, out.data(), &len, in.data(), int(out.size())) != 1) {
    return false;
  }
  return EVP_DecryptFinal_ex(c, out.data() + out.size(), &len) == 1;
}

namespace {
struct ThreadCipher {
  EVP_CIPHER_CTX* enc = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX* dec = EVP_CIPHER_CTX_new();
  ThreadCipher() {
    uint8_t zero[kKeySize] = {};
    EVP_CipherInit_ex2(enc, chacha20_poly1305(), zero, nullptr, 1, nullptr);
    EVP_CipherInit_ex2(dec, chacha20_poly1305(), zero, nullptr, 0, nullptr);
  }
  ThreadCipher(const ThreadCipher&) = delete;
  ThreadCipher& operator=(const ThreadCipher&) = delete;
  ~ThreadCipher() {
    EVP_CIPHER_CTX_free(enc);
    EVP_CIPHER_CTX_free(dec);
  }
};
ThreadCipher& thread_cipher() {
  thread_local ThreadCipher c;
  return c;
}
}  // namespace

bool seal_in_place(std::span<const uint8_t, kKeySize> key, uint64_t counter, uint8_t* data,
                   size_t len) {
  uint8_t nonce[12];
  make_nonce(nonce, counter);
  EVP_CIPHER_CTX* c = thread_cipher().enc;
  int out = 0;
  if (EVP_EncryptInit_ex2(c, nullptr, key.data(), nonce, nullptr) != 1) return false;
  if (len > 0 && EVP_EncryptUpdate(c, data, &out, data, int(len)) != 1) return false;
  if (EVP_EncryptFinal_ex(c, data + len, &out) != 1) return false;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, data + len, kAeadTagSize),
      OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_get_params(c, params) == 1;
}

bool open_in_place(std::span<const uint8_t, kKeySize> key, uint64_t counter, uint8_t* data,
                   size_t len) {
  uint8_t nonce[12];
  make_nonce(nonce, counter);
  uint8_t tag[kAeadTagSize];
  std::memcpy(tag, data + len, kAeadTagSize);
  EVP_CIPHER_CTX* c = thread_cipher().dec;
  int out = 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kAeadTagSize),
      OSSL_PARAM_construct_end()};
  if (EVP_DecryptInit_ex2(c, nullptr, key.data(), nonce, params) != 1) return false;
  if (len > 0 && EVP_DecryptUpdate(c, data, &out, data, int(len)) != 1) return false;
  return EVP_DecryptFinal_ex(c, data + len, &out) == 1;
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
                                                    plaintext.size(), ad.data(), ad.size(), nullptr,
                                                    nonce.data(), key.data()) == 0;
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
