// The admins, API tokens and audit log screens' files: embedded, loaded by index.html before
// app.js (which routes as soon as it runs), free of anything the pages' CSP would block, and their
// paths serve the app.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "web/assets.h"
#include "web/static_files.h"

namespace waypost::web {
namespace {

TEST(WebAdminPages, LoadedBeforeAppJsAndStyled) {
  const std::string html(find_asset("index.html")->body);
  const size_t pages = html.find("<script src=\"/assets/admin_pages.js\" defer></script>");
  const size_t app = html.find("<script src=\"/assets/app.js\" defer></script>");
  ASSERT_NE(pages, std::string::npos);
  ASSERT_NE(app, std::string::npos);
  EXPECT_LT(pages, app);
  EXPECT_NE(html.find("href=\"/assets/admin_pages.css\""), std::string::npos);
  for (const char* id : {"id=\"admins\"", "id=\"tokens\"", "id=\"audit\"", "id=\"nav\""}) {
    EXPECT_NE(html.find(id), std::string::npos) << id;
  }
}

TEST(WebAdminPages, NoEvalNoHtmlFromStrings) {
  for (const char* name : {"admin_pages.js", "app.js"}) {
    const Asset* js = find_asset(name);
    ASSERT_NE(js, nullptr) << name;
    const std::string body(js->body);
    EXPECT_EQ(body.find("eval("), std::string::npos) << name;
    EXPECT_EQ(body.find("innerHTML"), std::string::npos) << name;
    EXPECT_EQ(body.find("outerHTML"), std::string::npos) << name;
    EXPECT_EQ(body.find("insertAdjacentHTML"), std::string::npos) << name;
    EXPECT_FALSE(std::regex_search(body, std::regex("new Function\\s*\\("))) << name;
    // A string as the first argument of setTimeout/setInterval would be eval'd.
    EXPECT_FALSE(std::regex_search(body, std::regex("set(Timeout|Interval)\\(\\s*[\"'`]"))) << name;
  }
  const Asset* css = find_asset("admin_pages.css");
  ASSERT_NE(css, nullptr);
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
}

TEST(WebAdminPages, TheirPathsServeTheApp) {
  const std::string index(find_asset("index.html")->body);
  for (const char* target : {"/admins", "/tokens", "/audit", "/audit?before=9"}) {
    HttpRequest r;
    r.method = "GET";
    r.target = target;
    const HttpResponse answer = serve_static(r);
    EXPECT_EQ(answer.status, 200) << target;
    EXPECT_EQ(answer.body, index) << target;
  }
}

}  // namespace
}  // namespace waypost::web
