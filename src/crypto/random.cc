#include "crypto/random.h"

#include <openssl/rand.h>

#include <cstdlib>

namespace waypost::crypto {

void SystemRandom::fill(std::span<uint8_t> out) {
  if (out.empty()) return;
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    // Without randomness no key or nonce is safe; this is not recoverable.
    std::abort();
  }
}

void SeededRandom::fill(std::span<uint8_t> out) {
  for (auto& b : out) {
    // splitmix64
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    b = uint8_t(z ^ (z >> 31));
  }
}

Random& system_random() {
  static SystemRandom r;
  return r;
}

}  // namespace waypost::crypto
