// TOTP (RFC 6238), HOTP (RFC 4226), base32 (RFC 4648) and recovery codes, against the RFCs'
// own test vectors where they have them.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "crypto/random.h"
#include "web/base32.h"
#include "web/recovery_codes.h"
#include "web/totp.h"

namespace waypost::web {
namespace {

// RFC 6238 Appendix B and RFC 4226 Appendix D use this ASCII secret for HMAC-SHA1.
std::vector<uint8_t> rfc_secret() {
  const std::string s = "12345678901234567890";
  return {s.begin(), s.end()};
}

TEST(TotpRfc6238, AppendixBSha1EightDigits) {
  struct Row {
    int64_t time;
    const char* code;
  };
  // Time (s), T (hex) and the SHA1 column of RFC 6238 Appendix B.
  const Row rows[] = {
      {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
      {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(hotp_code(rfc_secret(), totp_step(r.time), 8), r.code) << r.time;
  }
}

TEST(TotpRfc6238, AppendixBSha1SixDigitsIsTheLastSix) {
  // The 6-digit code is the same truncated value mod 10^6: the last six digits of the 8-digit one.
  EXPECT_EQ(hotp_code(rfc_secret(), totp_step(59)), "287082");
  EXPECT_EQ(hotp_code(rfc_secret(), totp_step(1111111109)), "081804");
  EXPECT_EQ(hotp_code(rfc_secret(), totp_step(1234567890)), "005924");
  EXPECT_EQ(hotp_code(rfc_secret(), totp_step(20000000000)), "353130");
}

TEST(TotpRfc4226, AppendixDHotpValues) {
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (int64_t count = 0; count < 10; ++count) {
    EXPECT_EQ(hotp_code(rfc_secret(), count), expected[count]) << count;
  }
}

TEST(TotpVerify, AcceptsOneStepEitherSide) {
  const int64_t t = 1111111111;  // step 37037037
  const int64_t step = totp_step(t);
  for (int64_t d : {-1, 0, 1}) {
    auto m = totp_verify(rfc_secret(), hotp_code(rfc_secret(), step + d), t, 0);
    ASSERT_TRUE(m.has_value()) << d;
    EXPECT_EQ(*m, step + d);
  }
  EXPECT_FALSE(totp_verify(rfc_secret(), hotp_code(rfc_secret(), step - 2), t, 0));
  EXPECT_FALSE(totp_verify(rfc_secret(), hotp_code(rfc_secret(), step + 2), t, 0));
}

TEST(TotpVerify, RefusesAStepUsedBefore) {
  const int64_t t = 1234567890;
  const int64_t step = totp_step(t);
  const std::string code = hotp_code(rfc_secret(), step);
  EXPECT_TRUE(totp_verify(rfc_secret(), code, t, step - 1));
  EXPECT_FALSE(totp_verify(rfc_secret(), code, t, step));
  // An older step's code is refused once a later step was used.
  EXPECT_FALSE(totp_verify(rfc_secret(), hotp_code(rfc_secret(), step - 1), t, step));
}

TEST(TotpVerify, RefusesMalformedCodes) {
  const int64_t t = 59;
  const std::string good = hotp_code(rfc_secret(), totp_step(t));
  ASSERT_TRUE(totp_verify(rfc_secret(), good, t, 0));
  for (const std::string& bad :
       {std::string(""), good.substr(0, 5), good + "0", std::string(" ") + good.substr(1),
        std::string("28708a"), std::string("２８７０８２")}) {
    EXPECT_FALSE(totp_verify(rfc_secret(), bad, t, 0)) << bad;
  }
}

TEST(TotpVerify, WrongSecretFails) {
  auto other = rfc_secret();
  other[0] ^= 1;
  const int64_t t = 2000000000;
  EXPECT_FALSE(totp_verify(other, hotp_code(rfc_secret(), totp_step(t)), t, 0));
}

TEST(TotpUri, KeyUriFormat) {
  EXPECT_EQ(otpauth_uri("vpn.example.com", "alice@home", rfc_secret()),
            "otpauth://totp/Waypost%20%28vpn.example.com%29:alice%40home"
            "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Waypost%20%28vpn.example.com%29"
            "&algorithm=SHA1&digits=6&period=30");
}

TEST(WebBase32, Rfc4648Vectors) {
  const std::pair<const char*, const char*> rows[] = {
      {"", ""},
      {"f", "MY"},
      {"fo", "MZXQ"},
      {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"},
      {"fooba", "MZXW6YTB"},
      {"foobar", "MZXW6YTBOI"},
  };
  for (const auto& [plain, encoded] : rows) {
    const std::string p = plain;
    EXPECT_EQ(base32_encode({reinterpret_cast<const uint8_t*>(p.data()), p.size()}), encoded);
    auto back = base32_decode(encoded);
    ASSERT_TRUE(back.has_value()) << encoded;
    EXPECT_EQ(std::string(back->begin(), back->end()), p);
  }
}

TEST(WebBase32, DecodeAcceptsWhatPeopleCopy) {
  auto padded = base32_decode("MZXW6YQ=");
  ASSERT_TRUE(padded);
  EXPECT_EQ(std::string(padded->begin(), padded->end()), "foob");
  auto spaced = base32_decode("mzxw 6ytb-oi");
  ASSERT_TRUE(spaced);
  EXPECT_EQ(std::string(spaced->begin(), spaced->end()), "foobar");
}

TEST(WebBase32, DecodeRefusesWhatNoEncoderWrites) {
  for (const char* bad : {"M", "MZX", "MZXW6Y", "MZ=XQ", "MZXQ1", "MZXQ8", "MZ!Q", "MZ\x80Q", "MZ",
                          /* "f" is MY: MZ has nonzero unused bits */ "MZXQ= M"}) {
    EXPECT_FALSE(base32_decode(bad).has_value()) << bad;
  }
}

TEST(WebRecoveryCodes, TenDistinctCodesStoredAsTheirHashes) {
  crypto::SeededRandom random(7);
  RecoveryCodes rc = make_recovery_codes(random);
  ASSERT_EQ(rc.codes.size(), kRecoveryCodeCount);
  ASSERT_EQ(rc.hashes.size(), kRecoveryCodeCount);
  std::set<std::string> seen;
  for (size_t i = 0; i < rc.codes.size(); ++i) {
    const std::string& code = rc.codes[i];
    EXPECT_EQ(code.size(), 19u) << code;  // four groups of four, three dashes
    EXPECT_EQ(code[4], '-');
    EXPECT_TRUE(seen.insert(code).second);
    EXPECT_TRUE(looks_like_recovery_code(code));
    EXPECT_EQ(hash_recovery_code(code), rc.hashes[i]);
  }
}

TEST(WebRecoveryCodes, TypedVariantsHashTheSame) {
  crypto::SeededRandom random(8);
  RecoveryCodes rc = make_recovery_codes(random);
  std::string upper;
  for (char c : rc.codes[0]) {
    if (c != '-') upper.push_back(char(std::toupper(static_cast<unsigned char>(c))));
  }
  EXPECT_EQ(hash_recovery_code(upper), rc.hashes[0]);
  EXPECT_EQ(hash_recovery_code(" " + rc.codes[0] + " "), rc.hashes[0]);
  EXPECT_FALSE(looks_like_recovery_code("123456"));
  EXPECT_FALSE(looks_like_recovery_code(rc.codes[0] + "a"));
  EXPECT_FALSE(looks_like_recovery_code(rc.codes[0].substr(1)));
  EXPECT_FALSE(looks_like_recovery_code("abcd-efgh-ijkl-mn0p"));  // 0 is not base32
}

}  // namespace
}  // namespace waypost::web
