#pragma once
// A Unix stream socket server on the event loop, for the UAPI socket and the Waypost control
// socket. Each connection gets a Session that turns request bytes into response bytes; output
// that does not fit the socket buffer waits for EPOLLOUT. The socket file is created 0600 so that
// only root (the owner) can connect: the protocols carry private keys. A server may name a group
// whose members may connect too (mode 0660); each session learns who connected (SO_PEERCRED) so
// that it can limit what such a member may ask.

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"
#include "platform/event_loop.h"
#include "platform/fd.h"

namespace waypost::control {

class Session {
 public:
  virtual ~Session() = default;
  // Consumes bytes; appends any responses to `out`. Returns false to close after writing.
  virtual bool on_bytes(std::string_view bytes, std::string& out) = 0;
};

// The process on the other end of a connection, as the kernel saw it at connect().
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class StreamServer {
 public:
  using SessionFactory = std::function<std::unique_ptr<Session>(const PeerCredentials& peer)>;

  // Creates the directory if needed, refuses to steal a path a live process is serving, removes
  // a stale socket file, and listens. With `group`, the socket is handed to that group with mode
  // 0660; if that fails (no CAP_CHOWN and not a member), it stays 0600 and `group_error()` says
  // why.
  static Result<std::unique_ptr<StreamServer>> listen(const std::string& path,
                                                      platform::EventLoop& loop,
                                                      SessionFactory factory,
                                                      std::optional<gid_t> group = std::nullopt);
  ~StreamServer();
  StreamServer(const StreamServer&) = delete;
  StreamServer& operator=(const StreamServer&) = delete;

  const std::string& path() const { return path_; }
  // Why the socket could not be opened to the group given to listen(); empty if it was, or if
  // none was given.
  const std::string& group_error() const { return group_error_; }

 private:
  struct Connection {
    platform::UniqueFd fd;
    std::unique_ptr<Session> session;
    std::string out;
    bool closing = false;
  };
  StreamServer(platform::EventLoop& loop, SessionFactory factory)
      : loop_(loop), factory_(std::move(factory)) {}
  void on_accept();
  void on_connection(int fd, uint32_t events);
  void close_connection(int fd);
  void try_write(Connection& c);

  platform::EventLoop& loop_;
  SessionFactory factory_;
  platform::UniqueFd listen_fd_;
  std::string path_;
  std::string group_error_;
  std::unordered_map<int, Connection> connections_;
};

// Connects to a Unix stream socket; used by the CLI. Returns the fd or an error naming the path.
Result<platform::UniqueFd> connect_unix(const std::string& path);

}  // namespace waypost::control
