// platform::EventLoop: handlers, before_wait timeouts, sleeping and waking. No timing
// assertions: these check what runs, not how fast.
#include "platform/event_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace waypost::platform {
namespace {

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    close(r);
    close(w);
  }
  void put(char c) const { EXPECT_EQ(write(w, &c, 1), 1); }
  std::string drain() const {
    std::string got;
    char buf[64];
    for (ssize_t n; (n = read(r, buf, sizeof(buf))) > 0;) got.append(buf, size_t(n));
    return got;
  }
};

// A thread answers every byte the loop sends; every round trip completes and stop() ends run().
TEST(EventLoop, RoundTrips) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop);
  Pipe to_peer, from_peer;
  std::thread peer([&] {
    for (int i = 0; i < 200; ++i) {
      char c;
      while (read(to_peer.r, &c, 1) != 1) usleep(10);
      if (c == 'q') return;
      from_peer.put(c);
    }
  });
  int rounds = 0;
  ASSERT_TRUE(loop->add(from_peer.r, EPOLLIN, [&](uint32_t) {
    rounds += int(from_peer.drain().size());
    to_peer.put(rounds < 100 ? 'x' : 'q');
    if (rounds >= 100) loop->stop();
  }));
  to_peer.put('x');
  loop->run([] { return kNever; });
  peer.join();
  EXPECT_EQ(rounds, 100);
}

// before_wait runs before every wait; its timeout ends a wait with nothing to do.
TEST(EventLoop, TimeoutGivesBeforeWaitAnotherTurn) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop);
  Pipe p;
  p.put('a');
  int calls = 0;
  bool fired = false;
  ASSERT_TRUE(loop->add(p.r, EPOLLIN, [&](uint32_t) { p.drain(); }));
  loop->run([&]() -> Nanos {
    ++calls;
    if (calls == 1) return kNever;          // first wait: the byte is there already
    if (calls == 2) return kNanosPerMilli;  // nothing comes: 1 ms, then a turn
    fired = true;                           // the "timer" runs on the next turn
    loop->stop();
    return 0;
  });
  EXPECT_TRUE(fired);
  EXPECT_EQ(calls, 3);
}

// With nothing to do the loop sleeps until the descriptor is ready.
TEST(EventLoop, IdleLoopSleepsAndWakes) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop);
  Pipe p;
  std::string got;
  ASSERT_TRUE(loop->add(p.r, EPOLLIN, [&](uint32_t) {
    got += p.drain();
    if (got.size() >= 3) loop->stop();
  }));
  std::thread writer([&] {
    for (char c : std::string("abc")) {
      usleep(2000);
      p.put(c);
    }
  });
  loop->run([] { return kNever; });
  writer.join();
  EXPECT_EQ(got, "abc");
}

}  // namespace
}  // namespace waypost::platform
