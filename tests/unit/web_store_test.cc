// web.db: file mode, WAL, schema versioning, each table's operations, and the errors for a
// locked, damaged or newer database.
#include <sqlite3.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>

#include "web/store.h"
#include "web_test_dir.h"

namespace waypost::web {
namespace {

std::unique_ptr<Store> open_ok(const std::string& path) {
  auto s = Store::open(path, 100);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? std::move(*s) : nullptr;
}

AdminRecord admin(const std::string& name, Role role) {
  AdminRecord a;
  a.name = name;
  a.role = role;
  a.created = 1000;
  return a;
}

TEST(WebStore, CreatesAPrivateWalDatabaseAtTheCurrentSchema) {
  test::TempDir dir;
  const mode_t old_umask = umask(0);  // even a permissive umask gives 0600
  auto store = open_ok(dir.file("web.db"));
  umask(old_umask);
  ASSERT_TRUE(store);
  struct stat st {};
  ASSERT_EQ(stat(dir.file("web.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(store->schema_version().value(), kWebSchemaVersion);
  ASSERT_TRUE(store->add_admin(admin("alice", Role::kOwner)));
  // WAL mode keeps writes in web.db-wal until a checkpoint.
  EXPECT_TRUE(std::filesystem::exists(dir.file("web.db-wal")));
  ASSERT_EQ(stat(dir.file("web.db-wal").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(WebStore, TightensALooseExistingFile) {
  test::TempDir dir;
  { std::ofstream(dir.file("web.db")); }
  ASSERT_EQ(chmod(dir.file("web.db").c_str(), 0644), 0);
  ASSERT_TRUE(open_ok(dir.file("web.db")));
  struct stat st {};
  ASSERT_EQ(stat(dir.file("web.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(WebStore, ReopenKeepsData) {
  test::TempDir dir;
  {
    auto store = open_ok(dir.file("web.db"));
    ASSERT_TRUE(store->add_admin(admin("alice", Role::kOwner)));
  }
  auto store = open_ok(dir.file("web.db"));
  auto a = store->find_admin("alice");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->role, Role::kOwner);
  EXPECT_EQ((*a)->created, 1000);
  EXPECT_FALSE((*a)->set_up());
}

TEST(WebStore, SnapshotIsOneConsistentFileWithTheWalFoldedIn) {
  test::TempDir dir;
  auto store = open_ok(dir.file("web.db"));
  ASSERT_TRUE(store->add_admin(admin("alice", Role::kOwner)));  // still in web.db-wal
  auto bytes = snapshot_database(dir.file("web.db"));
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  EXPECT_TRUE(bytes->starts_with(std::string("SQLite format 3", 15) + '\0'));
  // Nothing left behind next to the database.
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".web-snapshot-")) << e.path();
    ++entries;
  }
  EXPECT_LE(entries, 3u);  // web.db, -wal, -shm
  // The copy opens on its own (no WAL file beside it) and holds alice.
  test::TempDir other;
  { std::ofstream(other.file("web.db"), std::ios::binary) << *bytes; }
  auto copy = open_ok(other.file("web.db"));
  ASSERT_TRUE(copy);
  auto a = copy->find_admin("alice");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_FALSE(snapshot_database(dir.file("nope.db")).ok());
}

TEST(WebStore, RefusesADatabaseFromANewerWaypost) {
  test::TempDir dir;
  ASSERT_TRUE(open_ok(dir.file("web.db")));
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir.file("web.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto s = Store::open(dir.file("web.db"), 100);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("newer Waypost (schema 99"), std::string::npos)
      << s.error().message;
}

TEST(WebStore, ADamagedFileSaysSo) {
  test::TempDir dir;
  {
    std::ofstream out(dir.file("web.db"), std::ios::binary);
    out << std::string(4096, 'x');
  }
  auto s = Store::open(dir.file("web.db"), 100);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("damaged or not an SQLite database"), std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("config.yaml are not affected"), std::string::npos);
}

TEST(WebStore, ALockedDatabaseSaysSo) {
  test::TempDir dir;
  auto store = open_ok(dir.file("web.db"));
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(dir.file("web.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto st = store->add_admin(admin("alice", Role::kOwner));
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("locked by another process"), std::string::npos)
      << st.error().message;
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  EXPECT_TRUE(store->add_admin(admin("alice", Role::kOwner)));
}

TEST(WebStore, Admins) {
  test::TempDir dir;
  auto store = open_ok(dir.file("web.db"));
  ASSERT_TRUE(store->add_admin(admin("bob", Role::kViewer)));
  ASSERT_TRUE(store->add_admin(admin("alice", Role::kOwner)));
  auto dup = store->add_admin(admin("alice", Role::kAdmin));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message, "there is already an admin named 'alice'");
  auto list = store->list_admins();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "alice");
  EXPECT_EQ((*list)[1].role, Role::kViewer);
  EXPECT_EQ(store->count_active_owners().value(), 1);
  ASSERT_TRUE(store->set_disabled("alice", true));
  EXPECT_EQ(store->count_active_owners().value(), 0);
  EXPECT_TRUE(store->find_admin("alice").value()->disabled);
  ASSERT_TRUE(store->set_credentials("bob", "$argon2id$...", "SECRET", {}));
  EXPECT_TRUE(store->find_admin("bob").value()->set_up());
  ASSERT_TRUE(store->set_totp_last_step("bob", 77));
  EXPECT_EQ(store->find_admin("bob").value()->totp_last_step, 77);
  ASSERT_TRUE(store->clear_credentials("bob"));
  EXPECT_FALSE(store->find_admin("bob").value()->set_up());
  EXPECT_TRUE(store->remove_admin("bob").value());
  EXPECT_FALSE(store->remove_admin("bob").value());
  EXPECT_FALSE(store->find_admin("bob").value().has_value());
}

TEST(WebStore, RecoveryCodesAreUsableOnce) {
  test::TempDir dir;
  auto store = open_ok(dir.file("web.db"));
  ASSERT_TRUE(store->add_admin(admin("alice", Role::kOwner)));
  std::vector<TokenHash> codes = {hash_token("a"), hash_token("b"), hash_token("c")};
  ASSERT_TRUE(store->set_credentials("alice", "h", "S", codes));
  EXPECT_EQ(store->recovery_codes_left("alice").value(), 3u);
  EXPECT_TRUE(store->consume_recovery_code("alice", hash_token("b")).value());
  EXPECT_FALSE(store->consume_recovery_code("alice", hash_token("b")).value());
  EXPECT_FALSE(store->consume_recovery_code("alice", hash_token("z")).value());
  EXPECT_FALSE(store->consume_recovery_code("nobody", hash_token("a")).value());
  EXPECT_EQ(store->recovery_codes_left("alice").value(), 2u);
  EXPECT_TRUE(store->consume_recovery_code("alice", hash_token("a")).value());
  EXPECT_TRUE(store->consume_recovery_code("alice", hash_token("c")).value());
  EXPECT_EQ(store->recovery_codes_left("alice").value(), 0u);
}

TEST(WebStore, SessionsAndTheirExpiry) {
  test::TempDir dir;
  auto store = open_ok(dir.file("web.db"));
  ASSERT_TRUE(store->add_admin(admin("alice", Role::kOwner)));
  SessionRecord s{hash_token("t1"), "alice", "csrf1", 100, 200, 100};
  ASSERT_TRUE(store->add_session(s));
  ASSERT_TRUE(store->add_session({hash_token("t2"), "alice", "csrf2", 100, 1000, 100}));
  auto found = store->find_session(hash_token("t1"));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->csrf, "csrf1");
  EXPECT_FALSE(store->find_session(hash_token("t3")).value().has_value());
  ASSERT_TRUE(store->touch_session(hash_token("t2"), 150));
  // At 200, t1 is past its absolute expiry; t2 was seen at 150, after the idle cutoff of 120.
  ASSERT_TRUE(store->delete_expired_sessions(200, 120));
  EXPECT_FALSE(store->find_session(hash_token("t1")).value().has_value());
  EXPECT_TRUE(store->find_session(hash_token("t2")).value().has_value());
  ASSERT_TRUE(store->delete_sessions_of("alice"));
  EXPECT_FALSE(store->find_session(hash_token("t2")).value().has_value());
}

TEST(WebStore, ApiTokens) {
  test::TempDir dir;
  auto store = open_ok(dir.file("web.db"));
  ASSERT_TRUE(store->add_admin(admin("alice", Role::kOwner)));
  ASSERT_TRUE(store->add_admin(admin("bob", Role::kAdmin)));
  ApiTokenRecord t;
  t.token_hash = hash_token("secret");
  t.admin = "alice";
  t.label = "home assistant";
  t.created = 5;
  auto id = store->add_api_token(t);
  ASSERT_TRUE(id.ok());
  auto found = store->find_api_token(hash_token("secret"));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, *id);
  EXPECT_EQ((*found)->label, "home assistant");
  EXPECT_EQ((*found)->revoked, 0);
  EXPECT_FALSE(store->revoke_api_token("bob", *id, 9).value());  // not bob's
  EXPECT_TRUE(store->revoke_api_token("alice", *id, 9).value());
  EXPECT_FALSE(store->revoke_api_token("alice", *id, 10).value());  // already revoked
  EXPECT_EQ(store->find_api_token(hash_token("secret")).value()->revoked, 9);
  EXPECT_EQ(store->list_api_tokens("alice").value().size(), 1u);
  // Removing an admin removes their tokens, sessions and links with them.
  ASSERT_TRUE(store->add_setup_link({hash_token("link"), "alice", 100, false}));
  ASSERT_TRUE(store->remove_admin("alice").value());
  EXPECT_FALSE(store->find_api_token(hash_token("secret")).value().has_value());
  EXPECT_FALSE(store->find_setup_link(hash_token("link")).value().has_value());
}

TEST(WebStore, SetupLinksAreSingleUse) {
  test::TempDir dir;
  auto store = open_ok(dir.file("web.db"));
  ASSERT_TRUE(store->add_admin(admin("alice", Role::kOwner)));
  ASSERT_TRUE(store->add_setup_link({hash_token("link"), "alice", 100, false}));
  auto l = store->find_setup_link(hash_token("link"));
  ASSERT_TRUE(l.ok() && l->has_value());
  EXPECT_EQ((*l)->admin, "alice");
  EXPECT_FALSE((*l)->used);
  EXPECT_TRUE(store->use_setup_link(hash_token("link")).value());
  EXPECT_FALSE(store->use_setup_link(hash_token("link")).value());
  EXPECT_TRUE(store->find_setup_link(hash_token("link")).value()->used);
  ASSERT_TRUE(store->delete_setup_links_of("alice"));
  EXPECT_FALSE(store->find_setup_link(hash_token("link")).value().has_value());
}

TEST(WebStore, AuditLogNewestFirst) {
  test::TempDir dir;
  auto store = open_ok(dir.file("web.db"));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store->add_audit({i, "alice", "act" + std::to_string(i), "t", "d"}));
  }
  auto log = store->audit_log(3);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 3u);
  EXPECT_EQ((*log)[0].action, "act4");
  EXPECT_EQ((*log)[2].action, "act2");
}

TEST(WebStore, TransactionRollsBackOnError) {
  test::TempDir dir;
  auto store = open_ok(dir.file("web.db"));
  auto st = store->transaction([&]() -> Status {
    if (auto s = store->add_admin(admin("alice", Role::kOwner)); !s) return s;
    return make_error("stop");
  });
  ASSERT_FALSE(st);
  EXPECT_FALSE(store->find_admin("alice").value().has_value());
}

}  // namespace
}  // namespace waypost::web
