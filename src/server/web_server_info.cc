#include "server/web_server_info.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>

#include "control/json_session.h"
#include "daemon/paths.h"
#include "server/config.h"
#include "server/state.h"
#include "server/status.h"

extern char** environ;

namespace waypost::server {

namespace {

using nlohmann::json;

// Long enough for the doctor's path-MTU searches on a slow path; a run past it is stopped.
constexpr int kDoctorTimeoutSeconds = 120;
constexpr size_t kMaxDoctorOutput = 4 << 20;

// Runs argv with stdout captured (stdin and stderr /dev/null), stopping it (SIGKILL, by the PID
// started here) after `timeout_s`. The output, or why there is none. `child` holds the PID while
// it may be signalled (until it is reaped, so the PID cannot have been reused).
Result<std::string> run_captured(const std::vector<std::string>& argv, int timeout_s,
                                 std::atomic<pid_t>& child) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2] = {-1, -1};
  if (pipe2(fds, O_CLOEXEC) != 0) return make_error("pipe: {}", std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return make_error("cannot run {}: {}", argv[0], std::strerror(rc));
  }
  child = pid;
  std::string out;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int n = ::poll(&p, 1, int(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[8192];
    const ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (out.size() < kMaxDoctorOutput) out.append(buf, size_t(got));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  child = -1;  // before reaping: until then the PID is still this child's
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return make_error("stopped after {} s without finishing", timeout_s);
  return out;
}

}  // namespace

WebServerInfo::~WebServerInfo() {
  // A server stopping does not wait for a doctor run.
  if (const pid_t pid = child_; pid > 0) ::kill(pid, SIGKILL);
  if (thread_.joinable()) thread_.join();
}

Result<json> WebServerInfo::overview() {
  auto config = load_config(dir_);
  if (!config) return config.take_error();
  const int64_t now = std::time(nullptr);
  json out = {{"version", WAYPOST_VERSION},
              {"up_since", up_since_},
              {"uptime_s", now - up_since_},
              {"endpoint", config->endpoint}};
  ServerStatus s;
  auto r = control::json_request(daemon::control_socket_path(config->wireguard_interface),
                                 {{"cmd", "status"}});
  const bool answered = r && r->value("ok", false);
  if (answered) s = server_status_from_json(*r);
  out["running"] = answered;
  out["wireguard"] = {{"enabled", config->wireguard_enabled},
                      {"interface", config->wireguard_interface},
                      {"port", config->wireguard_port},
                      {"public_key", s.public_key}};
  out["ikev2"] = {{"enabled", config->ipsec_enabled}, {"interface", s.ipsec_interface}};
  int online = 0;
  json per_user = json::array();
  for (const UserStatus& u : s.users) {
    if ((u.handshake_age && *u.handshake_age <= 180) || !u.ike_sessions.empty()) ++online;
    if (u.dns_counted) {
      per_user.push_back(
          {{"name", u.name}, {"queries", u.dns_queries}, {"blocked", u.dns_blocked}});
    }
  }
  out["users"] = {{"total", config->users.size()},
                  {"disabled", config->disabled_users.size()},
                  {"online", online}};
  if (s.dns && s.dns->running) {
    const dns::QueryCounters& c = s.dns->counters;
    out["dns"] = {{"queries", c.queries},
                  {"blocked", c.blocked},
                  {"answered", c.answered},
                  {"cache_hits", c.cache_hits},
                  {"servfail", c.servfail},
                  {"timeouts", c.timeouts},
                  {"encryption", s.dns->encryption},
                  {"adblocking", s.dns->adblocking},
                  {"upstream_ok", s.dns->upstream_ok},
                  {"problem", s.dns->problem},
                  {"per_user", per_user}};
  } else {
    out["dns"] = nullptr;
  }
  return out;
}

Status WebServerInfo::start_doctor() {
  std::lock_guard lock(mu_);
  if (running_) {
    Error e = make_error("the doctor is running already; its results come in a minute");
    e.code = EBUSY;
    return e;
  }
  if (thread_.joinable()) thread_.join();  // the last run, finished
  running_ = true;
  thread_ = std::thread([this] { run_doctor(); });
  return {};
}

void WebServerInfo::run_doctor() {
  // This very binary, so that the page runs the same checks as `waypost doctor` in a shell, in
  // a process of its own (its probes and waits never touch the web thread).
  auto out = run_captured({"/proc/self/exe", "doctor", "--json", "--dir", dir_},
                          kDoctorTimeoutSeconds, child_);
  json findings = json::array();
  std::string error;
  if (!out) {
    error = out.error().message;
  } else {
    json j = json::parse(*out, nullptr, false);
    if (j.is_object() && j.contains("findings") && j.at("findings").is_array()) {
      findings = j.at("findings");
    } else {
      error = "the doctor's output was not the expected JSON";
    }
  }
  std::lock_guard lock(mu_);
  running_ = false;
  ran_at_ = std::time(nullptr);
  findings_ = std::move(findings);
  error_ = std::move(error);
}

json WebServerInfo::doctor() {
  std::lock_guard lock(mu_);
  return {{"running", running_}, {"ran_at", ran_at_}, {"findings", findings_}, {"error", error_}};
}

}  // namespace waypost::server
