#include "server/backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/encoding.h"
#include "crypto/hmac.h"
#include "server/backup_archive.h"
#include "server/state.h"
#include "server/upgrade.h"
#include "web/store.h"

namespace waypost::server {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormatName = "waypost-backup";

std::string sha256_hex(std::string_view data) {
  std::array<uint8_t, 32> d{};
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  if (!crypto::digest(crypto::HashAlg::kSha256, {bytes}, d)) return {};
  return to_hex(d);
}

std::string utc_now_iso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf.data();
}

std::string host_name() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return {};
  return buf.data();
}

nlohmann::json manifest_of(const Backup& b) {
  nlohmann::json files = nlohmann::json::array();
  for (const BackupFile& f : b.files) {
    files.push_back({{"path", f.path},
                     {"size", f.data.size()},
                     {"mode", fmt::format("{:04o}", f.mode)},
                     {"sha256", sha256_hex(f.data)}});
  }
  return {{"format", kFormatName},          {"format_version", kBackupFormatVersion},
          {"created", b.created},           {"waypost_version", b.waypost_version},
          {"hostname", b.hostname},         {"config_schema", b.config_schema},
          {"state_schema", b.state_schema}, {"files", files}};
}

struct ManifestFile {
  uint64_t size = 0;
  uint32_t mode = 0600;
  std::string sha256;
  bool seen = false;
};

// The manifest's fields, each checked; `files` keyed by path.
Result<Backup> parse_manifest(std::string_view text, std::map<std::string, ManifestFile>& files) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorKind::kParse, "manifest.json is not valid JSON");
  }
  if (j.value("format", "") != kFormatName) {
    return make_error(ErrorKind::kParse,
                      "manifest.json: not a Waypost backup (format is not "
                      "\"waypost-backup\")");
  }
  const auto version = j.find("format_version");
  if (version == j.end() || !version->is_number_integer()) {
    return make_error(ErrorKind::kParse, "manifest.json: format_version missing");
  }
  if (version->get<int>() > kBackupFormatVersion) {
    return make_error(ErrorKind::kParse,
                      "the backup was made by a newer Waypost (backup format {}; this one reads up "
                      "to {}): restore it with that version or a later one",
                      version->get<int>(), kBackupFormatVersion);
  }
  Backup b;
  auto str = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number_unsigned() ? uint32_t(it->get<uint64_t>()) : 0u;
  };
  b.created = str("created");
  b.waypost_version = str("waypost_version");
  b.hostname = str("hostname");
  b.config_schema = num("config_schema");
  b.state_schema = num("state_schema");
  const auto list = j.find("files");
  if (list == j.end() || !list->is_array()) {
    return make_error(ErrorKind::kParse, "manifest.json: no files list");
  }
  for (const auto& f : *list) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("size") ||
        !f["size"].is_number_unsigned() || !f.contains("sha256") || !f["sha256"].is_string()) {
      return make_error(ErrorKind::kParse,
                        "manifest.json: a files entry lacks path, size or sha256");
    }
    const std::string path = f["path"].get<std::string>();
    if (!safe_relative_path(path)) {
      return make_error(ErrorKind::kParse, "manifest.json: unsafe path '{}'", path);
    }
    ManifestFile m;
    m.size = f["size"].get<uint64_t>();
    m.sha256 = f["sha256"].get<std::string>();
    const std::string mode = f.value("mode", "0600");
    char* end = nullptr;
    const unsigned long v = std::strtoul(mode.c_str(), &end, 8);
    if (mode.empty() || *end != '\0' || v > 07777) {
      return make_error(ErrorKind::kParse, "manifest.json: {}: bad mode '{}'", path, mode);
    }
    m.mode = uint32_t(v) & 0777;  // no setuid, setgid or sticky bits from an archive
    if (!files.emplace(path, std::move(m)).second) {
      return make_error(ErrorKind::kParse, "manifest.json: '{}' listed twice", path);
    }
  }
  return b;
}

Status mkdirs(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) return make_error(ErrorKind::kIo, "cannot create {}: {}", p.string(), ec.message());
  ::chmod(p.c_str(), 0700);
  return {};
}

Status write_new_file(const fs::path& path, std::string_view data, uint32_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    return make_error(ErrorKind::kIo, "cannot create {}: {}", path.string(), std::strerror(errno));
  }
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      ::close(fd);
      return make_error(ErrorKind::kIo, "cannot write {}: {}", path.string(), std::strerror(e));
    }
    done += size_t(n);
  }
  ::fchmod(fd, mode);  // the umask does not get a say
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return make_error(ErrorKind::kIo, "cannot sync {}", path.string());
  return {};
}

bool holds_server(const std::string& dir) {
  return ::access(config_path(dir).c_str(), F_OK) == 0 ||
         ::access(state_path(dir).c_str(), F_OK) == 0;
}

std::string stamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y%m%d-%H%M%S", &tm);
  return buf.data();
}

}  // namespace

bool safe_relative_path(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.size() > 1024) return false;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    }
    start = end + 1;
  }
  return true;
}

Result<Backup> collect_backup(const std::string& dir, std::string_view waypost_version) {
  if (!holds_server(dir)) {
    return make_error(ErrorKind::kNotFound, "{} holds no server (no config.yaml or state.json)",
                      dir);
  }
  Backup b;
  b.created = utc_now_iso();
  b.waypost_version = std::string(waypost_version);
  b.hostname = host_name();
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) return make_error(ErrorKind::kIo, "cannot read {}: {}", dir, ec.message());
  uint64_t total = 0;
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return make_error(ErrorKind::kIo, "cannot read {}: {}", dir, ec.message());
    const fs::path rel = fs::relative(it->path(), dir, ec);
    const std::string r = rel.generic_string();
    // The web admin's database goes in as one consistent file (its WAL folded in), never as
    // web.db, -wal and -shm copied at different moments; a snapshot being made is skipped.
    if (it.depth() == 0 && (r == ".lock" || r == kBackupsDir || r == "web.db-wal" ||
                            r == "web.db-shm" || r.starts_with(".web-snapshot-"))) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    const fs::file_status st = it->symlink_status();
    if (fs::is_directory(st) || !fs::is_regular_file(st)) continue;  // links, sockets: not state
    auto data = it.depth() == 0 && r == "web.db" ? web::snapshot_database(it->path().string())
                                                 : read_file(it->path().string(), kBackupMaxBytes);
    if (!data) return data.take_error();
    total += data->size();
    if (total > kBackupMaxBytes) {
      return make_error(ErrorKind::kIo, "{} holds more than {} MiB: not a server directory?", dir,
                        kBackupMaxBytes >> 20);
    }
    BackupFile f;
    f.path = r;
    f.mode = uint32_t(st.permissions()) & 0777;
    f.data = std::move(*data);
    b.files.push_back(std::move(f));
  }
  std::sort(b.files.begin(), b.files.end(),
            [](const BackupFile& x, const BackupFile& y) { return x.path < y.path; });
  auto schemas = read_schemas(dir);
  if (!schemas) return schemas.take_error();
  b.config_schema = schemas->config;
  b.state_schema = schemas->state;
  return b;
}

Result<std::string> write_backup_archive(const Backup& backup) {
  std::vector<ArchiveMember> members;
  members.push_back({"manifest.json", 0600, manifest_of(backup).dump(2) + "\n"});
  for (const BackupFile& f : backup.files) {
    members.push_back({"server/" + f.path, f.mode, f.data});
  }
  return write_tar_zst(members);
}

Result<Backup> read_backup_archive(std::span<const uint8_t> archive) {
  std::map<std::string, ManifestFile> listed;
  std::optional<Backup> backup;
  std::vector<BackupFile> files;
  auto on_member = [&](const ArchiveMember& m) -> Status {
    if (!backup) {
      if (m.name != "manifest.json") {
        return make_error(ErrorKind::kParse,
                          "not a Waypost backup: its first member is '{}', not manifest.json",
                          m.name);
      }
      auto b = parse_manifest(m.data, listed);
      if (!b) return b.take_error();
      backup = std::move(*b);
      return {};
    }
    constexpr std::string_view kPrefix = "server/";
    if (m.name.rfind(kPrefix, 0) != 0) {
      return make_error(ErrorKind::kParse, "unexpected member '{}' (not under server/)", m.name);
    }
    const std::string path = m.name.substr(kPrefix.size());
    auto it = listed.find(path);
    if (it == listed.end()) {
      return make_error(ErrorKind::kParse, "'{}' is in the archive but not in its manifest", path);
    }
    if (it->second.seen) return make_error(ErrorKind::kParse, "'{}' appears twice", path);
    it->second.seen = true;
    if (m.data.size() != it->second.size || sha256_hex(m.data) != it->second.sha256) {
      return make_error(ErrorKind::kParse,
                        "'{}' is damaged: its size or SHA-256 differs from the manifest's", path);
    }
    files.push_back({path, it->second.mode, m.data});
    return {};
  };
  if (auto st = read_tar_zst(archive, kBackupMaxBytes, on_member); !st) return st.take_error();
  if (!backup) return make_error(ErrorKind::kParse, "the archive is empty");
  size_t missing = 0;
  std::string first_missing;
  for (const auto& [path, m] : listed) {
    if (m.seen) continue;
    if (missing++ == 0) first_missing = path;
  }
  if (missing > 0) {
    return make_error(ErrorKind::kParse,
                      "partial archive: {} file(s) of the manifest are missing (first: {})",
                      missing, first_missing);
  }
  const bool has_config = listed.count("config.yaml") != 0;
  const bool has_state = listed.count("state.json") != 0;
  if (!has_config || !has_state) {
    return make_error(ErrorKind::kParse, "the backup lacks {}",
                      !has_config ? "config.yaml" : "state.json");
  }
  backup->files = std::move(files);
  return std::move(*backup);
}

Result<RestoreResult> restore_backup(const Backup& backup, const std::string& dir,
                                     const RestoreOptions& options) {
  if (options.server_running && !options.force) {
    return make_error(ErrorKind::kOther,
                      "a server is running on {}: stop it first (systemctl stop waypost-server), "
                      "or add --force to replace its state under it",
                      dir);
  }
  const bool existing = holds_server(dir);
  if (existing && !options.force) {
    return make_error(ErrorKind::kOther,
                      "{} already holds a server (config.yaml, state.json): restoring would "
                      "replace it; add --force (what is there now is kept as "
                      "{}.before-restore-<time>)",
                      dir, dir);
  }
  const fs::path target = fs::path(dir).lexically_normal();
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (auto st = mkdirs(parent); !st) return st.take_error();
  const fs::path tmp =
      parent / fmt::format(".{}.restore-{}", target.filename().string(), ::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (auto st = mkdirs(tmp); !st) return st.take_error();
  auto cleanup_tmp = [&] { fs::remove_all(tmp, ec); };
  for (const BackupFile& f : backup.files) {
    const fs::path p = tmp / f.path;
    if (auto st = mkdirs(p.parent_path()); !st) {
      cleanup_tmp();
      return st.take_error();
    }
    if (auto st = write_new_file(p, f.data, f.mode); !st) {
      cleanup_tmp();
      return st.take_error();
    }
  }
  // What was restored must load as a server before it replaces anything.
  if (auto c = load_config(tmp.string()); !c) {
    cleanup_tmp();
    return make_error(ErrorKind::kParse, "the backup's config.yaml does not load: {}",
                      c.error().message);
  }
  if (auto s = load_state(tmp.string()); !s) {
    cleanup_tmp();
    return make_error(ErrorKind::kParse, "the backup's state.json does not load: {}",
                      s.error().message);
  }
  RestoreResult result;
  if (fs::exists(target, ec)) {
    if (existing) {
      result.kept_as = target.string() + ".before-restore-" + stamp();
      fs::rename(target, result.kept_as, ec);
      if (ec) {
        cleanup_tmp();
        return make_error(ErrorKind::kIo, "cannot move {} aside: {}", dir, ec.message());
      }
    } else if (fs::is_directory(target, ec) && fs::is_empty(target, ec)) {
      fs::remove(target, ec);
    } else {
      // Never delete what is not a server's: --dir may point anywhere.
      cleanup_tmp();
      return make_error(ErrorKind::kOther,
                        "{} exists and is not empty but holds no server: restore into a new or "
                        "empty directory",
                        dir);
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    if (!result.kept_as.empty()) fs::rename(result.kept_as, target, ec);
    cleanup_tmp();
    return make_error(ErrorKind::kIo, "cannot move the restored directory into place: {}",
                      ec.message());
  }
  ::chmod(target.c_str(), 0700);
  return result;
}

}  // namespace waypost::server
