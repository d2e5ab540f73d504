#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace waypost {

namespace {
std::function<void(const std::string&)>& hook() {
  static std::function<void(const std::string&)> h;
  return h;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(size_t(n));
  }
  return true;
}
}  // namespace

void set_atomic_write_hook(std::function<void(const std::string& path)> h) {
  hook() = std::move(h);
}

Status write_file_atomic(const std::string& path, std::string_view content, mode_t mode) {
  std::filesystem::path target(path);
  std::filesystem::path dir = target.parent_path().empty() ? "." : target.parent_path();
  std::string tmp =
      (dir / ("." + target.filename().string() + ".tmp." + std::to_string(getpid()))).string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return make_errno_error(errno, "cannot create {}: {}", tmp, std::strerror(errno));
  // The umask may have narrowed the mode; set exactly what was asked.
  ::fchmod(fd, mode);
  bool ok = write_all(fd, content) && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return make_errno_error(err, "cannot write {}: {}", tmp, std::strerror(err));
  }
  if (hook()) hook()(path);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return make_errno_error(err, "cannot replace {}: {}", path, std::strerror(err));
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_errno_error(errno, "cannot read {}: {}", path, std::strerror(errno));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return make_errno_error(e, "cannot read {}: {}", path, std::strerror(e));
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      return make_error(ErrorKind::kParse, "{} is too large", path);
    }
  }
  ::close(fd);
  return out;
}

Status check_private_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return make_errno_error(errno, "cannot stat {}: {}", path, std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    return make_error(
        ErrorKind::kPermission,
        "{} holds secrets but is readable by others (mode {:o}); fix it with: chmod 600 {}", path,
        st.st_mode & 0777, path);
  }
  return {};
}

}  // namespace waypost
