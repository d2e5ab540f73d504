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
//   GET    /api/v1/admins        -> {"admins": [{"name", "role", "state", ...}]}
//   POST   /api/v1/admins        {"name", "role"} -> 201 {"admin", "setup_link"}   (owners)
//   PATCH  /api/v1/admins/NAME   {"role"} -> {"admin"}                             (owners)
//   DELETE /api/v1/admins/NAME                                                     (owners)
//   POST   /api/v1/admins/NAME/reset -> {"admin", "setup_link"}                    (owners)
//   POST   /api/v1/admins/NAME/disable, /enable -> {"admin"}                       (owners)
//   GET    /api/v1/tokens        the signed-in admin's API tokens (never the secret)
//   POST   /api/v1/tokens        {"label"} -> 201 {"id", "label", "token"}, the token shown once
//   DELETE /api/v1/tokens/ID     revokes one of the admin's own tokens
//   GET    /api/v1/audit?limit=N&before=ID -> {"entries": [...], "next_before"}, newest first
//   GET    /api/v1/openapi.json  the OpenAPI 3.0.3 document of all of this (no sign-in)
//
// The setup link's token is the credential of the two setup requests (128 random bits, one use,
// 24 hours), so they need no session. Every admin may list the admins (who else runs the server,
// whom to ask for a reset; nothing secret); only owners change them (roles.h). The last owner
// cannot be removed or demoted (409). API tokens are created and revoked only from a cookie
// session, each admin their own: an owner who must stop another admin's tokens removes or resets
// that admin. The audit log needs view_audit (not viewers).
//
// Cookies are `Secure; HttpOnly; SameSite=Strict`. Bodies must be `application/json`, which a
// cross-site form cannot send, so a forged form post never reaches a handler.

#include <array>
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

// Every route above, as OpenAPI names it (method, path template). A unit test checks that each is
// in the embedded OpenAPI document (assets/openapi.json) and that the router answers it, so a
// route added here without documentation fails the build's tests.
struct ApiRoute {
  std::string_view method;
  std::string_view path;
};
inline constexpr std::array kApiRoutes = {
    ApiRoute{"POST", "/api/v1/login"},
    ApiRoute{"GET", "/api/v1/session"},
    ApiRoute{"DELETE", "/api/v1/session"},
    ApiRoute{"GET", "/api/v1/users"},
    ApiRoute{"POST", "/api/v1/users"},
    ApiRoute{"GET", "/api/v1/users/{name}"},
    ApiRoute{"DELETE", "/api/v1/users/{name}"},
    ApiRoute{"POST", "/api/v1/users/{name}/disable"},
    ApiRoute{"POST", "/api/v1/users/{name}/enable"},
    ApiRoute{"GET", "/api/v1/users/{name}/files"},
    ApiRoute{"GET", "/api/v1/users/{name}/files/{file}"},
    ApiRoute{"GET", "/api/v1/users/{name}/qr.svg"},
    ApiRoute{"POST", "/api/v1/setup/start"},
    ApiRoute{"POST", "/api/v1/setup/finish"},
    ApiRoute{"GET", "/api/v1/admins"},
    ApiRoute{"POST", "/api/v1/admins"},
    ApiRoute{"PATCH", "/api/v1/admins/{name}"},
    ApiRoute{"DELETE", "/api/v1/admins/{name}"},
    ApiRoute{"POST", "/api/v1/admins/{name}/reset"},
    ApiRoute{"POST", "/api/v1/admins/{name}/disable"},
    ApiRoute{"POST", "/api/v1/admins/{name}/enable"},
    ApiRoute{"GET", "/api/v1/tokens"},
    ApiRoute{"POST", "/api/v1/tokens"},
    ApiRoute{"DELETE", "/api/v1/tokens/{id}"},
    ApiRoute{"GET", "/api/v1/audit"},
    ApiRoute{"GET", "/api/v1/openapi.json"},
    ApiRoute{"PATCH", "/api/v1/users/{name}"},
    ApiRoute{"GET", "/api/v1/users/{name}/traffic"},
    ApiRoute{"POST", "/api/v1/users/{name}/links"},
    ApiRoute{"POST", "/api/v1/links/redeem"},
    ApiRoute{"GET", "/api/v1/server"},
    ApiRoute{"GET", "/api/v1/server/doctor"},
    ApiRoute{"POST", "/api/v1/server/doctor"},
};

// The value of cookie `name` in a Cookie header, or "".
std::string cookie_value(std::string_view header, std::string_view name);

class Router {
 public:
  // `server_name` (the endpoint) labels the TOTP entry in authenticator apps. `public_base`
  // ("https://vpn.example.com:8443", as `waypost admins add` prints links) is where setup links
  // made on the page point when a request carries no usable Host header.
  Router(Auth& auth, UserDirectory& users, std::string server_name, std::string public_base = {})
      : auth_(auth),
        users_(users),
        server_name_(std::move(server_name)),
        public_base_(std::move(public_base)) {}

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
  // /api/v1/admins and below (router_admins.cc).
  HttpResponse admins(const HttpRequest& request, std::string_view rest);
  HttpResponse admin_change(const HttpRequest& request, const Principal& who,
                            const std::string& name, std::string_view sub);
  // The one-time link for a setup token, at the address the request reached (router_admins.cc).
  // https://host[:port] of the page as the request reached it (links made on the page).
  std::string page_base(const HttpRequest& request) const;
  std::string setup_link(const HttpRequest& request, std::string_view token) const;
  // /api/v1/tokens and below (router_tokens.cc).
  HttpResponse tokens(const HttpRequest& request, std::string_view rest);
  // /api/v1/audit (router_audit.cc).
  HttpResponse audit(const HttpRequest& request);

  // The signed-in admin, or the response refusing the request.
  Result<Principal> authenticate(const HttpRequest& request, bool changes_state,
                                 HttpResponse& refusal);

  Auth& auth_;
  UserDirectory& users_;
  ServerInfo* server_info_ = nullptr;
  std::string server_name_;
  std::string public_base_;
};

}  // namespace waypost::web
