#pragma once
// Sliding-window replay protection for transport counters (RFC 6479 style, as the Linux module),
// shared by every protocol: WireGuard counters and ESP sequence numbers (RFC 4303 3.4.3) alike.
// A bitmap of kWindowBits bits in 64-bit words tracks which counters were seen; when the highest
// counter advances, the words it passes are cleared instead of shifting the whole bitmap.
// Counters more than kWindowSize behind the highest are rejected.
//
// Call accept() only after a packet authenticated, so forged packets cannot move the window.

#include <array>
#include <cstdint>

namespace waypost::dataplane {

class ReplayWindow {
 public:
  static constexpr uint64_t kWindowBits = 8192;
  static constexpr uint64_t kWordBits = 64;
  static constexpr uint64_t kWindowSize = kWindowBits - kWordBits;  // 8128 accepted behind max

  // True if `counter` is new and within the window (and records it); false for a replay, a
  // counter too old, or one at or beyond the reject-after limit.
  bool accept(uint64_t counter, uint64_t limit);
  void reset();
  uint64_t highest() const { return next_ == 0 ? 0 : next_ - 1; }

 private:
  std::array<uint64_t, kWindowBits / kWordBits> words_{};
  uint64_t next_ = 0;  // highest accepted counter + 1; 0 = nothing accepted yet
};

}  // namespace waypost::dataplane
