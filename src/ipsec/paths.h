#pragma once
// Where a running `waypost ipsec` instance keeps its control socket, pid file and log. The
// sockets live apart from the WireGuard interfaces' (daemon/paths.h) so that `waypost show`
// lists only interfaces; the log sits beside theirs.

#include <string>

#include "daemon/paths.h"

namespace waypost::ipsec {

inline std::string ipsec_control_dir() {
  return daemon::control_dir() + "/ipsec";
}
inline std::string ipsec_socket_path(const std::string& name) {
  return ipsec_control_dir() + "/" + name + ".sock";
}
inline std::string ipsec_pid_path(const std::string& name) {
  return ipsec_control_dir() + "/" + name + ".pid";
}
inline std::string ipsec_log_path(const std::string& name) {
  return daemon::default_log_path(name);
}

}  // namespace waypost::ipsec
