#include "web/router.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "common/secret.h"
#include "web/api_response.h"
#include "web/assets.h"
#include "web/json_body.h"
#include "web/static_files.h"

namespace waypost::web {

namespace {

using nlohmann::json;

constexpr size_t kMaxNameBytes = 64;
constexpr size_t kMaxCodeBytes = 64;
constexpr size_t kMaxTokenBytes = 128;
constexpr size_t kMaxSecretBytes = 256;

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

bool changes_state(std::string_view method) {
  return method != "GET" && method != "HEAD";
}

std::string session_cookie(std::string_view token, int64_t max_age) {
  return fmt::format("{}={}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite=Strict", kSessionCookie,
                     token, max_age);
}

json principal_json(const Principal& p) {
  json j = {{"admin", p.admin},
            {"role", to_string(p.role)},
            {"via", p.via == Via::kSession ? "session" : "token"}};
  if (p.via == Via::kSession) j["csrf_token"] = p.csrf;
  return j;
}

// An Auth error as an answer: a bad setup link is 403, a wrong field 400 naming it (Auth's field
// errors start with the field's name), anything else (the database) 503.
HttpResponse auth_error(const Error& error) {
  if (error.is(ErrorKind::kPermission)) return error_response(403, error.message);
  if (error.is(ErrorKind::kParse)) {
    for (std::string_view field : {"password", "totp_secret", "code"}) {
      if (error.message.starts_with(std::string(field) + ": ")) {
        return error_response(400, error.message, field);
      }
    }
    return error_response(400, error.message);
  }
  return error_response(503, error.message);
}

}  // namespace

std::string cookie_value(std::string_view header, std::string_view name) {
  // Cookie: a=1; b=2 (RFC 6265 section 5.4). The first cookie of that name wins.
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = header.substr(pos, end - pos);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      std::string_view value = pair.substr(eq + 1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
        value.remove_suffix(1);
      }
      return std::string(value);
    }
    pos = end + 1;
  }
  return {};
}

namespace {

void add_safety_headers(HttpResponse& r) {
  // On every answer: nothing is cached (answers carry tokens and user data), nothing is sniffed
  // into another type, and an API answer opened as a page may run and embed nothing.
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  // Pages bring their own policy (static_files.h); everything else gets the strictest one.
  const bool has_csp = std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) {
    return h.first == "Content-Security-Policy";
  });
  if (!has_csp) {
    r.headers.emplace_back("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  }
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
}

}  // namespace

HttpResponse Router::handle(const HttpRequest& request) {
  HttpResponse r = dispatch(request);
  add_safety_headers(r);
  return r;
}

HttpResponse Router::unavailable(const HttpRequest& request, std::string_view why) {
  const std::string_view path = path_of(request.target);
  HttpResponse r;
  if (!path.starts_with("/api/") && (request.method == "GET" || request.method == "HEAD")) {
    r = serve_static(request);
  } else {
    r = error_response(503, why);
  }
  add_safety_headers(r);
  return r;
}

HttpResponse Router::dispatch(const HttpRequest& request) {
  if (request.body.size() > kMaxRequestBody) return error_response(413, "request body too large");
  const std::string_view path = path_of(request.target);
  // Everything outside /api/ is the pages (static_files.cc).
  if (!path.starts_with("/api/") && (request.method == "GET" || request.method == "HEAD")) {
    return serve_static(request);
  }
  if (path == "/api/v1/login") {
    if (request.method != "POST") return method_not_allowed("POST");
    return login(request);
  }
  if (path == "/api/v1/session") {
    if (request.method != "GET" && request.method != "DELETE") {
      return method_not_allowed("GET, DELETE");
    }
    return session(request);
  }
  if (path == "/api/v1/users" || path.starts_with("/api/v1/users/")) {
    return users(request, path.substr(std::string_view("/api/v1/users").size()));
  }
  if (path == "/api/v1/server" || path.starts_with("/api/v1/server/")) {
    return server(request, path.substr(std::string_view("/api/v1/server").size()));
  }
  if (path == "/api/v1/links/redeem") {
    if (request.method != "POST") return method_not_allowed("POST");
    return redeem_link(request);
  }
  if (path == "/api/v1/setup/start" || path == "/api/v1/setup/finish") {
    if (request.method != "POST") return method_not_allowed("POST");
    return path.ends_with("start") ? setup_start(request) : setup_finish(request);
  }
  if (path == "/api/v1/admins" || path.starts_with("/api/v1/admins/")) {
    return admins(request, path.substr(std::string_view("/api/v1/admins").size()));
  }
  if (path == "/api/v1/tokens" || path.starts_with("/api/v1/tokens/")) {
    return tokens(request, path.substr(std::string_view("/api/v1/tokens").size()));
  }
  if (path == "/api/v1/audit") {
    if (request.method != "GET") return method_not_allowed("GET");
    return audit(request);
  }
  if (path == "/api/v1/openapi.json") {
    // It describes the API and reveals nothing, so it needs no sign-in (tools fetch it as is).
    if (request.method != "GET") return method_not_allowed("GET");
    const Asset* doc = find_asset("openapi.json");
    if (doc == nullptr) return error_response(404, "no OpenAPI document in this build");
    HttpResponse r;
    r.body = std::string(doc->body);
    return r;
  }
  return error_response(404, "no such API path");
}

Result<Principal> Router::authenticate(const HttpRequest& request, bool state_changing,
                                       HttpResponse& refusal) {
  constexpr std::string_view kBearer = "Bearer ";
  Result<Principal> principal = make_error(ErrorKind::kPermission, "not signed in");
  if (request.authorization.starts_with(kBearer)) {
    principal =
        auth_.check_api_token(std::string_view(request.authorization).substr(kBearer.size()));
  } else if (!request.authorization.empty()) {
    principal = make_error(ErrorKind::kPermission, "not signed in: unsupported Authorization");
  } else {
    principal = auth_.check_session(cookie_value(request.cookie, kSessionCookie));
  }
  if (!principal) {
    const bool db = !principal.error().is(ErrorKind::kPermission);
    refusal = db ? error_response(503, principal.error().message)
                 : error_response(401, principal.error().message);
    return principal;
  }
  if (state_changing && !Auth::check_csrf(*principal, request.csrf_token)) {
    refusal = error_response(403, "missing or wrong X-CSRF-Token header");
    return make_error(ErrorKind::kPermission, "CSRF");
  }
  return principal;
}

HttpResponse Router::login(const HttpRequest& request) {
  HttpResponse refused;
  std::optional<JsonBody> body;
  if (!read_body(request, body, refused)) return refused;
  std::string name;
  std::string password;
  std::string code;
  FieldError bad;
  if (!body->get_string("name", kMaxNameBytes, name, bad) ||
      !body->get_string("password", kMaxPasswordLength, password, bad) ||
      !body->get_string("code", kMaxCodeBytes, code, bad)) {
    return error_response(400, bad.message(), bad.field);
  }
  LoginResult result = auth_.login({name, password, code, request.remote_address});
  secure_wipe(password.data(), password.size());
  switch (result.outcome) {
    case LoginOutcome::kOk: {
      const NewSession& s = *result.session;
      HttpResponse r = json_response(200, {{"admin", s.admin},
                                           {"role", to_string(s.role)},
                                           {"csrf_token", s.csrf},
                                           {"expires", s.expires}});
      r.headers.emplace_back("Set-Cookie",
                             session_cookie(s.token, auth_.policy().session_max_seconds));
      return r;
    }
    case LoginOutcome::kRateLimited: {
      HttpResponse r = error_response(429, result.message);
      r.headers.emplace_back("Retry-After", std::to_string(result.retry_after_seconds));
      return r;
    }
    case LoginOutcome::kUnavailable:
      return error_response(503, result.message);
    case LoginOutcome::kDenied:
      break;
  }
  return error_response(401, result.message);
}

HttpResponse Router::session(const HttpRequest& request) {
  HttpResponse refusal;
  auto principal = authenticate(request, changes_state(request.method), refusal);
  if (!principal) return refusal;
  if (request.method == "GET") return json_response(200, principal_json(*principal));
  if (principal->via != Via::kSession) {
    return error_response(400, "an API token has no session to end; revoke the token instead");
  }
  if (auto st = auth_.logout(cookie_value(request.cookie, kSessionCookie)); !st) {
    return error_response(503, st.error().message);
  }
  HttpResponse r = json_response(200, {{"signed_out", true}});
  r.headers.emplace_back("Set-Cookie", session_cookie("", 0));
  return r;
}

HttpResponse Router::setup_start(const HttpRequest& request) {
  HttpResponse refused;
  std::optional<JsonBody> body;
  if (!read_body(request, body, refused)) return refused;
  std::string token;
  FieldError bad;
  if (!body->get_string("token", kMaxTokenBytes, token, bad)) {
    return error_response(400, bad.message(), bad.field);
  }
  auto info = auth_.begin_setup(token, server_name_);
  if (!info) return auth_error(info.error());
  return json_response(200, {{"admin", info->admin},
                             {"totp_secret", info->totp_secret},
                             {"otpauth_uri", info->otpauth_uri}});
}

HttpResponse Router::setup_finish(const HttpRequest& request) {
  HttpResponse refused;
  std::optional<JsonBody> body;
  if (!read_body(request, body, refused)) return refused;
  std::string token;
  std::string password;
  std::string secret;
  std::string code;
  FieldError bad;
  if (!body->get_string("token", kMaxTokenBytes, token, bad) ||
      !body->get_string("password", kMaxPasswordLength, password, bad) ||
      !body->get_string("totp_secret", kMaxSecretBytes, secret, bad) ||
      !body->get_string("code", kMaxCodeBytes, code, bad)) {
    return error_response(400, bad.message(), bad.field);
  }
  auto codes = auth_.complete_setup({token, password, secret, code, request.remote_address});
  secure_wipe(password.data(), password.size());
  secure_wipe(secret.data(), secret.size());
  if (!codes) return auth_error(codes.error());
  return json_response(200, {{"recovery_codes", *codes}});
}

}  // namespace waypost::web
