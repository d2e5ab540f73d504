// /api/v1/users: the VPN users as the page shows and changes them. Everything goes through the
// UserDirectory the server supplies; each change is in the audit log with the admin who made it.
#include <nlohmann/json.hpp>

#include "web/api_response.h"
#include "web/json_body.h"
#include "web/router.h"

namespace waypost::web {

namespace {

using nlohmann::json;

constexpr size_t kMaxUserNameBytes = 64;

json user_json(const UserView& u) {
  json protocols = json::array();
  if (u.wireguard) protocols.push_back("wireguard");
  if (u.ikev2) protocols.push_back("ikev2");
  return {{"name", u.name},         {"ipv4", u.ipv4},
          {"ipv6", u.ipv6},         {"protocols", protocols},
          {"enabled", u.enabled},   {"disabled_reason", u.disabled_reason},
          {"online", u.online},     {"last_handshake", u.last_handshake},
          {"endpoint", u.endpoint}, {"rx_bytes", u.rx_bytes},
          {"tx_bytes", u.tx_bytes}};
}

}  // namespace

HttpResponse Router::users(const HttpRequest& request, std::string_view rest) {
  HttpResponse refusal;
  auto principal =
      authenticate(request, request.method != "GET" && request.method != "HEAD", refusal);
  if (!principal) return refusal;
  if (!may(principal->role, Action::kView)) return error_response(403, "not allowed");
  const bool change = request.method != "GET";
  if (change && !may(principal->role, Action::kChangeUsers)) {
    return error_response(403, "your role (" + std::string(to_string(principal->role)) +
                                   ") may look but not change users");
  }

  if (rest.empty() || rest == "/") {
    if (request.method == "GET") {
      auto list = users_.list();
      if (!list) return error_for(list.error());
      json out = json::array();
      for (const UserView& u : *list) out.push_back(user_json(u));
      return json_response(200, {{"users", out}});
    }
    if (request.method != "POST") return method_not_allowed("GET, POST");
    if (!is_json_content(request.content_type)) {
      return error_response(415, "the body must be application/json");
    }
    auto body = JsonBody::parse(request.body);
    if (!body) return error_response(400, body.error().message);
    std::string name;
    FieldError bad;
    if (!body->get_string("name", kMaxUserNameBytes, name, bad)) {
      return error_response(400, bad.message(), bad.field);
    }
    auto user = users_.add(name);
    if (!user) return error_for(user.error(), "name");
    (void)auth_.audit_action(*principal, "user.add", name);
    return json_response(201, {{"user", user_json(*user)}});
  }

  // /NAME[/...]
  rest.remove_prefix(1);
  const size_t slash = rest.find('/');
  auto name = decode_path_segment(rest.substr(0, slash));
  if (!name) return error_response(404, "no such user");
  const std::string_view sub = slash == std::string_view::npos ? "" : rest.substr(slash);

  if (sub.empty()) {
    if (request.method == "GET") {
      auto list = users_.list();
      if (!list) return error_for(list.error());
      for (const UserView& u : *list) {
        if (u.name == *name) return json_response(200, {{"user", user_json(u)}});
      }
      return error_response(404, "no user named '" + *name + "'");
    }
    if (request.method != "DELETE") return method_not_allowed("GET, DELETE");
    if (auto st = users_.remove(*name); !st) return error_for(st.error());
    (void)auth_.audit_action(*principal, "user.remove", *name);
    return json_response(200, {{"removed", *name}});
  }
  if (sub == "/disable" || sub == "/enable") {
    if (request.method != "POST") return method_not_allowed("POST");
    const bool enable = sub == "/enable";
    auto user = users_.set_enabled(*name, enable);
    if (!user) return error_for(user.error());
    (void)auth_.audit_action(*principal, enable ? "user.enable" : "user.disable", *name);
    return json_response(200, {{"user", user_json(*user)}});
  }
  if (request.method != "GET") return method_not_allowed("GET");
  if (sub == "/qr.svg") {
    auto svg = users_.qr_svg(*name);
    if (!svg) return error_for(svg.error());
    HttpResponse r;
    r.content_type = "image/svg+xml";
    r.body = std::move(*svg);
    return r;
  }
  if (sub == "/files" || sub.starts_with("/files/")) {
    return user_files(*principal, *name, sub.substr(std::string_view("/files").size()), request);
  }
  return error_response(404, "no such API path");
}

HttpResponse Router::user_files(const Principal& who, const std::string& name,
                                std::string_view rest, const HttpRequest& /*request*/) {
  if (rest.empty() || rest == "/") {
    auto files = users_.files(name);
    if (!files) return error_for(files.error());
    json out = json::array();
    for (const ProfileFile& f : *files) out.push_back({{"name", f.name}, {"size", f.size}});
    return json_response(200, {{"files", out}});
  }
  auto file = decode_path_segment(rest.substr(1));
  if (!file) return error_response(404, "no such file");
  auto bytes = users_.file(name, *file);
  if (!bytes) return error_for(bytes.error());
  (void)auth_.audit_action(who, "user.download", name, *file);
  HttpResponse r;
  r.content_type = "application/octet-stream";
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + *file + "\"");
  r.body = std::move(*bytes);
  return r;
}

}  // namespace waypost::web
