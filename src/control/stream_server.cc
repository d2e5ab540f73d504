#include "control/stream_server.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace waypost::control {

namespace {
constexpr size_t kMaxConnections = 64;
constexpr size_t kMaxPendingOutput = 64u << 20;

bool make_address(const std::string& path, sockaddr_un& addr) {
  addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return true;
}
}  // namespace

Result<platform::UniqueFd> connect_unix(const std::string& path) {
  sockaddr_un addr{};
  if (!make_address(path, addr)) return make_error("socket path too long: {}", path);
  platform::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return make_errno_error(errno, "socket: {}", std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    return make_errno_error(errno, "cannot connect to {}: {}", path, std::strerror(errno));
  }
  return fd;
}

Result<std::unique_ptr<StreamServer>> StreamServer::listen(const std::string& path,
                                                           platform::EventLoop& loop,
                                                           SessionFactory factory,
                                                           std::optional<gid_t> group) {
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error("cannot create {}: {}", dir.string(), ec.message());
  ::chmod(dir.c_str(), 0755);

  if (auto live = connect_unix(path); live) {
    return make_error(
        "{} is in use by another running process (an interface with this name may "
        "be up in another network namespace)",
        path);
  }
  ::unlink(path.c_str());

  sockaddr_un addr{};
  if (!make_address(path, addr)) return make_error("socket path too long: {}", path);
  platform::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return make_errno_error(errno, "socket: {}", std::strerror(errno));
  // Created 0600 from the start: no window in which another user could connect.
  mode_t old = ::umask(0177);
  int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (rc < 0) return make_errno_error(errno, "cannot bind {}: {}", path, std::strerror(errno));
  if (::listen(fd.get(), 16) < 0) {
    return make_errno_error(errno, "listen {}: {}", path, std::strerror(errno));
  }

  std::unique_ptr<StreamServer> server(new StreamServer(loop, std::move(factory)));
  server->path_ = path;
  // Group access is opened only after the socket exists with 0600: there is no moment at which
  // anyone but root and the group can connect.
  if (group) {
    if (::chown(path.c_str(), uid_t(-1), *group) != 0 || ::chmod(path.c_str(), 0660) != 0) {
      server->group_error_ = std::strerror(errno);
      ::chmod(path.c_str(), 0600);
    }
  }
  server->listen_fd_ = std::move(fd);
  StreamServer* raw = server.get();
  auto st = loop.add(raw->listen_fd_.get(), EPOLLIN, [raw](uint32_t) { raw->on_accept(); });
  if (!st) return st.take_error();
  return server;
}

StreamServer::~StreamServer() {
  for (auto& [fd, c] : connections_) loop_.remove(fd);
  connections_.clear();
  if (listen_fd_.valid()) {
    loop_.remove(listen_fd_.get());
    ::unlink(path_.c_str());
  }
}

void StreamServer::on_accept() {
  for (;;) {
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (connections_.size() >= kMaxConnections) {
      ::close(fd);
      continue;
    }
    // Credentials are read once, at accept: they are those of the process that connected.
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      ::close(fd);
      continue;
    }
    Connection c;
    c.fd.reset(fd);
    c.session = factory_(PeerCredentials{cred.pid, cred.uid, cred.gid});
    connections_.emplace(fd, std::move(c));
    auto st = loop_.add(fd, EPOLLIN | EPOLLRDHUP,
                        [this, fd](uint32_t events) { on_connection(fd, events); });
    if (!st) connections_.erase(fd);
  }
}

void StreamServer::close_connection(int fd) {
  loop_.remove(fd);
  connections_.erase(fd);
}

void StreamServer::try_write(Connection& c) {
  while (!c.out.empty()) {
    ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      c.out.clear();
      c.closing = true;
      break;
    }
    c.out.erase(0, size_t(n));
  }
}

void StreamServer::on_connection(int fd, uint32_t events) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  Connection& c = it->second;
  if (events & EPOLLIN) {
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n > 0) {
        if (!c.closing && !c.session->on_bytes({buf, size_t(n)}, c.out)) c.closing = true;
        if (c.out.size() > kMaxPendingOutput) c.closing = true;
        continue;
      }
      if (n == 0) {
        // Peer finished sending; answer what we have, then close.
        c.closing = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        close_connection(fd);
        return;
      }
      break;
    }
  }
  try_write(c);
  if (c.out.empty() && (c.closing || (events & (EPOLLHUP | EPOLLERR)))) {
    close_connection(fd);
    return;
  }
  (void)loop_.modify(fd,
                     c.out.empty() ? (EPOLLIN | EPOLLRDHUP) : (EPOLLIN | EPOLLOUT | EPOLLRDHUP));
}

}  // namespace waypost::control
