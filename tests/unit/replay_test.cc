// The replay window as a known-answer table, in the spirit of the Linux module's selftest:
// each row feeds one counter and states whether it must be accepted.
#include <gtest/gtest.h>

#include "dataplane/replay_window.h"
#include "wireguard/messages.h"

namespace waypost::dataplane {
namespace {

using wireguard::kRejectAfterMessages;

struct Row {
  uint64_t counter;
  bool accepted;
};

constexpr uint64_t W = ReplayWindow::kWindowSize;

TEST(ReplayWindow, KnownAnswerTable) {
  // After the highest accepted counter H, counters in [H - W, H] not seen before are accepted.
  const Row rows[] = {
      {0, true},           {1, true},           {1, false},           {9, true},
      {8, true},           {7, true},           {7, false},           {W, true},
      {W - 1, true},       {W - 1, false},      {W - 2, true},        {2, true},  // H - W <= 2
      {2, false},          {W + 16, true},      {3, false},           {W + 16, false},
      {W * 3, true},       {W * 3 - 1, true},   {W * 3 - 2, true},    {W * 2 + 1, true},
      {W * 2, true},  // exactly H - W
      {W * 3 + 1, true},   {W * 3, false},      {W * 2 + 1, false},   {W * 2, false},
      {0, false},          {W * 100, true},     {W * 99, true},       {W * 99 + 1, true},
      {W * 99 + 1, false}, {W * 99 - 1, false}, {W * 100 + 64, true}, {W * 100 + 63, true},
  };

  ReplayWindow w;
  int line = 0;
  for (const Row& r : rows) {
    ++line;
    EXPECT_EQ(w.accept(r.counter, kRejectAfterMessages), r.accepted)
        << "row " << line << " counter " << r.counter;
  }
}

TEST(ReplayWindow, RejectsAtLimit) {
  ReplayWindow w;
  EXPECT_FALSE(w.accept(kRejectAfterMessages, kRejectAfterMessages));
  EXPECT_TRUE(w.accept(kRejectAfterMessages - 1, kRejectAfterMessages));
  EXPECT_FALSE(w.accept(kRejectAfterMessages - 1, kRejectAfterMessages));
}

TEST(ReplayWindow, InOrderAndOutOfOrderWithinWindow) {
  ReplayWindow w;
  for (uint64_t i = 0; i < 20000; ++i) EXPECT_TRUE(w.accept(i, kRejectAfterMessages));
  // Every counter in [max - W + 1, max] already seen: replays rejected.
  for (uint64_t i = 20000 - 100; i < 20000; ++i) EXPECT_FALSE(w.accept(i, kRejectAfterMessages));
  // Skip ahead, then fill in the gap backwards: all accepted exactly once.
  ReplayWindow v;
  EXPECT_TRUE(v.accept(5000, kRejectAfterMessages));
  for (uint64_t i = 4999; i > 5000 - W; --i) EXPECT_TRUE(v.accept(i, kRejectAfterMessages));
  EXPECT_FALSE(v.accept(5000 - W, kRejectAfterMessages));  // just outside
  EXPECT_GE(W, 2048u);
}

TEST(ReplayWindow, ResetForgetsEverything) {
  ReplayWindow w;
  EXPECT_TRUE(w.accept(10, kRejectAfterMessages));
  w.reset();
  EXPECT_TRUE(w.accept(10, kRejectAfterMessages));
}

}  // namespace
}  // namespace waypost::dataplane
