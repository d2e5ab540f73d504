// Admins, setup links and sign-in (auth_tokens.cc: sessions and API tokens).
#include "web/auth.h"

#include <algorithm>
#include <cerrno>

#include "common/secret.h"
#include "web/base32.h"
#include "web/recovery_codes.h"
#include "web/token.h"
#include "web/totp.h"

namespace waypost::web {

namespace {

constexpr size_t kSetupTokenBytes = 16;    // 128 bits
constexpr size_t kSessionTokenBytes = 32;  // 256 bits
constexpr size_t kCsrfTokenBytes = 16;
constexpr size_t kMaxNameLength = 64;

constexpr std::string_view kBadLink =
    "this setup link is not valid: it was used already, has expired, or is mistyped; "
    "ask for a new one (waypost admins reset NAME)";

// The last owner must stay: without one, nobody could manage admins from the page again.
Error last_owner(std::string_view name, std::string_view what) {
  Error e = make_error(ErrorKind::kParse,
                       "'{}' is the last owner and cannot be {}; make another "
                       "admin an owner first",
                       name, what);
  e.code = EBUSY;
  return e;
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '@' || c == '-';
}

}  // namespace

Status validate_admin_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return make_error(ErrorKind::kParse, "an admin name must be 1-{} characters long",
                      kMaxNameLength);
  }
  if (!std::all_of(name.begin(), name.end(), name_char)) {
    return make_error(ErrorKind::kParse,
                      "an admin name may contain only letters, digits and _ . @ -");
  }
  if (name.front() == '.' || name.front() == '-') {
    return make_error(ErrorKind::kParse, "an admin name must not start with '.' or '-'");
  }
  return {};
}

Auth::Auth(Store& store, const Clock& clock, crypto::Random& random, AuthPolicy policy)
    : store_(store),
      clock_(clock),
      random_(random),
      policy_(policy),
      per_address_(clock, policy.per_address),
      per_account_(clock, policy.per_account) {}

Status Auth::audit(std::string_view actor, std::string_view action, std::string_view target,
                   std::string_view detail) {
  return store_.add_audit(AuditEntry{now(), std::string(actor), std::string(action),
                                     std::string(target), std::string(detail)});
}

Result<std::string> Auth::new_setup_link(std::string_view admin) {
  std::string token = random_token(random_, kSetupTokenBytes);
  SetupLinkRecord link{hash_token(token), std::string(admin), now() + policy_.setup_link_seconds,
                       false};
  if (auto st = store_.add_setup_link(link); !st) return st.take_error();
  return token;
}

Result<std::string> Auth::add_admin(std::string_view name, Role role, std::string_view actor) {
  if (auto st = validate_admin_name(name); !st) return st.take_error();
  std::string token;
  auto st = store_.transaction([&]() -> Status {
    AdminRecord admin;
    admin.name = std::string(name);
    admin.role = role;
    admin.created = now();
    if (auto s = store_.add_admin(admin); !s) return s;
    auto t = new_setup_link(name);
    if (!t) return t.take_error();
    token = std::move(*t);
    return audit(actor, "admin.add", name, fmt::format("role {}", to_string(role)));
  });
  if (!st) return st.take_error();
  return token;
}

Result<std::string> Auth::reset_admin(std::string_view name, std::string_view actor) {
  std::string token;
  auto st = store_.transaction([&]() -> Status {
    auto admin = store_.find_admin(name);
    if (!admin) return admin.take_error();
    if (!admin->has_value()) return make_error(ErrorKind::kNotFound, "no admin named '{}'", name);
    if (auto s = store_.clear_credentials(name); !s) return s;
    if (auto s = store_.delete_sessions_of(name); !s) return s;
    if (auto s = store_.delete_setup_links_of(name); !s) return s;
    auto t = new_setup_link(name);
    if (!t) return t.take_error();
    token = std::move(*t);
    return audit(actor, "admin.reset", name, "");
  });
  if (!st) return st.take_error();
  return token;
}

Status Auth::remove_admin(std::string_view name, std::string_view actor) {
  return store_.transaction([&]() -> Status {
    auto admin = store_.find_admin(name);
    if (!admin) return admin.take_error();
    if (!admin->has_value()) return make_error(ErrorKind::kNotFound, "no admin named '{}'", name);
    if ((*admin)->role == Role::kOwner && !(*admin)->disabled) {
      auto owners = store_.count_active_owners();
      if (!owners) return owners.take_error();
      if (*owners <= 1) return last_owner(name, "removed");
    }
    auto removed = store_.remove_admin(name);
    if (!removed) return removed.take_error();
    return audit(actor, "admin.remove", name, "");
  });
}

Status Auth::set_admin_disabled(std::string_view name, bool disabled, std::string_view actor) {
  return store_.transaction([&]() -> Status {
    auto admin = store_.find_admin(name);
    if (!admin) return admin.take_error();
    if (!admin->has_value()) return make_error(ErrorKind::kNotFound, "no admin named '{}'", name);
    if ((*admin)->disabled == disabled) return {};  // nothing changes, nothing to log
    if (disabled && (*admin)->role == Role::kOwner) {
      auto owners = store_.count_active_owners();
      if (!owners) return owners.take_error();
      if (*owners <= 1) return last_owner(name, "disabled");
    }
    if (auto s = store_.set_disabled(name, disabled); !s) return s;
    if (disabled) {
      if (auto s = store_.delete_sessions_of(name); !s) return s;
    }
    return audit(actor, disabled ? "admin.disable" : "admin.enable", name, "");
  });
}

Status Auth::change_role(std::string_view name, Role role, std::string_view actor) {
  return store_.transaction([&]() -> Status {
    auto admin = store_.find_admin(name);
    if (!admin) return admin.take_error();
    if (!admin->has_value()) return make_error(ErrorKind::kNotFound, "no admin named '{}'", name);
    const Role old = (*admin)->role;
    if (old == role) return {};  // nothing changes, nothing to log
    if (old == Role::kOwner && !(*admin)->disabled) {
      auto owners = store_.count_active_owners();
      if (!owners) return owners.take_error();
      if (*owners <= 1) return last_owner(name, fmt::format("made {}", to_string(role)));
    }
    if (auto s = store_.set_role(name, role); !s) return s;
    return audit(actor, "admin.role", name,
                 fmt::format("{} -> {}", to_string(old), to_string(role)));
  });
}

Result<SetupLinkRecord> Auth::valid_link(std::string_view token) {
  auto link = store_.find_setup_link(hash_token(token));
  if (!link) return link.take_error();
  if (!link->has_value() || (*link)->used || (*link)->expires <= now()) {
    return make_error(ErrorKind::kPermission, "{}", kBadLink);
  }
  return **link;
}

Result<SetupInfo> Auth::begin_setup(std::string_view token, std::string_view server_name) {
  auto link = valid_link(token);
  if (!link) return link.take_error();
  std::vector<uint8_t> secret(kTotpSecretBytes);
  random_.fill(secret);
  SetupInfo info{link->admin, base32_encode(secret), otpauth_uri(server_name, link->admin, secret)};
  secure_wipe(secret.data(), secret.size());
  return info;
}

Result<std::vector<std::string>> Auth::complete_setup(const SetupRequest& request) {
  auto link = valid_link(request.token);
  if (!link) return link.take_error();
  // Errors about one field start with its name, so the API can point at it.
  if (auto st = check_new_password(request.password); !st) {
    return st.take_error().context("password");
  }
  auto secret = base32_decode(request.totp_secret);
  // 128 bits is RFC 4226's minimum; more than 64 bytes is no TOTP secret an app makes.
  if (!secret || secret->size() < 16 || secret->size() > 64) {
    return make_error(ErrorKind::kParse, "totp_secret: expected a base32 secret of 16-64 bytes");
  }
  auto step = totp_verify(*secret, request.code, now(), 0);
  secure_wipe(secret->data(), secret->size());
  if (!step) {
    return make_error(ErrorKind::kParse,
                      "code: does not match the secret; check the phone's clock and enter the "
                      "code the app shows now");
  }
  // Hashing takes a moment; it is done before the transaction holds the write lock.
  auto hash = hash_password(request.password, random_, policy_.password);
  if (!hash) return hash.take_error();
  RecoveryCodes recovery = make_recovery_codes(random_);
  auto st = store_.transaction([&]() -> Status {
    auto used = store_.use_setup_link(link->token_hash);
    if (!used) return used.take_error();
    if (!*used) return make_error(ErrorKind::kPermission, "{}", kBadLink);
    // Normalised to upper case without padding, the form hotp_code's callers decode.
    auto canonical = base32_decode(request.totp_secret);
    const std::string stored = base32_encode(*canonical);
    secure_wipe(canonical->data(), canonical->size());
    if (auto s = store_.set_credentials(link->admin, *hash, stored, recovery.hashes); !s) return s;
    if (auto s = store_.set_totp_last_step(link->admin, *step); !s) return s;
    if (auto s = store_.delete_sessions_of(link->admin); !s) return s;
    return audit(link->admin, "admin.setup", link->admin, fmt::format("from {}", request.address));
  });
  if (!st) return st.take_error();
  return std::move(recovery.codes);
}

void Auth::spend_password_time(std::string_view password) {
  if (dummy_hash_.empty()) {
    auto h = hash_password("not a password of anyone", random_, policy_.password);
    if (h) dummy_hash_ = std::move(*h);
  }
  (void)verify_password(password, dummy_hash_);
}

LoginResult Auth::deny(const LoginRequest& request, std::string_view reason) {
  // The reason goes to the audit log only; the client sees the same answer for all of them.
  (void)audit(request.name.size() <= kMaxNameLength ? request.name : "(long name)", "login.failed",
              "", fmt::format("{} from {}", reason, request.address));
  return LoginResult{LoginOutcome::kDenied, std::nullopt, 0, "wrong name, password or code"};
}

LoginResult Auth::login(const LoginRequest& request) {
  for (auto* limiter : {&per_address_, &per_account_}) {
    const std::string key =
        limiter == &per_address_ ? address_key(request.address) : std::string(request.name);
    auto verdict = limiter->take(key);
    if (!verdict.allowed) {
      const int64_t wait = (verdict.retry_after + kNanosPerSecond - 1) / kNanosPerSecond;
      return LoginResult{LoginOutcome::kRateLimited, std::nullopt, wait,
                         fmt::format("too many sign-in attempts; try again in {} s", wait)};
    }
  }
  if (request.name.size() > kMaxNameLength || request.password.size() > kMaxPasswordLength) {
    spend_password_time("");
    return deny(request, "name or password too long");
  }
  auto found = store_.find_admin(request.name);
  if (!found) return {LoginOutcome::kUnavailable, std::nullopt, 0, found.error().message};
  if (!found->has_value() || !(*found)->set_up()) {
    spend_password_time(request.password);
    return deny(request, found->has_value() ? "not set up yet" : "no such admin");
  }
  const AdminRecord& admin = **found;
  if (!verify_password(request.password, admin.password_hash)) {
    return deny(request, "wrong password");
  }
  // The second factor is looked at only after a correct password, so that guessing codes needs
  // the password first and a stranger cannot use up an admin's TOTP steps or recovery codes.
  bool second_factor = false;
  if (looks_like_recovery_code(request.code)) {
    auto used = store_.consume_recovery_code(admin.name, *hash_recovery_code(request.code));
    if (!used) return {LoginOutcome::kUnavailable, std::nullopt, 0, used.error().message};
    second_factor = *used;
    if (second_factor) (void)audit(admin.name, "login.recovery_code", admin.name, "");
  } else {
    auto secret = base32_decode(admin.totp_secret);
    if (secret) {
      auto step = totp_verify(*secret, request.code, now(), admin.totp_last_step);
      secure_wipe(secret->data(), secret->size());
      if (step) {
        if (auto st = store_.set_totp_last_step(admin.name, *step); !st) {
          return {LoginOutcome::kUnavailable, std::nullopt, 0, st.error().message};
        }
        second_factor = true;
      }
    }
  }
  if (!second_factor) return deny(request, "wrong code");
  if (admin.disabled) return deny(request, "admin disabled");

  NewSession session{random_token(random_, kSessionTokenBytes),
                     random_token(random_, kCsrfTokenBytes), now() + policy_.session_max_seconds,
                     admin.name, admin.role};
  SessionRecord record{hash_token(session.token), admin.name, session.csrf, now(),
                       session.expires,           now()};
  auto st = store_.transaction([&]() -> Status {
    if (auto s = store_.delete_expired_sessions(now(), now() - policy_.session_idle_seconds); !s) {
      return s;
    }
    if (auto s = store_.add_session(record); !s) return s;
    if (auto s = store_.set_last_login(admin.name, now()); !s) return s;
    return audit(admin.name, "login", admin.name, fmt::format("from {}", request.address));
  });
  if (!st) return {LoginOutcome::kUnavailable, std::nullopt, 0, st.error().message};
  return {LoginOutcome::kOk, std::move(session), 0, ""};
}

}  // namespace waypost::web
