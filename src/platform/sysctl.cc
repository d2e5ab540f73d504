#include "platform/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace waypost::platform {

namespace {

// Maps "net.ipv4.conf.all.x" to "/proc/sys/net/ipv4/conf/all/x". Keys are checked so that a
// crafted key cannot climb out of /proc/sys. Interface names may contain dots, which sysctl(8)
// writes as '/' in the dotted form ("net.ipv4.conf.eth0/100.rp_filter"); those become dots.
Result<std::string> key_path(std::string_view key) {
  if (key.empty() || key.front() == '.' || key.back() == '.' ||
      key.find("..") != std::string_view::npos) {
    return make_error("invalid sysctl key '{}'", key);
  }
  std::string path = "/proc/sys/";
  for (char c : key) {
    if (c == '.') {
      path += '/';
    } else if (c == '/') {
      path += '.';
    } else if (c == '\0') {
      return make_error("invalid sysctl key '{}'", key);
    } else {
      path += c;
    }
  }
  if (path.find("/../") != std::string::npos || path.ends_with("/..") ||
      path.find("/./") != std::string::npos || path.ends_with("/.")) {
    return make_error("invalid sysctl key '{}'", key);
  }
  return path;
}

}  // namespace

Status sysctl_write(std::string_view key, std::string_view value) {
  auto path = key_path(key);
  if (!path) return path.take_error();
  int fd = ::open(path->c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return make_error("sysctl {}={}: {}", key, value, std::strerror(errno));
  std::string text(value);
  text += '\n';
  ssize_t n;
  do {
    n = ::write(fd, text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  int err = errno;
  ::close(fd);
  if (n < 0) return make_error("sysctl {}={}: {}", key, value, std::strerror(err));
  if (size_t(n) != text.size()) return make_error("sysctl {}={}: short write", key, value);
  return {};
}

Result<std::string> sysctl_read(std::string_view key) {
  auto path = key_path(key);
  if (!path) return path.take_error();
  int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error("sysctl {}: {}", key, std::strerror(errno));
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return make_error("sysctl {}: {}", key, std::strerror(err));
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  ::close(fd);
  while (!out.empty() && (out.back() == '\n')) out.pop_back();
  return out;
}

}  // namespace waypost::platform
