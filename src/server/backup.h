#pragma once
// `waypost server backup` / `restore`: one archive (tar, zstd-compressed) holding a server
// directory — config.yaml, state.json, the CA and certificates, the client profiles — behind a
// manifest.json with each file's size, mode and SHA-256. Reading checks everything before
// anything is written: a corrupt, truncated or partial archive, or one with a path that would
// leave the directory, is refused with the reason. Restoring writes a complete copy beside the
// target and swaps it in with renames, keeping what was there as <dir>.before-restore-<time>.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace waypost::server {

// The archive's own format; a reader refuses a newer one with a clear message.
inline constexpr int kBackupFormatVersion = 1;
// An archive (or one file in it) larger than this is refused: a server directory is a few
// megabytes, and a decompression bomb must not fill the disk.
inline constexpr uint64_t kBackupMaxBytes = 512ull << 20;

struct BackupFile {
  std::string path;  // relative to the server directory, '/'-separated, no ".." or empty parts
  uint32_t mode = 0600;
  std::string data;
};

struct Backup {
  std::string created;  // UTC, ISO 8601
  std::string waypost_version;
  std::string hostname;
  uint32_t config_schema = 0;  // config_version of its config.yaml (see upgrade.h)
  uint32_t state_schema = 0;   // schema of its state.json
  std::vector<BackupFile> files;
};

// Reads a server directory (everything but its lock file and its own backups/ folder).
Result<Backup> collect_backup(const std::string& dir, std::string_view waypost_version);
// The archive: manifest.json first, then each file under server/.
Result<std::string> write_backup_archive(const Backup& backup);
// Parses and verifies an archive; every problem is an error saying what and where.
Result<Backup> read_backup_archive(std::span<const uint8_t> archive);

struct RestoreOptions {
  bool force = false;           // replace an existing server directory
  bool server_running = false;  // a server answers on the directory's control socket
};

struct RestoreResult {
  std::string kept_as;  // where the replaced directory went ("" if there was none)
};

// Writes `backup` to `dir`. Without `force`, refuses a directory that already holds a server
// (and always says when that server is running).
Result<RestoreResult> restore_backup(const Backup& backup, const std::string& dir,
                                     const RestoreOptions& options);

// Relative paths that are safe to create under a directory.
bool safe_relative_path(std::string_view path);

}  // namespace waypost::server
