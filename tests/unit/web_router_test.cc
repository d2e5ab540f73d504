// The /api/v1 router without sockets: sign-in, the session cookie's attributes, CSRF, API tokens,
// roles, JSON errors naming the field, and the headers on every answer.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "crypto/random.h"
#include "web/auth.h"
#include "web/base32.h"
#include "web/router.h"
#include "web/totp.h"
#include "web_router_fixture.h"

namespace waypost::web {
namespace {

using nlohmann::json;

TEST_F(WebRouter, LoginSetsAStrictCookie) {
  auto r =
      post_login(json{{"name", "alice"}, {"password", kPassword}, {"code", code(secret_)}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string cookie = header(r, "Set-Cookie");
  EXPECT_TRUE(cookie.starts_with("waypost_session=")) << cookie;
  EXPECT_NE(cookie.find("; Secure"), std::string::npos);
  EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("; SameSite=Strict"), std::string::npos);
  EXPECT_NE(cookie.find("; Path=/"), std::string::npos);
  EXPECT_NE(cookie.find("; Max-Age=43200"), std::string::npos);
  auto body = json::parse(r.body);
  EXPECT_EQ(body["admin"], "alice");
  EXPECT_EQ(body["role"], "owner");
  EXPECT_EQ(body["csrf_token"].get<std::string>().size(), 32u);
}

TEST_F(WebRouter, BadLoginBodiesName400TheField) {
  struct Case {
    std::string body;
    std::string field;
    std::string error;
  };
  const Case cases[] = {
      {"{", "", "the body is not valid JSON"},
      {"[1]", "", "the body must be a JSON object"},
      {R"({"password": "x", "code": "1"})", "name", "name: missing"},
      {R"({"name": 5, "password": "x", "code": "1"})", "name", "name: expected a string"},
      {R"({"name": "a", "password": ["x"], "code": "1"})", "password",
       "password: expected a string"},
      {R"({"name": "a", "password": "x"})", "code", "code: missing"},
      {json{{"name", std::string(65, 'a')}, {"password", "x"}, {"code", "1"}}.dump(), "name",
       "name: longer than 64 bytes"},
  };
  for (const Case& c : cases) {
    auto r = post_login(c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    auto body = json::parse(r.body);
    EXPECT_EQ(body["error"], c.error) << c.body;
    if (c.field.empty()) {
      EXPECT_FALSE(body.contains("field"));
    } else {
      EXPECT_EQ(body["field"], c.field);
    }
  }
  EXPECT_EQ(post_login("name=alice", "application/x-www-form-urlencoded").status, 415);
  EXPECT_EQ(post_login("{}", "text/plain").status, 415);
  EXPECT_EQ(
      post_login(R"({"name":"a","password":"b","code":"c"})", "Application/JSON; charset=utf-8")
          .status,
      401);
}

TEST_F(WebRouter, WrongCredentials401ThenRateLimited429) {
  const std::string wrong =
      json{{"name", "alice"}, {"password", "wrong password!!"}, {"code", "123456"}}.dump();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(post_login(wrong).status, 401) << i;
  auto r = post_login(wrong);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(header(r, "Retry-After"), "60");
  EXPECT_NE(json::parse(r.body)["error"].get<std::string>().find("too many"), std::string::npos);
}

TEST_F(WebRouter, SessionCookieReadsUsers) {
  auto [cookie, csrf] = sign_in("alice", secret_);
  auto who = get("/api/v1/session", "other=1; " + cookie);
  ASSERT_EQ(who.status, 200) << who.body;
  EXPECT_EQ(json::parse(who.body)["csrf_token"], csrf);
  auto users = get("/api/v1/users?x=1", cookie);
  ASSERT_EQ(users.status, 200) << users.body;
  auto body = json::parse(users.body);
  ASSERT_EQ(body["users"].size(), 2u);
  EXPECT_EQ(body["users"][0]["name"], "phone");
  EXPECT_EQ(body["users"][0]["protocols"], json::array({"wireguard", "ikev2"}));
  EXPECT_EQ(body["users"][1]["ipv6"], "");
  users_.fail = true;
  EXPECT_EQ(get("/api/v1/users", cookie).status, 503);
}

TEST_F(WebRouter, NothingAboutUsersWithoutSigningIn) {
  EXPECT_EQ(get("/api/v1/users").status, 401);
  EXPECT_EQ(get("/api/v1/users", "waypost_session=" + std::string(64, 'a')).status, 401);
  EXPECT_EQ(get("/api/v1/users", "", "Basic YWxpY2U6eA==").status, 401);
  EXPECT_EQ(get("/api/v1/users", "", "Bearer wpat_nope").status, 401);
  EXPECT_EQ(get("/api/v1/session").status, 401);
}

TEST_F(WebRouter, SignOutNeedsTheCsrfToken) {
  auto [cookie, csrf] = sign_in("alice", secret_);
  HttpRequest r;
  r.method = "DELETE";
  r.target = "/api/v1/session";
  r.cookie = cookie;
  auto refused = router_->handle(r);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(json::parse(refused.body)["error"], "missing or wrong X-CSRF-Token header");
  r.csrf_token = csrf;
  auto ok = router_->handle(r);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(header(ok, "Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(get("/api/v1/users", cookie).status, 401);
}

TEST_F(WebRouter, ApiTokenAndViewer) {
  const std::string viewer_secret = add("vera", Role::kViewer);
  auto [cookie, csrf] = sign_in("vera", viewer_secret);
  auto session = auth_->check_session(cookie.substr(cookie.find('=') + 1));
  ASSERT_TRUE(session.ok());
  auto token = auth_->create_api_token(*session, "script");
  ASSERT_TRUE(token.ok());
  auto users = get("/api/v1/users", "", "Bearer " + token->token);
  EXPECT_EQ(users.status, 200) << users.body;
  auto who = get("/api/v1/session", "", "Bearer " + token->token);
  ASSERT_EQ(who.status, 200);
  EXPECT_EQ(json::parse(who.body)["via"], "token");
  EXPECT_EQ(json::parse(who.body)["role"], "viewer");
  EXPECT_FALSE(json::parse(who.body).contains("csrf_token"));
}

TEST_F(WebRouter, UnknownPathsAndMethods) {
  auto r = get("/api/v1/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["error"], "no such API path");
  auto m = get("/api/v1/login");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(header(m, "Allow"), "POST");
  HttpRequest big;
  big.method = "POST";
  big.target = "/api/v1/login";
  big.body.assign(kMaxRequestBody + 1, 'x');
  EXPECT_EQ(router_->handle(big).status, 413);
}

TEST_F(WebRouter, EveryAnswerCarriesTheSafetyHeaders) {
  for (const HttpResponse& r : {get("/api/v1/nope"), get("/api/v1/users"), post_login("{")}) {
    EXPECT_EQ(header(r, "Cache-Control"), "no-store");
    EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(header(r, "Content-Security-Policy"), "default-src 'none'; frame-ancestors 'none'");
    EXPECT_EQ(r.content_type, "application/json");
  }
}

TEST_F(WebRouter, SetupLinkOverTheApi) {
  auto token = auth_->add_admin("bob", Role::kAdmin, kCliActor);
  ASSERT_TRUE(token.ok());
  auto post = [&](const std::string& target, const json& body) {
    HttpRequest r;
    r.method = "POST";
    r.target = target;
    r.content_type = "application/json";
    r.body = body.dump();
    return router_->handle(r);
  };
  auto start = post("/api/v1/setup/start", {{"token", *token}});
  ASSERT_EQ(start.status, 200) << start.body;
  auto info = json::parse(start.body);
  EXPECT_EQ(info["admin"], "bob");
  EXPECT_TRUE(info["otpauth_uri"].get<std::string>().starts_with(
      "otpauth://totp/Waypost%20%28vpn.example.com%29:bob?"));
  const std::string secret = info["totp_secret"];

  json finish = {
      {"token", *token}, {"password", "short"}, {"totp_secret", secret}, {"code", code(secret)}};
  auto weak = post("/api/v1/setup/finish", finish);
  EXPECT_EQ(weak.status, 400);
  EXPECT_EQ(json::parse(weak.body)["field"], "password");
  finish["password"] = kPassword;
  finish["code"] = "000000";
  auto wrong = post("/api/v1/setup/finish", finish);
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(json::parse(wrong.body)["field"], "code");
  finish.erase("totp_secret");
  EXPECT_EQ(json::parse(post("/api/v1/setup/finish", finish).body)["field"], "totp_secret");
  finish["totp_secret"] = secret;
  finish["code"] = code(secret);
  auto done = post("/api/v1/setup/finish", finish);
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(json::parse(done.body)["recovery_codes"].size(), 10u);

  // The link is spent: both steps now refuse it.
  EXPECT_EQ(post("/api/v1/setup/start", {{"token", *token}}).status, 403);
  EXPECT_EQ(post("/api/v1/setup/finish", finish).status, 403);
  EXPECT_EQ(post("/api/v1/setup/start", {{"token", "0123"}}).status, 403);
  // And bob signs in with what he chose.
  clock_.advance(seconds(30));
  auto [cookie, csrf] = sign_in("bob", secret);
  EXPECT_EQ(get("/api/v1/session", cookie).status, 200);
}

TEST(WebCookies, Values) {
  EXPECT_EQ(cookie_value("waypost_session=abc", "waypost_session"), "abc");
  EXPECT_EQ(cookie_value("a=1; waypost_session=abc ; b=2", "waypost_session"), "abc");
  EXPECT_EQ(cookie_value("xwaypost_session=abc", "waypost_session"), "");
  EXPECT_EQ(cookie_value("waypost_session=1; waypost_session=2", "waypost_session"), "1");
  EXPECT_EQ(cookie_value("", "waypost_session"), "");
  EXPECT_EQ(cookie_value(";;;=;", "waypost_session"), "");
}

// --- /api/v1/users changes -----------------------------------------------------------------

TEST_F(WebRouter, AdminAddsDisablesEnablesAndDeletesAUser) {
  auto [cookie, csrf] = sign_in("alice", secret_);
  auto added =
      router_->handle(change("POST", "/api/v1/users", cookie, csrf, R"({"name":"tablet"})"));
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(json::parse(added.body)["user"]["name"], "tablet");
  EXPECT_EQ(json::parse(added.body)["user"]["enabled"], true);

  auto off = router_->handle(change("POST", "/api/v1/users/tablet/disable", cookie, csrf));
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(json::parse(off.body)["user"]["enabled"], false);
  EXPECT_EQ(json::parse(off.body)["user"]["disabled_reason"], "disabled by an admin");
  auto on = router_->handle(change("POST", "/api/v1/users/tablet/enable", cookie, csrf));
  EXPECT_EQ(json::parse(on.body)["user"]["enabled"], true);

  auto one = get("/api/v1/users/tablet", cookie);
  ASSERT_EQ(one.status, 200) << one.body;
  auto gone = router_->handle(change("DELETE", "/api/v1/users/tablet", cookie, csrf));
  ASSERT_EQ(gone.status, 200) << gone.body;
  EXPECT_EQ(get("/api/v1/users/tablet", cookie).status, 404);
  EXPECT_EQ(router_->handle(change("DELETE", "/api/v1/users/tablet", cookie, csrf)).status, 404);

  // Each change is in the audit log with the admin who made it.
  auto audit = store_->audit_log(100);
  ASSERT_TRUE(audit.ok());
  std::vector<std::string> actions;
  for (const auto& e : *audit) {
    if (e.admin == "alice" && e.target == "tablet") actions.push_back(e.action);
  }
  EXPECT_EQ(actions.size(), 4u);
}

TEST_F(WebRouter, BadUserRequestsNameTheFieldAndReason) {
  auto [cookie, csrf] = sign_in("alice", secret_);
  auto dup = router_->handle(change("POST", "/api/v1/users", cookie, csrf, R"({"name":"phone"})"));
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(json::parse(dup.body)["field"], "name");
  auto missing = router_->handle(change("POST", "/api/v1/users", cookie, csrf, R"({"nam":"x"})"));
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(json::parse(missing.body)["field"], "name");
  auto bad = router_->handle(change("POST", "/api/v1/users", cookie, csrf, R"({"name":"a b"})"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["field"], "name");
  auto not_json = router_->handle(change("POST", "/api/v1/users", cookie, csrf, "{"));
  EXPECT_EQ(not_json.status, 400);
  HttpRequest form = change("POST", "/api/v1/users", cookie, csrf, "name=x");
  form.content_type = "application/x-www-form-urlencoded";
  EXPECT_EQ(router_->handle(form).status, 415);
  EXPECT_EQ(router_->handle(change("POST", "/api/v1/users/nobody/disable", cookie, csrf)).status,
            404);
  EXPECT_EQ(get("/api/v1/users/..%2f/files", cookie).status, 404);
  EXPECT_EQ(get("/api/v1/users/phone/files/..", cookie).status, 404);
  EXPECT_EQ(get("/api/v1/users/phone/files/%zz", cookie).status, 404);
  EXPECT_EQ(get("/api/v1/users/phone/nope", cookie).status, 404);
}

TEST_F(WebRouter, ChangesNeedTheCsrfTokenAndARoleThatMayChange) {
  auto [cookie, csrf] = sign_in("alice", secret_);
  auto no_csrf = router_->handle(change("POST", "/api/v1/users", cookie, "", R"({"name":"x1"})"));
  EXPECT_EQ(no_csrf.status, 403);
  auto wrong = router_->handle(change("POST", "/api/v1/users", cookie, "abc", R"({"name":"x1"})"));
  EXPECT_EQ(wrong.status, 403);
  EXPECT_EQ(get("/api/v1/users/x1", cookie).status, 404);

  const std::string viewer_secret = add("vera", Role::kViewer);
  auto [vcookie, vcsrf] = sign_in("vera", viewer_secret);
  EXPECT_EQ(get("/api/v1/users", vcookie).status, 200);
  EXPECT_EQ(get("/api/v1/users/phone/files", vcookie).status, 200);
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"POST", "/api/v1/users"},
                                                        {"DELETE", "/api/v1/users/phone"},
                                                        {"POST", "/api/v1/users/phone/disable"},
                                                        {"POST", "/api/v1/users/phone/enable"}}) {
    auto r = router_->handle(change(method, target, vcookie, vcsrf, R"({"name":"x2"})"));
    EXPECT_EQ(r.status, 403) << method << " " << target;
  }
  EXPECT_EQ(get("/api/v1/users/phone", vcookie).status, 200);
  EXPECT_EQ(get("/api/v1/users/x2", vcookie).status, 404);
}

TEST_F(WebRouter, FilesDownloadsAndQrCode) {
  auto [cookie, csrf] = sign_in("alice", secret_);
  auto files = get("/api/v1/users/phone/files", cookie);
  ASSERT_EQ(files.status, 200) << files.body;
  EXPECT_EQ(json::parse(files.body)["files"][0]["name"], "phone.conf");
  auto conf = get("/api/v1/users/phone/files/phone.conf", cookie);
  ASSERT_EQ(conf.status, 200);
  EXPECT_EQ(conf.content_type, "application/octet-stream");
  EXPECT_EQ(header(conf, "Content-Disposition"), "attachment; filename=\"phone.conf\"");
  EXPECT_EQ(conf.body, "[Interface]\n# phone\n");
  EXPECT_EQ(get("/api/v1/users/phone/files/other.conf", cookie).status, 404);
  auto qr = get("/api/v1/users/phone/qr.svg", cookie);
  ASSERT_EQ(qr.status, 200);
  EXPECT_EQ(qr.content_type, "image/svg+xml");
  EXPECT_EQ(get("/api/v1/users/phone/qr.svg").status, 401);
}

}  // namespace
}  // namespace waypost::web
