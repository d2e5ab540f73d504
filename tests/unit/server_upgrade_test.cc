// Format versions and upgrades: a config.yaml from before config_version gets the version and
// the IKEv2 keys (comments and every other line kept), after a backup; files newer than this
// Waypost are refused with a message that says so; an up-to-date directory is left alone.
#include "server/upgrade.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/atomic_file.h"
#include "server/backup.h"
#include "server/config.h"
#include "server/state.h"

namespace waypost::server {
namespace {

namespace fs = std::filesystem;

// A config.yaml as Waypost wrote it before config_version and IKEv2 (abridged).
const char* const kVersion1 =
    "# Waypost server configuration.\n"
    "# docs/SERVER-CONFIG.md describes every key.\n"
    "\n"
    "users:\n"
    "  - phone\n"
    "  - laptop\n"
    "\n"
    "wireguard_port: 51820   # my port\n"
    "wireguard_network_ipv6: \"fd12:3456:789a::/48\"\n"
    "endpoint: vpn.example.com\n";

class UpgradeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("waypost-upgrade-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write_dir(const std::string& config) {
    ASSERT_TRUE(write_file_atomic(config_path(dir_), config, 0600).ok());
    auto c = parse_server_config(config);
    ASSERT_TRUE(c.ok()) << c.error().message;
    ServerState s;
    ASSERT_TRUE(reconcile(s, *c, crypto::system_random(), 1'800'000'000).ok());
    ASSERT_TRUE(save_state(dir_, s).ok());
  }
  std::string dir_;
};

TEST(ConfigMigration, Version1GetsTheVersionAndTheIkev2KeysAndKeepsEverythingElse) {
  std::vector<std::string> changes;
  auto out = migrate_config_text(kVersion1, 1, changes);
  ASSERT_TRUE(out.ok()) << out.error().message;
  // The header stays on top; the version comes right after it.
  EXPECT_EQ(out->find("# Waypost server configuration.\n"), 0u);
  EXPECT_NE(out->find("\n\n# The format of this file"), std::string::npos) << *out;
  EXPECT_LT(out->find("config_version: 2\n"), out->find("users:"));
  EXPECT_NE(out->find("wireguard_port: 51820   # my port\n"), std::string::npos);
  EXPECT_NE(out->find("ipsec_enabled: true\n"), std::string::npos);
  EXPECT_NE(out->find("strongswan_network: 10.48.0.0/16\n"), std::string::npos);
  auto c = parse_server_config(*out);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->config_version, kConfigSchema);
  EXPECT_EQ(c->users, (std::vector<std::string>{"phone", "laptop"}));
  EXPECT_EQ(c->wireguard_network_ipv6.to_string(), "fd12:3456:789a::/48");
  // A random ULA, not the shared placeholder.
  EXPECT_NE(c->strongswan_network_ipv6.to_string(),
            ServerConfig().strongswan_network_ipv6.to_string());
  EXPECT_EQ(c->strongswan_network_ipv6.length, 48);
  EXPECT_EQ(c->strongswan_network_ipv6.address.bytes[0], 0xfd);
  EXPECT_EQ(changes.size(), 4u);

  // Keys already there are not written twice; an empty file works too.
  std::vector<std::string> more;
  auto again = migrate_config_text(std::string(kVersion1) + "ipsec_enabled: false\n", 1, more);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->find("ipsec_enabled: true"), std::string::npos);
  EXPECT_FALSE(parse_server_config(*again)->ipsec_enabled);
  std::vector<std::string> empty_changes;
  EXPECT_TRUE(migrate_config_text("", 1, empty_changes).ok());
}

TEST(ConfigMigration, NewerFilesAreRefusedWithAMessage) {
  auto c = parse_server_config("config_version: 99\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("newer than this Waypost understands"), std::string::npos)
      << c.error().message;
  EXPECT_NE(c.error().message.find("line 1"), std::string::npos);
  auto s = state_from_json(R"({"version": 99, "private_key": "x"})");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("newer than this Waypost understands"), std::string::npos);
  // What init writes is current.
  EXPECT_EQ(parse_server_config(render_server_config(ServerConfig()))->config_version,
            kConfigSchema);
  EXPECT_EQ(parse_server_config("users: [a]\n")->config_version, 1u);
}

TEST_F(UpgradeTest, PlanShowsAndApplyMigratesAfterABackup) {
  write_dir(kVersion1);
  auto plan = plan_upgrade(dir_);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_TRUE(plan->needed());
  EXPECT_EQ(plan->from.config, 1u);
  EXPECT_EQ(plan->to.config, kConfigSchema);
  EXPECT_EQ(*read_file(config_path(dir_)), kVersion1);  // planning changes nothing

  auto backup = apply_upgrade(dir_, *plan, "test");
  ASSERT_TRUE(backup.ok()) << backup.error().message;
  ASSERT_FALSE(backup->empty());
  auto archive = read_file(*backup, 64u << 20);
  ASSERT_TRUE(archive.ok());
  auto b =
      read_backup_archive({reinterpret_cast<const uint8_t*>(archive->data()), archive->size()});
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->config_schema, 1u);
  for (const auto& f : b->files) {
    if (f.path == "config.yaml") {
      EXPECT_EQ(f.data, kVersion1);
    }
  }
  auto after = plan_upgrade(dir_);
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->needed());
  EXPECT_TRUE(load_config(dir_).ok());
  // A second upgrade has nothing to do and writes no second backup.
  auto none = apply_upgrade(dir_, *after, "test");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(UpgradeTest, NewerDirectoryIsRefused) {
  write_dir(render_server_config(ServerConfig()));
  ASSERT_TRUE(write_file_atomic(config_path(dir_), "config_version: 7\nusers: [a]\n", 0600).ok());
  auto plan = plan_upgrade(dir_);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("config_version 7, newer"), std::string::npos)
      << plan.error().message;
}

}  // namespace
}  // namespace waypost::server
