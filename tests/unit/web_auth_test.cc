// The web admin's authentication on a virtual clock: setup links, sign-in with password and TOTP
// or a recovery code, rate limits, sessions and their expiry, CSRF, API tokens, roles, audit.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "crypto/random.h"
#include "web/auth.h"
#include "web/base32.h"
#include "web/totp.h"
#include "web_test_dir.h"

namespace waypost::web {
namespace {

constexpr const char* kPassword = "a long enough password";

class WebAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir_.file("web.db"), 100);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    AuthPolicy policy;
    policy.password = kTestPasswordParams;
    auth_ = std::make_unique<Auth>(*store_, clock_, random_, policy);
  }

  int64_t now() const { return clock_.wall().sec; }

  // The code an authenticator app with `secret` shows now.
  std::string code_now(const std::string& secret) {
    auto bytes = base32_decode(secret);
    return hotp_code(*bytes, totp_step(now()));
  }

  // Adds an admin and completes their setup; returns the TOTP secret and the recovery codes.
  std::pair<std::string, std::vector<std::string>> set_up(const std::string& name, Role role) {
    auto token = auth_->add_admin(name, role, kCliActor);
    EXPECT_TRUE(token.ok());
    auto info = auth_->begin_setup(*token, "vpn.example.com");
    EXPECT_TRUE(info.ok()) << info.error().message;
    auto codes = auth_->complete_setup(
        {*token, kPassword, info->totp_secret, code_now(info->totp_secret), "192.0.2.1"});
    EXPECT_TRUE(codes.ok()) << (codes.ok() ? "" : codes.error().message);
    // The step just used is spent: the next sign-in needs the next one.
    clock_.advance(seconds(30));
    return {info->totp_secret, codes.ok() ? *codes : std::vector<std::string>{}};
  }

  LoginResult login(const std::string& name, const std::string& password, const std::string& code,
                    const std::string& address = "198.51.100.4") {
    return auth_->login({name, password, code, address});
  }

  bool has_audit(const std::string& action) {
    auto log = store_->audit_log(1000);
    for (const auto& e : *log) {
      if (e.action == action) return true;
    }
    return false;
  }

  test::TempDir dir_;
  ManualClock clock_;
  crypto::SeededRandom random_{42};
  std::unique_ptr<Store> store_;
  std::unique_ptr<Auth> auth_;
};

TEST_F(WebAuth, SetupThenSignIn) {
  auto [secret, recovery] = set_up("alice", Role::kOwner);
  EXPECT_EQ(recovery.size(), 10u);
  auto r = login("alice", kPassword, code_now(secret));
  ASSERT_EQ(r.outcome, LoginOutcome::kOk) << r.message;
  ASSERT_TRUE(r.session);
  EXPECT_EQ(r.session->admin, "alice");
  EXPECT_EQ(r.session->role, Role::kOwner);
  EXPECT_EQ(r.session->token.size(), 64u);
  auto p = auth_->check_session(r.session->token);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->admin, "alice");
  EXPECT_EQ(p->via, Via::kSession);
  EXPECT_TRUE(has_audit("admin.add"));
  EXPECT_TRUE(has_audit("admin.setup"));
  EXPECT_TRUE(has_audit("login"));
}

TEST_F(WebAuth, SetupInfoHasAnOtpauthUri) {
  auto token = auth_->add_admin("alice", Role::kOwner, kCliActor);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->size(), 32u);  // 128 bits in hex
  auto info = auth_->begin_setup(*token, "vpn.example.com");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->admin, "alice");
  EXPECT_EQ(base32_decode(info->totp_secret)->size(), kTotpSecretBytes);
  EXPECT_TRUE(
      info->otpauth_uri.starts_with("otpauth://totp/Waypost%20%28vpn.example.com%29:alice?"));
}

TEST_F(WebAuth, SetupLinkIsSingleUse) {
  auto token = auth_->add_admin("alice", Role::kOwner, kCliActor);
  auto info = auth_->begin_setup(*token, "h");
  ASSERT_TRUE(auth_->complete_setup(
      {*token, kPassword, info->totp_secret, code_now(info->totp_secret), "a"}));
  auto again = auth_->begin_setup(*token, "h");
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().is(ErrorKind::kPermission));
  EXPECT_FALSE(auth_->complete_setup(
      {*token, "another long password", info->totp_secret, code_now(info->totp_secret), "a"}));
}

TEST_F(WebAuth, SetupLinkExpiresAfter24Hours) {
  auto token = auth_->add_admin("alice", Role::kOwner, kCliActor);
  clock_.advance(seconds(24 * 3600 - 1));
  EXPECT_TRUE(auth_->begin_setup(*token, "h").ok());
  clock_.advance(seconds(1));
  EXPECT_FALSE(auth_->begin_setup(*token, "h").ok());
}

TEST_F(WebAuth, SetupChecksPasswordSecretAndCode) {
  auto token = auth_->add_admin("alice", Role::kOwner, kCliActor);
  auto info = auth_->begin_setup(*token, "h");
  const std::string code = code_now(info->totp_secret);
  auto short_pw = auth_->complete_setup({*token, "short", info->totp_secret, code, "a"});
  ASSERT_FALSE(short_pw.ok());
  EXPECT_NE(short_pw.error().message.find("at least 12"), std::string::npos);
  auto bad_secret = auth_->complete_setup({*token, kPassword, "MZXW6", code, "a"});
  ASSERT_FALSE(bad_secret.ok());
  EXPECT_TRUE(bad_secret.error().message.starts_with("totp_secret:"));
  std::string wrong = code;
  wrong[0] = wrong[0] == '9' ? '0' : char(wrong[0] + 1);
  auto bad_code = auth_->complete_setup({*token, kPassword, info->totp_secret, wrong, "a"});
  ASSERT_FALSE(bad_code.ok());
  EXPECT_TRUE(bad_code.error().message.starts_with("code:"));
  // None of the failures used the link up.
  EXPECT_TRUE(auth_->complete_setup({*token, kPassword, info->totp_secret, code, "a"}).ok());
}

TEST_F(WebAuth, WrongPasswordCodeOrNameAllLookTheSame) {
  auto [secret, recovery] = set_up("alice", Role::kOwner);
  const std::string code = code_now(secret);
  std::string wrong = code;
  wrong[5] = wrong[5] == '9' ? '0' : char(wrong[5] + 1);
  for (const auto& r : {login("alice", "wrong password!!", code), login("alice", kPassword, wrong),
                        login("nobody", kPassword, code), login("alice", kPassword, ""),
                        login("alice", kPassword, "zzzz-zzzz-zzzz-zzzz")}) {
    EXPECT_EQ(r.outcome, LoginOutcome::kDenied);
    EXPECT_EQ(r.message, "wrong name, password or code");
    EXPECT_FALSE(r.session);
  }
  EXPECT_TRUE(has_audit("login.failed"));
  // None of that consumed the step: the right code still works.
  EXPECT_EQ(login("alice", kPassword, code).outcome, LoginOutcome::kOk);
}

TEST_F(WebAuth, ACodeWorksOnlyOnce) {
  auto [secret, recovery] = set_up("alice", Role::kOwner);
  const std::string code = code_now(secret);
  EXPECT_EQ(login("alice", kPassword, code).outcome, LoginOutcome::kOk);
  EXPECT_EQ(login("alice", kPassword, code).outcome, LoginOutcome::kDenied);
  clock_.advance(seconds(30));
  EXPECT_EQ(login("alice", kPassword, code_now(secret)).outcome, LoginOutcome::kOk);
}

TEST_F(WebAuth, RecoveryCodeWorksOnce) {
  auto [secret, recovery] = set_up("alice", Role::kOwner);
  EXPECT_EQ(login("alice", kPassword, recovery[3]).outcome, LoginOutcome::kOk);
  EXPECT_EQ(login("alice", kPassword, recovery[3]).outcome, LoginOutcome::kDenied);
  EXPECT_EQ(store_->recovery_codes_left("alice").value(), 9u);
  EXPECT_TRUE(has_audit("login.recovery_code"));
  // A recovery code without the password is worth nothing, and is not used up.
  EXPECT_EQ(login("alice", "wrong password!!", recovery[4]).outcome, LoginOutcome::kDenied);
  EXPECT_EQ(store_->recovery_codes_left("alice").value(), 9u);
}

TEST_F(WebAuth, NotSetUpOrDisabledCannotSignIn) {
  auto token = auth_->add_admin("bob", Role::kAdmin, kCliActor);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(login("bob", "", "").outcome, LoginOutcome::kDenied);
  auto [secret, recovery] = set_up("alice", Role::kOwner);
  auto ok = login("alice", kPassword, code_now(secret));
  ASSERT_EQ(ok.outcome, LoginOutcome::kOk);
  ASSERT_TRUE(store_->set_disabled("alice", true));
  clock_.advance(seconds(30));
  EXPECT_EQ(login("alice", kPassword, code_now(secret)).outcome, LoginOutcome::kDenied);
  // A disabled admin's running session stops working too.
  EXPECT_FALSE(auth_->check_session(ok.session->token).ok());
}

TEST_F(WebAuth, RateLimitPerAccount) {
  auto [secret, recovery] = set_up("alice", Role::kOwner);
  // Five attempts at once against one name (from five addresses), then one a minute.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(login("alice", "wrong password!!", "000000", "192.0.2." + std::to_string(i)).outcome,
              LoginOutcome::kDenied);
  }
  auto limited = login("alice", kPassword, code_now(secret), "192.0.2.100");
  EXPECT_EQ(limited.outcome, LoginOutcome::kRateLimited);
  EXPECT_EQ(limited.retry_after_seconds, 60);
  EXPECT_NE(limited.message.find("try again in 60 s"), std::string::npos);
  clock_.advance(seconds(60));
  EXPECT_EQ(login("alice", kPassword, code_now(secret), "192.0.2.100").outcome, LoginOutcome::kOk);
}

TEST_F(WebAuth, RateLimitPerAddress) {
  // Ten attempts at once from one address (against ten names), then one every 6 s.
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(login("name" + std::to_string(i), "x", "1", "2001:db8::1").outcome,
              LoginOutcome::kDenied);
  }
  // The same /64 shares the bucket.
  auto limited = login("other", "x", "1", "2001:db8::2");
  EXPECT_EQ(limited.outcome, LoginOutcome::kRateLimited);
  EXPECT_EQ(limited.retry_after_seconds, 6);
  EXPECT_EQ(login("other", "x", "1", "2001:db8:0:1::1").outcome, LoginOutcome::kDenied);
  clock_.advance(seconds(6));
  EXPECT_EQ(login("other", "x", "1", "2001:db8::2").outcome, LoginOutcome::kDenied);
}

TEST_F(WebAuth, SessionIdleAndAbsoluteExpiry) {
  auto [secret, recovery] = set_up("alice", Role::kOwner);
  auto r = login("alice", kPassword, code_now(secret));
  ASSERT_EQ(r.outcome, LoginOutcome::kOk);
  const std::string token = r.session->token;
  // Active use keeps it alive past the idle time...
  for (int i = 0; i < 11; ++i) {
    clock_.advance(seconds(3000));
    ASSERT_TRUE(auth_->check_session(token).ok()) << i;
  }
  // ...but not past twelve hours.
  clock_.advance(seconds(12 * 3600 - 11 * 3000));
  auto expired = auth_->check_session(token);
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.error().message.find("expired"), std::string::npos);

  clock_.advance(seconds(30));
  auto r2 = login("alice", kPassword, code_now(secret));
  ASSERT_EQ(r2.outcome, LoginOutcome::kOk);
  clock_.advance(seconds(3600));
  EXPECT_FALSE(auth_->check_session(r2.session->token).ok());
}

TEST_F(WebAuth, SessionTokensOfTheWrongShapeAreRefusedEarly) {
  for (const char* t : {"", "abc", "../../etc",
                        "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"}) {
    auto p = auth_->check_session(t);
    ASSERT_FALSE(p.ok());
    EXPECT_TRUE(p.error().is(ErrorKind::kPermission));
  }
}

TEST_F(WebAuth, LogoutEndsTheSession) {
  auto [secret, recovery] = set_up("alice", Role::kOwner);
  auto r = login("alice", kPassword, code_now(secret));
  ASSERT_TRUE(auth_->logout(r.session->token));
  EXPECT_FALSE(auth_->check_session(r.session->token).ok());
  EXPECT_TRUE(has_audit("logout"));
}

TEST_F(WebAuth, CsrfTokenRequiredForCookieSessions) {
  auto [secret, recovery] = set_up("alice", Role::kOwner);
  auto r = login("alice", kPassword, code_now(secret));
  auto p = auth_->check_session(r.session->token);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(Auth::check_csrf(*p, r.session->csrf));
  EXPECT_FALSE(Auth::check_csrf(*p, ""));
  EXPECT_FALSE(Auth::check_csrf(*p, r.session->csrf.substr(1)));
  std::string wrong = r.session->csrf;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(Auth::check_csrf(*p, wrong));
}

TEST_F(WebAuth, ApiTokens) {
  auto [secret, recovery] = set_up("alice", Role::kAdmin);
  auto owner = set_up("olga", Role::kOwner);
  auto r = login("alice", kPassword, code_now(secret));
  auto session = auth_->check_session(r.session->token);
  ASSERT_TRUE(session.ok());
  auto t = auth_->create_api_token(*session, "home assistant");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE(t->token.starts_with("wpat_"));
  auto p = auth_->check_api_token(t->token);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->admin, "alice");
  EXPECT_EQ(p->role, Role::kAdmin);
  EXPECT_EQ(p->via, Via::kApiToken);
  EXPECT_TRUE(Auth::check_csrf(*p, ""));  // no cookie, no CSRF
  // A token cannot mint tokens.
  EXPECT_FALSE(auth_->create_api_token(*p, "more").ok());
  // Wrong shapes and unknown tokens.
  EXPECT_FALSE(auth_->check_api_token(t->token.substr(5)).ok());
  std::string other = t->token;
  other.back() = other.back() == '0' ? '1' : '0';
  EXPECT_FALSE(auth_->check_api_token(other).ok());
  // Revoked: refused from then on.
  ASSERT_TRUE(auth_->revoke_api_token(*session, t->id));
  EXPECT_FALSE(auth_->check_api_token(t->token).ok());
  EXPECT_FALSE(auth_->revoke_api_token(*session, t->id));
  EXPECT_TRUE(has_audit("token.create"));
  EXPECT_TRUE(has_audit("token.revoke"));
}

TEST_F(WebAuth, ApiTokenLabelChecked) {
  auto [secret, recovery] = set_up("alice", Role::kViewer);
  auto r = login("alice", kPassword, code_now(secret));
  auto session = auth_->check_session(r.session->token);
  for (const std::string& bad : {std::string(), std::string(65, 'x'), std::string("a\nb")}) {
    auto t = auth_->create_api_token(*session, bad);
    ASSERT_FALSE(t.ok());
    EXPECT_TRUE(t.error().message.starts_with("label:"));
  }
  // A viewer may have read-only tokens.
  EXPECT_TRUE(auth_->create_api_token(*session, "grafana").ok());
}

TEST_F(WebAuth, ResetVoidsCredentialsSessionsAndOldLinks) {
  auto [secret, recovery] = set_up("alice", Role::kOwner);
  auto r = login("alice", kPassword, code_now(secret));
  ASSERT_EQ(r.outcome, LoginOutcome::kOk);
  auto old_link = auth_->add_admin("bob", Role::kViewer, kCliActor);
  auto new_link = auth_->reset_admin("bob", kCliActor);
  ASSERT_TRUE(new_link.ok());
  EXPECT_FALSE(auth_->begin_setup(*old_link, "h").ok());
  EXPECT_TRUE(auth_->begin_setup(*new_link, "h").ok());

  auto link = auth_->reset_admin("alice", kCliActor);
  ASSERT_TRUE(link.ok());
  EXPECT_FALSE(auth_->check_session(r.session->token).ok());
  clock_.advance(seconds(30));
  EXPECT_EQ(login("alice", kPassword, code_now(secret)).outcome, LoginOutcome::kDenied);
  EXPECT_TRUE(has_audit("admin.reset"));
  EXPECT_FALSE(auth_->reset_admin("nobody", kCliActor).ok());
}

TEST_F(WebAuth, AdminNamesAndTheLastOwner) {
  EXPECT_FALSE(auth_->add_admin("", Role::kOwner, kCliActor).ok());
  EXPECT_FALSE(auth_->add_admin("-x", Role::kOwner, kCliActor).ok());
  EXPECT_FALSE(auth_->add_admin("a b", Role::kOwner, kCliActor).ok());
  EXPECT_FALSE(auth_->add_admin("(cli)", Role::kOwner, kCliActor).ok());
  ASSERT_TRUE(auth_->add_admin("alice", Role::kOwner, kCliActor).ok());
  EXPECT_FALSE(auth_->add_admin("alice", Role::kAdmin, kCliActor).ok());
  auto last = auth_->remove_admin("alice", kCliActor);
  ASSERT_FALSE(last);
  EXPECT_NE(last.error().message.find("last owner"), std::string::npos);
  ASSERT_TRUE(auth_->add_admin("olga", Role::kOwner, kCliActor).ok());
  EXPECT_TRUE(auth_->remove_admin("alice", kCliActor));
  EXPECT_TRUE(has_audit("admin.remove"));
  auto missing = auth_->remove_admin("alice", kCliActor);
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().is(ErrorKind::kNotFound));
}

}  // namespace
}  // namespace waypost::web
