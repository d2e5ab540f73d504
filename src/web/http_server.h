#pragma once
// The web admin's HTTPS listener: Boost.Beast over Asio with OpenSSL, on a thread of its own so
// that nothing it does can stall the VPN's event loop. TLS 1.2 and 1.3 only. Each request is read
// with Beast's parser (headers up to 8 KiB, bodies up to kMaxRequestBody), turned into an
// HttpRequest, answered by the handler on the listener's thread (the Router; Auth needs no locks
// since only this thread uses it), and written back; idle and slow connections are closed by
// timeouts.
//
// Start-up failures (port taken, unreadable certificate) are returned as errors for the caller to
// log: the VPN keeps running without the page.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "web/http_types.h"

namespace waypost::web {

struct HttpServerOptions {
  std::vector<std::string> addresses;  // IP addresses to listen on ("0.0.0.0", "::", "10.49.0.1")
  uint16_t port = 8443;                // 0: any free port (tests)
  std::string cert_path;
  std::string key_path;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> start(const HttpServerOptions& options,
                                                   HttpHandler handler);
  virtual ~HttpServer() = default;
  // The port bound (the real one when options.port was 0).
  virtual uint16_t port() const = 0;
  // Stops accepting, closes connections and joins the thread; also done by the destructor.
  virtual void stop() = 0;
};

}  // namespace waypost::web
