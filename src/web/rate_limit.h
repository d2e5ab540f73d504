#pragma once
// Sign-in rate limiting: one token bucket per key (a client address, or an account name), held in
// memory. A bucket holds up to `burst` attempts and regains one every `interval`; an attempt on an
// empty bucket is refused with the time until the next token. Kept as GCRA (one "theoretical
// arrival time" per key instead of a count and a timestamp), which is the same bucket with one
// integer of state and no rounding.
//
// Memory is bounded: a key whose bucket has refilled completely carries no information and is
// dropped when the table grows past `max_keys`; if the table is still full, the key nearest to
// full is dropped. An attacker cycling addresses can thus reset its own per-address buckets, but
// not the per-account ones that bound guesses against a name.

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace waypost::web {

struct BucketPolicy {
  int64_t burst = 10;           // attempts allowed back to back
  Nanos interval = seconds(6);  // one more attempt per interval
  size_t max_keys = 1u << 16;   // keys held before full buckets are dropped
};

class RateLimiter {
 public:
  RateLimiter(const Clock& clock, BucketPolicy policy) : clock_(clock), policy_(policy) {}

  struct Verdict {
    bool allowed = true;
    Nanos retry_after = 0;  // when refused: how long until one attempt is allowed again
  };
  // Whether an attempt under `key` may go ahead now; an allowed attempt takes one token.
  Verdict take(std::string_view key);
  // Whether `take` would allow an attempt now, without taking a token.
  bool would_allow(std::string_view key) const;

  size_t keys() const { return tat_.size(); }

 private:
  void make_room(Nanos now);

  const Clock& clock_;
  BucketPolicy policy_;
  std::map<std::string, Nanos, std::less<>> tat_;  // key -> theoretical arrival time
};

// The rate-limit key of a client address: an IPv4 address as is, an IPv6 address by its /64,
// since one host typically owns a whole /64 and could otherwise take a fresh bucket per address.
// Text that is not an address is used as is.
std::string address_key(std::string_view address);

}  // namespace waypost::web
