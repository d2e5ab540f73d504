// The OpenAPI document served at /api/v1/openapi.json (src/web/assets/openapi.json): valid JSON,
// OpenAPI 3.0.3, and in step with the router: every route in kApiRoutes is documented, every
// documented operation is in kApiRoutes, and the router answers each of them (no "no such API
// path", no 405). A route added without documentation fails here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

#include "web/assets.h"
#include "web_api_fixture.h"

namespace waypost::web::test_api {
namespace {

using nlohmann::json;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

json embedded_document() {
  const Asset* doc = find_asset("openapi.json");
  if (doc == nullptr) return nullptr;
  return json::parse(doc->body, nullptr, false);
}

TEST(WebOpenApi, TheDocumentIsOpenApi303WithBothSecuritySchemes) {
  const json doc = embedded_document();
  ASSERT_FALSE(doc.is_null()) << "openapi.json is not embedded";
  ASSERT_FALSE(doc.is_discarded()) << "openapi.json is not valid JSON";
  EXPECT_EQ(doc.at("openapi"), "3.0.3");
  ASSERT_TRUE(doc.contains("info") && doc["info"].contains("title") &&
              doc["info"].contains("version"));
  const json& schemes = doc.at("components").at("securitySchemes");
  bool cookie = false;
  bool csrf = false;
  bool bearer = false;
  for (const auto& [name, s] : schemes.items()) {
    if (s.at("type") == "apiKey" && s.at("in") == "cookie" && s.at("name") == "waypost_session") {
      cookie = true;
    }
    if (s.at("type") == "apiKey" && s.at("in") == "header" && s.at("name") == "X-CSRF-Token") {
      csrf = true;
    }
    if (s.at("type") == "http" && s.at("scheme") == "bearer") bearer = true;
  }
  EXPECT_TRUE(cookie && csrf && bearer) << schemes.dump(2);
  // The error shape every refusal has.
  const json& error = doc.at("components").at("schemas").at("Error");
  EXPECT_TRUE(error.at("properties").contains("error"));
  EXPECT_TRUE(error.at("properties").contains("field"));
}

TEST(WebOpenApi, EveryRouteIsDocumentedAndNothingElse) {
  const json doc = embedded_document();
  ASSERT_TRUE(doc.is_object());
  const json& paths = doc.at("paths");
  std::set<std::pair<std::string, std::string>> routes;
  for (const ApiRoute& r : kApiRoutes) {
    routes.emplace(lower(r.method), std::string(r.path));
    ASSERT_TRUE(paths.contains(std::string(r.path))) << r.path << " is not in openapi.json";
    const json& item = paths.at(std::string(r.path));
    ASSERT_TRUE(item.contains(lower(r.method))) << r.method << " " << r.path;
    const json& op = item.at(lower(r.method));
    EXPECT_TRUE(op.contains("responses") && !op.at("responses").empty()) << r.path;
    EXPECT_TRUE(op.contains("summary")) << r.method << " " << r.path;
  }
  for (const auto& [path, item] : paths.items()) {
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters") continue;
      EXPECT_TRUE(routes.count({method, path}) == 1)
          << method << " " << path << " is documented but not in kApiRoutes (router.h)";
    }
  }
}

class WebOpenApiRouter : public RouterFixture {};

TEST_F(WebOpenApiRouter, ServedWithoutSigningIn) {
  HttpRequest r;
  r.method = "GET";
  r.target = "/api/v1/openapi.json";
  const HttpResponse answer = router_->handle(r);
  ASSERT_EQ(answer.status, 200);
  EXPECT_EQ(answer.content_type, "application/json");
  EXPECT_EQ(answer.body, find_asset("openapi.json")->body);
  EXPECT_EQ(header(answer, "Content-Security-Policy"),
            "default-src 'none'; frame-ancestors 'none'");
  r.method = "POST";
  EXPECT_EQ(router_->handle(r).status, 405);
}

TEST_F(WebOpenApiRouter, TheRouterAnswersEveryListedRoute) {
  add("bob", Role::kAdmin);
  // An owner's API token: it stays valid through DELETE /api/v1/session, where a cookie session
  // would end and leave every later request a 401 that says nothing about the route.
  const Session alice = sign_in("alice");
  auto principal = auth_->check_session(alice.cookie.substr(alice.cookie.find('=') + 1));
  ASSERT_TRUE(principal.ok());
  auto token = auth_->create_api_token(*principal, "routes");
  ASSERT_TRUE(token.ok());
  for (const ApiRoute& route : kApiRoutes) {
    std::string target(route.path);
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"{name}", "phone"}, {"{file}", "phone.conf"}, {"{id}", "1"}}) {
      if (auto at = target.find(from); at != std::string::npos) target.replace(at, from.size(), to);
    }
    // Admin routes act on bob (an admin), the users routes on the fake "phone".
    if (target.starts_with("/api/v1/admins/")) target.replace(15, 5, "bob");
    const HttpResponse r = bearer(std::string(route.method), target, token->token);
    EXPECT_NE(r.status, 401) << route.method << " " << target << " " << r.body;
    EXPECT_NE(r.status, 405) << route.method << " " << target << " " << r.body;
    EXPECT_EQ(r.body.find("no such API path"), std::string::npos) << route.method << " " << target;
  }
}

}  // namespace
}  // namespace waypost::web::test_api
