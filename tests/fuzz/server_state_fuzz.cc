// Fuzzes the server's state.json reader (keys, addresses, users): it is a file a person can edit
// or a crash can cut short, so any text must give a state or an error, never a crash.
// Invariant: an accepted state writes back to JSON that reads back to the same state.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/state.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "server_state_fuzz: %s\n%s\n", what, detail.substr(0, 600).c_str());
  std::abort();
}

bool same(const waypost::server::ServerState& a, const waypost::server::ServerState& b) {
  if (!a.private_key.equals(b.private_key.span()) || a.public_key != b.public_key ||
      a.users.size() != b.users.size()) {
    return false;
  }
  for (const auto& [name, u] : a.users) {
    auto it = b.users.find(name);
    if (it == b.users.end()) return false;
    const auto& v = it->second;
    const bool same_private = u.private_key.has_value() == v.private_key.has_value() &&
                              (!u.private_key || u.private_key->equals(v.private_key->span()));
    if (!same_private || u.public_key != v.public_key ||
        !u.preshared_key.equals(v.preshared_key.span()) || !(u.ipv4 == v.ipv4) ||
        u.ipv6 != v.ipv6 || u.created != v.created) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto state = waypost::server::state_from_json(text);
  if (!state) {
    if (state.error().message.empty()) fail("empty error message", std::string(text));
    return 0;
  }
  const std::string json = waypost::server::state_to_json(*state);
  auto back = waypost::server::state_from_json(json);
  if (!back) fail("written state does not read back", back.error().message + "\n" + json);
  if (!same(*state, *back)) fail("state changed across write and read", json);
  return 0;
}
