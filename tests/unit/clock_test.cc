// The system clock's wall times as users see them next to time(2).
#include "common/clock.h"

#include <gtest/gtest.h>

#include <ctime>

namespace waypost {
namespace {

// `wg show` prints "System clock wound backward" when the latest handshake is later than
// time(NULL); the stamp must never run ahead of it, even right after a second boundary.
TEST(SystemClock, WallTimeNeverAheadOfTime) {
  // The precise clock runs up to a tick ahead of time(2) just after each second boundary (about
  // 1 % of samples here), so sample across one boundary: at most about a second.
  SystemClock clock;
  const time_t start = std::time(nullptr);
  long samples = 0;
  for (time_t now = start; now <= start + 1 && samples < 500'000'000; ++samples) {
    const WallTime stamp = clock.wall();
    now = std::time(nullptr);
    ASSERT_LE(stamp.sec, now) << "after " << samples << " samples";
  }
}

TEST(ManualClock, WallTimeFollowsMonotonicTime) {
  ManualClock clock(seconds(10), 1'700'000'000);
  EXPECT_EQ(clock.wall().sec, 1'700'000'010);
  clock.advance(millis(1500));
  EXPECT_EQ(clock.wall().sec, 1'700'000'011);
  EXPECT_EQ(clock.wall().nsec, 500'000'000);
}

}  // namespace
}  // namespace waypost
