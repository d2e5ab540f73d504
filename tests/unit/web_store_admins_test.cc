// web.db for the admins page: schema 3 (admins.last_login, filled from the audit log when an
// older file is migrated), role changes, and the audit log a page at a time.
#include <sqlite3.h>

#include <gtest/gtest.h>

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

void exec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

TEST(WebStoreAdmins, ASchema1FileGetsLastLoginFromItsAuditLog) {
  test::TempDir dir;
  const std::string path = dir.file("web.db");
  {
    auto store = open_ok(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->add_admin(admin("alice", Role::kOwner)));
    ASSERT_TRUE(store->add_admin(admin("bob", Role::kAdmin)));
    ASSERT_TRUE(store->add_audit({2000, "alice", "login", "alice", ""}));
    ASSERT_TRUE(store->add_audit({3000, "alice", "login", "alice", ""}));
    ASSERT_TRUE(store->add_audit({4000, "bob", "login.failed", "", "wrong password"}));
  }
  // Back to what schema 1 wrote: no last_login column, user_version 1.
  exec(path,
       "ALTER TABLE admins DROP COLUMN last_login; DROP TABLE user_settings; "
       "DROP TABLE user_links; DROP TABLE traffic; PRAGMA user_version = 1;");
  auto store = open_ok(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->schema_version().value(), kWebSchemaVersion);
  auto alice = store->find_admin("alice");
  ASSERT_TRUE(alice.ok() && alice->has_value());
  EXPECT_EQ((*alice)->last_login, 3000);
  EXPECT_EQ((*store->find_admin("bob"))->last_login, 0);  // a failed sign-in is none
}

TEST(WebStoreAdmins, RolesAndLastLogin) {
  test::TempDir dir;
  auto store = open_ok(dir.file("web.db"));
  ASSERT_TRUE(store->add_admin(admin("bob", Role::kViewer)));
  ASSERT_TRUE(store->set_role("bob", Role::kOwner));
  ASSERT_TRUE(store->set_last_login("bob", 1234));
  auto bob = store->find_admin("bob");
  EXPECT_EQ((*bob)->role, Role::kOwner);
  EXPECT_EQ((*bob)->last_login, 1234);
  EXPECT_EQ(store->count_active_owners().value(), 1);
  auto dup = store->add_admin(admin("bob", Role::kAdmin));
  ASSERT_FALSE(dup);
  EXPECT_TRUE(dup.error().is(ErrorKind::kParse));
  EXPECT_EQ(dup.error().code, EEXIST);
}

TEST(WebStoreAdmins, AuditPages) {
  test::TempDir dir;
  auto store = open_ok(dir.file("web.db"));
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(store->add_audit({100, "alice", "user.add", "u" + std::to_string(i), ""}));
  }
  auto first = store->audit_page(3, 0);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 3u);
  EXPECT_EQ((*first)[0].target, "u6");
  EXPECT_EQ((*first)[0].id, 7);
  auto second = store->audit_page(3, first->back().id);
  ASSERT_EQ(second->size(), 3u);
  EXPECT_EQ((*second)[0].target, "u3");
  auto last = store->audit_page(3, second->back().id);
  ASSERT_EQ(last->size(), 1u);
  EXPECT_EQ((*last)[0].target, "u0");
  EXPECT_TRUE(store->audit_page(3, 1)->empty());
  EXPECT_EQ(store->audit_log(100)->size(), 7u);
}

}  // namespace
}  // namespace waypost::web
