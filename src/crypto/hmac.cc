#include "crypto/hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

namespace waypost::crypto {

namespace {

// Fetched once: an explicit fetch avoids a provider lookup for every key.
EVP_MAC* hmac_method() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

const char* digest_name(HashAlg alg) {
  switch (alg) {
    case HashAlg::kSha1:
      return "SHA1";
    case HashAlg::kSha256:
      return "SHA2-256";
    case HashAlg::kSha384:
      return "SHA2-384";
    case HashAlg::kSha512:
      return "SHA2-512";
  }
  return "SHA2-256";
}

}  // namespace

bool digest(HashAlg alg, std::initializer_list<std::span<const uint8_t>> parts,
            std::span<uint8_t> out) {
  if (out.size() != digest_size(alg)) return false;
  static EVP_MD* const kMds[] = {
      EVP_MD_fetch(nullptr, digest_name(HashAlg::kSha1), nullptr),
      EVP_MD_fetch(nullptr, digest_name(HashAlg::kSha256), nullptr),
      EVP_MD_fetch(nullptr, digest_name(HashAlg::kSha384), nullptr),
      EVP_MD_fetch(nullptr, digest_name(HashAlg::kSha512), nullptr),
  };
  EVP_MD* md = kMds[static_cast<size_t>(alg)];
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (md == nullptr || !ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1) return false;
  for (auto part : parts) {
    if (!part.empty() && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1) return false;
  }
  unsigned len = 0;
  return EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size();
}

Hmac::Hmac(HashAlg alg, std::span<const uint8_t> key) : alg_(alg) {
  if (hmac_method() == nullptr) return;
  ctx_.reset(EVP_MAC_CTX_new(hmac_method()));
  if (!ctx_) return;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                          const_cast<char*>(digest_name(alg)), 0),
                         OSSL_PARAM_construct_end()};
  // HMAC allows an empty key (RFC 2104 pads it to the block size); OpenSSL wants a non-null
  // pointer for it.
  static const uint8_t kEmpty = 0;
  const uint8_t* key_data = key.empty() ? &kEmpty : key.data();
  if (EVP_MAC_init(ctx_.get(), key_data, key.size(), params) != 1) ctx_.reset();
}

bool Hmac::update(std::span<const uint8_t> data) {
  if (!ctx_) return false;
  return data.empty() || EVP_MAC_update(ctx_.get(), data.data(), data.size()) == 1;
}

bool Hmac::finish(std::span<uint8_t> out) {
  if (!ctx_ || out.size() != size()) return false;
  size_t len = 0;
  return EVP_MAC_final(ctx_.get(), out.data(), &len, out.size()) == 1 && len == out.size();
}

bool Hmac::reset() {
  // A null key re-initializes the context with the key it already holds.
  return ctx_ && EVP_MAC_init(ctx_.get(), nullptr, 0, nullptr) == 1;
}

bool hmac(HashAlg alg, std::span<const uint8_t> key,
          std::initializer_list<std::span<const uint8_t>> parts, std::span<uint8_t> out) {
  Hmac mac(alg, key);
  for (auto part : parts) {
    if (!mac.update(part)) return false;
  }
  return mac.finish(out);
}

}  // namespace waypost::crypto
