#include "daemon/access.h"

#include <grp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <vector>

namespace waypost::daemon {

std::optional<gid_t> group_id(const std::string& name) {
  group g{};
  group* found = nullptr;
  std::vector<char> buf(4096);
  // getgrnam_r says ERANGE when a group has more members than the buffer holds.
  for (;;) {
    int rc = ::getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr) return std::nullopt;
    return found->gr_gid;
  }
}

bool is_admin(uid_t uid) {
  return uid == 0 || uid == ::geteuid();
}

bool is_read_only_command(std::string_view cmd) {
  // An allow list: a command added later is refused to the group until it is listed here.
  static constexpr std::array<std::string_view, 2> kReadOnly = {"show", "status"};
  for (auto c : kReadOnly) {
    if (c == cmd) return true;
  }
  return false;
}

}  // namespace waypost::daemon
