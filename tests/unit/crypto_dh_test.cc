// Diffie-Hellman for IKEv2: both sides agree in every group, malformed peer values are refused,
// and known answers for the ECP groups (RFC 5903 section 8: 8.1 for group 19, 8.2 for 20, 8.3 for
// 21; the public values there are IKE's x || y, and g^ir is the x-coordinate, section 7) and
// X25519 (RFC 7748 section 6.1). Each vector was also recomputed with Python's `cryptography`
// (ec.derive_private_key(...).exchange(ec.ECDH(), ...), X25519PrivateKey.exchange) and agrees.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <string>
#include <vector>

#include "common/encoding.h"
#include "crypto/dh.h"
#include "test_util.h"

namespace waypost::crypto {
namespace {

using test::hex;

const DhKind kAllKinds[] = {DhKind::kModp1024, DhKind::kModp2048, DhKind::kModp3072,
                            DhKind::kModp4096, DhKind::kEcp256,   DhKind::kEcp384,
                            DhKind::kEcp521,   DhKind::kX25519};

TEST(Dh, BothSidesAgreeInEveryGroup) {
  for (DhKind kind : kAllKinds) {
    SCOPED_TRACE(dh_name(kind));
    auto a = DhKeyPair::generate(kind);
    auto b = DhKeyPair::generate(kind);
    ASSERT_TRUE(a.ok()) << a.error().message;
    ASSERT_TRUE(b.ok()) << b.error().message;
    EXPECT_EQ(a->public_value().size(), dh_public_size(kind));
    auto ab = a->shared_secret(b->public_value());
    auto ba = b->shared_secret(a->public_value());
    ASSERT_TRUE(ab.ok()) << ab.error().message;
    ASSERT_TRUE(ba.ok()) << ba.error().message;
    EXPECT_EQ(ab->size(), dh_shared_size(kind));
    EXPECT_TRUE(ab->equals(ba->span()));
  }
}

struct EcpVector {
  DhKind kind;
  const char* i;
  const char* gi;  // x || y
  const char* r;
  const char* gr;
  const char* gir;  // x of g^ir
};

// RFC 5903 section 8 (8.1, 8.2, 8.3).
const EcpVector kRfc5903[] = {
    {DhKind::kEcp256, "c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433",
     "dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180"
     "5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3",
     "c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53",
     "d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63"
     "56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab",
     "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de"},
    {DhKind::kEcp384,
     "099f3c7034d4a2c699884d73a375a67f7624ef7c6b3c0f160647b67414dce655e35b538041e649ee3faef896783ab"
     "194",
     "667842d7d180ac2cde6f74f37551f55755c7645c20ef73e31634fe72b4c55ee6de3ac808acb4bdb4c88732aee95f4"
     "1aa"
     "9482ed1fc0eeb9cafc4984625ccfc23f65032149e0e144ada024181535a0f38eeb9fcff3c2c947dae69b4c634573a"
     "81c",
     "41cb0779b4bdb85d47846725fbec3c9430fab46cc8dc5060855cc9bda0aa2942e0308312916b8ed2960e4bd55a744"
     "8fc",
     "e558dbef53eecde3d3fccfc1aea08a89a987475d12fd950d83cfa41732bc509d0d1ac43a0336def96fda41d0774a3"
     "571"
     "dcfbec7aacf3196472169e838430367f66eebe3c6e70c416dd5f0c68759dd1fff83fa40142209dff5eaad96db9e63"
     "86c",
     "11187331c279962d93d604243fd592cb9d0a926f422e47187521287e7156c5c4d603135569b9e9d09cf5d4a270f59"
     "746"},
    // P-521: values are padded to 66 bytes, so leading zero octets are part of the encoding.
    {DhKind::kEcp521,
     "0037ade9319a89f4dabdb3ef411aaccca5123c61acab57b5393dce47608172a095aa85a30fe1c2952c6771d937ba9"
     "777"
     "f5957b2639bab072462f68c27a57382d4a52",
     "0015417e84dbf28c0ad3c278713349dc7df153c897a1891bd98bab4357c9ecbee1e3bf42e00b8e380aeae57c2d107"
     "564"
     "941885942af5a7f4601723c4195d176ced3e"
     "017cae20b6641d2eeb695786d8c946146239d099e18e1d5a514c739d7cb4a10ad8a788015ac405d7799dc75e7b7d5"
     "b6c"
     "f2261a6a7f1507438bf01beb6ca3926f9582",
     "0145ba99a847af43793fdd0e872e7cdfa16be30fdc780f97bccc3f078380201e9c677d600b343757a3bdbf2a3163e"
     "4c2"
     "f869cca7458aa4a4effc311f5cb151685eb9",
     "00d0b3975ac4b799f5bea16d5e13e9af971d5e9b984c9f39728b5e5739735a219b97c356436adc6e95bb0352f6be6"
     "4a6"
     "c2912d4ef2d0433ced2b6171640012d9460f"
     "015c68226383956e3bd066e797b623c27ce0eac2f551a10c2c724d9852077b87220b6536c5c408a1d2aebb8e86d67"
     "8ae"
     "49cb57091f4732296579ab44fcd17f0fc56a",
     "01144c7d79ae6956bc8edb8e7c787c4521cb086fa64407f97894e5e6b2d79b04d1427e73ca4baa240a34786859810"
     "c06"
     "b3c715a3a8cc3151f2bee417996d19f3ddea"},
};

TEST(Dh, Rfc5903EcpVectors) {
  for (const auto& v : kRfc5903) {
    SCOPED_TRACE(dh_name(v.kind));
    auto i = DhKeyPair::from_private(v.kind, hex(v.i));
    auto r = DhKeyPair::from_private(v.kind, hex(v.r));
    ASSERT_TRUE(i.ok()) << i.error().message;
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(to_hex(i->public_value()), v.gi);
    EXPECT_EQ(to_hex(r->public_value()), v.gr);
    auto ir = i->shared_secret(hex(v.gr));
    auto ri = r->shared_secret(hex(v.gi));
    ASSERT_TRUE(ir.ok()) << ir.error().message;
    ASSERT_TRUE(ri.ok()) << ri.error().message;
    EXPECT_EQ(to_hex(ir->span()), v.gir);
    EXPECT_EQ(to_hex(ri->span()), v.gir);
  }
}

TEST(Dh, Rfc7748X25519Vector) {
  auto alice = DhKeyPair::from_private(
      DhKind::kX25519, hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(to_hex(alice->public_value()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  auto shared =
      alice->shared_secret(hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
  ASSERT_TRUE(shared.ok()) << shared.error().message;
  EXPECT_EQ(to_hex(shared->span()),
            "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
}

TEST(Dh, WrongLengthRefusedInEveryGroup) {
  for (DhKind kind : kAllKinds) {
    SCOPED_TRACE(dh_name(kind));
    auto a = DhKeyPair::generate(kind);
    ASSERT_TRUE(a.ok());
    std::vector<uint8_t> value(a->public_value().begin(), a->public_value().end());
    for (size_t len : {size_t{0}, value.size() - 1, value.size() + 1}) {
      std::vector<uint8_t> bad(len, 0x42);
      auto s = a->shared_secret(bad);
      ASSERT_FALSE(s.ok());
      EXPECT_TRUE(s.error().is(ErrorKind::kParse));
    }
    // The 0x04-prefixed SEC1 form is one byte too long for IKE.
    if (kind == DhKind::kEcp256) {
      value.insert(value.begin(), 0x04);
      EXPECT_FALSE(a->shared_secret(value).ok());
    }
  }
}

TEST(Dh, EcpPointNotOnCurveRefused) {
  for (DhKind kind : {DhKind::kEcp256, DhKind::kEcp384, DhKind::kEcp521}) {
    SCOPED_TRACE(dh_name(kind));
    auto a = DhKeyPair::generate(kind);
    auto b = DhKeyPair::generate(kind);
    ASSERT_TRUE(a.ok() && b.ok());
    std::vector<uint8_t> bad(b->public_value().begin(), b->public_value().end());
    bad.back() ^= 1;  // y changed: almost surely off the curve
    auto s = a->shared_secret(bad);
    ASSERT_FALSE(s.ok());
    EXPECT_TRUE(s.error().is(ErrorKind::kParse));
    // The all-zero encoding (how some encode the point at infinity) is not a point either.
    std::vector<uint8_t> zero(dh_public_size(kind), 0);
    EXPECT_FALSE(a->shared_secret(zero).ok());
    // Coordinates >= p (all ones) are refused.
    std::vector<uint8_t> ones(dh_public_size(kind), 0xff);
    EXPECT_FALSE(a->shared_secret(ones).ok());
  }
}

TEST(Dh, ModpOutOfRangeRefused) {
  auto a = DhKeyPair::generate(DhKind::kModp2048);
  ASSERT_TRUE(a.ok());
  constexpr size_t n = 256;  // a constant, so GCC's bounds analysis sees n > 0
  ASSERT_EQ(dh_public_size(DhKind::kModp2048), n);
  std::vector<uint8_t> zero(n, 0);
  std::vector<uint8_t> one(n, 0);
  one[n - 1] = 1;
  // RFC 3526 primes begin and end with 64 one bits, so p - 1 ends in ...fe and p in ...ff.
  std::vector<uint8_t> all_ones(n, 0xff);  // > p
  for (const auto* bad : {&zero, &one, &all_ones}) {
    auto s = a->shared_secret(*bad);
    ASSERT_FALSE(s.ok());
    EXPECT_TRUE(s.error().is(ErrorKind::kParse));
  }
  // p - 1 and p themselves, with p read from OpenSSL's copy of the RFC 3526 group.
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr);
  EVP_PKEY* params = nullptr;
  ASSERT_EQ(EVP_PKEY_keygen_init(ctx), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_group_name(ctx, "modp_2048"), 1);
  ASSERT_EQ(EVP_PKEY_generate(ctx, &params), 1);
  BIGNUM* p = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(params, OSSL_PKEY_PARAM_FFC_P, &p), 1);
  std::vector<uint8_t> p_bytes(n);
  ASSERT_EQ(BN_bn2binpad(p, p_bytes.data(), int(n)), int(n));
  BN_sub_word(p, 1);
  std::vector<uint8_t> p_minus_1(n);
  ASSERT_EQ(BN_bn2binpad(p, p_minus_1.data(), int(n)), int(n));
  BN_free(p);
  EVP_PKEY_free(params);
  EVP_PKEY_CTX_free(ctx);
  EXPECT_FALSE(a->shared_secret(p_bytes).ok());
  EXPECT_FALSE(a->shared_secret(p_minus_1).ok());
  // 2 (the generator, a valid element of the prime-order subgroup) is accepted, so the checks
  // are not too strict; the secret keeps its leading zeros (padded to the prime's length).
  std::vector<uint8_t> two(n, 0);
  two[n - 1] = 2;
  auto s = a->shared_secret(two);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->size(), n);
}

TEST(Dh, Modp1024IsTheRfc2409Group) {
  // modp1024 (IKE group 2, for Windows' default proposals) has no OpenSSL name: the key is
  // built from the RFC 2409 prime. p - 1 and p of that prime are refused, 2 is accepted.
  auto a = DhKeyPair::generate(DhKind::kModp1024);
  ASSERT_TRUE(a.ok()) << a.error().message;
  constexpr size_t n = 128;
  ASSERT_EQ(a->public_value().size(), n);
  BIGNUM* p = BN_get_rfc2409_prime_1024(nullptr);
  ASSERT_NE(p, nullptr);
  std::vector<uint8_t> p_bytes(n);
  ASSERT_EQ(BN_bn2binpad(p, p_bytes.data(), int(n)), int(n));
  EXPECT_EQ(std::vector<uint8_t>(p_bytes.begin(), p_bytes.begin() + 12),
            hex("ffffffffffffffffc90fdaa2"));  // RFC 2409 6.2
  BN_sub_word(p, 1);
  std::vector<uint8_t> p_minus_1(n);
  ASSERT_EQ(BN_bn2binpad(p, p_minus_1.data(), int(n)), int(n));
  BN_free(p);
  EXPECT_FALSE(a->shared_secret(p_bytes).ok());
  EXPECT_FALSE(a->shared_secret(p_minus_1).ok());
  std::vector<uint8_t> two(n, 0);
  two[n - 1] = 2;
  auto s = a->shared_secret(two);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->size(), n);
}

TEST(Dh, X25519LowOrderPointRefused) {
  auto a = DhKeyPair::generate(DhKind::kX25519);
  ASSERT_TRUE(a.ok());
  // u = 0 and u = 1 are of small order: the result is all zeros (RFC 7748 section 6.1).
  std::vector<uint8_t> zero(32, 0);
  std::vector<uint8_t> one(32, 0);
  one[0] = 1;
  for (const auto* bad : {&zero, &one}) {
    auto s = a->shared_secret(*bad);
    ASSERT_FALSE(s.ok());
    EXPECT_TRUE(s.error().is(ErrorKind::kParse));
  }
}

TEST(Dh, FromPrivateRefusesBadScalars) {
  EXPECT_FALSE(DhKeyPair::from_private(DhKind::kEcp256, std::vector<uint8_t>(32, 0)).ok());
  EXPECT_FALSE(DhKeyPair::from_private(DhKind::kEcp256, std::vector<uint8_t>(32, 0xff)).ok());
  EXPECT_FALSE(DhKeyPair::from_private(DhKind::kEcp256, std::vector<uint8_t>(31, 1)).ok());
  EXPECT_FALSE(DhKeyPair::from_private(DhKind::kModp2048, std::vector<uint8_t>(32, 1)).ok());
  EXPECT_FALSE(DhKeyPair::from_private(DhKind::kX25519, std::vector<uint8_t>(31, 1)).ok());
}

}  // namespace
}  // namespace waypost::crypto
