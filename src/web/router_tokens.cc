// /api/v1/tokens: the signed-in admin's own API tokens. A token's secret is shown once, in the
// answer that creates it; web.db keeps only its SHA-256, so no list can show it again. Auth
// refuses to create or revoke tokens with a token (a leaked one cannot mint or cut off others)
// and writes the audit entries.
#include <algorithm>
#include <charconv>
#include <optional>

#include <nlohmann/json.hpp>

#include "web/api_response.h"
#include "web/json_body.h"
#include "web/router.h"

namespace waypost::web {

namespace {

using nlohmann::json;

constexpr size_t kMaxLabelBytes = 64;

json token_json(const ApiTokenRecord& t) {
  return {{"id", t.id},
          {"label", t.label},
          {"created", t.created},
          {"last_used", t.last_used},
          {"revoked", t.revoked}};
}

// A token id from the path: a positive decimal number, nothing else.
std::optional<int64_t> parse_id(std::string_view text) {
  if (text.empty() || text.size() > 18 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int64_t id = 0;
  std::from_chars(text.data(), text.data() + text.size(), id);
  if (id <= 0) return std::nullopt;
  return id;
}

}  // namespace

HttpResponse Router::tokens(const HttpRequest& request, std::string_view rest) {
  HttpResponse refusal;
  auto principal =
      authenticate(request, request.method != "GET" && request.method != "HEAD", refusal);
  if (!principal) return refusal;
  if (!may(principal->role, Action::kView)) return error_response(403, "not allowed");

  if (rest.empty() || rest == "/") {
    if (request.method == "GET") {
      auto list = auth_.store().list_api_tokens(principal->admin);
      if (!list) return error_for(list.error());
      json out = json::array();
      for (const ApiTokenRecord& t : *list) out.push_back(token_json(t));
      return json_response(200, {{"tokens", out}});
    }
    if (request.method != "POST") return method_not_allowed("GET, POST");
    HttpResponse refused;
    std::optional<JsonBody> body;
    if (!read_body(request, body, refused)) return refused;
    std::string label;
    FieldError bad;
    if (!body->get_string("label", kMaxLabelBytes, label, bad)) {
      return error_response(400, bad.message(), bad.field);
    }
    auto token = auth_.create_api_token(*principal, label);
    if (!token) return error_for(token.error(), "label");
    return json_response(201, {{"id", token->id}, {"label", label}, {"token", token->token}});
  }

  // /ID
  auto id = parse_id(rest.substr(1));
  if (!id) return error_response(404, "no such token");
  if (request.method != "DELETE") return method_not_allowed("DELETE");
  if (auto st = auth_.revoke_api_token(*principal, *id); !st) return error_for(st.error());
  return json_response(200, {{"revoked", *id}});
}

}  // namespace waypost::web
