#pragma once
// The daemon's recent log lines in memory, numbered, so that a command can show what happened
// to one connection while it waits (`waypost ipsec initiate` prints the lines of the connection
// it started; `waypost ipsec log` reads them) whether the log goes to a file or to stderr.
// Attached to the default logger beside its own sink. Lines may come from several threads (the
// server runs its IPsec engine on one of its own), so the ring has a lock of its own.

#include <spdlog/sinks/base_sink.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace waypost {

class LogRing final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LogRing(size_t capacity) : capacity_(capacity) {}

  struct Line {
    uint64_t seq = 0;
    std::string text;  // formatted like the log file, without the newline
  };
  // The number the next line will get.
  uint64_t next_seq() const {
    const std::lock_guard<std::mutex> lock(ring_mutex_);
    return next_seq_;
  }
  // Lines numbered `since` or later that contain `filter` (all if empty), at most `max`.
  std::vector<Line> read(uint64_t since, std::string_view filter, size_t max) const;

  // Adds a ring to the default logger (call after init_logging).
  static std::shared_ptr<LogRing> attach(size_t capacity);

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  size_t capacity_;
  mutable std::mutex ring_mutex_;  // lines_ and next_seq_
  uint64_t next_seq_ = 0;
  std::deque<Line> lines_;
};

}  // namespace waypost
