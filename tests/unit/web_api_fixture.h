#pragma once
// (The admins, tokens, audit and OpenAPI tests; web_router_fixture.h is the older users one.)
// A router over a real web.db in a temporary directory, on a virtual clock, with an owner
// "alice" already set up: what the API tests need to sign in as any role and send requests.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "crypto/random.h"
#include "web/auth.h"
#include "web/base32.h"
#include "web/router.h"
#include "web/totp.h"
#include "web_fake_users.h"
#include "web_test_dir.h"

namespace waypost::web::test_api {

inline constexpr const char* kPassword = "a long enough password";
inline constexpr const char* kPublicBase = "https://vpn.example.com:8443";

// A signed-in cookie session: the Cookie header to send and its CSRF token.
struct Session {
  std::string cookie;
  std::string csrf;
};

inline std::string header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

inline nlohmann::json body_of(const HttpResponse& r) {
  return nlohmann::json::parse(r.body, nullptr, false);
}

class RouterFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir_.file("web.db"), 100);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    AuthPolicy policy;
    policy.password = kTestPasswordParams;
    // No sign-in rate limit to trip over: these tests sign in many times.
    policy.per_account = {1000, seconds(1)};
    policy.per_address = {1000, seconds(1)};
    auth_ = std::make_unique<Auth>(*store_, clock_, random_, policy);
    router_ = std::make_unique<Router>(*auth_, users_, "vpn.example.com", kPublicBase);
    secrets_["alice"] = add("alice", Role::kOwner);
  }

  // Adds an admin and completes its setup; returns its TOTP secret.
  std::string add(const std::string& name, Role role) {
    auto token = auth_->add_admin(name, role, kCliActor);
    EXPECT_TRUE(token.ok());
    if (!token) return {};
    auto info = auth_->begin_setup(*token, "h");
    EXPECT_TRUE(auth_
                    ->complete_setup({*token, kPassword, info->totp_secret, code(info->totp_secret),
                                      "192.0.2.1"})
                    .ok());
    clock_.advance(seconds(30));
    secrets_[name] = info->totp_secret;
    return info->totp_secret;
  }

  std::string code(const std::string& secret) {
    return hotp_code(*base32_decode(secret), totp_step(clock_.wall().sec));
  }

  Session sign_in(const std::string& name) {
    HttpRequest r;
    r.method = "POST";
    r.target = "/api/v1/login";
    r.content_type = "application/json";
    r.body = nlohmann::json{{"name", name}, {"password", kPassword}, {"code", code(secrets_[name])}}
                 .dump();
    r.remote_address = "198.51.100.9";
    HttpResponse answer = router_->handle(r);
    // A TOTP step is accepted once: the next sign-in of anyone comes a step later.
    clock_.advance(seconds(30));
    EXPECT_EQ(answer.status, 200) << answer.body;
    const std::string set_cookie = header(answer, "Set-Cookie");
    return {set_cookie.substr(0, set_cookie.find(';')),
            body_of(answer).value("csrf_token", std::string())};
  }

  // A request as the page sends it: the session's cookie and CSRF token, a JSON body.
  HttpResponse send(const std::string& method, const std::string& target, const Session& s,
                    const std::string& body = "", const std::string& host = "") {
    HttpRequest r;
    r.method = method;
    r.target = target;
    r.cookie = s.cookie;
    r.csrf_token = s.csrf;
    r.host = host;
    if (method != "GET") {
      r.content_type = "application/json";
      r.body = body.empty() ? "{}" : body;
    }
    r.remote_address = "198.51.100.9";
    return router_->handle(r);
  }

  // A request with an API token and nothing else.
  HttpResponse bearer(const std::string& method, const std::string& target,
                      const std::string& token, const std::string& body = "") {
    HttpRequest r;
    r.method = method;
    r.target = target;
    r.authorization = "Bearer " + token;
    if (method != "GET") {
      r.content_type = "application/json";
      r.body = body.empty() ? "{}" : body;
    }
    return router_->handle(r);
  }

  test::TempDir dir_;
  ManualClock clock_;
  crypto::SeededRandom random_{11};
  std::unique_ptr<Store> store_;
  std::unique_ptr<Auth> auth_;
  FakeUsers users_;
  std::unique_ptr<Router> router_;
  std::map<std::string, std::string> secrets_;
};

}  // namespace waypost::web::test_api
