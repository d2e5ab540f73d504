// The traffic history and the limits: UTC buckets, web.db's roll-ups and pruning, one-time links
// in the store, expiry and quota decisions, and the accountant's counter arithmetic.
#include <gtest/gtest.h>

#include "web/accountant.h"
#include "web/store.h"
#include "web/traffic_periods.h"
#include "web/user_limits.h"
#include "web_fake_users.h"
#include "web_test_dir.h"

namespace waypost::web {
namespace {

// 2026-12-31 23:59:30 UTC, half a minute before a new month, day, hour and year.
constexpr int64_t kNewYearsEve = 1798761570;
constexpr int64_t kJan1 = 1798761600;  // 2027-01-01 00:00:00 UTC
constexpr int64_t kDec1 = 1796083200;  // 2026-12-01 00:00:00 UTC

class WebTraffic : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir_.file("web.db"), 100);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }
  int64_t month_total(const std::string& user, int64_t month_start) {
    auto t = store_->month_totals(month_start);
    EXPECT_TRUE(t.ok());
    return t->count(user) ? t->at(user) : 0;
  }
  test::TempDir dir_;
  std::unique_ptr<Store> store_;
  FakeUsers users_;
};

TEST(WebTrafficPeriods, UtcBucketsAcrossTheNewYear) {
  EXPECT_EQ(period_start(TrafficPeriod::kMinute, kNewYearsEve), kJan1 - 60);
  EXPECT_EQ(period_start(TrafficPeriod::kHour, kNewYearsEve), kJan1 - 3600);
  EXPECT_EQ(period_start(TrafficPeriod::kDay, kNewYearsEve), kJan1 - 86400);
  EXPECT_EQ(period_start(TrafficPeriod::kMonth, kNewYearsEve), kDec1);
  EXPECT_EQ(next_period_start(TrafficPeriod::kMonth, kNewYearsEve), kJan1);
  EXPECT_EQ(next_period_start(TrafficPeriod::kMinute, kNewYearsEve), kJan1);
  EXPECT_EQ(period_start(TrafficPeriod::kMonth, kJan1), kJan1);
  // Twelve months back from January 2027 is January 2026.
  EXPECT_EQ(periods_back(TrafficPeriod::kMonth, kJan1, 12), 1767225600);
  EXPECT_EQ(periods_back(TrafficPeriod::kMonth, kJan1, 1), kDec1);
  EXPECT_EQ(periods_back(TrafficPeriod::kHour, kJan1 + 10, 2), kJan1 - 7200);
  EXPECT_EQ(parse_traffic_period("day"), TrafficPeriod::kDay);
  EXPECT_FALSE(parse_traffic_period("week").has_value());
}

TEST_F(WebTraffic, SamplesRollUpIntoEveryPeriod) {
  ASSERT_TRUE(store_->add_traffic("phone", kNewYearsEve - 60, 100, 10).ok());
  ASSERT_TRUE(store_->add_traffic("phone", kNewYearsEve, 200, 20).ok());
  ASSERT_TRUE(store_->add_traffic("phone", kJan1 + 5, 1000, 0).ok());
  ASSERT_TRUE(store_->add_traffic("phone", kJan1 + 10, 0, 0).ok());  // nothing written
  auto minutes = store_->traffic("phone", TrafficPeriod::kMinute, 0);
  ASSERT_TRUE(minutes.ok());
  ASSERT_EQ(minutes->size(), 3u);
  auto months = store_->traffic("phone", TrafficPeriod::kMonth, 0);
  ASSERT_EQ(months->size(), 2u);
  EXPECT_EQ((*months)[0].start, kDec1);
  EXPECT_EQ((*months)[0].rx, 300);
  EXPECT_EQ((*months)[0].tx, 30);
  EXPECT_EQ((*months)[1].rx, 1000);
  EXPECT_EQ(month_total("phone", kDec1), 330);
  EXPECT_EQ(month_total("phone", kJan1), 1000);
  auto days = store_->traffic("phone", TrafficPeriod::kDay, kJan1);
  ASSERT_EQ(days->size(), 1u);
}

TEST_F(WebTraffic, PruneKeepsRollUpsAndDropsOldDetail) {
  const int64_t old = kJan1 - 100 * 86400;
  ASSERT_TRUE(store_->add_traffic("phone", old, 5, 5).ok());
  ASSERT_TRUE(store_->add_traffic("phone", kJan1, 7, 7).ok());
  ASSERT_TRUE(store_->prune(kJan1 + 60).ok());
  EXPECT_EQ(store_->traffic("phone", TrafficPeriod::kMinute, 0)->size(), 1u);
  EXPECT_EQ(store_->traffic("phone", TrafficPeriod::kHour, 0)->size(), 1u);
  EXPECT_EQ(store_->traffic("phone", TrafficPeriod::kDay, 0)->size(), 2u);
  EXPECT_EQ(store_->traffic("phone", TrafficPeriod::kMonth, 0)->size(), 2u);
}

TEST_F(WebTraffic, AYearOfBusyMinutesStaysSmall) {
  // Every minute of two days, then every hour of a year: the pruned database stays small.
  int64_t t = kJan1;
  for (int i = 0; i < 2 * 1440; ++i, t += 60) ASSERT_TRUE(store_->add_traffic("u", t, 1, 1).ok());
  for (int i = 0; i < 365 * 24; ++i, t += 3600) {
    ASSERT_TRUE(store_->add_traffic("u", t, 1, 1).ok());
    if (i % 24 == 0) {
      ASSERT_TRUE(store_->prune(t).ok());
    }
  }
  auto rows = [&](TrafficPeriod p) { return store_->traffic("u", p, 0)->size(); };
  EXPECT_LE(rows(TrafficPeriod::kMinute), 2u * 1440 + 1);
  EXPECT_LE(rows(TrafficPeriod::kHour), 90u * 24 + 24);
  EXPECT_LE(rows(TrafficPeriod::kDay), 370u);
  EXPECT_LE(rows(TrafficPeriod::kMonth), 14u);
}

TEST_F(WebTraffic, SettingsRenameAndDelete) {
  UserSettings s;
  s.name = "phone";
  s.note = "Ann's phone";
  s.expires = kJan1;
  s.monthly_quota = 5'000'000'000;
  ASSERT_TRUE(store_->put_user_settings(s).ok());
  ASSERT_TRUE(store_->add_traffic("phone", kJan1, 1, 2).ok());
  EXPECT_EQ(store_->user_settings("phone")->note, "Ann's phone");
  EXPECT_EQ(store_->user_settings("nobody")->expires, 0);  // defaults

  ASSERT_TRUE(store_->rename_user_data("phone", "ann").ok());
  EXPECT_EQ(store_->user_settings("ann")->monthly_quota, 5'000'000'000);
  EXPECT_EQ(store_->user_settings("phone")->note, "");
  EXPECT_EQ(month_total("ann", kJan1), 3);

  ASSERT_TRUE(store_->delete_user_data("ann").ok());
  EXPECT_TRUE(store_->all_user_settings()->empty());
  EXPECT_EQ(month_total("ann", kJan1), 0);
}

TEST_F(WebTraffic, OneTimeLinkWorksOnceAndNotAfterExpiry) {
  UserLinkRecord link;
  link.token_hash = hash_token("00112233445566778899aabbccddeeff");
  link.user = "phone";
  link.created_by = "alice";
  link.created = 1000;
  link.expires = 1000 + 86400;
  ASSERT_TRUE(store_->add_user_link(link).ok());
  auto first = store_->use_user_link(link.token_hash, 2000);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->user, "phone");
  EXPECT_FALSE(store_->use_user_link(link.token_hash, 2001)->has_value());

  link.token_hash = hash_token("ffeeddccbbaa99887766554433221100");
  ASSERT_TRUE(store_->add_user_link(link).ok());
  EXPECT_FALSE(store_->use_user_link(link.token_hash, link.expires)->has_value());
  EXPECT_FALSE(store_->use_user_link(hash_token("nope"), 2000)->has_value());
}

TEST(WebLimits, ExpiryAndQuotaDecisions) {
  std::vector<UserView> users(4);
  users[0].name = "a";  // expired, enabled
  users[1].name = "b";  // over quota, enabled
  users[2].name = "c";  // off by the server for quota, new month
  users[2].enabled = false;
  users[3].name = "d";  // off by an admin, past its expiry too: stays as it is
  users[3].enabled = false;
  std::map<std::string, UserSettings> settings;
  settings["a"] = {"a", "", 100, 0, AutoDisable::kNone, 0};
  settings["b"] = {"b", "", 0, 1000, AutoDisable::kNone, 0};
  settings["c"] = {"c", "", 0, 1000, AutoDisable::kQuota, 50};
  settings["d"] = {"d", "", 100, 0, AutoDisable::kNone, 0};
  const std::map<std::string, int64_t> used = {{"b", 1000}, {"c", 10}};
  auto changes = limit_changes(users, settings, used, 200);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].name, "a");
  EXPECT_FALSE(changes[0].enable);
  EXPECT_EQ(changes[0].reason, AutoDisable::kExpired);
  EXPECT_EQ(changes[1].name, "b");
  EXPECT_EQ(changes[1].reason, AutoDisable::kQuota);
  EXPECT_EQ(changes[2].name, "c");
  EXPECT_TRUE(changes[2].enable);
  // Before the expiry, nothing happens to a.
  EXPECT_TRUE(limit_changes({users[0]}, settings, used, 99).empty());
}

TEST(WebLimits, ReasonsAsThePageShowsThem) {
  UserSettings s;
  s.expires = kJan1;
  s.auto_disabled = AutoDisable::kExpired;
  EXPECT_EQ(disabled_reason(s, 0), "expired on 2027-01-01 00:00 UTC");
  s.auto_disabled = AutoDisable::kQuota;
  s.monthly_quota = 10'000'000'000;
  s.auto_disabled_at = kNewYearsEve;
  EXPECT_EQ(disabled_reason(s, 10'200'000'000),
            "monthly quota used up: 10.2 GB of 10.0 GB (on again on 2027-01-01)");
  s.auto_disabled = AutoDisable::kNone;
  EXPECT_EQ(disabled_reason(s, 0), "disabled by an admin");
  EXPECT_EQ(format_bytes(999), "999 B");
  EXPECT_EQ(format_bytes(1'500'000), "1.5 MB");
}

TEST_F(WebTraffic, AccountantCountsDeltasAndRestartedCounters) {
  Accountant accountant(*store_, users_);
  users_.set_counters("phone", 1000, 100);
  users_.set_counters("laptop", 5, 5, /*live=*/false);  // the server did not report it
  ASSERT_TRUE(accountant.tick(kJan1).ok());
  users_.set_counters("phone", 1500, 300);
  ASSERT_TRUE(accountant.tick(kJan1 + 60).ok());
  users_.set_counters("phone", 40, 2);  // the peer was re-added: counters restarted
  ASSERT_TRUE(accountant.tick(kJan1 + 120).ok());
  EXPECT_EQ(month_total("phone", kJan1), 1500 + 300 + 40 + 2);
  EXPECT_EQ(month_total("laptop", kJan1), 0);
  auto minutes = store_->traffic("phone", TrafficPeriod::kMinute, 0);
  ASSERT_EQ(minutes->size(), 3u);
  EXPECT_EQ((*minutes)[1].rx, 500);
  EXPECT_EQ((*minutes)[1].tx, 200);
}

TEST_F(WebTraffic, AccountantCountsEachSourceOnItsOwn) {
  // A user on WireGuard and on two IKEv2 devices. When the laptop's IKE SA goes, the sum drops,
  // which is not a restart: the phone's bytes must not count again. A CHILD SA rekey is a new
  // source from zero.
  Accountant accountant(*store_, users_);
  users_.set_sources("phone", {{"wg", 100, 10}, {"esp:c1", 5000, 500}, {"esp:c2", 1000, 100}});
  ASSERT_TRUE(accountant.tick(kJan1).ok());
  EXPECT_EQ(month_total("phone", kJan1), 6100 + 610);
  users_.set_sources("phone", {{"wg", 150, 20}, {"esp:c1", 5200, 520}});  // c2 ended
  ASSERT_TRUE(accountant.tick(kJan1 + 60).ok());
  EXPECT_EQ(month_total("phone", kJan1), 6100 + 610 + 50 + 10 + 200 + 20);
  users_.set_sources("phone", {{"wg", 150, 20}, {"esp:c3", 30, 3}});  // c1 rekeyed into c3
  ASSERT_TRUE(accountant.tick(kJan1 + 120).ok());
  EXPECT_EQ(month_total("phone", kJan1), 6100 + 610 + 50 + 10 + 200 + 20 + 30 + 3);
}

TEST_F(WebTraffic, AccountantTurnsOffOverQuotaAndOnInANewMonth) {
  UserSettings s;
  s.name = "phone";
  s.monthly_quota = 1000;
  ASSERT_TRUE(store_->put_user_settings(s).ok());
  Accountant accountant(*store_, users_);
  users_.set_counters("phone", 600, 500);
  ASSERT_TRUE(accountant.tick(kNewYearsEve).ok());
  auto list = users_.list();
  EXPECT_FALSE((*list)[0].enabled);
  EXPECT_EQ(store_->user_settings("phone")->auto_disabled, AutoDisable::kQuota);
  auto audit = store_->audit_log(10);
  ASSERT_FALSE(audit->empty());
  EXPECT_EQ((*audit)[0].admin, kServerActor);
  EXPECT_EQ((*audit)[0].action, "user.disable");
  EXPECT_NE((*audit)[0].detail.find("monthly quota used up"), std::string::npos);

  users_.set_counters("phone", 0, 0, /*live=*/false);  // disabled: no peer, no counters
  ASSERT_TRUE(accountant.tick(kJan1 + 30).ok());
  EXPECT_TRUE((*users_.list())[0].enabled);
  EXPECT_EQ(store_->user_settings("phone")->auto_disabled, AutoDisable::kNone);
}

TEST_F(WebTraffic, SchemaOneDatabasesAreMigrated) {
  // A database as the first release wrote it opens as the current schema with its data.
  store_.reset();
  const std::string path = dir_.file("old.db");
  {
    auto s = Store::open(path, 100);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->add_audit({1, "cli", "admin.add", "alice", ""}).ok());
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "DROP TABLE user_settings; DROP TABLE user_links; DROP TABLE traffic; "
                           "ALTER TABLE admins DROP COLUMN last_login; PRAGMA user_version = 1;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto s = Store::open(path, 100);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ((*s)->schema_version().value(), kWebSchemaVersion);
  EXPECT_EQ((*s)->audit_log(10)->size(), 1u);
  EXPECT_TRUE((*s)->add_traffic("u", 100, 1, 1).ok());
}

}  // namespace
}  // namespace waypost::web
