// /api/v1/server: the server page's numbers, and `waypost doctor` run from the page.
#include <cerrno>

#include <nlohmann/json.hpp>

#include "web/api_response.h"
#include "web/router.h"

namespace waypost::web {

HttpResponse Router::server(const HttpRequest& request, std::string_view rest) {
  HttpResponse refusal;
  const bool change = request.method != "GET" && request.method != "HEAD";
  auto principal = authenticate(request, change, refusal);
  if (!principal) return refusal;
  if (!may(principal->role, Action::kView)) return error_response(403, "not allowed");
  if (server_info_ == nullptr) return error_response(404, "no server information here");

  if (rest.empty() || rest == "/") {
    if (request.method != "GET") return method_not_allowed("GET");
    auto overview = server_info_->overview();
    if (!overview) return error_for(overview.error());
    // web.db's own health, so that a damaged or full database shows on the page (the VPN and
    // its users do not depend on it).
    auto health = auth_.store().check_health();
    (*overview)["web_db"] = {{"ok", health.ok()},
                             {"error", health.ok() ? std::string() : health.error().message}};
    return json_response(200, *overview);
  }
  if (rest != "/doctor") return error_response(404, "no such API path");
  if (request.method == "GET") return json_response(200, server_info_->doctor());
  if (request.method != "POST") return method_not_allowed("GET, POST");
  // The doctor sends probes and takes a while: for those who may change things.
  if (!may(principal->role, Action::kChangeUsers)) {
    return error_response(403, "your role (" + std::string(to_string(principal->role)) +
                                   ") may read the doctor's results but not run it");
  }
  if (auto st = server_info_->start_doctor(); !st) {
    if (st.error().code == EBUSY) return error_response(409, st.error().message);
    return error_for(st.error());
  }
  (void)auth_.audit_action(*principal, "server.doctor", "");
  return json_response(202, server_info_->doctor());
}

}  // namespace waypost::web
