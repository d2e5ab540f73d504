// Opening and migrating web.db, transactions, admins and the audit log (store_tokens.cc: sessions,
// API tokens, setup links).
#include "web/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/atomic_file.h"

namespace waypost::web {

namespace {

// Schema migrations, in order: migration i takes user_version i to i + 1. Never edit one that has
// shipped; add another. STRICT tables make SQLite refuse values of the wrong type instead of
// storing them anyway.
constexpr std::array<const char*, kWebSchemaVersion> kMigrations = {
    R"sql(
CREATE TABLE admins (
  name TEXT PRIMARY KEY NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
  password_hash TEXT NOT NULL DEFAULT '',
  totp_secret TEXT NOT NULL DEFAULT '',
  totp_last_step INTEGER NOT NULL DEFAULT 0,
  recovery_hashes BLOB NOT NULL DEFAULT x'',
  created INTEGER NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE sessions (
  token_hash BLOB PRIMARY KEY NOT NULL,
  admin TEXT NOT NULL REFERENCES admins (name) ON DELETE CASCADE,
  csrf TEXT NOT NULL,
  created INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_admin ON sessions (admin);
CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY,
  token_hash BLOB NOT NULL UNIQUE,
  admin TEXT NOT NULL REFERENCES admins (name) ON DELETE CASCADE,
  label TEXT NOT NULL,
  created INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0,
  last_used INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX api_tokens_admin ON api_tokens (admin);
CREATE TABLE setup_links (
  token_hash BLOB PRIMARY KEY NOT NULL,
  admin TEXT NOT NULL REFERENCES admins (name) ON DELETE CASCADE,
  expires INTEGER NOT NULL,
  used INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  admin TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL
) STRICT;
CREATE INDEX audit_time ON audit (time);
)sql",
    // 2: what the page keeps about VPN users (config.yaml still says who exists): a note, an
    // expiry, a monthly quota and why the server turned the user off; one-time download links;
    // traffic per minute, hour, day and month.
    R"sql(
CREATE TABLE user_settings (
  name TEXT PRIMARY KEY NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  expires INTEGER NOT NULL DEFAULT 0,
  monthly_quota INTEGER NOT NULL DEFAULT 0,
  auto_disabled TEXT NOT NULL DEFAULT '' CHECK (auto_disabled IN ('', 'expired', 'quota')),
  auto_disabled_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE user_links (
  token_hash BLOB PRIMARY KEY NOT NULL,
  user TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  used INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX user_links_user ON user_links (user);
CREATE TABLE traffic (
  user TEXT NOT NULL,
  period TEXT NOT NULL CHECK (period IN ('minute', 'hour', 'day', 'month')),
  start INTEGER NOT NULL,
  rx INTEGER NOT NULL,
  tx INTEGER NOT NULL,
  PRIMARY KEY (user, period, start)
) STRICT, WITHOUT ROWID;
)sql",
    // 3: when each admin last signed in, for the admins page. Filled from the audit log's
    // sign-ins, so admins who signed in before the upgrade do not show "never".
    R"sql(
ALTER TABLE admins ADD COLUMN last_login INTEGER NOT NULL DEFAULT 0;
UPDATE admins SET last_login = coalesce(
  (SELECT max(time) FROM audit WHERE audit.action = 'login' AND audit.admin = admins.name), 0);
)sql",
};

constexpr size_t kHashSize = sizeof(TokenHash);

// The file exists with mode 0600 before SQLite opens it: SQLite would create it with the umask's
// mode, and its -wal and -shm files copy the database file's mode.
//
// An existing file is never opened here: closing any descriptor of a file drops every POSIX lock
// this process holds on it, so an open-and-close beside a live connection (the daemon's second
// Store, for its accounting thread) would silently release that connection's locks, and another
// process could then reset the WAL under it and lose committed writes. Only a file that does not
// exist yet, which no connection can hold, is created through a descriptor.
Status create_private_file(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) return make_error(ErrorKind::kIo, "{}: not a regular file", path);
    if ((st.st_mode & 077) != 0 && ::chmod(path.c_str(), 0600) != 0) {
      return make_errno_error(errno, "{}: cannot make it private (0600): {}", path,
                              std::strerror(errno));
    }
    return {};
  }
  if (errno != ENOENT) {
    return make_errno_error(errno, "{}: cannot stat: {}", path, std::strerror(errno));
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 && errno != EEXIST) {
    return make_errno_error(errno, "{}: cannot create: {}", path, std::strerror(errno));
  }
  if (fd >= 0) ::close(fd);
  return {};
}

AdminRecord read_admin(const sql::Stmt& s) {
  AdminRecord a;
  a.name = s.column_text(0);
  a.role = parse_role(s.column_text(1)).value_or(Role::kViewer);  // the CHECK allows no other
  a.password_hash = s.column_text(2);
  a.totp_secret = s.column_text(3);
  a.totp_last_step = s.column_int(4);
  a.created = s.column_int(5);
  a.disabled = s.column_int(6) != 0;
  a.last_login = s.column_int(7);
  return a;
}

constexpr const char* kAdminColumns =
    "name, role, password_hash, totp_secret, totp_last_step, created, disabled, last_login";

}  // namespace

Result<std::string> snapshot_database(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, nullptr);
  sql::Db db(raw);
  if (rc != SQLITE_OK) return sql::db_error(db.get(), rc, path, "opening");
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), 5000);
  const size_t slash = path.rfind('/');
  std::string tmp = (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) +
                    "/.web-snapshot-XXXXXX";
  if (::mkdtemp(tmp.data()) == nullptr) {
    return make_error(ErrorKind::kIo, "cannot make a temporary directory for {}: {}", path,
                      std::strerror(errno));
  }
  const std::string copy = tmp + "/web.db";
  auto cleanup = [&] {
    ::unlink(copy.c_str());
    ::rmdir(tmp.c_str());
  };
  auto stmt = sql::Stmt::prepare(db.get(), path, "VACUUM INTO ?1");
  if (!stmt) {
    cleanup();
    return stmt.take_error();
  }
  stmt->bind(1, copy);
  if (auto done = stmt->step(); !done) {
    cleanup();
    return done.take_error();
  }
  auto bytes = read_file(copy);
  cleanup();
  return bytes;
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, int busy_timeout_ms) {
  if (auto st = create_private_file(path); !st) return st.take_error();
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr);
  sql::Db db(raw);
  if (rc != SQLITE_OK) return sql::db_error(db.get(), rc, path, "opening");
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), busy_timeout_ms);
  std::unique_ptr<Store> store(new Store(std::move(db), path));

  {
    // The first read of the file: a damaged or foreign file fails here with a clear error. The
    // statement is finished before the migrations, which cannot run while it is active.
    auto mode = store->prepare("PRAGMA journal_mode = WAL");
    if (!mode) return mode.take_error();
    auto row = mode->step();
    if (!row) return row.take_error();
    if (!*row || mode->column_text(0) != "wal") {
      return make_error(ErrorKind::kIo, "{}: cannot switch the database to WAL mode", path);
    }
  }
  // NORMAL is durable in WAL mode except for the last transactions before a power cut, which
  // for sessions and audit lines is an acceptable trade for not syncing on every sign-in.
  // secure_delete overwrites deleted rows, so revoked token hashes do not linger in free pages.
  if (auto st = sql::exec(store->db_.get(), path,
                          "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
                          "PRAGMA secure_delete = ON;");
      !st) {
    return st.take_error();
  }
  if (auto st = store->migrate(); !st) return st.take_error();
  return store;
}

Result<sql::Stmt> Store::prepare(std::string_view sql) {
  return sql::Stmt::prepare(db_.get(), path_, sql);
}

Result<int> Store::schema_version() {
  auto s = prepare("PRAGMA user_version");
  if (!s) return s.take_error();
  auto row = s->step();
  if (!row) return row.take_error();
  return *row ? int(s->column_int(0)) : 0;
}

Status Store::check_health() {
  auto s = prepare("PRAGMA quick_check(1)");
  if (!s) return s.take_error();
  auto row = s->step();
  if (!row) return row.take_error();
  if (!*row) return make_error(ErrorKind::kIo, "{}: the integrity check gave no answer", path_);
  const std::string verdict = s->column_text(0);
  if (verdict == "ok") return {};
  return make_error(ErrorKind::kIo,
                    "{} is damaged ({}); move it aside and restore it from a backup (the VPN "
                    "users in config.yaml are not affected)",
                    path_, verdict);
}

Status Store::migrate() {
  auto version = schema_version();
  if (!version) return version.take_error();
  if (*version > kWebSchemaVersion) {
    return make_error(ErrorKind::kParse,
                      "{}: written by a newer Waypost (schema {}; this version knows up to {}); "
                      "upgrade Waypost",
                      path_, *version, kWebSchemaVersion);
  }
  for (int v = *version; v < kWebSchemaVersion; ++v) {
    // Each step and its version number commit together, so a crash leaves a known version.
    auto st = transaction([&]() -> Status {
      if (auto s = sql::exec(db_.get(), path_, kMigrations[size_t(v)]); !s) return s;
      return sql::exec(db_.get(), path_, "PRAGMA user_version = " + std::to_string(v + 1));
    });
    if (!st) return st.take_error().context(fmt::format("migrating to schema {}", v + 1));
  }
  return {};
}

Status Store::transaction(const std::function<Status()>& body) {
  // Inside a transaction already: the outer one commits or rolls back this body with it.
  if (sqlite3_get_autocommit(db_.get()) == 0) return body();
  // IMMEDIATE takes the write lock at once, so two writers wait for each other at BEGIN (under
  // the busy timeout) instead of failing halfway through.
  if (auto st = sql::exec(db_.get(), path_, "BEGIN IMMEDIATE"); !st) return st;
  Status result = body();
  if (result) result = sql::exec(db_.get(), path_, "COMMIT");
  if (!result) (void)sql::exec(db_.get(), path_, "ROLLBACK");
  return result;
}

Status Store::add_admin(const AdminRecord& admin) {
  auto existing = find_admin(admin.name);
  if (!existing) return existing.take_error();
  if (existing->has_value()) {
    // kParse with EEXIST: the API answers 409 (api_response.h).
    Error taken = make_error(ErrorKind::kParse, "there is already an admin named '{}'", admin.name);
    taken.code = EEXIST;
    return taken;
  }
  auto s = prepare(
      "INSERT INTO admins (name, role, password_hash, totp_secret, created, disabled) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s) return s.take_error();
  s->bind(1, admin.name)
      .bind(2, to_string(admin.role))
      .bind(3, admin.password_hash)
      .bind(4, admin.totp_secret)
      .bind(5, admin.created)
      .bind(6, int64_t{admin.disabled ? 1 : 0});
  return s->run();
}

Result<std::optional<AdminRecord>> Store::find_admin(std::string_view name) {
  auto s = prepare(fmt::format("SELECT {} FROM admins WHERE name = ?1", kAdminColumns));
  if (!s) return s.take_error();
  s->bind(1, name);
  auto row = s->step();
  if (!row) return row.take_error();
  if (!*row) return std::optional<AdminRecord>();
  return std::optional<AdminRecord>(read_admin(*s));
}

Result<std::vector<AdminRecord>> Store::list_admins() {
  auto s = prepare(fmt::format("SELECT {} FROM admins ORDER BY name", kAdminColumns));
  if (!s) return s.take_error();
  std::vector<AdminRecord> out;
  while (true) {
    auto row = s->step();
    if (!row) return row.take_error();
    if (!*row) break;
    out.push_back(read_admin(*s));
  }
  return out;
}

Status Store::set_credentials(std::string_view name, std::string_view password_hash,
                              std::string_view totp_secret,
                              const std::vector<TokenHash>& recovery) {
  std::vector<uint8_t> blob;
  for (const auto& h : recovery) blob.insert(blob.end(), h.begin(), h.end());
  auto s = prepare(
      "UPDATE admins SET password_hash = ?2, totp_secret = ?3, recovery_hashes = ?4, "
      "totp_last_step = 0 WHERE name = ?1");
  if (!s) return s.take_error();
  s->bind(1, name).bind(2, password_hash).bind(3, totp_secret).bind_blob(4, blob);
  return s->run();
}

Status Store::clear_credentials(std::string_view name) {
  return set_credentials(name, "", "", {});
}

Status Store::set_totp_last_step(std::string_view name, int64_t step) {
  auto s = prepare("UPDATE admins SET totp_last_step = ?2 WHERE name = ?1");
  if (!s) return s.take_error();
  s->bind(1, name).bind(2, step);
  return s->run();
}

Status Store::set_disabled(std::string_view name, bool disabled) {
  auto s = prepare("UPDATE admins SET disabled = ?2 WHERE name = ?1");
  if (!s) return s.take_error();
  s->bind(1, name).bind(2, int64_t{disabled ? 1 : 0});
  return s->run();
}

Status Store::set_role(std::string_view name, Role role) {
  auto s = prepare("UPDATE admins SET role = ?2 WHERE name = ?1");
  if (!s) return s.take_error();
  s->bind(1, name).bind(2, to_string(role));
  return s->run();
}

Status Store::set_last_login(std::string_view name, int64_t time) {
  auto s = prepare("UPDATE admins SET last_login = ?2 WHERE name = ?1");
  if (!s) return s.take_error();
  s->bind(1, name).bind(2, time);
  return s->run();
}

Result<bool> Store::remove_admin(std::string_view name) {
  auto s = prepare("DELETE FROM admins WHERE name = ?1");
  if (!s) return s.take_error();
  s->bind(1, name);
  if (auto st = s->run(); !st) return st.take_error();
  return sqlite3_changes(db_.get()) > 0;
}

Result<int64_t> Store::count_active_owners() {
  auto s = prepare("SELECT count(*) FROM admins WHERE role = 'owner' AND disabled = 0");
  if (!s) return s.take_error();
  auto row = s->step();
  if (!row) return row.take_error();
  return s->column_int(0);
}

Result<bool> Store::consume_recovery_code(std::string_view name, const TokenHash& code_hash) {
  bool found = false;
  auto st = transaction([&]() -> Status {
    std::vector<uint8_t> blob;
    {
      auto s = prepare("SELECT recovery_hashes FROM admins WHERE name = ?1");
      if (!s) return s.take_error();
      s->bind(1, name);
      auto row = s->step();
      if (!row) return row.take_error();
      if (!*row) return {};
      blob = s->column_blob(0);
    }
    // Every stored hash is compared (constant time each), not only up to the first match.
    size_t match = blob.size();
    for (size_t off = 0; off + kHashSize <= blob.size(); off += kHashSize) {
      if (same_hash({blob.data() + off, kHashSize}, code_hash) && match == blob.size()) {
        match = off;
      }
    }
    if (match == blob.size()) return {};
    found = true;
    blob.erase(blob.begin() + std::ptrdiff_t(match),
               blob.begin() + std::ptrdiff_t(match + kHashSize));
    auto u = prepare("UPDATE admins SET recovery_hashes = ?2 WHERE name = ?1");
    if (!u) return u.take_error();
    u->bind(1, name).bind_blob(2, blob);
    return u->run();
  });
  if (!st) return st.take_error();
  return found;
}

Result<size_t> Store::recovery_codes_left(std::string_view name) {
  auto s = prepare("SELECT length(recovery_hashes) FROM admins WHERE name = ?1");
  if (!s) return s.take_error();
  s->bind(1, name);
  auto row = s->step();
  if (!row) return row.take_error();
  return *row ? size_t(s->column_int(0)) / kHashSize : 0;
}

Status Store::add_audit(const AuditEntry& e) {
  auto s = prepare(
      "INSERT INTO audit (time, admin, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!s) return s.take_error();
  s->bind(1, e.time).bind(2, e.admin).bind(3, e.action).bind(4, e.target).bind(5, e.detail);
  return s->run();
}

Result<std::vector<AuditEntry>> Store::audit_log(int64_t limit) {
  return audit_page(limit, 0);
}

Result<std::vector<AuditEntry>> Store::audit_page(int64_t limit, int64_t before) {
  // By id, not time: ids only grow, while two entries may share a second.
  auto s = prepare(
      "SELECT time, admin, action, target, detail, id FROM audit WHERE ?2 <= 0 OR id < ?2 "
      "ORDER BY id DESC LIMIT ?1");
  if (!s) return s.take_error();
  s->bind(1, limit).bind(2, before);
  std::vector<AuditEntry> out;
  while (true) {
    auto row = s->step();
    if (!row) return row.take_error();
    if (!*row) break;
    out.push_back({s->column_int(0), s->column_text(1), s->column_text(2), s->column_text(3),
                   s->column_text(4), s->column_int(5)});
  }
  return out;
}

}  // namespace waypost::web
