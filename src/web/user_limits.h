#pragma once
// Expiry dates and monthly quotas: the server turns a user off by itself when its expiry passes
// or its month's traffic reaches its quota, and back on when the reason goes away (a later
// expiry, a bigger quota, a new month). What it did is kept in web.db (UserSettings'
// auto_disabled), shown on the page as the reason, and written to the audit log. A user an admin
// turned off stays off: only the server's own reasons are undone by the server.
//
// The accountant (accountant.h) applies these once a minute; the router applies them at once
// after an admin changes a user's expiry or quota.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "web/store.h"
#include "web/user_directory.h"

namespace waypost::web {

// The audit log's actor for what the server does by itself.
inline constexpr std::string_view kServerActor = "(server)";

struct LimitChange {
  std::string name;
  bool enable = false;
  AutoDisable reason = AutoDisable::kNone;  // why it is disabled (enable == false)
};

// What must change now, for users as listed (their enabled state), with their settings (by name;
// a missing one means no limits) and this month's bytes.
std::vector<LimitChange> limit_changes(const std::vector<UserView>& users,
                                       const std::map<std::string, UserSettings>& settings,
                                       const std::map<std::string, int64_t>& month_bytes,
                                       int64_t now);

// Works out and applies the changes: the user is disabled or enabled through `users` (the same
// path as an admin's click), its settings record why, and the audit log says what happened.
// `only` limits it to one user ("" = all). Returns the changes made.
Result<std::vector<LimitChange>> apply_limits(Store& store, UserDirectory& users, int64_t now,
                                              const std::string& only = {});

// Why a user is off, for the page: "expired on 2027-01-31 23:59 UTC", "monthly quota used up:
// 10.2 GB of 10.0 GB (on again on 2027-02-01)", or "disabled by an admin".
std::string disabled_reason(const UserSettings& settings, int64_t month_bytes);

// A byte count as the page shows it: "10.2 GB" (powers of 1000, as phone carriers count).
std::string format_bytes(int64_t bytes);

}  // namespace waypost::web
