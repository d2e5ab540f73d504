#pragma once
// Variable-length secret bytes (IKE keys, Diffie-Hellman shared secrets): a buffer whose size is
// fixed when it is made, so it never reallocates and leaves no stray copy, and which is wiped when
// destroyed. Secret<N> (common/secret.h) is the fixed-size form.

#include <openssl/crypto.h>

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace waypost::crypto {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size) : bytes_(size, 0) {}
  explicit SecretBytes(std::span<const uint8_t> src) : bytes_(src.begin(), src.end()) {}
  SecretBytes(const SecretBytes& o) = default;
  SecretBytes(SecretBytes&& o) noexcept : bytes_(std::move(o.bytes_)) { o.bytes_.clear(); }
  SecretBytes& operator=(const SecretBytes& o) {
    if (this != &o) {
      wipe();
      bytes_ = o.bytes_;
    }
    return *this;
  }
  SecretBytes& operator=(SecretBytes&& o) noexcept {
    if (this != &o) {
      wipe();
      bytes_ = std::move(o.bytes_);
      o.bytes_.clear();
    }
    return *this;
  }
  ~SecretBytes() { wipe(); }

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  std::span<uint8_t> span() { return bytes_; }
  std::span<const uint8_t> span() const { return bytes_; }
  // Constant-time equality (sizes are not secret).
  bool equals(std::span<const uint8_t> other) const {
    return other.size() == bytes_.size() &&
           CRYPTO_memcmp(bytes_.data(), other.data(), bytes_.size()) == 0;
  }

 private:
  void wipe() {
    if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
  }
  std::vector<uint8_t> bytes_;
};

}  // namespace waypost::crypto
