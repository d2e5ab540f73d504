// Fuzzes the server's config.yaml handling. Any input must parse or fail cleanly with a
// "line N: ..." message (yaml-cpp's exceptions must never escape); whatever parses must survive
// render -> parse unchanged (`server init` writes rendered files that users then edit); and
// rewriting the users list must either fail cleanly or produce a file that parses to the same
// settings with exactly the new users.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "server/config.h"
#include "server_config_equal.h"

namespace {

using waypost::server::ServerConfig;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "server_config_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void check_rewrite(std::string_view text, const ServerConfig& before,
                   const std::vector<std::string>& users) {
  auto out = waypost::server::rewrite_users(text, users);
  if (!out) {
    return;
  }
  auto after = waypost::server::parse_server_config(*out);
  if (!after) {
    fail("rewritten config does not parse", after.error().message + "\n--- text:\n" + *out);
  }
  ServerConfig expected = before;
  expected.users = users;
  if (!waypost::test::same_config(*after, expected)) {
    fail("rewrite changed more than the users", *out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  (void)waypost::server::validate_user_name(text);

  auto parsed = waypost::server::parse_server_config(text);
  if (!parsed) {
    if (!parsed.error().message.starts_with("line ")) {
      fail("error without a line number", parsed.error().message);
    }
    // An invalid file is refused, never rewritten.
    if (waypost::server::rewrite_users(text, {"alice"})) {
      fail("rewrite accepted an invalid config", std::string(text));
    }
    return 0;
  }
  const std::string rendered = waypost::server::render_server_config(*parsed);
  auto again = waypost::server::parse_server_config(rendered);
  if (!again) {
    fail("rendered config does not parse", again.error().message + "\n--- text:\n" + rendered);
  }
  if (!waypost::test::same_config(*parsed, *again)) {
    fail("round trip changed the config", rendered);
  }
  if (waypost::server::render_server_config(*again) != rendered) {
    fail("rendering is not stable", rendered);
  }

  check_rewrite(text, *parsed, {"alice", "bob", "null", "0day"});
  check_rewrite(text, *parsed, {});
  if (!parsed->users.empty()) {
    // Keep some, drop some, add one: the common `users add`/`users remove` shapes.
    std::vector<std::string> users(parsed->users.begin() + 1, parsed->users.end());
    users.emplace_back("new-user");
    check_rewrite(text, *parsed, users);
  }
  return 0;
}
