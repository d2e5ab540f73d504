#pragma once
// Who may use the web admin, and how they prove it: admins and their one-time setup links,
// sign-in with a password and a TOTP code (or a recovery code), sessions, API tokens, and the
// audit entries for all of it. The HTTP layer calls these and maps the answers to status codes;
// nothing here knows about HTTP.
//
// Sign-in is rate-limited per client address and per account name (rate_limit.h) before the
// password is even hashed, so guessing costs the guesser time and the server little. An unknown
// name, a wrong password, a wrong code and a disabled admin all get the same answer, after the
// same work (a password hash is checked in every case), so the answer does not tell which names
// exist. Sessions expire after an idle time and after an absolute lifetime, whichever comes first.
//
// Not thread-safe: one thread (the web server's) owns an Auth. The CLI uses its own, on its own
// connection to web.db; SQLite serialises the two.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/random.h"
#include "web/password.h"
#include "web/rate_limit.h"
#include "web/roles.h"
#include "web/store.h"

namespace waypost::web {

struct AuthPolicy {
  PasswordParams password;
  int64_t setup_link_seconds = 24 * 3600;
  int64_t session_idle_seconds = 3600;      // signed out after an hour without a request
  int64_t session_max_seconds = 12 * 3600;  // and after twelve hours in any case
  // 10 attempts at once from one address, then one every 6 s (10 a minute); 5 at once against one
  // account, then one a minute. With a 6-digit TOTP behind the password, the account limit alone
  // makes guessing both factors hopeless.
  BucketPolicy per_address{10, seconds(6)};
  BucketPolicy per_account{5, seconds(60)};
};

// The audit log's name for actions taken from the root shell (`waypost admins ...`); admin names
// cannot contain parentheses, so it is never an admin's.
inline constexpr std::string_view kCliActor = "(cli)";

enum class Via : uint8_t { kSession, kApiToken };

// Who is making a request, once their session or token checked out.
struct Principal {
  std::string admin;
  Role role = Role::kViewer;
  Via via = Via::kSession;
  std::string csrf;      // a session's CSRF token; empty for API tokens
  int64_t token_id = 0;  // an API token's id
};

struct NewSession {
  std::string token;  // the cookie value, shown once
  std::string csrf;   // for the X-CSRF-Token header
  int64_t expires = 0;
  std::string admin;
  Role role = Role::kViewer;
};

enum class LoginOutcome : uint8_t {
  kOk,
  kDenied,       // wrong name, password or code, or a disabled admin: one answer for all
  kRateLimited,  // too many attempts; try after retry_after_seconds
  kUnavailable,  // the database failed (message says how)
};

struct LoginResult {
  LoginOutcome outcome = LoginOutcome::kDenied;
  std::optional<NewSession> session;
  int64_t retry_after_seconds = 0;
  std::string message;
};

struct LoginRequest {
  std::string_view name;
  std::string_view password;
  std::string_view code;     // six TOTP digits or a recovery code
  std::string_view address;  // the client's IP address, for the rate limit and the audit log
};

struct SetupInfo {
  std::string admin;
  std::string totp_secret;  // base32, proposed; the admin's app must confirm it with a code
  std::string otpauth_uri;  // for the QR code
};

struct SetupRequest {
  std::string_view token;
  std::string_view password;
  std::string_view totp_secret;  // base32, as begin_setup proposed it
  std::string_view code;         // a current code from the app, proving it holds the secret
  std::string_view address;
};

struct NewApiToken {
  int64_t id = 0;
  std::string token;  // shown once
};

// Checks an admin name: 1-64 characters of A-Z a-z 0-9 _ . @ -, not starting with '.' or '-'.
Status validate_admin_name(std::string_view name);

class Auth {
 public:
  Auth(Store& store, const Clock& clock, crypto::Random& random, AuthPolicy policy = {});

  // --- admins (the CLI, later an owner on the page) --------------------------------------
  // Adds an admin who has no password yet; returns the setup link's token.
  Result<std::string> add_admin(std::string_view name, Role role, std::string_view actor);
  // Forgets the admin's password, TOTP and recovery codes, ends their sessions, voids older
  // setup links; returns a new setup link's token. API tokens are refused until the new setup
  // is done, then work again (a reset is for a lost password or phone, not a leaked token).
  Result<std::string> reset_admin(std::string_view name, std::string_view actor);
  // Refuses to remove the last owner who is not disabled (kParse with code EBUSY: a conflict, 409
  // in the API); kNotFound for an unknown name.
  Status remove_admin(std::string_view name, std::string_view actor);
  // Gives the admin another role, at once for their running sessions and tokens. Refuses to
  // demote the last owner who is not disabled, as remove_admin does.
  Status change_role(std::string_view name, Role role, std::string_view actor);
  // Disables an admin (who then cannot sign in, and whose sessions end and API tokens stop
  // working) or enables one again, keeping password, TOTP and tokens. Refuses to disable the last
  // owner who is not disabled.
  Status set_admin_disabled(std::string_view name, bool disabled, std::string_view actor);

  // --- setup links -----------------------------------------------------------------------
  // What the setup page shows for a valid, unused, unexpired link: a fresh TOTP secret.
  Result<SetupInfo> begin_setup(std::string_view token, std::string_view server_name);
  // Sets the password and TOTP secret and uses the link up; returns the recovery codes to show.
  Result<std::vector<std::string>> complete_setup(const SetupRequest& request);

  // --- sign-in and sessions --------------------------------------------------------------
  LoginResult login(const LoginRequest& request);
  Result<Principal> check_session(std::string_view token);
  // Whether a cookie session's request carries its CSRF token (API tokens need none: a browser
  // never sends them on its own).
  static bool check_csrf(const Principal& principal, std::string_view header);
  Status logout(std::string_view token);

  // --- API tokens ------------------------------------------------------------------------
  // Both only from a cookie session: a leaked API token can neither mint more nor revoke its
  // admin's other tokens (kPermission otherwise). Revoking touches only the admin's own tokens.
  Result<NewApiToken> create_api_token(const Principal& principal, std::string_view label);
  Status revoke_api_token(const Principal& principal, int64_t id);
  Result<Principal> check_api_token(std::string_view token);

  // An admin's action on something other than admins (a VPN user), for the audit log.
  Status audit_action(const Principal& principal, std::string_view action, std::string_view target,
                      std::string_view detail = {}) {
    return audit(principal.admin, action, target, detail);
  }

  Store& store() { return store_; }
  int64_t now_seconds() const { return clock_.wall().sec; }
  crypto::Random& random() { return random_; }
  const AuthPolicy& policy() const { return policy_; }

 private:
  int64_t now() const { return clock_.wall().sec; }
  Status audit(std::string_view actor, std::string_view action, std::string_view target,
               std::string_view detail);
  Result<std::string> new_setup_link(std::string_view admin);
  Result<SetupLinkRecord> valid_link(std::string_view token);
  // Checks a password against a hash of the same cost when there is no real one, so that an
  // unknown name takes as long as a known one.
  void spend_password_time(std::string_view password);
  LoginResult deny(const LoginRequest& request, std::string_view reason);

  Store& store_;
  const Clock& clock_;
  crypto::Random& random_;
  AuthPolicy policy_;
  RateLimiter per_address_;
  RateLimiter per_account_;
  std::string dummy_hash_;
};

}  // namespace waypost::web
