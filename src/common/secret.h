#pragma once
// Fixed-size byte arrays for keys. Secret<N> wipes itself when destroyed or overwritten and
// compares in constant time; PublicKey-style arrays use plain std::array.

#include <openssl/crypto.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <span>

namespace waypost {

template <size_t N>
class Secret {
 public:
  Secret() { bytes_.fill(0); }
  explicit Secret(std::span<const uint8_t, N> src) { std::memcpy(bytes_.data(), src.data(), N); }
  Secret(const Secret& o) : bytes_(o.bytes_) {}
  Secret& operator=(const Secret& o) {
    if (this != &o) bytes_ = o.bytes_;
    return *this;
  }
  ~Secret() { wipe(); }

  void wipe() { OPENSSL_cleanse(bytes_.data(), N); }
  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  static constexpr size_t size() { return N; }
  std::span<uint8_t, N> span() { return std::span<uint8_t, N>(bytes_); }
  std::span<const uint8_t, N> span() const { return std::span<const uint8_t, N>(bytes_); }

  bool is_zero() const {
    uint8_t acc = 0;
    for (uint8_t b : bytes_) acc |= b;
    return acc == 0;
  }
  bool equals(std::span<const uint8_t, N> other) const {
    return CRYPTO_memcmp(bytes_.data(), other.data(), N) == 0;
  }

 private:
  std::array<uint8_t, N> bytes_;
};

// Constant-time equality for MACs, keys and tags.
inline bool constant_time_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

inline void secure_wipe(void* p, size_t n) {
  OPENSSL_cleanse(p, n);
}

}  // namespace waypost
