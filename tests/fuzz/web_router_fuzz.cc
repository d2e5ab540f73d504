// Fuzzes the /api/v1 router with whole requests: the first six lines are the method, target,
// Cookie, X-CSRF-Token, Authorization and Content-Type; the rest is the body (JSON for login).
// The store is a real web.db in a temporary directory with one admin set up, so login requests
// reach the rate limiter, the password check and the JSON field readers.
// Invariants: every answer is a JSON object with the safety headers; an error answer names its
// error; nothing about users is ever answered (no credentials in the corpus can be valid); a 400
// names a field only from the login body.
#include <cstdlib>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "crypto/random.h"
#include "web/auth.h"
#include "web/router.h"
#include "web_fake_users.h"

namespace {

using namespace waypost;  // NOLINT: a fuzz harness

[[noreturn]] void fail(const char* what, const web::HttpResponse& r) {
  std::fprintf(stderr, "web_router_fuzz: %s\nstatus %d\n%s\n", what, r.status, r.body.c_str());
  std::abort();
}

struct World {
  std::string dir;
  ManualClock clock;
  crypto::SeededRandom random{1};
  std::unique_ptr<web::Store> store;
  std::unique_ptr<web::Auth> auth;
  web::FakeUsers users;
  std::unique_ptr<web::Router> router;

  World() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "waypost-fuzz-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir = tmpl;
    auto s = web::Store::open(dir + "/web.db");
    if (!s) std::abort();
    store = std::move(*s);
    web::AuthPolicy policy;
    policy.password = web::kTestPasswordParams;
    // Fuzzing sends thousands of logins: limits this generous keep them reaching the checks.
    policy.per_address = {1'000'000'000, 1, 16};
    policy.per_account = {1'000'000'000, 1, 16};
    auth = std::make_unique<web::Auth>(*store, clock, random, policy);
    (void)auth->add_admin("alice", web::Role::kOwner, web::kCliActor);
    router = std::make_unique<web::Router>(*auth, users, "vpn.example.com");
  }
  ~World() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

std::string_view next_line(std::string_view& rest) {
  const size_t nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  web::HttpRequest request;
  request.method = next_line(rest);
  request.target = next_line(rest);
  request.cookie = next_line(rest);
  request.csrf_token = next_line(rest);
  request.authorization = next_line(rest);
  request.content_type = next_line(rest);
  request.body = rest;
  request.remote_address = "192.0.2.1";

  const web::HttpResponse r = world.router->handle(request);
  bool csp = false;
  for (const auto& [k, v] : r.headers) csp = csp || k == "Content-Security-Policy";
  if (!csp) fail("no Content-Security-Policy", r);
  // The pages (static_files.h) answer GET and HEAD outside /api/; everything else is JSON.
  if (r.content_type != "application/json") {
    const bool page_request = (request.method == "GET" || request.method == "HEAD") &&
                              !request.target.starts_with("/api/");
    if (!page_request) fail("an API request answered with something other than JSON", r);
    world.clock.advance(seconds(1));
    return 0;
  }
  auto body = nlohmann::json::parse(r.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) fail("not a JSON object", r);
  if (r.status >= 400 && !body.contains("error")) fail("an error without a message", r);
  if (body.contains("users")) fail("users answered without credentials", r);
  if (r.status == 200 && request.target.starts_with("/api/v1/users")) fail("users 200", r);
  world.clock.advance(seconds(1));
  return 0;
}
