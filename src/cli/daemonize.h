#pragma once
// Running a daemon the way `waypost up` does, for every command that starts one (`up`,
// `ipsec up`): in the foreground for systemd and debugging, or forked into the background with
// its log in a file, the command returning only once the daemon is up or has failed, with the
// daemon's own error message.

#include <functional>
#include <string>

#include "common/result.h"

namespace waypost::cli {

// Brings a daemon up (the point at which the command may return) and hands back what runs it
// until it is told to stop; an error is for the user, with what was done undone.
using DaemonStart = std::function<Result<std::function<Status()>>()>;

struct DaemonRun {
  std::string name;         // for messages: "interface wg0", "IPsec instance site"
  std::string log_level;    // trace, debug, info, warn, error
  std::string log_file;     // empty: stderr in the foreground, default_log in the background
  std::string default_log;  // /var/log/waypost/<name>.log
};

// Logs to stderr (or run.log_file), reports readiness to systemd, runs until stopped.
int run_in_foreground(const DaemonRun& run, const DaemonStart& start);
// Forks; the child starts the daemon with its output in the log file and tells the parent
// "up" or the error through a pipe. Returns the parent's exit status.
int run_in_background(const DaemonRun& run, const DaemonStart& start);

}  // namespace waypost::cli
