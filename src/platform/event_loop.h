#pragma once
// A small epoll loop: file descriptors with handlers, a timeout computed before every wait, and
// a stop flag. Single-threaded; handlers may add or remove descriptors (including their own).

#include <cstdint>
#include <functional>
#include <unordered_map>

#include "common/clock.h"
#include "common/result.h"
#include "platform/fd.h"

namespace waypost::platform {

class EventLoop {
 public:
  using Handler = std::function<void(uint32_t events)>;

  static Result<EventLoop> create();

  Status add(int fd, uint32_t events, Handler handler);
  Status modify(int fd, uint32_t events);
  void remove(int fd);

  // Runs until stop(). Before each wait, `before_wait` runs (timers, flushes) and returns how
  // long the loop may sleep (kNever: until an event).
  void run(const std::function<Nanos()>& before_wait);
  void stop() { stopped_ = true; }

 private:
  EventLoop() = default;
  UniqueFd epoll_;
  std::unordered_map<int, std::shared_ptr<Handler>> handlers_;
  bool stopped_ = false;
};

}  // namespace waypost::platform
