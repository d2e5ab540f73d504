#pragma once
// Format versions of a server directory and their migration. config.yaml carries
// `config_version` (kConfigSchema), state.json its "version" (kStateSchema); a file without
// one is version 1. A newer Waypost brings older files up to date in place, after writing a
// backup of the whole directory to <dir>/backups/; an older Waypost refuses newer files with a
// message that says so (config.cc, state.cc). `waypost server upgrade-check` shows the plan
// without applying it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace waypost::server {

inline constexpr const char* kBackupsDir = "backups";

struct Schemas {
  uint32_t config = 1;
  uint32_t state = 1;
};

// The versions the directory's files say they have (not checked against this Waypost's).
Result<Schemas> read_schemas(const std::string& dir);

struct UpgradePlan {
  Schemas from;
  Schemas to;
  std::vector<std::string> changes;  // one line each, for people
  std::string new_config_text;       // config.yaml after the migration ("" = unchanged)
  bool needed() const { return from.config != to.config || from.state != to.state; }
};

// What bringing `dir` up to date would change. Refuses files newer than this Waypost reads.
Result<UpgradePlan> plan_upgrade(const std::string& dir);
// The config.yaml migration on its own (text in, text out), for tests and the plan.
Result<std::string> migrate_config_text(std::string_view text, uint32_t from,
                                        std::vector<std::string>& changes);

// Applies a plan: a backup first (its path is returned), then each file, atomically.
Result<std::string> apply_upgrade(const std::string& dir, const UpgradePlan& plan,
                                  std::string_view waypost_version);

}  // namespace waypost::server
