#pragma once
// The web admin of `waypost server up` (docs/WEB.md): the HTTPS listener on web_port serving the
// page and /api/v1, with its state in <dir>/web.db. It runs on a thread of its own (the
// listener's) and reaches the VPN only the way the CLI does (server/web_users.h), so a slow or
// failing page can never stall or stop the VPN: when it cannot start (port taken, bad
// certificate, unreadable database) the server logs why and runs without it.

#include <memory>
#include <string>

#include "common/clock.h"
#include "server/config.h"

namespace waypost::web {
class Store;
class Auth;
class Router;
class HttpServer;
}  // namespace waypost::web

namespace waypost::server {

class WebUsers;

// The addresses the page listens on: every address (web_listen: all), or the server's own
// tunnel addresses (web_listen: tunnel), so that only VPN clients reach it.
std::vector<std::string> web_listen_addresses(const ServerConfig& config);

class ServerWeb {
 public:
  // nullptr (after logging why) when web_enabled is false or the page cannot start.
  static std::unique_ptr<ServerWeb> start(const std::string& dir, const ServerConfig& config);
  ~ServerWeb();
  ServerWeb(const ServerWeb&) = delete;
  ServerWeb& operator=(const ServerWeb&) = delete;

 private:
  ServerWeb() = default;
  SystemClock clock_;
  std::unique_ptr<web::Store> store_;
  std::unique_ptr<web::Auth> auth_;
  std::unique_ptr<WebUsers> users_;
  std::unique_ptr<web::Router> router_;
  std::unique_ptr<web::HttpServer> http_;  // last: stopped first, before what it calls
};

}  // namespace waypost::server
