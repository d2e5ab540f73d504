#pragma once
// HMAC (RFC 2104) with SHA-1 and SHA-2 through OpenSSL 3's EVP_MAC: the IKEv2 PRFs
// (PRF_HMAC_SHA1, PRF_HMAC_SHA2_*) and the IKE/ESP integrity algorithms, whose truncation to
// 96/128/192/256 bits (RFC 4868) is the caller's.

#include <openssl/evp.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>

namespace waypost::crypto {

enum class HashAlg : uint8_t {
  kSha1,
  kSha256,
  kSha384,
  kSha512,
};

constexpr size_t kMaxDigestSize = 64;

// Output (and, for the IKE PRFs, preferred key) size in bytes: 20, 32, 48, 64.
constexpr size_t digest_size(HashAlg alg) {
  switch (alg) {
    case HashAlg::kSha1:
      return 20;
    case HashAlg::kSha256:
      return 32;
    case HashAlg::kSha384:
      return 48;
    case HashAlg::kSha512:
      return 64;
  }
  return 0;
}

// An incremental HMAC under one key: update() any number of times, then finish(); reset() starts
// a new message under the same key without setting the key up again. Move-only; not thread-safe.
class Hmac {
 public:
  Hmac() = default;
  Hmac(HashAlg alg, std::span<const uint8_t> key);
  bool valid() const { return ctx_ != nullptr; }
  HashAlg alg() const { return alg_; }
  size_t size() const { return digest_size(alg_); }

  [[nodiscard]] bool update(std::span<const uint8_t> data);
  // out.size() must be size(); the context then needs reset() before the next message.
  [[nodiscard]] bool finish(std::span<uint8_t> out);
  [[nodiscard]] bool reset();

 private:
  struct CtxDeleter {
    void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
  };
  std::unique_ptr<EVP_MAC_CTX, CtxDeleter> ctx_;
  HashAlg alg_ = HashAlg::kSha256;
};

// A plain digest of the concatenation of `parts` (IKE's NAT detection hashes are SHA-1 of this
// kind); out.size() must be digest_size(alg).
[[nodiscard]] bool digest(HashAlg alg, std::initializer_list<std::span<const uint8_t>> parts,
                          std::span<uint8_t> out);

// One-shot HMAC of the concatenation of `parts`; out.size() must be digest_size(alg).
[[nodiscard]] bool hmac(HashAlg alg, std::span<const uint8_t> key,
                        std::initializer_list<std::span<const uint8_t>> parts,
                        std::span<uint8_t> out);

}  // namespace waypost::crypto
