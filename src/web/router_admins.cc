// /api/v1/admins: the people who administer the server, as the page lists them and an owner
// changes them. Auth does each change and writes its audit entry with the signed-in admin as the
// actor, so nothing here logs a second time.
#include <algorithm>
#include <cctype>
#include <optional>

#include <nlohmann/json.hpp>

#include "web/api_response.h"
#include "web/json_body.h"
#include "web/router.h"

namespace waypost::web {

namespace {

using nlohmann::json;

constexpr size_t kMaxAdminNameBytes = 64;
constexpr size_t kMaxRoleBytes = 16;

std::string_view state_of(const AdminRecord& a) {
  if (a.disabled) return "disabled";
  return a.set_up() ? "active" : "setup pending";
}

json admin_json(const AdminRecord& a) {
  return {{"name", a.name},
          {"role", to_string(a.role)},
          {"state", state_of(a)},
          {"created", a.created},
          {"last_login", a.last_login}};
}

// A Host header fit to put into a link: a DNS name or an IPv4 or [IPv6] address, with an
// optional port. Anything else (empty, spaces, a slash) is not used.
bool usable_host(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == ':' ||
           c == '[' || c == ']';
  });
}

HttpResponse owners_only(const Principal& who) {
  return error_response(403, "your role (" + std::string(to_string(who.role)) +
                                 ") may look at admins but not change them; owners do");
}

// The "role" field of a body, or the 400 naming it.
bool read_role(const JsonBody& body, Role& role, HttpResponse& refusal) {
  std::string text;
  FieldError bad;
  if (!body.get_string("role", kMaxRoleBytes, text, bad)) {
    refusal = error_response(400, bad.message(), bad.field);
    return false;
  }
  auto parsed = parse_role(text);
  if (!parsed) {
    refusal = error_response(400, "role: expected owner, admin or viewer", "role");
    return false;
  }
  role = *parsed;
  return true;
}

}  // namespace

std::string Router::page_base(const HttpRequest& request) const {
  // The address the admin's browser reached is one that works (with `web_listen: tunnel` the
  // configured endpoint would not); without a usable Host, the address the CLI would print.
  return usable_host(request.host) ? "https://" + request.host : public_base_;
}

std::string Router::setup_link(const HttpRequest& request, std::string_view token) const {
  return page_base(request) + "/setup#" + std::string(token);
}

HttpResponse Router::admins(const HttpRequest& request, std::string_view rest) {
  HttpResponse refusal;
  auto principal =
      authenticate(request, request.method != "GET" && request.method != "HEAD", refusal);
  if (!principal) return refusal;
  if (!may(principal->role, Action::kView)) return error_response(403, "not allowed");

  if (!rest.empty() && rest != "/") {
    // /NAME[/reset]
    rest.remove_prefix(1);
    const size_t slash = rest.find('/');
    auto name = decode_path_segment(rest.substr(0, slash), kMaxAdminNameBytes);
    if (!name) return error_response(404, "no such admin");
    return admin_change(request, *principal, *name,
                        slash == std::string_view::npos ? "" : rest.substr(slash));
  }
  if (request.method == "GET") {
    auto list = auth_.store().list_admins();
    if (!list) return error_for(list.error());
    json out = json::array();
    for (const AdminRecord& a : *list) out.push_back(admin_json(a));
    return json_response(200, {{"admins", out}});
  }
  if (request.method != "POST") return method_not_allowed("GET, POST");
  if (!may(principal->role, Action::kManageAdmins)) return owners_only(*principal);
  std::optional<JsonBody> body;
  if (!read_body(request, body, refusal)) return refusal;
  std::string name;
  FieldError bad;
  if (!body->get_string("name", kMaxAdminNameBytes, name, bad)) {
    return error_response(400, bad.message(), bad.field);
  }
  Role role = Role::kAdmin;
  if (!read_role(*body, role, refusal)) return refusal;
  auto token = auth_.add_admin(name, role, principal->admin);
  if (!token) {
    Error e = token.take_error();
    // A bad name says so, in the form of the body errors ("name: ..."); a taken one is 409.
    if (e.is(ErrorKind::kParse) && e.code == 0) e = std::move(e).context("name");
    return error_for(e, "name");
  }
  auto added = auth_.store().find_admin(name);
  if (!added) return error_for(added.error());
  if (!added->has_value()) return error_response(503, "the new admin vanished; try again");
  return json_response(
      201, {{"admin", admin_json(**added)}, {"setup_link", setup_link(request, *token)}});
}

HttpResponse Router::admin_change(const HttpRequest& request, const Principal& who,
                                  const std::string& name, std::string_view sub) {
  if (sub.empty()) {
    if (request.method != "PATCH" && request.method != "DELETE") {
      return method_not_allowed("PATCH, DELETE");
    }
  } else if (sub == "/reset" || sub == "/disable" || sub == "/enable") {
    if (request.method != "POST") return method_not_allowed("POST");
  } else {
    return error_response(404, "no such API path");
  }
  if (!may(who.role, Action::kManageAdmins)) return owners_only(who);

  if (sub == "/reset") {
    auto token = auth_.reset_admin(name, who.admin);
    if (!token) return error_for(token.error());
    return json_response(200, {{"admin", name}, {"setup_link", setup_link(request, *token)}});
  }
  if (sub == "/disable" || sub == "/enable") {
    if (auto st = auth_.set_admin_disabled(name, sub == "/disable", who.admin); !st) {
      return error_for(st.error());
    }
    auto changed = auth_.store().find_admin(name);
    if (!changed) return error_for(changed.error());
    if (!changed->has_value()) return error_response(404, "no admin named '" + name + "'");
    return json_response(200, {{"admin", admin_json(**changed)}});
  }
  if (request.method == "DELETE") {
    if (auto st = auth_.remove_admin(name, who.admin); !st) return error_for(st.error());
    return json_response(200, {{"removed", name}});
  }
  HttpResponse refusal;
  std::optional<JsonBody> body;
  if (!read_body(request, body, refusal)) return refusal;
  Role role = Role::kAdmin;
  if (!read_role(*body, role, refusal)) return refusal;
  if (auto st = auth_.change_role(name, role, who.admin); !st) return error_for(st.error());
  auto changed = auth_.store().find_admin(name);
  if (!changed) return error_for(changed.error());
  if (!changed->has_value()) return error_response(404, "no admin named '" + name + "'");
  return json_response(200, {{"admin", admin_json(**changed)}});
}

}  // namespace waypost::web
