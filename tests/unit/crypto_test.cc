// Known-answer tests for the OpenSSL/libsodium wrappers (RFC 7748, RFC 8439, BLAKE2 reference,
// draft-irtf-cfrg-xchacha).
#include <gtest/gtest.h>

#include "common/bytes.h"
#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "crypto/x25519.h"
#include "test_util.h"

namespace waypost::crypto {
namespace {

using test::hex;
using test::hex_of;

TEST(Blake2s, HashKnownAnswer) {
  std::array<uint8_t, 32> out{};
  blake2s_hash(out, {as_bytes("abc")});
  EXPECT_EQ(hex_of(out), "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
  // Split input hashes the same as the concatenation.
  std::array<uint8_t, 32> split{};
  blake2s_hash(split, {as_bytes("a"), as_bytes(""), as_bytes("bc")});
  EXPECT_EQ(out, split);
}

TEST(Blake2s, KeyedMacIsDeterministicAndKeyDependent) {
  std::array<uint8_t, 16> a{}, b{}, c{};
  std::array<uint8_t, 32> k1{}, k2{};
  k2[0] = 1;
  blake2s_mac(a, k1, {as_bytes("message")});
  blake2s_mac(b, k1, {as_bytes("mess"), as_bytes("age")});
  blake2s_mac(c, k2, {as_bytes("message")});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Blake2s, HmacDiffersFromPlainHash) {
  std::array<uint8_t, 32> h{}, m{};
  std::array<uint8_t, 32> key{};
  blake2s_hash(h, {as_bytes("x")});
  hmac_blake2s(m, key, as_bytes("x"));
  EXPECT_NE(h, m);
}

TEST(X25519, Rfc7748Vector) {
  PrivateKey alice(std::span<const uint8_t, 32>(
      hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a").data(), 32));
  PrivateKey bob(std::span<const uint8_t, 32>(
      hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb").data(), 32));
  auto a = X25519Key::from_private(alice);
  auto b = X25519Key::from_private(bob);
  ASSERT_TRUE(a.valid());
  EXPECT_EQ(hex_of(a.public_key()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(hex_of(b.public_key()),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  std::array<uint8_t, 32> s1{}, s2{};
  ASSERT_TRUE(a.derive(s1, b.public_key()));
  ASSERT_TRUE(b.derive(s2, a.public_key()));
  EXPECT_EQ(hex_of(s1), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_EQ(s1, s2);
}

TEST(X25519, RejectsLowOrderPoint) {
  SeededRandom rng(7);
  auto k = X25519Key::generate(rng);
  PublicKey zero{};  // the identity: shared secret would be all zeros
  std::array<uint8_t, 32> out{};
  EXPECT_FALSE(k.derive(out, zero));
}

constexpr std::string_view kSunscreen =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
    "sunscreen would be it.";

TEST(ChaChaPoly, RoundTripInPlaceAndTamper) {
  std::array<uint8_t, 32> key{};
  for (int i = 0; i < 32; ++i) key[i] = uint8_t(0x80 + i);
  ChaChaPoly enc(key, true), dec(key, false);
  for (uint64_t counter : {0ULL, 1ULL, 0xfffffffffULL}) {
    std::vector<uint8_t> buf(kSunscreen.begin(), kSunscreen.end());
    buf.resize(buf.size() + 16);
    auto pt = std::span<const uint8_t>(buf.data(), kSunscreen.size());
    ASSERT_TRUE(enc.seal(counter, pt, buf));
    std::vector<uint8_t> copy = buf;
    ASSERT_TRUE(dec.open(counter, copy, std::span<uint8_t>(copy.data(), copy.size() - 16)));
    EXPECT_EQ(std::string(copy.begin(), copy.begin() + long(kSunscreen.size())), kSunscreen);
    copy = buf;
    copy[3] ^= 1;
    EXPECT_FALSE(dec.open(counter, copy, std::span<uint8_t>(copy.data(), copy.size() - 16)));
    EXPECT_FALSE(dec.open(counter + 1, buf, std::span<uint8_t>(copy.data(), copy.size() - 16)));
  }
}

TEST(ChaChaPoly, MatchesOneShotAndEmptyPayload) {
  std::array<uint8_t, 32> key{};
  key[5] = 9;
  std::array<uint8_t, 16> tag1{}, tag2{};
  ChaChaPoly enc(key, true);
  ASSERT_TRUE(enc.seal(42, {}, tag1));
  ASSERT_TRUE(aead_seal(tag2, key, 42, {}, {}));
  EXPECT_EQ(tag1, tag2);
  std::array<uint8_t, 0> none{};
  EXPECT_TRUE(aead_open(none, key, 42, tag1, {}));
}

// The published XChaCha20-Poly1305 vector (draft-irtf-cfrg-xchacha, appendix A.3.1). Our
// ChaCha20-Poly1305 nonce layout is proven by the interop tests against wireguard-go.
TEST(XChaChaPoly, DraftVector) {
  std::array<uint8_t, 32> key{};
  for (int i = 0; i < 32; ++i) key[i] = uint8_t(0x80 + i);
  std::array<uint8_t, 24> nonce{};
  for (int i = 0; i < 24; ++i) nonce[i] = uint8_t(0x40 + i);
  auto ad = hex("50515253c0c1c2c3c4c5c6c7");
  std::vector<uint8_t> out(kSunscreen.size() + 16);
  ASSERT_TRUE(xaead_seal(out, key, nonce, as_bytes(kSunscreen), ad));
  EXPECT_EQ(hex_of(std::span<const uint8_t>(out.data() + kSunscreen.size(), 16)),
            "c0875924c1c7987947deafd8780acf49");
  EXPECT_EQ(hex_of(std::span<const uint8_t>(out.data(), 8)), "bd6d179d3e83d43b");
  std::vector<uint8_t> back(kSunscreen.size());
  ASSERT_TRUE(xaead_open(back, key, nonce, out, ad));
  EXPECT_EQ(std::string(back.begin(), back.end()), kSunscreen);
  out[0] ^= 1;
  EXPECT_FALSE(xaead_open(back, key, nonce, out, ad));
}

}  // namespace
}  // namespace waypost::crypto
