#include "esp/esp_cipher.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>

#include "common/bytes.h"

namespace waypost::esp {

namespace {

constexpr size_t kEspHeader = 8;  // SPI and sequence number

const EVP_CIPHER* cipher_for(Cipher c) {
  switch (c) {
    case Cipher::kAes128Gcm16:
      return EVP_aes_128_gcm();
    case Cipher::kAes256Gcm16:
      return EVP_aes_256_gcm();
    case Cipher::kChaCha20Poly1305:
      return EVP_chacha20_poly1305();
    case Cipher::kAes128Cbc:
      return EVP_aes_128_cbc();
    case Cipher::kAes192Cbc:
      return EVP_aes_192_cbc();
    case Cipher::kAes256Cbc:
      return EVP_aes_256_cbc();
  }
  return nullptr;
}

crypto::HashAlg hash_for(Integrity i) {
  switch (i) {
    case Integrity::kHmacSha1_96:
      return crypto::HashAlg::kSha1;
    case Integrity::kHmacSha384_192:
      return crypto::HashAlg::kSha384;
    case Integrity::kHmacSha512_256:
      return crypto::HashAlg::kSha512;
    case Integrity::kNone:
    case Integrity::kHmacSha256_128:
      break;
  }
  return crypto::HashAlg::kSha256;
}

}  // namespace

Result<EspCipher> EspCipher::create(Cipher cipher, Integrity integrity,
                                    std::span<const uint8_t> keymat,
                                    std::span<const uint8_t> integrity_key, bool encrypt) {
  if (keymat.size() != keymat_size(cipher)) {
    return make_error(ErrorKind::kProtocol, "ESP key material has {} bytes, the cipher needs {}",
                      keymat.size(), keymat_size(cipher));
  }
  if (is_aead(cipher) != (integrity == Integrity::kNone)) {
    return make_error(ErrorKind::kProtocol,
                      "ESP: an AEAD cipher takes no integrity algorithm, AES-CBC needs one");
  }
  if (integrity_key.size() != integrity_key_size(integrity)) {
    return make_error(ErrorKind::kProtocol,
                      "ESP integrity key has {} bytes, the algorithm needs {}",
                      integrity_key.size(), integrity_key_size(integrity));
  }
  EspCipher c;
  c.cipher_ = cipher;
  c.integrity_ = integrity;
  c.encrypt_ = encrypt;
  c.ctx_.reset(EVP_CIPHER_CTX_new());
  const EVP_CIPHER* evp = cipher_for(cipher);
  if (!c.ctx_ || evp == nullptr ||
      EVP_CipherInit_ex(c.ctx_.get(), evp, nullptr, nullptr, nullptr, encrypt ? 1 : 0) != 1) {
    return make_error(ErrorKind::kProtocol, "ESP cipher setup failed in OpenSSL");
  }
  bool ok = true;
  if (is_aead(cipher)) {
    std::memcpy(c.salt_, keymat.data() + key_size(cipher), kSaltSize);
    ok = EVP_CIPHER_CTX_ctrl(c.ctx_.get(), EVP_CTRL_AEAD_SET_IVLEN, int(kSaltSize + 8), nullptr) ==
         1;
  } else {
    // ESP pads to the block itself (RFC 4303 2.4); OpenSSL must not add its own padding.
    ok = EVP_CIPHER_CTX_set_padding(c.ctx_.get(), 0) == 1;
    c.hmac_ = crypto::Hmac(hash_for(integrity), integrity_key);
    ok = ok && c.hmac_.valid();
  }
  if (!ok || EVP_CipherInit_ex(c.ctx_.get(), nullptr, nullptr, keymat.data(), nullptr, -1) != 1) {
    return make_error(ErrorKind::kProtocol, "ESP cipher setup failed in OpenSSL");
  }
  return c;
}

bool EspCipher::seal(uint8_t* header, uint64_t seq, uint8_t* data, size_t len) {
  if (!ctx_ || !encrypt_ || len % block() != 0) return false;
  if (is_aead(cipher_)) {
    store_be64(header + kEspHeader, seq);  // the IV: unique per key
    return seal_aead(header, data, len);
  }
  const uint8_t* iv = next_random_iv();
  if (iv == nullptr) return false;
  std::memcpy(header + kEspHeader, iv, 16);
  return seal_cbc(header, data, len);
}

bool EspCipher::open(const uint8_t* header, uint8_t* data, size_t len) {
  if (!ctx_ || encrypt_ || len % block() != 0) return false;
  return is_aead(cipher_) ? open_aead(header, data, len) : open_cbc(header, data, len);
}

bool EspCipher::set_aead_nonce(const uint8_t* iv) {
  uint8_t nonce[kSaltSize + 8];
  std::memcpy(nonce, salt_, kSaltSize);
  std::memcpy(nonce + kSaltSize, iv, 8);
  return EVP_CipherInit_ex(ctx_.get(), nullptr, nullptr, nullptr, nonce, -1) == 1;
}

bool EspCipher::seal_aead(uint8_t* header, uint8_t* data, size_t len) {
  if (!set_aead_nonce(header + kEspHeader)) return false;
  int n = 0;
  if (EVP_CipherUpdate(ctx_.get(), nullptr, &n, header, int(kEspHeader)) != 1) return false;
  if (len > 0 && EVP_CipherUpdate(ctx_.get(), data, &n, data, int(len)) != 1) return false;
  int tail = 0;
  if (EVP_CipherFinal_ex(ctx_.get(), data + len, &tail) != 1) return false;
  return EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_GET_TAG, int(icv_size()), data + len) == 1;
}

bool EspCipher::open_aead(const uint8_t* header, uint8_t* data, size_t len) {
  if (!set_aead_nonce(header + kEspHeader)) return false;
  int n = 0;
  if (EVP_CipherUpdate(ctx_.get(), nullptr, &n, header, int(kEspHeader)) != 1) return false;
  if (len > 0 && EVP_CipherUpdate(ctx_.get(), data, &n, data, int(len)) != 1) return false;
  // The tag is compared in constant time inside OpenSSL's final step.
  if (EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_SET_TAG, int(icv_size()), data + len) != 1) {
    return false;
  }
  int tail = 0;
  return EVP_CipherFinal_ex(ctx_.get(), data + len, &tail) == 1;
}

const uint8_t* EspCipher::next_random_iv() {
  if (iv_used_ + 16 > iv_pool_.size()) {
    if (RAND_bytes(iv_pool_.data(), int(iv_pool_.size())) != 1) return nullptr;
    iv_used_ = 0;
  }
  const uint8_t* iv = iv_pool_.data() + iv_used_;
  iv_used_ += 16;
  return iv;
}

bool EspCipher::mac(const uint8_t* header, size_t total, std::span<uint8_t> out) {
  return hmac_.reset() && hmac_.update({header, total}) && hmac_.finish(out);
}

bool EspCipher::seal_cbc(uint8_t* header, uint8_t* data, size_t len) {
  if (EVP_CipherInit_ex(ctx_.get(), nullptr, nullptr, nullptr, header + kEspHeader, -1) != 1) {
    return false;
  }
  int n = 0;
  if (len > 0 && EVP_CipherUpdate(ctx_.get(), data, &n, data, int(len)) != 1) return false;
  uint8_t full[crypto::kMaxDigestSize];
  if (!mac(header, size_t(data + len - header), {full, hmac_.size()})) return false;
  std::memcpy(data + len, full, icv_size());
  return true;
}

bool EspCipher::open_cbc(const uint8_t* header, uint8_t* data, size_t len) {
  uint8_t full[crypto::kMaxDigestSize];
  if (!mac(header, size_t(data + len - header), {full, hmac_.size()})) return false;
  if (CRYPTO_memcmp(full, data + len, icv_size()) != 0) return false;
  if (EVP_CipherInit_ex(ctx_.get(), nullptr, nullptr, nullptr, header + kEspHeader, -1) != 1) {
    return false;
  }
  int n = 0;
  return len == 0 || EVP_CipherUpdate(ctx_.get(), data, &n, data, int(len)) == 1;
}

}  // namespace waypost::esp
