#pragma once
// A Unix stream socket server on the event loop, for the UAPI socket and the Waypost control
// socket. Each connection gets a Session that turns request bytes into response bytes; output
// that does not fit the socket buffer waits for EPOLLOUT. The socket file is created 0600 so that
// only root (the owner) can connect: the protocols carry private keys.

#include <functional>
#include <memory>
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

class StreamServer {
 public:
  using SessionFactory = std::function<std::unique_ptr<Session>()>;

  // Creates the directory if needed, refuses to steal a path a live process is serving, removes
  // a stale socket file, and listens.
  static Result<std::unique_ptr<StreamServer>> listen(const std::string& path,
                                                      platform::EventLoop& loop,
                                                      SessionFactory factory);
  ~StreamServer();
  StreamServer(const StreamServer&) = delete;
  StreamServer& operator=(const StreamServer&) = delete;

  const std::string& path() const { return path_; }

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
  std::unordered_map<int, Connection> connections_;
};

// Connects to a Unix stream socket; used by the CLI. Returns the fd or an error naming the path.
Result<platform::UniqueFd> connect_unix(const std::string& path);

}  // namespace waypost::control
