#pragma once
// Where a running interface keeps its sockets and files.

#include <string>

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

}  // namespace waypost::daemon
