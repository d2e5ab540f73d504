#pragma once
// Where a running interface keeps its sockets and files.

#include <string>
#include <vector>

namespace waypost::daemon {

inline std::string uapi_socket_path(const std::string& ifname) {
  return "/var/run/wireguard/" + ifname + ".sock";
}
inline std::string control_dir() {
  return "/var/run/waypost";
}
inline std::string control_socket_path(const std::string& ifname) {
  return control_dir() + "/" + ifname + ".sock";
}
inline std::string pid_file_path(const std::string& ifname) {
  return control_dir() + "/" + ifname + ".pid";
}
inline std::string default_log_path(const std::string& ifname) {
  return "/var/log/waypost/" + ifname + ".log";
}

// Interfaces with a control socket in control_dir(), sorted by name (a stale socket of a daemon
// that died counts too: callers find out when they connect).
std::vector<std::string> running_interfaces();

}  // namespace waypost::daemon
