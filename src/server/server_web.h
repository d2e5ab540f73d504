#pragma once
// The web admin of `waypost server up` (docs/WEB.md): the HTTPS listener on web_port serving the
// page and /api/v1, with its state in <dir>/web.db. It runs on a thread of its own (the
// listener's) and reaches the VPN only the way the CLI does (server/web_users.h), so a slow or
// failing page can never stall or stop the VPN: when it cannot start (port taken, bad
// certificate, unreadable database) the server logs why and runs without it.
//
// Beside the listener, a second thread samples every user's traffic once a minute into web.db
// and applies expiry dates and monthly quotas (web/accountant.h). It runs even when the listener
// cannot start, so limits hold while the page is down.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "server/config.h"

namespace waypost::web {
class Store;
class Accountant;
class Auth;
class Router;
class HttpServer;
}  // namespace waypost::web

namespace waypost::server {

class WebUsers;
class WebServerInfo;

// The addresses the page listens on: every address (web_listen: all), or the server's own
// tunnel addresses (web_listen: tunnel), so that only VPN clients reach it.
std::vector<std::string> web_listen_addresses(const ServerConfig& config);

class ServerWeb {
 public:
  // nullptr when web_enabled is false or web.db cannot be opened (after logging why); without
  // the listener (after logging why) when only the page cannot start.
  static std::unique_ptr<ServerWeb> start(const std::string& dir, const ServerConfig& config);
  ~ServerWeb();
  ServerWeb(const ServerWeb&) = delete;
  ServerWeb& operator=(const ServerWeb&) = delete;

 private:
  ServerWeb() = default;
  // The accountant's thread: a tick now, then one a minute until the destructor.
  void start_accounting(const std::string& dir);
  void account_loop();

  SystemClock clock_;
  std::unique_ptr<web::Store> account_store_;  // its own connection, for its own thread
  std::unique_ptr<WebUsers> account_users_;
  std::unique_ptr<web::Accountant> accountant_;
  std::mutex account_mu_;
  std::condition_variable account_cv_;
  bool account_stop_ = false;
  std::thread account_thread_;
  std::unique_ptr<web::Store> store_;
  std::unique_ptr<web::Auth> auth_;
  std::unique_ptr<WebUsers> users_;
  std::unique_ptr<WebServerInfo> server_info_;
  std::unique_ptr<web::Router> router_;
  std::unique_ptr<web::HttpServer> http_;  // last: stopped first, before what it calls
};

}  // namespace waypost::server
