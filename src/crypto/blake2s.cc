#include "crypto/blake2s.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstdlib>

#include "common/secret.h"

namespace waypost::crypto {

namespace {

// Fetched algorithm objects are immutable and thread-safe; contexts are per thread.
EVP_MD* blake2s_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "BLAKE2S-256", nullptr);
  return md;
}

[[noreturn]] void crypto_failure() {
  // An OpenSSL primitive failing on valid sizes means a broken library: never continue with
  // unset key material.
  std::abort();
}

struct DigestCtx {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  DigestCtx() = default;
  DigestCtx(const DigestCtx&) = delete;
  DigestCtx& operator=(const DigestCtx&) = delete;
  ~DigestCtx() { EVP_MD_CTX_free(ctx); }
};

// One EVP_MAC_CTX per thread and algorithm, configured once; EVP_MAC_init then only sets the key.
struct MacCtx {
  EVP_MAC_CTX* ctx = nullptr;
  MacCtx(const char* name, const OSSL_PARAM* params) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, name, nullptr);
    if (mac == nullptr) crypto_failure();
    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    if (ctx == nullptr || EVP_MAC_CTX_set_params(ctx, params) != 1) crypto_failure();
  }
  MacCtx(const MacCtx&) = delete;
  MacCtx& operator=(const MacCtx&) = delete;
  ~MacCtx() { EVP_MAC_CTX_free(ctx); }
};

EVP_MAC_CTX* hmac_ctx() {
  static char digest[] = "BLAKE2S-256";
  static const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  thread_local MacCtx c("HMAC", params);
  return c.ctx;
}

EVP_MAC_CTX* blake2s_mac_ctx() {
  static size_t size = kMacSize;
  static const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                                      OSSL_PARAM_construct_end()};
  thread_local MacCtx c("BLAKE2SMAC", params);
  return c.ctx;
}

}  // namespace

void blake2s_hash(std::span<uint8_t, kHashSize> out,
                  std::initializer_list<std::span<const uint8_t>> parts) {
  thread_local DigestCtx d;
  unsigned int len = 0;
  if (EVP_DigestInit_ex(d.ctx, blake2s_md(), nullptr) != 1) crypto_failure();
  for (auto p : parts) {
    if (EVP_DigestUpdate(d.ctx, p.data(), p.size()) != 1) crypto_failure();
  }
  if (EVP_DigestFinal_ex(d.ctx, out.data(), &len) != 1 || len != kHashSize) crypto_failure();
}

void blake2s_mac(std::span<uint8_t, kMacSize> out, std::span<const uint8_t> key,
                 std::initializer_list<std::span<const uint8_t>> parts) {
  EVP_MAC_CTX* ctx = blake2s_mac_ctx();
  size_t len = 0;
  if (EVP_MAC_init(ctx, key.data(), key.size(), nullptr) != 1) crypto_failure();
  for (auto p : parts) {
    if (EVP_MAC_update(ctx, p.data(), p.size()) != 1) crypto_failure();
  }
  if (EVP_MAC_final(ctx, out.data(), &len, out.size()) != 1 || len != kMacSize) crypto_failure();
}

void hmac_blake2s(std::span<uint8_t, kHashSize> out, std::span<const uint8_t> key,
                  std::span<const uint8_t> data) {
  EVP_MAC_CTX* ctx = hmac_ctx();
  size_t len = 0;
  if (EVP_MAC_init(ctx, key.data(), key.size(), nullptr) != 1 ||
      EVP_MAC_update(ctx, data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx, out.data(), &len, out.size()) != 1 || len != kHashSize) {
    crypto_failure();
  }
}

void kdf(std::span<const uint8_t, kHashSize> key, std::span<const uint8_t> input, uint8_t* out1,
         uint8_t* out2, uint8_t* out3) {
  Secret<kHashSize> prk;
  Secret<kHashSize + 1> buf;
  hmac_blake2s(prk.span(), key, input);
  // T1 = HMAC(prk, 0x1); T2 = HMAC(prk, T1 || 0x2); T3 = HMAC(prk, T2 || 0x3)
  uint8_t one = 1;
  Secret<kHashSize> t;
  hmac_blake2s(t.span(), prk.span(), {&one, 1});
  std::copy_n(t.data(), kHashSize, out1);
  if (out2 != nullptr) {
    std::copy_n(t.data(), kHashSize, buf.data());
    buf.data()[kHashSize] = 2;
    hmac_blake2s(t.span(), prk.span(), buf.span());
    std::copy_n(t.data(), kHashSize, out2);
  }
  if (out3 != nullptr) {
    std::copy_n(t.data(), kHashSize, buf.data());
    buf.data()[kHashSize] = 3;
    hmac_blake2s(t.span(), prk.span(), buf.span());
    std::copy_n(t.data(), kHashSize, out3);
  }
}

}  // namespace waypost::crypto
