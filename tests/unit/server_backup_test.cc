// Backup archives: a round trip keeps every file, mode and byte; damaged, truncated, partial or
// hostile archives are refused with the reason and write nothing; restore never replaces an
// existing server without force, and keeps what it replaced.
#include "server/backup.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/atomic_file.h"
#include "server/backup_archive.h"
#include "server/config.h"
#include "server/state.h"

namespace waypost::server {
namespace {

namespace fs = std::filesystem;

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = (fs::temp_directory_path() /
             ("waypost-backup-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                .string();
    fs::remove_all(root_);
    fs::create_directories(root_ + "/srv/pki/users");
    dir_ = root_ + "/srv";
    ServerConfig c;
    c.endpoint = "vpn.example.com";
    c.users = {"phone"};
    write(dir_ + "/config.yaml", render_server_config(c), 0600);
    ServerState s;
    auto r = reconcile(s, c, crypto::system_random(), 1'800'000'000);
    ASSERT_TRUE(r.ok());
    write(dir_ + "/state.json", state_to_json(s), 0600);
    write(dir_ + "/pki/ca.key", "not really a key\n", 0600);
    write(dir_ + "/pki/users/phone.pem", "a certificate\n", 0644);
    write(dir_ + "/.lock", "", 0600);
    fs::create_directories(dir_ + "/backups");
    write(dir_ + "/backups/old.tar.zst", "older backup", 0600);
  }
  void TearDown() override { fs::remove_all(root_); }

  static void write(const std::string& path, const std::string& data, mode_t mode) {
    ASSERT_TRUE(write_file_atomic(path, data, mode).ok()) << path;
  }
  static mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0777;
  }
  std::string archive() {
    auto b = collect_backup(dir_, "9.9.9");
    EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().message);
    auto a = write_backup_archive(*b);
    EXPECT_TRUE(a.ok());
    return a.ok() ? *a : std::string();
  }
  static Result<Backup> read(const std::string& a) {
    return read_backup_archive({reinterpret_cast<const uint8_t*>(a.data()), a.size()});
  }
  static std::string error_of(const std::string& a) {
    auto b = read(a);
    EXPECT_FALSE(b.ok());
    return b.ok() ? std::string() : b.error().message;
  }

  std::string root_;
  std::string dir_;
};

TEST_F(BackupTest, RoundTripKeepsFilesModesAndBytes) {
  const std::string a = archive();
  auto b = read(a);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->waypost_version, "9.9.9");
  EXPECT_EQ(b->config_schema, kConfigSchema);
  EXPECT_EQ(b->state_schema, kStateSchema);
  std::vector<std::string> paths;
  for (const auto& f : b->files) paths.push_back(f.path);
  // No lock file, no earlier backups.
  EXPECT_EQ(paths, (std::vector<std::string>{"config.yaml", "pki/ca.key", "pki/users/phone.pem",
                                             "state.json"}));

  const std::string target = root_ + "/restored";
  auto r = restore_backup(*b, target, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->kept_as.empty());
  for (const auto& p : paths) {
    const std::string restored = (fs::path(target) / p).string();
    const std::string original = (fs::path(dir_) / p).string();
    EXPECT_EQ(*read_file(restored), *read_file(original)) << p;
    EXPECT_EQ(mode_of(restored), mode_of(original)) << p;
  }
  EXPECT_EQ(mode_of(target), 0700u);
}

TEST_F(BackupTest, ExistingServerNeedsForceAndIsKept) {
  auto b = read(archive());
  ASSERT_TRUE(b.ok());
  auto refused = restore_backup(*b, dir_, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("--force"), std::string::npos);

  RestoreOptions running;
  running.server_running = true;
  auto refused_running = restore_backup(*b, dir_, running);
  ASSERT_FALSE(refused_running.ok());
  EXPECT_NE(refused_running.error().message.find("running"), std::string::npos);

  write(dir_ + "/config.yaml", "users: [other]\n", 0600);  // what is there now differs
  RestoreOptions force;
  force.force = true;
  auto r = restore_backup(*b, dir_, force);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_FALSE(r->kept_as.empty());
  EXPECT_EQ(*read_file(r->kept_as + "/config.yaml"), "users: [other]\n");
  EXPECT_NE(read_file(dir_ + "/config.yaml")->find("- phone"), std::string::npos);
}

TEST_F(BackupTest, NeverReplacesADirectoryThatIsNotAServer) {
  auto b = read(archive());
  ASSERT_TRUE(b.ok());
  const std::string other = root_ + "/other";
  fs::create_directories(other);
  write(other + "/precious.txt", "keep me", 0600);
  RestoreOptions force;
  force.force = true;
  auto r = restore_backup(*b, other, force);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("holds no server"), std::string::npos);
  EXPECT_EQ(*read_file(other + "/precious.txt"), "keep me");
}

TEST_F(BackupTest, DamagedOrTruncatedArchivesAreRefused) {
  const std::string a = archive();
  EXPECT_NE(error_of(a.substr(0, a.size() / 2)).find("archive"), std::string::npos);
  std::string flipped = a;
  flipped[flipped.size() / 2] = char(flipped[flipped.size() / 2] ^ 0x55);
  EXPECT_FALSE(read(flipped).ok());
  EXPECT_NE(error_of("hello, world").find("archive"), std::string::npos);
  EXPECT_NE(error_of("").find("archive"), std::string::npos);
}

TEST_F(BackupTest, ChecksumPartialAndStrayMembersAreNamed) {
  auto b = collect_backup(dir_, "1");
  ASSERT_TRUE(b.ok());
  // A file changed after the manifest was written.
  std::vector<ArchiveMember> members;
  auto good = write_backup_archive(*b);
  ASSERT_TRUE(good.ok());
  ASSERT_TRUE(read_tar_zst({reinterpret_cast<const uint8_t*>(good->data()), good->size()},
                           kBackupMaxBytes,
                           [&](const ArchiveMember& m) -> Status {
                             members.push_back(m);
                             return {};
                           })
                  .ok());
  ASSERT_EQ(members.front().name, "manifest.json");

  auto damaged = members;
  damaged[1].data += "x";
  EXPECT_NE(error_of(*write_tar_zst(damaged)).find("damaged"), std::string::npos);

  auto partial = members;
  partial.pop_back();
  EXPECT_NE(error_of(*write_tar_zst(partial)).find("partial archive"), std::string::npos);

  auto stray = members;
  stray.push_back({"server/extra", 0600, "x"});
  EXPECT_NE(error_of(*write_tar_zst(stray)).find("not in its manifest"), std::string::npos);

  auto outside = members;
  outside.push_back({"../../etc/passwd", 0600, "x"});
  EXPECT_FALSE(read(*write_tar_zst(outside)).ok());

  auto no_manifest = members;
  no_manifest.erase(no_manifest.begin());
  EXPECT_NE(error_of(*write_tar_zst(no_manifest)).find("manifest.json"), std::string::npos);

  auto newer = members;
  newer[0].data.replace(newer[0].data.find("\"format_version\": 1"), 19, "\"format_version\": 7");
  EXPECT_NE(error_of(*write_tar_zst(newer)).find("newer Waypost"), std::string::npos);
}

TEST_F(BackupTest, ABackupWhoseConfigDoesNotLoadIsRefusedBeforeAnythingChanges) {
  write(dir_ + "/config.yaml", "wireguard_port: nope\n", 0600);
  auto b = read(archive());
  ASSERT_TRUE(b.ok());
  auto r = restore_backup(*b, root_ + "/fresh", {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("config.yaml does not load"), std::string::npos);
  EXPECT_FALSE(fs::exists(root_ + "/fresh"));
}

TEST(BackupPaths, SafeRelativePaths) {
  EXPECT_TRUE(safe_relative_path("config.yaml"));
  EXPECT_TRUE(safe_relative_path("configs/vpn.example.com/wireguard/phone.conf"));
  EXPECT_FALSE(safe_relative_path(""));
  EXPECT_FALSE(safe_relative_path("/etc/passwd"));
  EXPECT_FALSE(safe_relative_path("../x"));
  EXPECT_FALSE(safe_relative_path("a/../../x"));
  EXPECT_FALSE(safe_relative_path("a//b"));
  EXPECT_FALSE(safe_relative_path("a/./b"));
  EXPECT_FALSE(safe_relative_path("a/"));
  EXPECT_FALSE(safe_relative_path(std::string("a\nb")));
}

}  // namespace
}  // namespace waypost::server
