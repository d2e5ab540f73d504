#pragma once
// web.db: the web admin's own state in SQLite: admins, their sessions and API tokens, one-time
// setup links and the audit log. The VPN users are not here: config.yaml stays the source of
// truth for who exists.
//
// The database runs in WAL mode (readers never wait for the writer, and a crash mid-write leaves
// the last committed state), with a 5 s busy timeout for the moments the CLI and the daemon write
// at once. Its schema is versioned with `PRAGMA user_version` and brought up to date by ordered
// migrations when it is opened; a database from a newer Waypost is refused. Secrets are stored
// only as hashes: passwords as Argon2id, tokens and recovery codes as SHA-256 (token.h). The TOTP
// secret is the exception, since checking a code needs it; the file is therefore 0600.
//
// Every method returns errors as values; a locked, full or damaged database gives an error that
// says so (sqlite.h). Times are Unix seconds.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "web/roles.h"
#include "web/sqlite.h"
#include "web/token.h"

namespace waypost::web {

// The schema this Waypost writes (the number of migrations in store.cc).
inline constexpr int kWebSchemaVersion = 3;

struct AdminRecord {
  std::string name;
  Role role = Role::kViewer;
  std::string password_hash;   // Argon2id encoded; empty until the setup link is used
  std::string totp_secret;     // base32; empty until set up
  int64_t totp_last_step = 0;  // the last TOTP step used to sign in (never accepted again)
  int64_t created = 0;
  bool disabled = false;
  int64_t last_login = 0;  // the last successful sign-in; 0 = never (schema 2)

  bool set_up() const { return !password_hash.empty() && !totp_secret.empty(); }
};

struct SessionRecord {
  TokenHash token_hash{};
  std::string admin;
  std::string csrf;  // the token a cookie session must echo in a header
  int64_t created = 0;
  int64_t expires = 0;  // absolute expiry
  int64_t last_seen = 0;
};

struct ApiTokenRecord {
  int64_t id = 0;
  TokenHash token_hash{};
  std::string admin;
  std::string label;
  int64_t created = 0;
  int64_t revoked = 0;  // when it was revoked; 0 while valid
  int64_t last_used = 0;
};

struct SetupLinkRecord {
  TokenHash token_hash{};
  std::string admin;
  int64_t expires = 0;
  bool used = false;
};

struct AuditEntry {
  int64_t time = 0;
  std::string admin;   // who acted: an admin's name, or "cli" for the root shell
  std::string action;  // "admin.add", "login", "login.failed", ...
  std::string target;  // what it acted on (an admin or user name), may be empty
  std::string detail;
  int64_t id = 0;  // the row's id, increasing: what the audit log pages by
};

// Why the server turned a VPN user off by itself (user_limits.h); kNone when it did not.
enum class AutoDisable : uint8_t { kNone, kExpired, kQuota };

// What the page keeps about one VPN user. config.yaml says who exists; this is only the extras.
struct UserSettings {
  std::string name;
  std::string note;
  int64_t expires = 0;        // when the user stops working; 0 = never
  int64_t monthly_quota = 0;  // bytes in + out per calendar month (UTC); 0 = unlimited
  AutoDisable auto_disabled = AutoDisable::kNone;
  int64_t auto_disabled_at = 0;
};

// A one-time download link for a user's profile (router_links.cc).
struct UserLinkRecord {
  TokenHash token_hash{};
  std::string user;
  std::string created_by;  // the admin who made it
  int64_t created = 0;
  int64_t expires = 0;
  bool used = false;
};

// The buckets of the traffic history (traffic_periods.h).
enum class TrafficPeriod : uint8_t { kMinute, kHour, kDay, kMonth };

struct TrafficPoint {
  int64_t start = 0;  // the bucket's first second
  int64_t rx = 0;     // bytes from the user
  int64_t tx = 0;     // bytes to the user
};

// A consistent copy of the database at `path` as one file's bytes (SQLite's VACUUM INTO, with the
// WAL folded in), for backups: copying web.db, web.db-wal and web.db-shm one after the other could
// catch them at different moments. Made in a private temporary directory next to `path`.
Result<std::string> snapshot_database(const std::string& path);

class Store {
 public:
  // Opens (creating it 0600 if needed) and migrates the database at `path`. A write waits up to
  // `busy_timeout_ms` for another process's write to finish before it fails as "locked".
  static Result<std::unique_ptr<Store>> open(const std::string& path, int busy_timeout_ms = 5000);

  const std::string& path() const { return path_; }
  Result<int> schema_version();
  // SQLite's quick integrity check (a few milliseconds for web.db's size): an error that says
  // what is wrong (damaged, locked, unreadable) for the server page.
  Status check_health();

  // Runs `body` inside one IMMEDIATE transaction: all of its writes or none of them.
  Status transaction(const std::function<Status()>& body);

  // --- admins ---------------------------------------------------------------------------
  Status add_admin(const AdminRecord& admin);
  Result<std::optional<AdminRecord>> find_admin(std::string_view name);
  Result<std::vector<AdminRecord>> list_admins();  // by name
  // Sets the password, TOTP secret and recovery codes at the end of setup.
  Status set_credentials(std::string_view name, std::string_view password_hash,
                         std::string_view totp_secret, const std::vector<TokenHash>& recovery);
  // Forgets the password, TOTP secret and recovery codes (an admin reset).
  Status clear_credentials(std::string_view name);
  Status set_totp_last_step(std::string_view name, int64_t step);
  Status set_disabled(std::string_view name, bool disabled);
  Status set_role(std::string_view name, Role role);
  Status set_last_login(std::string_view name, int64_t time);
  // Whether an admin of that name existed. Sessions, tokens and links go with it.
  Result<bool> remove_admin(std::string_view name);
  // Owners not disabled, for "do not remove the last owner".
  Result<int64_t> count_active_owners();

  // Uses up one recovery code if it is among the admin's: true if it was.
  Result<bool> consume_recovery_code(std::string_view name, const TokenHash& code_hash);
  Result<size_t> recovery_codes_left(std::string_view name);

  // --- sessions -------------------------------------------------------------------------
  Status add_session(const SessionRecord& session);
  Result<std::optional<SessionRecord>> find_session(const TokenHash& token_hash);
  Status touch_session(const TokenHash& token_hash, int64_t now);
  Status delete_session(const TokenHash& token_hash);
  Status delete_sessions_of(std::string_view admin);
  // Drops sessions past their absolute expiry or idle since before `idle_cutoff`.
  Status delete_expired_sessions(int64_t now, int64_t idle_cutoff);

  // --- API tokens -----------------------------------------------------------------------
  Result<int64_t> add_api_token(const ApiTokenRecord& token);  // its id
  Result<std::optional<ApiTokenRecord>> find_api_token(const TokenHash& token_hash);
  Result<std::vector<ApiTokenRecord>> list_api_tokens(std::string_view admin);
  // Whether a valid token with that id belonged to the admin (and is now revoked).
  Result<bool> revoke_api_token(std::string_view admin, int64_t id, int64_t now);
  Status touch_api_token(int64_t id, int64_t now);

  // --- setup links ----------------------------------------------------------------------
  Status add_setup_link(const SetupLinkRecord& link);
  Result<std::optional<SetupLinkRecord>> find_setup_link(const TokenHash& token_hash);
  // Marks an unused link used: false if it was used already (a second request lost the race).
  Result<bool> use_setup_link(const TokenHash& token_hash);
  Status delete_setup_links_of(std::string_view admin);

  // --- audit log ------------------------------------------------------------------------
  Status add_audit(const AuditEntry& entry);
  Result<std::vector<AuditEntry>> audit_log(int64_t limit);  // newest first
  // Up to `limit` entries older than the entry with id `before` (0: from the newest), newest
  // first: one page of the log; the last entry's id is where the next page starts.
  Result<std::vector<AuditEntry>> audit_page(int64_t limit, int64_t before);

  // --- VPN users' settings, one-time links and traffic (store_users.cc) -------------------
  Result<UserSettings> user_settings(std::string_view name);  // the defaults when none stored
  Result<std::vector<UserSettings>> all_user_settings();      // only users with some stored
  Status put_user_settings(const UserSettings& settings);
  // Moves everything kept about a user to a new name (a rename).
  Status rename_user_data(std::string_view from, std::string_view to);
  // Forgets a removed user: settings, links and traffic.
  Status delete_user_data(std::string_view name);

  Status add_user_link(const UserLinkRecord& link);
  // Uses up a link that is unused and not expired at `now`, atomically (of two requests racing
  // with the same token, one gets it); nullopt for a used, expired or unknown token.
  Result<std::optional<UserLinkRecord>> use_user_link(const TokenHash& token_hash, int64_t now);

  // Adds bytes to the minute, hour, day and month buckets that contain `now`: the roll-ups are
  // kept as the samples arrive, so a chart never sums minutes.
  Status add_traffic(std::string_view user, int64_t now, int64_t rx, int64_t tx);
  // A user's buckets of one period starting at or after `since`, oldest first.
  Result<std::vector<TrafficPoint>> traffic(std::string_view user, TrafficPeriod period,
                                            int64_t since);
  // rx + tx of each user in the month bucket starting at `month_start`.
  Result<std::map<std::string, int64_t>> month_totals(int64_t month_start);

  // Drops what is no longer worth keeping (see store_users.cc for the ages), so that web.db stays
  // small: old minute, hour and day buckets, expired sessions, setup links and download links,
  // and audit entries past a year beyond the newest 100,000.
  Status prune(int64_t now);

 private:
  Store(sql::Db db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}
  Result<sql::Stmt> prepare(std::string_view sql);
  Status migrate();

  sql::Db db_;
  std::string path_;
};

}  // namespace waypost::web
