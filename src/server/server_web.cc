#include "server/server_web.h"

#include <ctime>

#include <spdlog/spdlog.h>

#include "crypto/random.h"
#include "server/state.h"
#include "server/web_users.h"
#include "web/auth.h"
#include "web/http_server.h"
#include "web/router.h"
#include "web/store.h"
#include "web/tls_cert.h"

namespace waypost::server {

std::vector<std::string> web_listen_addresses(const ServerConfig& config) {
  if (config.web_listen != "tunnel") return {"0.0.0.0", "::"};
  std::vector<std::string> out = {server_ipv4(config).to_string()};
  if (config.ipv6) out.push_back(server_ipv6(config).to_string());
  if (config.ipsec_enabled) {
    out.push_back(server_ipsec_ipv4(config).to_string());
    if (config.ipv6) out.push_back(server_ipsec_ipv6(config).to_string());
  }
  return out;
}

std::unique_ptr<ServerWeb> ServerWeb::start(const std::string& dir, const ServerConfig& config) {
  if (!config.web_enabled) return nullptr;
  auto refuse = [&](const std::string& why) -> std::unique_ptr<ServerWeb> {
    spdlog::error(
        "web admin not started: {} (the VPN runs without it; fix this and restart the "
        "server, or set web_enabled: false)",
        why);
    return nullptr;
  };
  std::unique_ptr<ServerWeb> w(new ServerWeb());
  auto store = web::Store::open(dir + "/web.db");
  if (!store) return refuse(store.error().message);
  w->store_ = std::move(*store);
  w->auth_ = std::make_unique<web::Auth>(*w->store_, w->clock_, crypto::system_random());
  w->users_ = std::make_unique<WebUsers>(dir);
  // Setup links made on the page point where the browser reached the page; failing that, where
  // `waypost admins add` points them.
  std::string base;
  if (!config.endpoint.empty()) {
    const bool ipv6 = config.endpoint.find(':') != std::string::npos;
    base = fmt::format("https://{}{}{}:{}", ipv6 ? "[" : "", config.endpoint, ipv6 ? "]" : "",
                       config.web_port);
  }
  w->router_ = std::make_unique<web::Router>(*w->auth_, *w->users_, config.endpoint, base);

  auto tls = web::ensure_tls_files(dir, config.web_tls_cert, config.web_tls_key, config.endpoint,
                                   std::time(nullptr));
  if (!tls) return refuse(tls.error().message);
  web::HttpServerOptions o;
  o.addresses = web_listen_addresses(config);
  o.port = config.web_port;
  o.cert_path = tls->cert_path;
  o.key_path = tls->key_path;
  web::Router* router = w->router_.get();
  auto handler = [router](const web::HttpRequest& r) { return router->handle(r); };
  auto http = web::HttpServer::start(o, handler);
  if (!http && config.web_listen != "tunnel") {
    // A host without IPv6 cannot listen on "::": IPv4 alone then.
    o.addresses = {"0.0.0.0"};
    auto v4 = web::HttpServer::start(o, handler);
    if (v4) {
      spdlog::warn("web admin: {}; listening on IPv4 only", http.error().message);
      http = std::move(v4);
    }
  }
  if (!http) return refuse(http.error().message);
  w->http_ = std::move(*http);
  spdlog::info("web admin on https://{}:{}/ ({}{})", config.endpoint, w->http_->port(),
               config.web_listen == "tunnel" ? "reachable from the VPN only" : "all addresses",
               tls->generated ? ", a new self-signed certificate" : "");
  return w;
}

ServerWeb::~ServerWeb() {
  if (http_) http_->stop();
}

}  // namespace waypost::server
