#include "dataplane/replay_window.h"

#include <algorithm>

namespace waypost::dataplane {

bool ReplayWindow::accept(uint64_t counter, uint64_t limit) {
  if (counter >= limit) return false;
  // Work with counter + 1 so that "nothing seen" (next_ == 0) needs no special case.
  const uint64_t n = counter + 1;
  constexpr uint64_t kWords = kWindowBits / kWordBits;
  if (n + kWindowSize < next_) return false;  // too far behind
  uint64_t word = n / kWordBits;
  if (n > next_) {
    // Clear the words between the old highest and the new one (at most the whole ring).
    uint64_t current = next_ / kWordBits;
    uint64_t distance = std::min<uint64_t>(word - current, kWords);
    for (uint64_t i = 1; i <= distance; ++i) words_[(current + i) % kWords] = 0;
    next_ = n;
  }
  uint64_t& w = words_[word % kWords];
  uint64_t bit = uint64_t(1) << (n % kWordBits);
  if (w & bit) return false;
  w |= bit;
  return true;
}

void ReplayWindow::reset() {
  words_.fill(0);
  next_ = 0;
}

}  // namespace waypost::dataplane
