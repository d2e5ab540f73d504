#pragma once
// Randomness is injected like time: production uses OpenSSL's CSPRNG, tests a seeded generator so
// that handshakes are reproducible.

#include <cstdint>
#include <span>

namespace waypost::crypto {

class Random {
 public:
  virtual ~Random() = default;
  virtual void fill(std::span<uint8_t> out) = 0;
  uint32_t u32() {
    uint32_t v = 0;
    fill({reinterpret_cast<uint8_t*>(&v), sizeof(v)});
    return v;
  }
  uint64_t u64() {
    uint64_t v = 0;
    fill({reinterpret_cast<uint8_t*>(&v), sizeof(v)});
    return v;
  }
  // Uniform in [0, bound), bound > 0.
  uint64_t below(uint64_t bound) { return u64() % bound; }
};

class SystemRandom final : public Random {
 public:
  void fill(std::span<uint8_t> out) override;
};

// Deterministic, NOT cryptographically secure; for tests and benchmarks only.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed ? seed : 1) {}
  void fill(std::span<uint8_t> out) override;

 private:
  uint64_t state_;
};

Random& system_random();

}  // namespace waypost::crypto
