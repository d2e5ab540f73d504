// The sign-in token buckets and the roles table.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "web/rate_limit.h"
#include "web/roles.h"

namespace waypost::web {
namespace {

TEST(WebRateLimit, BurstThenOnePerInterval) {
  ManualClock clock;
  RateLimiter limiter(clock, BucketPolicy{3, seconds(10), 100});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.take("a").allowed) << i;
  auto refused = limiter.take("a");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, seconds(10));
  clock.advance(seconds(4));
  refused = limiter.take("a");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, seconds(6));
  clock.advance(seconds(6));
  EXPECT_TRUE(limiter.take("a").allowed);
  EXPECT_FALSE(limiter.take("a").allowed);
  // Other keys have their own buckets.
  EXPECT_TRUE(limiter.take("b").allowed);
}

TEST(WebRateLimit, RefusedAttemptsDoNotPushTheWaitFurther) {
  ManualClock clock;
  RateLimiter limiter(clock, BucketPolicy{1, seconds(5), 100});
  EXPECT_TRUE(limiter.take("k").allowed);
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(limiter.take("k").allowed);
  clock.advance(seconds(5));
  EXPECT_TRUE(limiter.would_allow("k"));
  EXPECT_TRUE(limiter.take("k").allowed);
}

TEST(WebRateLimit, RefillsCompletelyAfterBurstIntervals) {
  ManualClock clock;
  RateLimiter limiter(clock, BucketPolicy{4, seconds(1), 100});
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(limiter.take("k").allowed);
  clock.advance(seconds(100));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.take("k").allowed) << i;
  EXPECT_FALSE(limiter.take("k").allowed);
}

TEST(WebRateLimit, TableStaysBounded) {
  ManualClock clock;
  RateLimiter limiter(clock, BucketPolicy{2, seconds(60), 8});
  for (int i = 0; i < 100; ++i) limiter.take("addr" + std::to_string(i));
  EXPECT_LE(limiter.keys(), 8u);
  // Full buckets are dropped first: after a refill the table empties out for new keys.
  clock.advance(seconds(3600));
  limiter.take("new");
  EXPECT_EQ(limiter.keys(), 1u);
}

TEST(WebRateLimit, AddressKeys) {
  EXPECT_EQ(address_key("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(address_key("2001:db8:1:2::1"), address_key("2001:db8:1:2:ffff::9"));
  EXPECT_NE(address_key("2001:db8:1:2::1"), address_key("2001:db8:1:3::1"));
  EXPECT_EQ(address_key("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(address_key("not an address"), "not an address");
}

TEST(WebRoles, PolicyTable) {
  for (Role r : {Role::kOwner, Role::kAdmin, Role::kViewer}) {
    EXPECT_TRUE(may(r, Action::kView));
    EXPECT_TRUE(may(r, Action::kManageOwnTokens));
    EXPECT_EQ(parse_role(to_string(r)), r);
  }
  EXPECT_TRUE(may(Role::kOwner, Action::kChangeUsers));
  EXPECT_TRUE(may(Role::kAdmin, Action::kChangeUsers));
  EXPECT_FALSE(may(Role::kViewer, Action::kChangeUsers));
  EXPECT_TRUE(may(Role::kAdmin, Action::kViewAudit));
  EXPECT_FALSE(may(Role::kViewer, Action::kViewAudit));
  EXPECT_TRUE(may(Role::kOwner, Action::kManageAdmins));
  EXPECT_FALSE(may(Role::kAdmin, Action::kManageAdmins));
  EXPECT_FALSE(may(Role::kViewer, Action::kManageAdmins));
  EXPECT_FALSE(parse_role("Owner"));
  EXPECT_FALSE(parse_role("root"));
}

}  // namespace
}  // namespace waypost::web
