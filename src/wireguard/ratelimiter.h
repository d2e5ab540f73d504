#pragma once
// Per-source token buckets for handshake messages while the device is under load (as the Linux
// module's ratelimiter.c: 20 per second, burst 5; IPv6 sources grouped by /64). Fixed-size
// open-addressing table: no allocation per packet; stale entries are reused, and a full table
// denies, which only affects sources that already proved their address with a cookie.

#include <array>
#include <cstdint>
#include <memory>

#include "common/clock.h"
#include "net/ip.h"

namespace waypost::wireguard {

class RateLimiter {
 public:
  static constexpr int kPacketsPerSecond = 20;
  static constexpr int kBurst = 5;
  static constexpr size_t kSlots = 8192;
  static constexpr int kMaxProbe = 32;

  explicit RateLimiter(uint64_t seed) : seed_(seed | 1) {}
  bool allow(const net::Endpoint& source, Nanos now);

 private:
  struct Slot {
    uint64_t key_hi = 0;
    uint64_t key_lo = 0;
    Nanos last = 0;
    Nanos tokens = 0;
    bool used = false;
  };
  std::unique_ptr<Slot[]> slots_;  // allocated on first use (only under load)
  uint64_t seed_;
};

}  // namespace waypost::wireguard
