// HMAC known answers: RFC 4231 (HMAC-SHA-256/384/512, test cases 1-4, 6, 7; case 5 is a
// truncation case and truncation is the caller's) and RFC 2202 section 3 (HMAC-SHA-1, cases 1-7).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/bytes.h"
#include "crypto/hmac.h"
#include "test_util.h"

namespace waypost::crypto {
namespace {

using test::hex;

std::string mac_hex(HashAlg alg, const std::vector<uint8_t>& key, ByteSpan data) {
  std::vector<uint8_t> out(digest_size(alg));
  EXPECT_TRUE(hmac(alg, key, {data}, out));
  return to_hex(out);
}

std::vector<uint8_t> repeated(uint8_t byte, size_t n) {
  std::vector<uint8_t> v(n, byte);  // not braces: that would be the two-element list
  return v;
}

struct Rfc4231Case {
  int number;
  std::vector<uint8_t> key;
  std::vector<uint8_t> data;
  const char* sha256;
  const char* sha384;
  const char* sha512;
};

std::vector<uint8_t> bytes_of(std::string_view s) {
  auto b = as_bytes(s);
  return {b.begin(), b.end()};
}

std::vector<Rfc4231Case> rfc4231_cases() {
  return {
      {1, repeated(0x0b, 20), bytes_of("Hi There"),
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
       "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2f"
       "a9cb6",
       "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea"
       "3f4e4"
       "be9d914eeb61f1702e696c203a126854"},
      {2, bytes_of("Jefe"), bytes_of("what do ya want for nothing?"),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
       "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab"
       "21649",
       "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f"
       "0e6fd"
       "caeab1a34d4a6b4b636e070a38bce737"},
      {3, repeated(0xaa, 20), repeated(0xdd, 50),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
       "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a"
       "34f27",
       "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e6"
       "7c807"
       "b946a337bee8942674278859e13292fb"},
      {4, hex("0102030405060708090a0b0c0d0e0f10111213141516171819"), repeated(0xcd, 50),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
       "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c67"
       "4cffb",
       "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc57"
       "88063"
       "a5f19741120c4f2de2adebeb10a298dd"},
      {6, repeated(0xaa, 131), bytes_of("Test Using Larger Than Block-Size Key - Hash Key First"),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
       "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f"
       "44952",
       "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6"
       "a1e52"
       "95e64f73f63f0aec8b915a985d786598"},
      {7, repeated(0xaa, 131),
       bytes_of(
           "This is a test using a larger than block-size key and a larger than block-size data. "
           "The key needs to be hashed before being used by the HMAC algorithm."),
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
       "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c4"
       "6523e",
       "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e"
       "4de15"
       "134676fb6de0446065c97440fa8c6a58"},
  };
}

TEST(Hmac, Rfc4231Sha2) {
  for (const auto& c : rfc4231_cases()) {
    SCOPED_TRACE(c.number);
    EXPECT_EQ(mac_hex(HashAlg::kSha256, c.key, c.data), c.sha256);
    EXPECT_EQ(mac_hex(HashAlg::kSha384, c.key, c.data), c.sha384);
    EXPECT_EQ(mac_hex(HashAlg::kSha512, c.key, c.data), c.sha512);
  }
}

TEST(Hmac, Rfc2202Sha1) {
  struct Case {
    std::vector<uint8_t> key;
    std::vector<uint8_t> data;
    const char* mac;
  };
  const std::vector<Case> cases = {
      {repeated(0x0b, 20), bytes_of("Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00"},
      {bytes_of("Jefe"), bytes_of("what do ya want for nothing?"),
       "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
      {repeated(0xaa, 20), repeated(0xdd, 50), "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
      {hex("0102030405060708090a0b0c0d0e0f10111213141516171819"), repeated(0xcd, 50),
       "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
      {repeated(0x0c, 20), bytes_of("Test With Truncation"),
       "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"},
      {repeated(0xaa, 80), bytes_of("Test Using Larger Than Block-Size Key - Hash Key First"),
       "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
      {repeated(0xaa, 80),
       bytes_of("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"),
       "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i + 1);
    EXPECT_EQ(mac_hex(HashAlg::kSha1, cases[i].key, cases[i].data), cases[i].mac);
  }
}

TEST(Hmac, IncrementalMatchesOneShotAndResetKeepsTheKey) {
  const auto c = rfc4231_cases()[5];  // case 7: data longer than a block
  Hmac mac(HashAlg::kSha512, c.key);
  ASSERT_TRUE(mac.valid());
  std::vector<uint8_t> out(64);
  for (int round = 0; round < 2; ++round) {
    // Odd-sized pieces across block boundaries.
    for (size_t pos = 0; pos < c.data.size(); pos += 7) {
      const size_t n = std::min<size_t>(7, c.data.size() - pos);
      ASSERT_TRUE(mac.update({c.data.data() + pos, n}));
    }
    ASSERT_TRUE(mac.finish(out));
    EXPECT_EQ(to_hex(out), c.sha512) << "round " << round;
    ASSERT_TRUE(mac.reset());
  }
  // The concatenation of parts in the one-shot form is the message.
  std::vector<uint8_t> split(64);
  ASSERT_TRUE(hmac(HashAlg::kSha512, c.key,
                   {ByteSpan(c.data).first(10), ByteSpan(c.data).subspan(10)}, split));
  EXPECT_EQ(to_hex(split), c.sha512);
}

TEST(Hmac, EmptyKeyAndWrongOutputSize) {
  std::vector<uint8_t> out(32);
  // HMAC-SHA-256 with an empty key over an empty message (checked with Python's hmac module).
  ASSERT_TRUE(hmac(HashAlg::kSha256, {}, {}, out));
  EXPECT_EQ(to_hex(out), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  std::vector<uint8_t> short_out(16);
  EXPECT_FALSE(hmac(HashAlg::kSha256, {}, {}, short_out));
}

}  // namespace
}  // namespace waypost::crypto
