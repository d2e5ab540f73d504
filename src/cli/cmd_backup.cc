// `waypost server backup`, `server restore` and `server upgrade-check`, and the in-place
// upgrade that `server up` and the users commands run first (server/backup.h, upgrade.h).
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>

#include "cli/commands.h"
#include "common/atomic_file.h"
#include "control/json_session.h"
#include "daemon/paths.h"
#include "server/backup.h"
#include "server/config.h"
#include "server/state.h"
#include "server/upgrade.h"

namespace waypost::cli {

namespace {

constexpr const char* kDefaultDir = "/etc/waypost";
constexpr uint64_t kMaxArchiveBytes = 1ull << 30;

// Whether a server answers on the control socket of the server configured in `dir`.
bool server_running(const std::string& dir) {
  auto config = server::load_config(dir);
  if (!config) return false;
  auto r = control::json_request(daemon::control_socket_path(config->wireguard_interface),
                                 {{"cmd", "status"}});
  return r && r->value("ok", false);
}

std::string kib(size_t bytes) {
  return std::to_string((bytes + 1023) / 1024) + " KiB";
}

int backup(const std::string& dir, const std::string& out) {
  if (out.empty() && ::isatty(STDOUT_FILENO) != 0) {
    return fail(
        "the backup is a binary archive: redirect it (`> waypost-backup.tar.zst`) or "
        "pass -o FILE");
  }
  std::optional<server::DirLock> lock;  // a consistent snapshot: no users add/remove meanwhile
  if (auto l = server::DirLock::acquire(dir)) lock.emplace(std::move(*l));
  auto b = server::collect_backup(dir, WAYPOST_VERSION);
  if (!b) return fail(b.error().message);
  auto archive = server::write_backup_archive(*b);
  if (!archive) return fail(archive.error().message);
  if (out.empty()) {
    if (std::fwrite(archive->data(), 1, archive->size(), stdout) != archive->size() ||
        std::fflush(stdout) != 0) {
      return fail("cannot write the archive to standard output");
    }
  } else if (auto st = write_file_atomic(out, *archive, 0600); !st) {
    return fail(st.error().message);
  }
  std::fprintf(stderr,
               "waypost: backup of %s: %zu files, %s compressed (config_version %u, state version "
               "%u)%s%s\n",
               dir.c_str(), b->files.size(), kib(archive->size()).c_str(), b->config_schema,
               b->state_schema, out.empty() ? "" : " -> ", out.c_str());
  std::fprintf(stderr,
               "waypost: it holds every private key (the CA's too): keep it as safe as "
               "the server\n");
  return 0;
}

int restore(const std::string& file, const std::string& dir, bool force) {
  Result<std::string> bytes = std::string();
  if (file == "-") {
    std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    bytes = std::move(all);
  } else {
    bytes = read_file(file, kMaxArchiveBytes);
  }
  if (!bytes) return fail(bytes.error().message);
  const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(bytes->data()),
                                      bytes->size());
  auto b = server::read_backup_archive(data);
  if (!b) {
    return fail((file == "-" ? std::string("standard input") : file) + ": " + b.error().message +
                "; nothing was changed");
  }
  if (b->config_schema > server::kConfigSchema || b->state_schema > server::kStateSchema) {
    return fail("the backup was made by a newer Waypost (" + b->waypost_version +
                ", config_version " + std::to_string(b->config_schema) +
                "): restore it with that version; nothing was changed");
  }
  server::RestoreOptions options;
  options.force = force;
  options.server_running = server_running(dir);
  auto r = server::restore_backup(*b, dir, options);
  if (!r) return fail(r.error().message + "; nothing was changed");
  std::printf("waypost: restored %zu files to %s (backup of %s made %s by Waypost %s)\n",
              b->files.size(), dir.c_str(), b->hostname.empty() ? "?" : b->hostname.c_str(),
              b->created.c_str(), b->waypost_version.c_str());
  if (!r->kept_as.empty()) {
    std::printf("waypost: the directory it replaced is kept as %s\n", r->kept_as.c_str());
  }
  if (b->config_schema < server::kConfigSchema || b->state_schema < server::kStateSchema) {
    std::printf(
        "waypost: it is from an older Waypost; `waypost server upgrade-check%s` shows "
        "what the next start changes\n",
        dir == kDefaultDir ? "" : (" --dir " + dir).c_str());
  }
  if (options.server_running) {
    std::printf(
        "waypost: the running server still has the old state: restart it "
        "(systemctl restart waypost-server)\n");
  } else {
    std::printf(
        "waypost: start it with `waypost server up%s` (or systemctl start "
        "waypost-server)\n",
        dir == kDefaultDir ? "" : (" --dir " + dir).c_str());
  }
  return 0;
}

int upgrade_check(const std::string& dir) {
  auto plan = server::plan_upgrade(dir);
  if (!plan) return fail(plan.error().message);
  std::printf("%s: config_version %u (this Waypost writes %u), state.json version %u (%u)\n",
              dir.c_str(), plan->from.config, plan->to.config, plan->from.state, plan->to.state);
  if (!plan->needed()) {
    std::printf("Up to date: this version of Waypost changes nothing in it.\n");
    return 0;
  }
  std::printf("This version of Waypost will change, at the next `server up` or users command:\n");
  for (const auto& c : plan->changes) std::printf("  %s\n", c.c_str());
  std::printf(
      "A backup of the whole directory is written to %s/%s/ first. Nothing was changed "
      "now.\n",
      dir.c_str(), server::kBackupsDir);
  return 0;
}

}  // namespace

int upgrade_if_needed(const std::string& dir) {
  if (::access(server::config_path(dir).c_str(), F_OK) != 0) return 0;  // nothing yet
  auto plan = server::plan_upgrade(dir);
  if (!plan) return fail(plan.error().message);
  if (!plan->needed()) return 0;
  auto lock = server::DirLock::acquire(dir);
  if (!lock) return fail(lock.error().message);
  auto backup_path = server::apply_upgrade(dir, *plan, WAYPOST_VERSION);
  if (!backup_path) return fail("upgrading " + dir + ": " + backup_path.error().message);
  std::fprintf(stderr, "waypost: upgraded %s to config_version %u, state version %u:\n",
               dir.c_str(), plan->to.config, plan->to.state);
  for (const auto& c : plan->changes) std::fprintf(stderr, "waypost:   %s\n", c.c_str());
  std::fprintf(stderr, "waypost: the directory as it was is in %s\n", backup_path->c_str());
  return 0;
}

void register_server_backup_commands(CLI::App& server_cmd) {
  struct BackupOptions {
    std::string dir = kDefaultDir;
    std::string out;
  };
  auto b = std::make_shared<BackupOptions>();
  auto* backup_cmd = server_cmd.add_subcommand(
      "backup", "Write keys, CA, config and profiles to one archive (tar.zst, on stdout)");
  backup_cmd->add_option("--dir", b->dir, "State directory")->capture_default_str();
  backup_cmd->add_option("-o,--output", b->out, "Write the archive to FILE (mode 0600)");
  backup_cmd->callback([b]() { std::exit(backup(b->dir, b->out)); });

  struct RestoreArgs {
    std::string file;
    std::string dir = kDefaultDir;
    bool force = false;
  };
  auto r = std::make_shared<RestoreArgs>();
  auto* restore_cmd = server_cmd.add_subcommand(
      "restore", "Restore a backup archive (checked first; existing state only with --force)");
  restore_cmd->add_option("archive", r->file, "The archive (- for standard input)")->required();
  restore_cmd->add_option("--dir", r->dir, "State directory")->capture_default_str();
  restore_cmd->add_flag("--force", r->force,
                        "Replace an existing server directory (kept as <dir>.before-restore-*)");
  restore_cmd->callback([r]() { std::exit(restore(r->file, r->dir, r->force)); });

  auto u = std::make_shared<std::string>(kDefaultDir);
  auto* check_cmd = server_cmd.add_subcommand(
      "upgrade-check", "Show what this version changes in config.yaml and state.json");
  check_cmd->add_option("--dir", *u, "State directory")->capture_default_str();
  check_cmd->callback([u]() { std::exit(upgrade_check(*u)); });
}

}  // namespace waypost::cli
