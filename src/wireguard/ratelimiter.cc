#include "wireguard/ratelimiter.h"

#include <cstring>

namespace waypost::wireguard {

namespace {
constexpr Nanos kPacketCost = kNanosPerSecond / RateLimiter::kPacketsPerSecond;
constexpr Nanos kMaxTokens = kPacketCost * RateLimiter::kBurst;

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}
}  // namespace

bool RateLimiter::allow(const net::Endpoint& source, Nanos now) {
  uint64_t hi = 0, lo = 0;
  const uint8_t* a = source.addr.sin6_addr.s6_addr;
  if (source.is_v4()) {
    std::memcpy(&lo, a + 12, 4);
    hi = 4;
  } else {
    std::memcpy(&hi, a, 8);  // the /64: one customer's whole allocation counts as one source
    lo = 6;
  }
  if (!slots_) slots_ = std::make_unique<Slot[]>(kSlots);
  uint64_t h = mix(hi ^ mix(lo ^ seed_));
  Slot* free_slot = nullptr;
  for (int i = 0; i < kMaxProbe; ++i) {
    Slot& s = slots_[(h + uint64_t(i)) % kSlots];
    bool stale = !s.used || now - s.last > kNanosPerSecond;
    if (s.used && !stale && s.key_hi == hi && s.key_lo == lo) {
      s.tokens += now - s.last;
      if (s.tokens > kMaxTokens) s.tokens = kMaxTokens;
      s.last = now;
      if (s.tokens >= kPacketCost) {
        s.tokens -= kPacketCost;
        return true;
      }
      return false;
    }
    if (stale && free_slot == nullptr) free_slot = &s;
  }
  if (free_slot == nullptr) return false;
  *free_slot = Slot{hi, lo, now, kMaxTokens - kPacketCost, true};
  return true;
}

}  // namespace waypost::wireguard
