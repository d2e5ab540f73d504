#pragma once
// The /api/v1 router: finds the handler for a request, authenticates it (an API token in
// `Authorization: Bearer`, or the session cookie plus its CSRF token for requests that change
// something), checks the role, and answers in JSON. Errors are JSON too: {"error": "..."} with
// "field" when one request field was wrong (400).
//
//   POST   /api/v1/login    {"name", "password", "code"} -> session cookie and CSRF token
//   GET    /api/v1/session  who is signed in (and the CSRF token, for a reloaded page)
//   DELETE /api/v1/session  sign out
//   GET    /api/v1/users    the VPN users with their sessions (user_directory.h)
//   POST   /api/v1/users    {"name"} -> 201 {"user"}
//   DELETE /api/v1/users/NAME
//   POST   /api/v1/users/NAME/disable, /enable -> {"user"}
//   GET    /api/v1/users/NAME/files            -> {"files": [{"name", "size"}]}
//   GET    /api/v1/users/NAME/files/FILE       the file, as a download
//   GET    /api/v1/users/NAME/qr.svg           the QR code of the WireGuard .conf
//   PATCH  /api/v1/users/NAME  {"name"?, "note"?, "expires"?, "monthly_quota"?} -> {"user"}
//   GET    /api/v1/users/NAME/traffic?period=minute|hour|day|month -> {"period", "points"}
//   POST   /api/v1/users/NAME/links  {"hours"?} -> 201 {"url", "expires"}: a one-time link
//   POST   /api/v1/links/redeem  {"token"} -> the user's QR code and files, once (no sign-in)
//   GET    /api/v1/server          version, uptime, VPN and DNS numbers, web.db's health
//   GET    /api/v1/server/doctor   the last `waypost doctor` run; POST starts one (202)
//   POST   /api/v1/setup/start   {"token"} -> a proposed TOTP secret and its otpauth:// URI
//   POST   /api/v1/setup/finish  {"token", "password", "totp_secret", "code"} -> recovery codes
//
// The setup link's token is the credential of the two setup requests (128 random bits, one use,
// 24 hours), so they need no session.
//
// Cookies are `Secure; HttpOnly; SameSite=Strict`. Bodies must be `application/json`, which a
// cross-site form cannot send, so a forged form post never reaches a handler.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "web/auth.h"
#include "web/http_types.h"
#include "web/server_info.h"
#include "web/user_directory.h"

namespace waypost::web {

inline constexpr std::string_view kSessionCookie = "waypost_session";

// The value of cookie `name` in a Cookie header, or "".
std::string cookie_value(std::string_view header, std::string_view name);

class Router {
 public:
  // `server_name` (the endpoint) labels the TOTP entry in authenticator apps.
  Router(Auth& auth, UserDirectory& users, std::string server_name)
      : auth_(auth), users_(users), server_name_(std::move(server_name)) {}

  HttpResponse handle(const HttpRequest& request);
  // The answer when web.db cannot be opened: the pages as usual (so the sign-in form can show
  // the reason), and 503 with `why` for every API request, with the usual headers.
  static HttpResponse unavailable(const HttpRequest& request, std::string_view why);
  // The server page's source (router_server.cc); without one, /api/v1/server is 404.
  void set_server_info(ServerInfo* info) { server_info_ = info; }

 private:
  HttpResponse dispatch(const HttpRequest& request);
  HttpResponse login(const HttpRequest& request);
  HttpResponse session(const HttpRequest& request);
  // /api/v1/users and below (router_users.cc).
  HttpResponse users(const HttpRequest& request, std::string_view rest);
  HttpResponse user_files(const Principal& who, const std::string& name, std::string_view rest,
                          const HttpRequest& request);
  // {"user": ...} for one user, with its settings and this month's traffic; 404 if none.
  HttpResponse user_answer(int status, const std::string& name);
  HttpResponse patch_user(const Principal& who, const std::string& name,
                          const HttpRequest& request);
  HttpResponse user_traffic(const std::string& name, const HttpRequest& request);
  // One-time download links (router_links.cc).
  HttpResponse create_user_link(const Principal& who, const std::string& name,
                                const HttpRequest& request);
  HttpResponse redeem_link(const HttpRequest& request);
  // /api/v1/server and /api/v1/server/doctor (router_server.cc).
  HttpResponse server(const HttpRequest& request, std::string_view rest);
  HttpResponse setup_start(const HttpRequest& request);
  HttpResponse setup_finish(const HttpRequest& request);

  // The signed-in admin, or the response refusing the request.
  Result<Principal> authenticate(const HttpRequest& request, bool changes_state,
                                 HttpResponse& refusal);

  Auth& auth_;
  UserDirectory& users_;
  ServerInfo* server_info_ = nullptr;
  std::string server_name_;
};

}  // namespace waypost::web
