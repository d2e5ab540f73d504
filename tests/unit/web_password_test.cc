// Argon2id password hashes through libargon2.
#include <gtest/gtest.h>

#include "crypto/random.h"
#include "web/password.h"

namespace waypost::web {
namespace {

TEST(WebPassword, HashVerifies) {
  crypto::SeededRandom random(1);
  auto h = hash_password("correct horse battery", random, kTestPasswordParams);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_TRUE(h->starts_with("$argon2id$v=19$m=8,t=1,p=1$")) << *h;
  EXPECT_TRUE(verify_password("correct horse battery", *h));
  EXPECT_FALSE(verify_password("correct horse batterx", *h));
  EXPECT_FALSE(verify_password("", *h));
}

TEST(WebPassword, SaltedSoSamePasswordsDiffer) {
  crypto::SeededRandom random(2);
  auto a = hash_password("same password here", random, kTestPasswordParams);
  auto b = hash_password("same password here", random, kTestPasswordParams);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(WebPassword, DefaultParametersAreRfc9106SecondOption) {
  crypto::SeededRandom random(3);
  auto h = hash_password("a password for the defaults", random);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->starts_with("$argon2id$v=19$m=65536,t=3,p=1$")) << *h;
  EXPECT_TRUE(verify_password("a password for the defaults", *h));
}

TEST(WebPassword, MalformedOrEmptyHashNeverMatches) {
  EXPECT_FALSE(verify_password("x", ""));
  EXPECT_FALSE(verify_password("x", "$argon2id$v=19$m=8,t=1,p=1$garbage"));
  EXPECT_FALSE(verify_password("x", "plaintext"));
  // An Argon2i hash is not accepted where Argon2id is expected.
  EXPECT_FALSE(verify_password(
      "password", "$argon2i$v=19$m=8,t=1,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"));
}

TEST(WebPassword, NewPasswordLength) {
  EXPECT_FALSE(check_new_password("short"));
  EXPECT_FALSE(check_new_password(std::string(kMinPasswordLength - 1, 'a')));
  EXPECT_TRUE(check_new_password(std::string(kMinPasswordLength, 'a')));
  EXPECT_TRUE(check_new_password(std::string(kMaxPasswordLength, 'a')));
  auto too_long = check_new_password(std::string(kMaxPasswordLength + 1, 'a'));
  ASSERT_FALSE(too_long);
  EXPECT_TRUE(too_long.error().is(ErrorKind::kParse));
}

}  // namespace
}  // namespace waypost::web
