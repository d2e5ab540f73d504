#include "daemon/signals.h"

#include <sys/signalfd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace waypost::daemon {

Result<platform::UniqueFd> open_signal_fd() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  platform::UniqueFd fd(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd.valid()) return make_error("signalfd: {}", std::strerror(errno));
  return fd;
}

}  // namespace waypost::daemon
