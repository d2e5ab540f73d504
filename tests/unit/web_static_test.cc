// The web admin's pages: the files embedded at build time are byte for byte those in
// src/web/assets/, the page paths and /assets/ serve them with their types and the pages' CSP,
// everything else is 404, and through the router the API keeps its own headers. Also that the
// pages hold no inline script, style or event handler, which their CSP would block.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/clock.h"
#include "crypto/random.h"
#include "web/assets.h"
#include "web/auth.h"
#include "web/router.h"
#include "web/static_files.h"
#include "web_fake_users.h"
#include "web_test_dir.h"

namespace waypost::web {
namespace {

// src/web/assets/, found from the fixtures directory the build tells the tests.
std::filesystem::path assets_dir() {
  return std::filesystem::path(WAYPOST_FIXTURES_DIR) / ".." / ".." / "src" / "web" / "assets";
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> headers_named(const HttpResponse& r, const std::string& name) {
  std::vector<std::string> values;
  for (const auto& [k, v] : r.headers) {
    if (k == name) values.push_back(v);
  }
  return values;
}

HttpRequest request(const std::string& method, const std::string& target) {
  HttpRequest r;
  r.method = method;
  r.target = target;
  return r;
}

TEST(WebAssets, EveryFileIsEmbeddedByteForByte) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(assets_dir())) {
    const std::string name = entry.path().filename().string();
    const Asset* asset = find_asset(name);
    ASSERT_NE(asset, nullptr) << name << " is in src/web/assets/ but not embedded";
    EXPECT_EQ(asset->name, name);
    EXPECT_EQ(asset->body, read_file(entry.path())) << name;
    ++files;
  }
  EXPECT_GE(files, 3u);
}

TEST(WebAssets, ContentTypes) {
  const std::pair<const char*, const char*> cases[] = {
      {"index.html", "text/html; charset=utf-8"},
      {"app.css", "text/css; charset=utf-8"},
      {"app.js", "text/javascript; charset=utf-8"},
  };
  for (const auto& [name, type] : cases) {
    const Asset* asset = find_asset(name);
    ASSERT_NE(asset, nullptr) << name;
    EXPECT_EQ(asset->content_type, type);
  }
  EXPECT_EQ(find_asset("nope.js"), nullptr);
  EXPECT_EQ(find_asset(""), nullptr);
  EXPECT_EQ(find_asset("/app.js"), nullptr);
}

TEST(WebAssets, PagesHaveNoInlineScriptOrStyle) {
  // The CSP (script-src 'self'; style-src 'self') would silently block these in a browser.
  const std::string html(find_asset("index.html")->body);
  EXPECT_FALSE(std::regex_search(html, std::regex("<script(?![^>]*\\ssrc=)", std::regex::icase)));
  EXPECT_FALSE(std::regex_search(html, std::regex("<style", std::regex::icase)));
  EXPECT_FALSE(std::regex_search(html, std::regex("\\sstyle\\s*=", std::regex::icase)));
  EXPECT_FALSE(std::regex_search(html, std::regex("\\son[a-z]+\\s*=", std::regex::icase)));
  EXPECT_FALSE(std::regex_search(html, std::regex("javascript:", std::regex::icase)));
  EXPECT_NE(html.find("src=\"/assets/app.js\""), std::string::npos);
  EXPECT_NE(html.find("href=\"/assets/app.css\""), std::string::npos);
  // No string is turned into code at run time (the CSP has no 'unsafe-eval').
  const std::string js(find_asset("app.js")->body);
  EXPECT_EQ(js.find("eval("), std::string::npos);
  EXPECT_EQ(js.find("innerHTML"), std::string::npos);
}

TEST(WebStatic, PagePathsServeTheApp) {
  const std::string index(find_asset("index.html")->body);
  for (const char* target : {"/", "/setup", "/login", "/users", "/setup?from=mail"}) {
    const HttpResponse r = serve_static(request("GET", target));
    EXPECT_EQ(r.status, 200) << target;
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8") << target;
    EXPECT_EQ(r.body, index) << target;
    EXPECT_EQ(headers_named(r, "Content-Security-Policy"),
              std::vector<std::string>{std::string(kPageCsp)})
        << target;
  }
}

TEST(WebStatic, AssetsAndHead) {
  const HttpResponse js = serve_static(request("GET", "/assets/app.js"));
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(js.body, find_asset("app.js")->body);
  const HttpResponse css = serve_static(request("GET", "/assets/app.css?v=2"));
  EXPECT_EQ(css.status, 200);
  EXPECT_EQ(css.content_type, "text/css; charset=utf-8");
  const HttpResponse head = serve_static(request("HEAD", "/assets/app.js"));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.content_type, js.content_type);
  EXPECT_TRUE(head.body.empty());
}

TEST(WebStatic, EverythingElseIs404) {
  for (const char* target :
       {"/nope", "/assets/", "/assets/nope.js", "/assets/../router.cc", "/assets/x/app.js",
        "/assets//app.js", "/setup/", "/users/alice", "//", "/assets", "/index.htm"}) {
    const HttpResponse r = serve_static(request("GET", target));
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.content_type, "text/plain; charset=utf-8") << target;
    EXPECT_EQ(headers_named(r, "Content-Security-Policy").size(), 1u) << target;
  }
}

class WebStaticRouter : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir_.file("web.db"), 100);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    AuthPolicy policy;
    policy.password = kTestPasswordParams;
    auth_ = std::make_unique<Auth>(*store_, clock_, random_, policy);
    router_ = std::make_unique<Router>(*auth_, users_, "vpn.example.com");
  }

  test::TempDir dir_;
  ManualClock clock_;
  crypto::SeededRandom random_{3};
  std::unique_ptr<Store> store_;
  std::unique_ptr<Auth> auth_;
  FakeUsers users_;
  std::unique_ptr<Router> router_;
};

TEST_F(WebStaticRouter, PagesGetOnePolicyAndTheCommonHeaders) {
  for (const char* target : {"/", "/assets/app.js", "/nope"}) {
    const HttpResponse r = router_->handle(request("GET", target));
    EXPECT_EQ(headers_named(r, "Content-Security-Policy"),
              std::vector<std::string>{std::string(kPageCsp)})
        << target;
    EXPECT_EQ(headers_named(r, "Cache-Control"), std::vector<std::string>{"no-store"}) << target;
    EXPECT_EQ(headers_named(r, "X-Content-Type-Options"), std::vector<std::string>{"nosniff"});
    EXPECT_EQ(headers_named(r, "Referrer-Policy"), std::vector<std::string>{"no-referrer"});
  }
  EXPECT_EQ(router_->handle(request("HEAD", "/")).status, 200);
}

TEST_F(WebStaticRouter, TheApiKeepsItsOwnPolicyAndPagesTakeOnlyGetAndHead) {
  const HttpResponse api = router_->handle(request("GET", "/api/v1/nope"));
  EXPECT_EQ(api.status, 404);
  EXPECT_EQ(api.content_type, "application/json");
  EXPECT_EQ(headers_named(api, "Content-Security-Policy"),
            std::vector<std::string>{"default-src 'none'; frame-ancestors 'none'"});
  // "/api" without the slash is not the API, but not a page either.
  EXPECT_EQ(router_->handle(request("GET", "/api")).status, 404);
  const HttpResponse post = router_->handle(request("POST", "/"));
  EXPECT_EQ(post.status, 404);
  EXPECT_EQ(post.content_type, "application/json");
}

}  // namespace
}  // namespace waypost::web
