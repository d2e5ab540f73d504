#include "web/user_limits.h"

#include <ctime>

#include <fmt/format.h>

#include "web/traffic_periods.h"

namespace waypost::web {

namespace {

std::string utc_time(int64_t t, const char* format) {
  const auto tt = time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  const size_t n = std::strftime(buf, sizeof buf, format, &tm);
  return {buf, n};
}

bool expired(const UserSettings& s, int64_t now) {
  return s.expires > 0 && now >= s.expires;
}

bool over_quota(const UserSettings& s, int64_t used) {
  return s.monthly_quota > 0 && used >= s.monthly_quota;
}

}  // namespace

std::string format_bytes(int64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  auto v = double(bytes);
  size_t u = 0;
  while (v >= 1000 && u + 1 < std::size(units)) {
    v /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

std::vector<LimitChange> limit_changes(const std::vector<UserView>& users,
                                       const std::map<std::string, UserSettings>& settings,
                                       const std::map<std::string, int64_t>& month_bytes,
                                       int64_t now) {
  std::vector<LimitChange> out;
  for (const UserView& u : users) {
    auto it = settings.find(u.name);
    if (it == settings.end()) continue;
    const UserSettings& s = it->second;
    auto used_it = month_bytes.find(u.name);
    const int64_t used = used_it == month_bytes.end() ? 0 : used_it->second;
    const AutoDisable reason = expired(s, now)       ? AutoDisable::kExpired
                               : over_quota(s, used) ? AutoDisable::kQuota
                                                     : AutoDisable::kNone;
    if (u.enabled && reason != AutoDisable::kNone) {
      out.push_back({u.name, false, reason});
    } else if (!u.enabled && s.auto_disabled != AutoDisable::kNone) {
      // Off by the server's doing: back on when no reason is left, or the reason is updated.
      if (reason == AutoDisable::kNone) {
        out.push_back({u.name, true, AutoDisable::kNone});
      } else if (reason != s.auto_disabled) {
        out.push_back({u.name, false, reason});
      }
    }
  }
  return out;
}

Result<std::vector<LimitChange>> apply_limits(Store& store, UserDirectory& users, int64_t now,
                                              const std::string& only) {
  auto list = users.list();
  if (!list) return list.take_error();
  if (!only.empty()) {
    std::erase_if(*list, [&](const UserView& u) { return u.name != only; });
  }
  auto all = store.all_user_settings();
  if (!all) return all.take_error();
  std::map<std::string, UserSettings> settings;
  for (UserSettings& s : *all) settings.emplace(s.name, std::move(s));
  auto used = store.month_totals(period_start(TrafficPeriod::kMonth, now));
  if (!used) return used.take_error();

  std::vector<LimitChange> changes = limit_changes(*list, settings, *used, now);
  for (const LimitChange& c : changes) {
    UserSettings s = settings[c.name];
    const bool was_enabled = std::find_if(list->begin(), list->end(), [&](const UserView& u) {
                               return u.name == c.name && u.enabled;
                             }) != list->end();
    if (was_enabled != c.enable) {
      if (auto r = users.set_enabled(c.name, c.enable); !r) return r.take_error();
    }
    s.auto_disabled = c.enable ? AutoDisable::kNone : c.reason;
    s.auto_disabled_at = c.enable ? 0 : now;
    if (auto st = store.put_user_settings(s); !st) return st.take_error();
    const int64_t month = used->count(c.name) ? used->at(c.name) : 0;
    AuditEntry e;
    e.time = now;
    e.admin = std::string(kServerActor);
    e.action = c.enable ? "user.enable" : "user.disable";
    e.target = c.name;
    e.detail = c.enable ? "its limit no longer applies" : disabled_reason(s, month);
    (void)store.add_audit(e);
  }
  return changes;
}

std::string disabled_reason(const UserSettings& s, int64_t month_bytes) {
  switch (s.auto_disabled) {
    case AutoDisable::kExpired:
      return "expired on " + utc_time(s.expires, "%Y-%m-%d %H:%M UTC");
    case AutoDisable::kQuota: {
      const int64_t at = s.auto_disabled_at;
      return fmt::format("monthly quota used up: {} of {} (on again on {})",
                         format_bytes(month_bytes), format_bytes(s.monthly_quota),
                         utc_time(next_period_start(TrafficPeriod::kMonth, at), "%Y-%m-%d"));
    }
    case AutoDisable::kNone:
      break;
  }
  return "disabled by an admin";
}

}  // namespace waypost::web
