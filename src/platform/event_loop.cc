#include "platform/event_loop.h"

#include <sys/epoll.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace waypost::platform {

Result<EventLoop> EventLoop::create() {
  EventLoop loop;
  loop.epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!loop.epoll_.valid()) return make_error("epoll_create1: {}", std::strerror(errno));
  return loop;
}

Status EventLoop::add(int fd, uint32_t events, Handler handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
    return make_error("epoll_ctl add: {}", std::strerror(errno));
  }
  // shared_ptr: a handler that removes itself must stay alive until it returns.
  handlers_[fd] = std::make_shared<Handler>(std::move(handler));
  return {};
}

Status EventLoop::modify(int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) < 0) {
    return make_error("epoll_ctl mod: {}", std::strerror(errno));
  }
  return {};
}

void EventLoop::remove(int fd) {
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  handlers_.erase(fd);
}

void EventLoop::run(const std::function<Nanos()>& before_wait) {
  constexpr int kMaxEvents = 32;
  epoll_event events[kMaxEvents];
  while (!stopped_) {
    Nanos sleep = before_wait();
    if (stopped_) break;
    int timeout_ms = -1;
    if (sleep != kNever) {
      timeout_ms =
          sleep <= 0 ? 0
                     : int(std::min<Nanos>((sleep + kNanosPerMilli - 1) / kNanosPerMilli, 60'000));
    }
    int n = epoll_wait(epoll_.get(), events, kMaxEvents, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < n && !stopped_; ++i) {
      auto it = handlers_.find(events[i].data.fd);
      if (it == handlers_.end()) continue;
      std::shared_ptr<Handler> h = it->second;
      (*h)(events[i].events);
    }
  }
}

}  // namespace waypost::platform
