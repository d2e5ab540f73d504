// web.db's extras about VPN users: their settings (note, expiry, quota, why the server turned
// them off), one-time download links, and the traffic history with its roll-ups.
#include <algorithm>

#include "web/store.h"
#include "web/traffic_periods.h"

namespace waypost::web {

namespace {

// How long each bucket size is kept. A user then costs at most about 2 days x 1440 minutes +
// 90 x 24 hours + 800 days + the months: some 6,000 rows of ~40 bytes, about 250 KB, for a user
// with traffic every minute; an idle one costs nothing (only non-zero samples are written).
constexpr int64_t kKeepMinutes = 2 * 86400;
constexpr int64_t kKeepHours = 90 * 86400;
constexpr int64_t kKeepDays = 800 * 86400;
// Sessions, setup links and download links stay a week past their end (so that the audit log's
// story can still be followed), then go.
constexpr int64_t kKeepExpired = 7 * 86400;
// The audit log keeps a year, and beyond that at least the newest entries.
constexpr int64_t kKeepAudit = 366 * 86400;
constexpr int64_t kAuditRowsAlwaysKept = 100000;

std::string_view auto_disable_text(AutoDisable a) {
  switch (a) {
    case AutoDisable::kExpired:
      return "expired";
    case AutoDisable::kQuota:
      return "quota";
    case AutoDisable::kNone:
      break;
  }
  return "";
}

AutoDisable parse_auto_disable(std::string_view text) {
  if (text == "expired") return AutoDisable::kExpired;
  if (text == "quota") return AutoDisable::kQuota;
  return AutoDisable::kNone;
}

constexpr const char* kSettingsColumns =
    "name, note, expires, monthly_quota, auto_disabled, auto_disabled_at";

UserSettings read_settings(const sql::Stmt& s) {
  UserSettings u;
  u.name = s.column_text(0);
  u.note = s.column_text(1);
  u.expires = s.column_int(2);
  u.monthly_quota = s.column_int(3);
  u.auto_disabled = parse_auto_disable(s.column_text(4));
  u.auto_disabled_at = s.column_int(5);
  return u;
}

}  // namespace

Result<UserSettings> Store::user_settings(std::string_view name) {
  auto s =
      prepare(std::string("SELECT ") + kSettingsColumns + " FROM user_settings WHERE name = ?1");
  if (!s) return s.take_error();
  s->bind(1, name);
  auto row = s->step();
  if (!row) return row.take_error();
  if (*row) return read_settings(*s);
  UserSettings u;
  u.name = std::string(name);
  return u;
}

Result<std::vector<UserSettings>> Store::all_user_settings() {
  auto s = prepare(std::string("SELECT ") + kSettingsColumns + " FROM user_settings ORDER BY name");
  if (!s) return s.take_error();
  std::vector<UserSettings> out;
  while (true) {
    auto row = s->step();
    if (!row) return row.take_error();
    if (!*row) break;
    out.push_back(read_settings(*s));
  }
  return out;
}

Status Store::put_user_settings(const UserSettings& u) {
  auto s = prepare(
      "INSERT INTO user_settings (name, note, expires, monthly_quota, auto_disabled, "
      "auto_disabled_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO UPDATE SET "
      "note = ?2, expires = ?3, monthly_quota = ?4, auto_disabled = ?5, auto_disabled_at = ?6");
  if (!s) return s.take_error();
  s->bind(1, u.name)
      .bind(2, u.note)
      .bind(3, u.expires)
      .bind(4, u.monthly_quota)
      .bind(5, auto_disable_text(u.auto_disabled))
      .bind(6, u.auto_disabled_at);
  return s->run();
}

Status Store::rename_user_data(std::string_view from, std::string_view to) {
  return transaction([&]() -> Status {
    for (const char* sql : {"UPDATE user_settings SET name = ?2 WHERE name = ?1",
                            "UPDATE user_links SET user = ?2 WHERE user = ?1",
                            "UPDATE traffic SET user = ?2 WHERE user = ?1"}) {
      auto s = prepare(sql);
      if (!s) return s.take_error();
      s->bind(1, from).bind(2, to);
      if (auto st = s->run(); !st) return st;
    }
    return {};
  });
}

Status Store::delete_user_data(std::string_view name) {
  return transaction([&]() -> Status {
    for (const char* sql :
         {"DELETE FROM user_settings WHERE name = ?1", "DELETE FROM user_links WHERE user = ?1",
          "DELETE FROM traffic WHERE user = ?1"}) {
      auto s = prepare(sql);
      if (!s) return s.take_error();
      s->bind(1, name);
      if (auto st = s->run(); !st) return st;
    }
    return {};
  });
}

Status Store::add_user_link(const UserLinkRecord& l) {
  auto s = prepare(
      "INSERT INTO user_links (token_hash, user, created_by, created, expires, used) "
      "VALUES (?1, ?2, ?3, ?4, ?5, 0)");
  if (!s) return s.take_error();
  s->bind_blob(1, l.token_hash).bind(2, l.user).bind(3, l.created_by).bind(4, l.created);
  s->bind(5, l.expires);
  return s->run();
}

Result<std::optional<UserLinkRecord>> Store::use_user_link(const TokenHash& token_hash,
                                                           int64_t now) {
  std::optional<UserLinkRecord> out;
  auto st = transaction([&]() -> Status {
    auto s = prepare(
        "SELECT token_hash, user, created_by, created, expires, used FROM user_links "
        "WHERE token_hash = ?1");
    if (!s) return s.take_error();
    s->bind_blob(1, token_hash);
    auto row = s->step();
    if (!row) return row.take_error();
    if (!*row) return {};
    UserLinkRecord l;
    const std::vector<uint8_t> blob = s->column_blob(0);
    if (blob.size() != l.token_hash.size()) return {};
    std::copy(blob.begin(), blob.end(), l.token_hash.begin());
    if (!same_hash(l.token_hash, token_hash)) return {};
    l.user = s->column_text(1);
    l.created_by = s->column_text(2);
    l.created = s->column_int(3);
    l.expires = s->column_int(4);
    l.used = s->column_int(5) != 0;
    if (l.used || now >= l.expires) return {};
    auto u = prepare("UPDATE user_links SET used = 1 WHERE token_hash = ?1 AND used = 0");
    if (!u) return u.take_error();
    u->bind_blob(1, token_hash);
    if (auto done = u->run(); !done) return done;
    l.used = true;
    out = std::move(l);
    return {};
  });
  if (!st) return st.take_error();
  return out;
}

Status Store::add_traffic(std::string_view user, int64_t now, int64_t rx, int64_t tx) {
  if (rx <= 0 && tx <= 0) return {};
  return transaction([&]() -> Status {
    for (TrafficPeriod p : {TrafficPeriod::kMinute, TrafficPeriod::kHour, TrafficPeriod::kDay,
                            TrafficPeriod::kMonth}) {
      auto s = prepare(
          "INSERT INTO traffic (user, period, start, rx, tx) VALUES (?1, ?2, ?3, ?4, ?5) "
          "ON CONFLICT (user, period, start) DO UPDATE SET rx = rx + ?4, tx = tx + ?5");
      if (!s) return s.take_error();
      s->bind(1, user).bind(2, to_string(p)).bind(3, period_start(p, now));
      s->bind(4, std::max<int64_t>(rx, 0)).bind(5, std::max<int64_t>(tx, 0));
      if (auto st = s->run(); !st) return st;
    }
    return {};
  });
}

Result<std::vector<TrafficPoint>> Store::traffic(std::string_view user, TrafficPeriod period,
                                                 int64_t since) {
  auto s = prepare(
      "SELECT start, rx, tx FROM traffic WHERE user = ?1 AND period = ?2 AND start >= ?3 "
      "ORDER BY start");
  if (!s) return s.take_error();
  s->bind(1, user).bind(2, to_string(period)).bind(3, since);
  std::vector<TrafficPoint> out;
  while (true) {
    auto row = s->step();
    if (!row) return row.take_error();
    if (!*row) break;
    out.push_back({s->column_int(0), s->column_int(1), s->column_int(2)});
  }
  return out;
}

Result<std::map<std::string, int64_t>> Store::month_totals(int64_t month_start) {
  auto s = prepare("SELECT user, rx + tx FROM traffic WHERE period = 'month' AND start = ?1");
  if (!s) return s.take_error();
  s->bind(1, month_start);
  std::map<std::string, int64_t> out;
  while (true) {
    auto row = s->step();
    if (!row) return row.take_error();
    if (!*row) break;
    out[s->column_text(0)] = s->column_int(1);
  }
  return out;
}

Status Store::prune(int64_t now) {
  return transaction([&]() -> Status {
    struct Step {
      const char* sql;
      int64_t cutoff;
    };
    const Step steps[] = {
        {"DELETE FROM traffic WHERE period = 'minute' AND start < ?1", now - kKeepMinutes},
        {"DELETE FROM traffic WHERE period = 'hour' AND start < ?1", now - kKeepHours},
        {"DELETE FROM traffic WHERE period = 'day' AND start < ?1", now - kKeepDays},
        {"DELETE FROM user_links WHERE expires < ?1", now - kKeepExpired},
        {"DELETE FROM setup_links WHERE expires < ?1", now - kKeepExpired},
        {"DELETE FROM sessions WHERE expires < ?1", now},
        {"DELETE FROM audit WHERE time < ?1 AND id <= (SELECT max(id) FROM audit) - 100000",
         now - kKeepAudit},
    };
    static_assert(kAuditRowsAlwaysKept == 100000, "the audit statement spells the number out");
    for (const Step& step : steps) {
      auto s = prepare(step.sql);
      if (!s) return s.take_error();
      s->bind(1, step.cutoff);
      if (auto st = s->run(); !st) return st;
    }
    return {};
  });
}

}  // namespace waypost::web
