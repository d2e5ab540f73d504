#include "cli/daemonize.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cli/commands.h"
#include "common/log.h"
#include "daemon/notify.h"

namespace waypost::cli {

int run_in_foreground(const DaemonRun& run, const DaemonStart& start) {
  init_logging(run.log_level, run.log_file);
  auto serve = start();
  if (!serve) {
    spdlog::error("{}", serve.error().message);
    if (!run.log_file.empty()) std::fprintf(stderr, "waypost: %s\n", serve.error().message.c_str());
    return 1;
  }
  daemon::notify_ready();
  auto st = (*serve)();
  daemon::notify_stopping();
  if (!st) {
    spdlog::error("{}", st.error().message);
    return 1;
  }
  return 0;
}

int run_in_background(const DaemonRun& run, const DaemonStart& start) {
  const std::string log_file = run.log_file.empty() ? run.default_log : run.log_file;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(log_file).parent_path(), ec);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return fail(std::string("pipe: ") + std::strerror(errno));
  pid_t pid = fork();
  if (pid < 0) return fail(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(fds[0]);
    setsid();
    int devnull = ::open("/dev/null", O_RDWR);
    dup2(devnull, STDIN_FILENO);
    mode_t old = umask(027);
    int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    umask(old);
    // Hooks and anything unexpected on stdout/stderr end up in the log, not on a dead terminal.
    dup2(log_fd >= 0 ? log_fd : devnull, STDOUT_FILENO);
    dup2(log_fd >= 0 ? log_fd : devnull, STDERR_FILENO);
    init_logging(run.log_level, log_file);
    auto serve = start();
    std::string status = serve ? "OK\n" : "ERR " + serve.error().message + "\n";
    if (!serve) spdlog::error("{}", serve.error().message);
    (void)!::write(fds[1], status.data(), status.size());
    ::close(fds[1]);
    if (!serve) _exit(1);
    auto st = (*serve)();
    // Whatever the daemon holds goes with the function (its destructor tears down).
    *serve = nullptr;
    _exit(st ? 0 : 1);
  }
  ::close(fds[1]);
  std::string answer;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n > 0) {
      answer.append(buf, size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  ::close(fds[0]);
  if (answer.rfind("OK", 0) == 0) {
    std::printf("waypost: %s is up (pid %d, log %s)\n", run.name.c_str(), int(pid),
                log_file.c_str());
    return 0;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (answer.rfind("ERR ", 0) == 0) {
    while (!answer.empty() && answer.back() == '\n') answer.pop_back();
    return fail(answer.substr(4));
  }
  return fail("the daemon for " + run.name + " exited during start-up; see " + log_file);
}

}  // namespace waypost::cli
