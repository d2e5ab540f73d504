#include "control/json_session.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace waypost::control {

namespace {

constexpr size_t kMaxLine = 1u << 20;

class JsonSession final : public Session {
 public:
  explicit JsonSession(JsonHandler handler) : handler_(std::move(handler)) {}

  bool on_bytes(std::string_view bytes, std::string& out) override {
    buffer_.append(bytes);
    size_t nl;
    while ((nl = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      nlohmann::json response;
      auto request = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (request.is_discarded() || !request.is_object()) {
        response = {{"ok", false}, {"error", "malformed request: expected one JSON object"}};
      } else {
        // Handlers read fields with json::value(), which throws when a field has the wrong type
        // ({"cmd": 1}); that is a bad request, answered as such, not a reason to die.
        try {
          response = handler_(request);
        } catch (const nlohmann::json::exception& e) {
          response = {{"ok", false}, {"error", std::string("malformed request: ") + e.what()}};
        }
      }
      out += response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      out += '\n';
    }
    return buffer_.size() <= kMaxLine;
  }

 private:
  JsonHandler handler_;
  std::string buffer_;
};

}  // namespace

std::unique_ptr<Session> make_json_session(JsonHandler handler) {
  return std::make_unique<JsonSession>(std::move(handler));
}

Result<nlohmann::json> json_request(const std::string& path, const nlohmann::json& request,
                                    int timeout_ms) {
  auto fd = connect_unix(path);
  if (!fd) return fd.take_error();
  std::string line = request.dump() + "\n";
  if (::send(fd->get(), line.data(), line.size(), MSG_NOSIGNAL) != ssize_t(line.size())) {
    return make_errno_error(errno, "cannot send to {}: {}", path, std::strerror(errno));
  }
  std::string in;
  char buf[16384];
  while (in.find('\n') == std::string::npos) {
    pollfd p{fd->get(), POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r <= 0) return make_error(ErrorKind::kProtocol, "no answer from {}", path);
    ssize_t n = ::recv(fd->get(), buf, sizeof(buf), 0);
    if (n <= 0) return make_error(ErrorKind::kProtocol, "connection to {} closed", path);
    in.append(buf, size_t(n));
    if (in.size() > (64u << 20)) {
      return make_error(ErrorKind::kProtocol, "answer from {} too large", path);
    }
  }
  auto j = nlohmann::json::parse(in.substr(0, in.find('\n')), nullptr, false);
  if (j.is_discarded()) return make_error(ErrorKind::kProtocol, "malformed answer from {}", path);
  return j;
}

}  // namespace waypost::control
