#pragma once
// Logging goes through spdlog. Hot paths (per-packet drops) use WP_LOG_RATELIMITED so that a flood
// of bad packets costs a counter increment, not a line of log per packet.

#include <spdlog/spdlog.h>

#include "common/clock.h"

namespace waypost {

// Allows `burst` lines per second per call site; counts what it suppressed.
class LogLimiter {
 public:
  explicit LogLimiter(int burst = 5) : burst_(burst) {}
  bool allow() {
    Nanos t = SystemClock().now();
    if (t - window_start_ >= kNanosPerSecond) {
      window_start_ = t;
      used_ = 0;
    }
    if (used_ < burst_) {
      ++used_;
      return true;
    }
    return false;
  }

 private:
  int burst_;
  int used_ = 0;
  Nanos window_start_ = 0;
};

// The default logger: to `file_path` (rotated at kLogFileBytes, kLogFilesKept old files kept),
// else to the journal with structured fields when systemd connected stderr to it (log_journal.h),
// else to stderr. Thread-safe sinks: the server logs from more than one thread.
inline constexpr size_t kLogFileBytes = 10u << 20;
inline constexpr size_t kLogFilesKept = 5;
void init_logging(const std::string& level, const std::string& file_path = {});

}  // namespace waypost

#define WP_LOG_RATELIMITED(lvl, ...)                                         \
  do {                                                                       \
    static thread_local ::waypost::LogLimiter wp_log_limiter_;               \
    if (spdlog::should_log(spdlog::level::lvl) && wp_log_limiter_.allow()) { \
      spdlog::log(spdlog::level::lvl, __VA_ARGS__);                          \
    }                                                                        \
  } while (0)
