#include "server/server_web.h"

#include <ctime>

#include <spdlog/spdlog.h>

#include "crypto/random.h"
#include "server/state.h"
#include "server/web_server_info.h"
#include "server/web_users.h"
#include "web/accountant.h"
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
  std::unique_ptr<ServerWeb> w(new ServerWeb());
  auto store = web::Store::open(dir + "/web.db");
  std::string db_error;
  if (store) {
    w->store_ = std::move(*store);
    w->start_accounting(dir);
    w->auth_ = std::make_unique<web::Auth>(*w->store_, w->clock_, crypto::system_random());
    w->users_ = std::make_unique<WebUsers>(dir);
    w->server_info_ = std::make_unique<WebServerInfo>(dir, w->clock_.wall().sec);
    // Links made on the page (setup, one-time downloads) point where the browser reached the
    // page; failing that, where `waypost admins add` points them.
    std::string base;
    if (!config.endpoint.empty()) {
      const bool ipv6 = config.endpoint.find(':') != std::string::npos;
      base = fmt::format("https://{}{}{}:{}", ipv6 ? "[" : "", config.endpoint, ipv6 ? "]" : "",
                         config.web_port);
    }
    w->router_ = std::make_unique<web::Router>(*w->auth_, *w->users_, config.endpoint, base);
    w->router_->set_server_info(w->server_info_.get());
  } else {
    // A locked, damaged or unreadable web.db: the page still starts, so that whoever opens it
    // reads why nobody can sign in, instead of finding nothing there.
    db_error = "the web admin's database cannot be used: " + store.error().message;
    spdlog::error(
        "{} (the VPN runs, with its users from config.yaml; sign-in, traffic history, expiry "
        "and quotas are off until web.db is fixed and the server restarted)",
        db_error);
  }
  // From here on, a page that cannot start leaves the accounting running.
  auto no_page = [&](const std::string& why) -> std::unique_ptr<ServerWeb> {
    spdlog::error(
        "web admin page not started: {} (the VPN runs, and traffic history, expiry and quotas "
        "still apply; fix this and restart the server, or set web_enabled: false)",
        why);
    return std::move(w);
  };

  auto tls = web::ensure_tls_files(dir, config.web_tls_cert, config.web_tls_key, config.endpoint,
                                   std::time(nullptr));
  if (!tls) return no_page(tls.error().message);
  if (!tls->renewal_reason.empty()) {
    spdlog::info("web admin: a new self-signed certificate, since the old one {}",
                 tls->renewal_reason);
  }
  web::HttpServerOptions o;
  o.addresses = web_listen_addresses(config);
  o.port = config.web_port;
  o.cert_path = tls->cert_path;
  o.key_path = tls->key_path;
  web::Router* router = w->router_.get();
  auto handler = [router, db_error](const web::HttpRequest& r) {
    return router != nullptr ? router->handle(r) : web::Router::unavailable(r, db_error);
  };
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
  if (!http) return no_page(http.error().message);
  w->http_ = std::move(*http);
  spdlog::info("web admin on https://{}:{}/ ({}{})", config.endpoint, w->http_->port(),
               config.web_listen == "tunnel" ? "reachable from the VPN only" : "all addresses",
               tls->generated ? ", a new self-signed certificate" : "");
  return w;
}

void ServerWeb::start_accounting(const std::string& dir) {
  auto store = web::Store::open(dir + "/web.db");
  if (!store) {
    spdlog::error("web admin: no traffic history, expiry or quotas: {}", store.error().message);
    return;
  }
  account_store_ = std::move(*store);
  account_users_ = std::make_unique<WebUsers>(dir);
  accountant_ = std::make_unique<web::Accountant>(*account_store_, *account_users_);
  account_thread_ = std::thread([this] { account_loop(); });
}

void ServerWeb::account_loop() {
  constexpr auto kEvery = std::chrono::seconds(60);
  std::string last_error;  // logged once until it changes, not every minute
  std::unique_lock lock(account_mu_);
  while (!account_stop_) {
    lock.unlock();
    Status st = accountant_->tick(clock_.wall().sec);
    lock.lock();
    const std::string error = st ? std::string() : st.error().message;
    if (error != last_error) {
      if (error.empty()) {
        spdlog::info("web admin: traffic history and limits work again");
      } else {
        spdlog::warn("web admin: traffic history or limits: {}", error);
      }
      last_error = error;
    }
    account_cv_.wait_for(lock, kEvery, [this] { return account_stop_; });
  }
}

ServerWeb::~ServerWeb() {
  if (http_) http_->stop();
  if (account_thread_.joinable()) {
    {
      std::lock_guard lock(account_mu_);
      account_stop_ = true;
    }
    account_cv_.notify_all();
    account_thread_.join();
  }
}

}  // namespace waypost::server
