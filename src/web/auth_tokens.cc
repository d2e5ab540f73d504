// Sessions and API tokens: checking them on each request, ending them, and minting API tokens.
#include <algorithm>

#include "web/auth.h"
#include "web/token.h"

namespace waypost::web {

namespace {

// Session cookies are 32 random bytes in hex; API tokens carry a prefix so that secret scanners
// and people recognise one in a script or a paste.
constexpr size_t kSessionTokenHex = 64;
constexpr std::string_view kApiTokenPrefix = "wpat_";
constexpr size_t kApiTokenBytes = 32;
constexpr size_t kMaxLabelLength = 64;
// last_seen is written at most once a minute per session, not on every request.
constexpr int64_t kTouchEverySeconds = 60;

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Error not_signed_in(std::string_view why) {
  return make_error(ErrorKind::kPermission, "not signed in: {}", why);
}

// An admin that exists, is set up and is not disabled, for a session or token of theirs.
Result<AdminRecord> active_admin(Store& store, std::string_view name) {
  auto admin = store.find_admin(name);
  if (!admin) return admin.take_error();
  if (!admin->has_value() || (*admin)->disabled || !(*admin)->set_up()) {
    return not_signed_in("the admin is disabled or was reset");
  }
  return **admin;
}

}  // namespace

Result<Principal> Auth::check_session(std::string_view token) {
  if (token.size() != kSessionTokenHex || !is_lower_hex(token)) {
    return not_signed_in("no valid session");
  }
  const TokenHash hash = hash_token(token);
  auto found = store_.find_session(hash);
  if (!found) return found.take_error();
  if (!found->has_value()) return not_signed_in("no valid session");
  const SessionRecord& s = **found;
  const int64_t t = now();
  if (s.expires <= t || s.last_seen + policy_.session_idle_seconds <= t) {
    (void)store_.delete_session(hash);
    return not_signed_in("the session has expired");
  }
  auto admin = active_admin(store_, s.admin);
  if (!admin) return admin.take_error();
  if (t - s.last_seen >= kTouchEverySeconds) {
    if (auto st = store_.touch_session(hash, t); !st) return st.take_error();
  }
  // The role is read from the admin each time, so a change applies to running sessions at once.
  return Principal{admin->name, admin->role, Via::kSession, s.csrf, 0};
}

bool Auth::check_csrf(const Principal& principal, std::string_view header) {
  if (principal.via == Via::kApiToken) return true;
  return !principal.csrf.empty() && header.size() == principal.csrf.size() &&
         same_hash(
             {reinterpret_cast<const uint8_t*>(header.data()), header.size()},
             {reinterpret_cast<const uint8_t*>(principal.csrf.data()), principal.csrf.size()});
}

Status Auth::logout(std::string_view token) {
  auto principal = check_session(token);
  if (!principal) return principal.take_error();
  if (auto st = store_.delete_session(hash_token(token)); !st) return st;
  return audit(principal->admin, "logout", principal->admin, "");
}

Result<NewApiToken> Auth::create_api_token(const Principal& principal, std::string_view label) {
  if (principal.via != Via::kSession) {
    return make_error(ErrorKind::kPermission, "API tokens are created from a signed-in session");
  }
  if (!may(principal.role, Action::kManageOwnTokens)) {
    return make_error(ErrorKind::kPermission, "not allowed to create API tokens");
  }
  const bool label_ok = !label.empty() && label.size() <= kMaxLabelLength &&
                        std::none_of(label.begin(), label.end(),
                                     [](char c) { return uint8_t(c) < 0x20 || c == 0x7f; });
  if (!label_ok) {
    return make_error(ErrorKind::kParse, "label: expected 1-{} characters, no control characters",
                      kMaxLabelLength);
  }
  NewApiToken out;
  out.token = std::string(kApiTokenPrefix) + random_token(random_, kApiTokenBytes);
  ApiTokenRecord record;
  record.token_hash = hash_token(out.token);
  record.admin = principal.admin;
  record.label = std::string(label);
  record.created = now();
  auto st = store_.transaction([&]() -> Status {
    auto id = store_.add_api_token(record);
    if (!id) return id.take_error();
    out.id = *id;
    return audit(principal.admin, "token.create", principal.admin,
                 fmt::format("token {} '{}'", out.id, label));
  });
  if (!st) return st.take_error();
  return out;
}

Status Auth::revoke_api_token(const Principal& principal, int64_t id) {
  if (principal.via != Via::kSession) {
    return make_error(ErrorKind::kPermission, "API tokens are revoked from a signed-in session");
  }
  if (!may(principal.role, Action::kManageOwnTokens)) {
    return make_error(ErrorKind::kPermission, "not allowed to revoke API tokens");
  }
  return store_.transaction([&]() -> Status {
    auto revoked = store_.revoke_api_token(principal.admin, id, now());
    if (!revoked) return revoked.take_error();
    if (!*revoked) return make_error(ErrorKind::kNotFound, "no valid API token {} of yours", id);
    return audit(principal.admin, "token.revoke", principal.admin, fmt::format("token {}", id));
  });
}

Result<Principal> Auth::check_api_token(std::string_view token) {
  if (!token.starts_with(kApiTokenPrefix) ||
      token.size() != kApiTokenPrefix.size() + 2 * kApiTokenBytes ||
      !is_lower_hex(token.substr(kApiTokenPrefix.size()))) {
    return not_signed_in("not a Waypost API token");
  }
  auto found = store_.find_api_token(hash_token(token));
  if (!found) return found.take_error();
  if (!found->has_value() || (*found)->revoked != 0) {
    return not_signed_in("unknown or revoked token");
  }
  auto admin = active_admin(store_, (*found)->admin);
  if (!admin) return admin.take_error();
  const int64_t t = now();
  if (t - (*found)->last_used >= kTouchEverySeconds) {
    if (auto st = store_.touch_api_token((*found)->id, t); !st) return st.take_error();
  }
  return Principal{admin->name, admin->role, Via::kApiToken, "", (*found)->id};
}

}  // namespace waypost::web
