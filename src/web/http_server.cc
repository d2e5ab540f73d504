#include "web/http_server.h"

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace waypost::web {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// How long a connection may sit between requests, or take to send one.
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr uint32_t kHeaderLimit = 8 * 1024;
// Connections held at once; more wait in the kernel's backlog. Bounds memory under a flood.
constexpr int kMaxConnections = 64;
// Forward-secret AEAD suites only for TLS 1.2 (TLS 1.3's are all of that kind already).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";

std::string text(beast::string_view s) {
  return {s.data(), s.size()};
}

// One client connection. Asio's asynchronous operations keep the connection alive through the
// shared_ptr each pending handler holds: its lifetime really is shared between them, and it ends
// when the last operation completes or the io_context is destroyed.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, ssl::context& tls, const HttpHandler& handler,
             std::atomic<int>& open)
      : stream_(std::move(socket), tls), handler_(handler), open_(open) {
    ++open_;
    beast::error_code ec;
    const auto remote = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_ = remote.address().to_string();
  }
  ~Connection() { --open_; }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void run() {
    beast::get_lowest_layer(stream_).expires_after(kHandshakeTimeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) {
                              if (!ec) self->read();
                            });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kMaxRequestBody);
    beast::get_lowest_layer(stream_).expires_after(kIdleTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      HttpResponse too_big;
      too_big.status = 413;
      too_big.body = R"({"error": "request body too large"})";
      return write(too_big, false, 11);
    }
    if (ec) return close();  // end of stream, timeout, or a request Beast could not parse
    http::request<http::string_body> req = parser_->release();
    HttpRequest request;
    request.method = text(req.method_string());
    request.target = text(req.target());
    request.cookie = text(req[http::field::cookie]);
    request.csrf_token = text(req["X-CSRF-Token"]);
    request.authorization = text(req[http::field::authorization]);
    request.content_type = text(req[http::field::content_type]);
    request.host = text(req[http::field::host]);
    request.body = std::move(req.body());
    request.remote_address = remote_;
    HttpResponse response;
    try {
      response = handler_(request);
    } catch (const std::exception&) {
      // The router returns errors as values; only allocation can throw. Answer and carry on.
      response = HttpResponse{500, "application/json", {}, R"({"error": "internal error"})"};
    }
    write(response, req.keep_alive(), req.version());
  }

  void write(const HttpResponse& response, bool keep_alive, unsigned version) {
    response_.emplace(static_cast<http::status>(response.status), version);
    response_->set(http::field::server, "waypost");
    response_->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) response_->insert(name, value);
    response_->body() = response.body;
    response_->keep_alive(keep_alive);
    response_->prepare_payload();
    http::async_write(stream_, *response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (self->response_->keep_alive()) return self->read();
                        self->close();
                      });
  }

  void close() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  const HttpHandler& handler_;
  std::atomic<int>& open_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
};

class BeastServer final : public HttpServer {
 public:
  explicit BeastServer(HttpHandler handler) : handler_(std::move(handler)) {}
  // stop() throws only if joining the thread fails, a broken process that std::thread's own
  // destructor would end with terminate() as well.
  // NOLINTNEXTLINE(bugprone-exception-escape)
  ~BeastServer() override { stop(); }
  BeastServer(const BeastServer&) = delete;
  BeastServer& operator=(const BeastServer&) = delete;

  Status set_up_tls(const HttpServerOptions& o) {
    tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                     ssl::context::no_compression);
    // The options above refuse the old versions one by one; the floor refuses them all,
    // including any a later OpenSSL might add below 1.2.
    if (SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(tls_.native_handle(), kTls12Ciphers) != 1) {
      return make_error("cannot configure TLS 1.2+ in OpenSSL");
    }
    beast::error_code ec;
    tls_.use_certificate_chain_file(o.cert_path, ec);
    if (ec) return make_error("{}: cannot use the certificate: {}", o.cert_path, ec.message());
    tls_.use_private_key_file(o.key_path, ssl::context::pem, ec);
    if (ec) return make_error("{}: cannot use the private key: {}", o.key_path, ec.message());
    return {};
  }

  Status listen(const HttpServerOptions& o) {
    for (const std::string& address : o.addresses) {
      beast::error_code ec;
      const auto ip = asio::ip::make_address(address, ec);
      if (ec) return make_error("cannot listen on '{}': not an IP address", address);
      const uint16_t port = acceptors_.empty() ? o.port : port_;
      const tcp::endpoint endpoint(ip, port);
      auto acceptor = std::make_unique<tcp::acceptor>(io_);
      const std::string where =
          ip.is_v6() ? fmt::format("[{}]:{}", address, port) : fmt::format("{}:{}", address, port);
      if (acceptor->open(endpoint.protocol(), ec); ec) {
        return make_error("cannot listen on {}: {}", where, ec.message());
      }
      (void)acceptor->set_option(asio::socket_base::reuse_address(true), ec);
      // "::" and "0.0.0.0" side by side: the IPv6 socket must not take IPv4 as well.
      if (ip.is_v6()) (void)acceptor->set_option(asio::ip::v6_only(true), ec);
      if (acceptor->bind(endpoint, ec); ec) {
        return make_error("cannot listen on {}: {}", where, ec.message());
      }
      if (acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) {
        return make_error("cannot listen on {}: {}", where, ec.message());
      }
      port_ = acceptor->local_endpoint(ec).port();
      acceptors_.push_back(std::move(acceptor));
    }
    if (acceptors_.empty()) return make_error("no address to listen on");
    return {};
  }

  void run() {
    for (auto& a : acceptors_) accept(*a);
    thread_ = std::thread([this] {
      while (true) {
        try {
          io_.run();
          return;
        } catch (const std::exception&) {
          // A handler threw (out of memory); the loop serves on with what it has.
        }
      }
    });
  }

  uint16_t port() const override { return port_; }

  void stop() override {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      for (auto& a : acceptors_) {
        beast::error_code ec;
        (void)a->close(ec);
      }
      io_.stop();
    });
    thread_.join();
  }

 private:
  void accept(tcp::acceptor& acceptor) {
    acceptor.async_accept([this, &acceptor](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (open_ < kMaxConnections) {
          std::make_shared<Connection>(std::move(socket), tls_, handler_, open_)->run();
        }  // else: the socket closes here; the client may retry
        accept(acceptor);
        return;
      }
      // Out of file descriptors and the like: try again shortly instead of spinning.
      auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
      timer->async_wait([this, &acceptor, timer](beast::error_code wait_ec) {
        if (!wait_ec) accept(acceptor);
      });
    });
  }

  // Destroyed in reverse order: the acceptors and pending connections (inside io_) go before
  // the TLS context and the handler they refer to.
  HttpHandler handler_;
  ssl::context tls_{ssl::context::tls_server};
  std::atomic<int> open_{0};
  asio::io_context io_{1};
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(const HttpServerOptions& options,
                                                      HttpHandler handler) {
  auto server = std::make_unique<BeastServer>(std::move(handler));
  if (auto st = server->set_up_tls(options); !st) return st.take_error();
  if (auto st = server->listen(options); !st) return st.take_error();
  server->run();
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace waypost::web
