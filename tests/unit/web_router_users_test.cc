// /api/v1/users beyond add and delete: settings (note, expiry, quota) and what they do, rename,
// the traffic history, and one-time download links.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <cerrno>

#include <nlohmann/json.hpp>

#include "web/traffic_periods.h"
#include "web_router_fixture.h"

namespace waypost::web {
namespace {

using nlohmann::json;

class WebRouterUsers : public WebRouter {
 protected:
  void SetUp() override {
    WebRouter::SetUp();
    std::tie(cookie_, csrf_) = sign_in("alice", secret_);
  }
  HttpResponse send(const std::string& method, const std::string& target,
                    const std::string& body = "{}") {
    return router_->handle(change(method, target, cookie_, csrf_, body));
  }
  json user(const std::string& name) {
    auto r = get("/api/v1/users/" + name, cookie_);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body)["user"];
  }
  int64_t now() const { return clock_.wall().sec; }
  std::string cookie_;
  std::string csrf_;
};

TEST_F(WebRouterUsers, SettingsAreShownAndAudited) {
  auto r = send(
      "PATCH", "/api/v1/users/phone",
      json{{"note", "Ann's phone"}, {"expires", now() + 86400}, {"monthly_quota", 5'000'000'000}}
          .dump());
  ASSERT_EQ(r.status, 200) << r.body;
  json u = json::parse(r.body)["user"];
  EXPECT_EQ(u["note"], "Ann's phone");
  EXPECT_EQ(u["expires"], now() + 86400);
  EXPECT_EQ(u["monthly_quota"], 5'000'000'000);
  EXPECT_EQ(u["month_bytes"], 0);
  EXPECT_TRUE(u["enabled"].get<bool>());
  // null clears; absent keeps.
  r = send("PATCH", "/api/v1/users/phone", R"({"expires": null})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["user"]["expires"], 0);
  EXPECT_EQ(json::parse(r.body)["user"]["note"], "Ann's phone");
  auto audit = store_->audit_log(5);
  EXPECT_EQ((*audit)[0].action, "user.settings");
  EXPECT_EQ((*audit)[0].detail, "expires never");
}

TEST_F(WebRouterUsers, BadSettingsName400TheField) {
  struct Case {
    std::string body;
    std::string field;
  };
  const Case cases[] = {
      {R"({"expires": "tomorrow"})", "expires"},
      {R"({"expires": -1})", "expires"},
      {R"({"expires": 1.5})", "expires"},
      {R"({"monthly_quota": 18446744073709551615})", "monthly_quota"},
      {R"({"note": 5})", "note"},
      {json{{"note", std::string(1001, 'x')}}.dump(), "note"},
      {R"({"name": "a b"})", "name"},
  };
  for (const Case& c : cases) {
    auto r = send("PATCH", "/api/v1/users/phone", c.body);
    EXPECT_EQ(r.status, 400) << c.body << " " << r.body;
    EXPECT_EQ(json::parse(r.body)["field"], c.field) << c.body;
  }
  EXPECT_EQ(send("PATCH", "/api/v1/users/nobody", R"({"note": "x"})").status, 404);
  EXPECT_EQ(send("PATCH", "/api/v1/users/phone", R"({"name": "laptop"})").status, 409);
}

TEST_F(WebRouterUsers, APastExpiryTurnsTheUserOffAndEnableSaysWhy) {
  auto r = send("POST", "/api/v1/users",
                json{{"name", "guest"}, {"expires", now() - 1}, {"note", "visit"}}.dump());
  ASSERT_EQ(r.status, 201) << r.body;
  json u = json::parse(r.body)["user"];
  EXPECT_FALSE(u["enabled"].get<bool>());
  EXPECT_TRUE(u["disabled_reason"].get<std::string>().starts_with("expired on ")) << u;
  auto on = send("POST", "/api/v1/users/guest/enable");
  EXPECT_EQ(on.status, 409);
  EXPECT_EQ(json::parse(on.body)["field"], "expires");
  // A later expiry lifts it at once.
  r = send("PATCH", "/api/v1/users/guest", json{{"expires", now() + 3600}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(json::parse(r.body)["user"]["enabled"].get<bool>());
  // An admin's own disable is not undone by the server.
  ASSERT_EQ(send("POST", "/api/v1/users/guest/disable").status, 200);
  r = send("PATCH", "/api/v1/users/guest", json{{"expires", now() + 7200}}.dump());
  EXPECT_FALSE(json::parse(r.body)["user"]["enabled"].get<bool>());
  EXPECT_EQ(json::parse(r.body)["user"]["disabled_reason"], "disabled by an admin");
}

TEST_F(WebRouterUsers, AUsedUpQuotaBlocksEnableUntilRaised) {
  ASSERT_TRUE(store_->add_traffic("phone", now(), 600, 600).ok());
  auto r = send("PATCH", "/api/v1/users/phone", R"({"monthly_quota": 1000})");
  ASSERT_EQ(r.status, 200);
  json u = json::parse(r.body)["user"];
  EXPECT_FALSE(u["enabled"].get<bool>());
  EXPECT_EQ(u["month_bytes"], 1200);
  EXPECT_TRUE(u["disabled_reason"].get<std::string>().starts_with("monthly quota used up: 1.2 kB"))
      << u;
  EXPECT_EQ(send("POST", "/api/v1/users/phone/enable").status, 409);
  r = send("PATCH", "/api/v1/users/phone", R"({"monthly_quota": 0})");
  EXPECT_TRUE(json::parse(r.body)["user"]["enabled"].get<bool>());
}

TEST_F(WebRouterUsers, RenameMovesSettingsAndTraffic) {
  ASSERT_EQ(send("PATCH", "/api/v1/users/phone", R"({"note": "n"})").status, 200);
  ASSERT_TRUE(store_->add_traffic("phone", now(), 10, 20).ok());
  auto r = send("PATCH", "/api/v1/users/phone", R"({"name": "ann"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["user"]["name"], "ann");
  EXPECT_EQ(json::parse(r.body)["user"]["note"], "n");
  EXPECT_EQ(json::parse(r.body)["user"]["month_bytes"], 30);
  EXPECT_EQ(get("/api/v1/users/phone", cookie_).status, 404);
  EXPECT_EQ((*store_->audit_log(5))[0].action, "user.rename");
}

TEST_F(WebRouterUsers, TrafficIsDenseAndChecksItsPeriod) {
  ASSERT_TRUE(store_->add_traffic("phone", now() - 3600, 100, 1).ok());
  ASSERT_TRUE(store_->add_traffic("phone", now(), 200, 2).ok());
  auto r = get("/api/v1/users/phone/traffic?period=hour", cookie_);
  ASSERT_EQ(r.status, 200) << r.body;
  json points = json::parse(r.body)["points"];
  ASSERT_EQ(points.size(), 48u);
  EXPECT_EQ(points[47]["rx"], 200);
  EXPECT_EQ(points[46]["rx"], 100);
  EXPECT_EQ(points[45]["rx"], 0);
  EXPECT_EQ(points[47]["start"], period_start(TrafficPeriod::kHour, now()));
  EXPECT_EQ(
      json::parse(get("/api/v1/users/phone/traffic?period=month", cookie_).body)["points"].size(),
      24u);
  EXPECT_EQ(json::parse(get("/api/v1/users/phone/traffic", cookie_).body)["period"], "hour");
  auto bad = get("/api/v1/users/phone/traffic?period=week", cookie_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["field"], "period");
  EXPECT_EQ(get("/api/v1/users/nobody/traffic", cookie_).status, 404);
}

TEST_F(WebRouterUsers, OneTimeLinkWorksOnceWithoutSigningIn) {
  HttpRequest make = change("POST", "/api/v1/users/phone/links", cookie_, csrf_, "{}");
  make.host = "vpn.example.com:8443";
  auto made = router_->handle(make);
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string url = json::parse(made.body)["url"];
  ASSERT_TRUE(url.starts_with("https://vpn.example.com:8443/get#")) << url;
  EXPECT_EQ(json::parse(made.body)["expires"], now() + 24 * 3600);
  const std::string token = url.substr(url.find('#') + 1);
  EXPECT_EQ(token.size(), 32u);  // 128 bits

  HttpRequest redeem;
  redeem.method = "POST";
  redeem.target = "/api/v1/links/redeem";
  redeem.content_type = "application/json";
  redeem.body = json{{"token", token}}.dump();
  redeem.remote_address = "203.0.113.7";
  auto first = router_->handle(redeem);
  ASSERT_EQ(first.status, 200) << first.body;
  json got = json::parse(first.body);
  EXPECT_EQ(got["user"], "phone");
  ASSERT_EQ(got["files"].size(), 1u);
  EXPECT_EQ(got["files"][0]["name"], "phone.conf");
  EXPECT_EQ(got["files"][0]["data"], "W0ludGVyZmFjZV0KIyBwaG9uZQo=");  // the .conf, base64
  EXPECT_TRUE(got.contains("qr_svg"));
  auto second = router_->handle(redeem);
  EXPECT_EQ(second.status, 410);
  EXPECT_EQ((*store_->audit_log(1))[0].action, "user.link.used");

  // Expired, malformed and unknown tokens get the same answer.
  made = router_->handle(make);
  const std::string url2 = json::parse(made.body)["url"];
  clock_.advance(seconds(24 * 3600));
  redeem.body = json{{"token", url2.substr(url2.find('#') + 1)}}.dump();
  EXPECT_EQ(router_->handle(redeem).status, 410);
  redeem.body = R"({"token": "not-a-token"})";
  EXPECT_EQ(router_->handle(redeem).status, 410);
  redeem.body = R"({"tokn": "x"})";
  EXPECT_EQ(router_->handle(redeem).status, 400);
}

TEST_F(WebRouterUsers, LinksNeedARoleThatMayChangeUsers) {
  const std::string viewer_secret = add("vera", Role::kViewer);
  auto [vcookie, vcsrf] = sign_in("vera", viewer_secret);
  EXPECT_EQ(router_->handle(change("POST", "/api/v1/users/phone/links", vcookie, vcsrf)).status,
            403);
  EXPECT_EQ(
      router_->handle(change("PATCH", "/api/v1/users/phone", vcookie, vcsrf, R"({"note": "x"})"))
          .status,
      403);
  EXPECT_EQ(get("/api/v1/users/phone/traffic", vcookie).status, 200);
  EXPECT_EQ(send("POST", "/api/v1/users/phone/links", R"({"hours": 0})").status, 400);
  EXPECT_EQ(send("POST", "/api/v1/users/phone/links", R"({"hours": 169})").status, 400);
  EXPECT_EQ(send("POST", "/api/v1/users/nobody/links").status, 404);
}

class FakeServerInfo final : public ServerInfo {
 public:
  Result<json> overview() override { return json{{"version", "9.9"}, {"dns", nullptr}}; }
  Status start_doctor() override {
    if (running) {
      Error e = make_error("running already");
      e.code = EBUSY;
      return e;
    }
    running = true;
    return {};
  }
  json doctor() override { return {{"running", running}, {"findings", json::array()}}; }
  bool running = false;
};

TEST_F(WebRouterUsers, ServerPageAndDoctor) {
  EXPECT_EQ(get("/api/v1/server", cookie_).status, 404);  // no source given
  FakeServerInfo info;
  router_->set_server_info(&info);
  auto r = get("/api/v1/server", cookie_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["version"], "9.9");
  EXPECT_EQ(json::parse(r.body)["web_db"]["ok"], true);
  EXPECT_EQ(get("/api/v1/server").status, 401);
  auto run = send("POST", "/api/v1/server/doctor");
  EXPECT_EQ(run.status, 202);
  EXPECT_EQ(json::parse(run.body)["running"], true);
  EXPECT_EQ(send("POST", "/api/v1/server/doctor").status, 409);
  EXPECT_EQ(json::parse(get("/api/v1/server/doctor", cookie_).body)["running"], true);
  EXPECT_EQ(router_->handle(change("POST", "/api/v1/server/doctor", cookie_, "")).status, 403);
  const std::string viewer_secret = add("vera", Role::kViewer);
  auto [vcookie, vcsrf] = sign_in("vera", viewer_secret);
  EXPECT_EQ(get("/api/v1/server/doctor", vcookie).status, 200);
  EXPECT_EQ(router_->handle(change("POST", "/api/v1/server/doctor", vcookie, vcsrf)).status, 403);
  EXPECT_EQ(send("PUT", "/api/v1/server").status, 405);
}

TEST_F(WebRouterUsers, AnUnreadableWebDbLeavesTheUserListWhole) {
  // The extras' tables gone (as if damaged): the list from config.yaml still comes, with a
  // warning the page shows.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.file("web.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "DROP TABLE user_settings; DROP TABLE traffic;", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  auto r = get("/api/v1/users", cookie_);
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["users"].size(), 2u);
  EXPECT_NE(j["warning"].get<std::string>().find("unavailable"), std::string::npos) << j;
}

}  // namespace
}  // namespace waypost::web
