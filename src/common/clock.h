#pragma once
// Time is injected: protocol code asks a Clock, so tests run minutes of protocol time on a
// virtual clock in microseconds. Monotonic time drives timers; wall time feeds TAI64N stamps and
// the "last handshake" shown to users.

#include <cstdint>
#include <ctime>

namespace waypost {

using Nanos = int64_t;  // monotonic nanoseconds
constexpr Nanos kNanosPerMilli = 1'000'000;
constexpr Nanos kNanosPerSecond = 1'000'000'000;
constexpr Nanos seconds(int64_t s) {
  return s * kNanosPerSecond;
}
constexpr Nanos millis(int64_t ms) {
  return ms * kNanosPerMilli;
}
constexpr Nanos kNever = INT64_MAX;

struct WallTime {
  int64_t sec = 0;
  int64_t nsec = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Nanos now() const = 0;
  virtual WallTime wall() const = 0;
};

class SystemClock final : public Clock {
 public:
  // The coarse clock (jiffies, a few ms resolution) is what the Linux module uses for all of its
  // protocol timing too; it costs a few nanoseconds where the precise one costs tens, and the
  // data path asks for the time several times per packet.
  Nanos now() const override {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return ts.tv_sec * kNanosPerSecond + ts.tv_nsec;
  }
  // Wall time on the tick-granular clock, the one time(2) reads. The "latest handshake" stamp is
  // shown next to time(2) (`wg show` subtracts it from time(NULL)); the precise clock runs up to a
  // tick ahead of time(2) after each second boundary, and a handshake completed then would look
  // like it happened in the future ("System clock wound backward"). TAI64N stamps are rounded to
  // ~16.8 ms anyway, far coarser than a tick.
  WallTime wall() const override {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return {ts.tv_sec, ts.tv_nsec};
  }
};

// A clock that only moves when told to. Wall time moves with it from a fixed epoch.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Nanos start = seconds(1000), int64_t wall_epoch = 1'700'000'000)
      : now_(start), wall_epoch_(wall_epoch) {}
  Nanos now() const override { return now_; }
  WallTime wall() const override {
    return {wall_epoch_ + now_ / kNanosPerSecond, now_ % kNanosPerSecond};
  }
  void advance(Nanos d) { now_ += d; }
  void set(Nanos t) { now_ = t; }

 private:
  Nanos now_;
  int64_t wall_epoch_;
};

}  // namespace waypost
