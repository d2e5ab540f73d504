#pragma once
// The router's test fixture: a fresh web.db, an owner "alice" who has finished setup, the fake
// user directory, and helpers to sign in and send requests. Shared by web_router_test.cc and
// web_router_users_test.cc.

#include <gtest/gtest.h>

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

namespace waypost::web {

inline constexpr const char* kPassword = "a long enough password";

inline std::string header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

class WebRouter : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir_.file("web.db"), 100);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    AuthPolicy policy;
    policy.password = kTestPasswordParams;
    auth_ = std::make_unique<Auth>(*store_, clock_, random_, policy);
    router_ = std::make_unique<Router>(*auth_, users_, "vpn.example.com");
    secret_ = add("alice", Role::kOwner);
  }

  std::string add(const std::string& name, Role role) {
    auto token = auth_->add_admin(name, role, kCliActor);
    auto info = auth_->begin_setup(*token, "h");
    EXPECT_TRUE(auth_
                    ->complete_setup({*token, kPassword, info->totp_secret, code(info->totp_secret),
                                      "192.0.2.1"})
                    .ok());
    clock_.advance(seconds(30));
    return info->totp_secret;
  }

  std::string code(const std::string& secret) {
    return hotp_code(*base32_decode(secret), totp_step(clock_.wall().sec));
  }

  HttpResponse post_login(const std::string& body, const std::string& type = "application/json") {
    HttpRequest r;
    r.method = "POST";
    r.target = "/api/v1/login";
    r.content_type = type;
    r.body = body;
    r.remote_address = "198.51.100.9";
    return router_->handle(r);
  }

  // Signs in; returns the cookie header to send and the CSRF token.
  std::pair<std::string, std::string> sign_in(const std::string& name, const std::string& secret) {
    auto r = post_login(
        nlohmann::json{{"name", name}, {"password", kPassword}, {"code", code(secret)}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string set_cookie = header(r, "Set-Cookie");
    const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
    return {cookie, nlohmann::json::parse(r.body)["csrf_token"].get<std::string>()};
  }

  HttpResponse get(const std::string& target, const std::string& cookie = "",
                   const std::string& authorization = "") {
    HttpRequest r;
    r.method = "GET";
    r.target = target;
    r.cookie = cookie;
    r.authorization = authorization;
    return router_->handle(r);
  }

  test::TempDir dir_;
  ManualClock clock_;
  crypto::SeededRandom random_{9};
  std::unique_ptr<Store> store_;
  std::unique_ptr<Auth> auth_;
  std::unique_ptr<Router> router_;
  std::string secret_;
  FakeUsers users_;
};

// A request that changes something: JSON body, the session cookie and its CSRF token.
inline HttpRequest change(const std::string& method, const std::string& target,
                          const std::string& cookie, const std::string& csrf,
                          const std::string& body = "{}") {
  HttpRequest r;
  r.method = method;
  r.target = target;
  r.cookie = cookie;
  r.csrf_token = csrf;
  r.content_type = "application/json";
  r.body = body;
  r.remote_address = "198.51.100.9";
  return r;
}

}  // namespace waypost::web
