// IKEv2 key derivation (RFC 7296 2.13, 2.14, 2.17, 2.18).
//
// Where the vectors come from:
// - Ikev2KdfCavsSha1: the SHA-1 sample of NIST's CAVS "KDF135 IKEv2" test (SP 800-135 section 4.1),
//   as quoted with its inputs in the usage comment of libreswan's IKEv2 CAVS driver
//   (libreswan-ikev2-cavs -g ... -l 132 -h 2). Its DKM(Child SA) uses SK_d = the first 20 bytes of
//   DKM; SKEYSEED(Rekey) = prf(SK_d, g^ir (new) | Ni | Nr).
// - Everything else: computed independently with Python's hmac/hashlib by this snippet (python3):
//
//   import hmac, hashlib
//   def prf(h, k, d): return hmac.new(k, d, h).digest()
//   def prf_plus(h, k, s, n):
//       out, t, i = b'', b'', 1
//       while len(out) < n:
//           t = prf(h, k, t + s + bytes([i])); out += t; i += 1
//       return out[:n]
//   ni = bytes(range(0x00, 0x20)); nr = bytes(range(0x20, 0x40)); gir = bytes(range(0x40, 0x60))
//   girnew = bytes(range(0x60, 0x80))
//   spii = bytes.fromhex('0102030405060708'); spir = bytes.fromhex('1112131415161718')
//   def split(stream, sizes):
//       out, o = [], 0
//       for n in sizes: out.append(stream[o:o+n].hex()); o += n
//       return out
//   # A: PRF_HMAC_SHA2_256, ENCR_AES_GCM_16 256 (36-byte SK_e*), no integrity
//   h = hashlib.sha256
//   seed = prf(h, ni + nr, gir); print('A skeyseed', seed.hex())
//   print('A keys', split(prf_plus(h, seed, ni + nr + spii + spir, 32*3 + 36*2),
//                         [32, 36, 36, 32, 32]))
//   # B: PRF_HMAC_SHA2_512, ENCR_AES_CBC 256, AUTH_HMAC_SHA2_256_128 (32-byte SK_a*)
//   h = hashlib.sha512
//   seed = prf(h, ni + nr, gir); print('B skeyseed', seed.hex())
//   keys = split(prf_plus(h, seed, ni + nr + spii + spir, 64*3 + 32*2 + 32*2),
//                [64, 32, 32, 32, 32, 64, 64])
//   print('B keys', keys)
//   skd = bytes.fromhex(keys[0])
//   # CHILD SA under B's SK_d: ENCR_AES_CBC 128 + AUTH_HMAC_SHA2_256_128, without and with PFS
//   print('B child', split(prf_plus(h, skd, ni + nr, 2*(16+32)), [16, 32, 16, 32]))
//   print('B child pfs', split(prf_plus(h, skd, girnew + ni + nr, 2*(16+32)), [16, 32, 16, 32]))
//   print('B rekey', prf(h, skd, girnew + ni + nr).hex())
//   # prf+ alone, SHA-384, 100 bytes (three blocks, the last partial)
//   print('C prfplus', prf_plus(hashlib.sha384, b'key', b'seed', 100).hex())
#include <gtest/gtest.h>

#include <array>
#include <numeric>
#include <vector>

#include "common/bytes.h"
#include "common/encoding.h"
#include "ike/keymat.h"
#include "test_util.h"

namespace waypost::ike {
namespace {

using test::hex;

std::vector<uint8_t> range_bytes(uint8_t first, size_t n) {
  std::vector<uint8_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

const std::vector<uint8_t> kNi = range_bytes(0x00, 32);
const std::vector<uint8_t> kNr = range_bytes(0x20, 32);
const std::vector<uint8_t> kGir = range_bytes(0x40, 32);
const std::vector<uint8_t> kGirNew = range_bytes(0x60, 32);
constexpr std::array<uint8_t, 8> kSpiI = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
constexpr std::array<uint8_t, 8> kSpiR = {0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18};

std::string hex_of(const SecretBytes& s) {
  return to_hex(s.span());
}

TEST(IkePrf, PrfPlusKnownAnswer) {
  auto prf = Prf::create(PrfId::kHmacSha384);
  ASSERT_TRUE(prf.ok());
  auto out = prf->plus(as_bytes("key"), {as_bytes("se"), as_bytes("ed")}, 100);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(hex_of(*out),
            "245b57f46db11477bf9cd2e6adbc6244448af40400d70a9203399a48756b7dbf53087f405e438cf9bbb7d3"
            "8b34915f6b7dab328fb2580112db91d3da5c383d3c2a4de7974aa900251aced8106d3c00211e0cfff95994"
            "a7bb4bd1649b19443e957964c1e1");
  // A shorter request is a prefix of the longer one.
  auto prefix = prf->plus(as_bytes("key"), {as_bytes("seed")}, 7);
  ASSERT_TRUE(prefix.ok());
  EXPECT_EQ(hex_of(*prefix), "245b57f46db114");
}

TEST(IkePrf, PrfPlusStopsAt255Blocks) {
  auto prf = Prf::create(PrfId::kHmacSha256);
  ASSERT_TRUE(prf.ok());
  EXPECT_TRUE(prf->plus(as_bytes("k"), {as_bytes("s")}, 255 * 32).ok());
  EXPECT_FALSE(prf->plus(as_bytes("k"), {as_bytes("s")}, 255 * 32 + 1).ok());
}

TEST(IkePrf, UnknownPrfRefused) {
  EXPECT_FALSE(Prf::create(PrfId(99)).ok());
}

TEST(IkeKeymat, Ikev2KdfCavsSha1) {
  const auto gir = hex("4b2c1f971981a8ad8d0abeafabf38cf75fc8349c148142465ed9c8b516b8be52");
  const auto gir_new = hex("863f3c9d06efd39d2b907b97f8699e5dd5251ef64a2a176f36ee40c87d4f9330");
  const auto ni = hex("32b50d5f4a3763f3");
  const auto nr = hex("9206a04b26564cb1");
  const auto spi_i = hex("34c9e7c188868785");
  const auto spi_r = hex("3ff77d760d2b2199");
  auto seed = skeyseed(PrfId::kHmacSha1, ni, nr, gir);
  ASSERT_TRUE(seed.ok());
  EXPECT_EQ(hex_of(*seed), "a9a7b222b59f8f48645f28a1db5b5f5d7479cba7");
  auto prf = Prf::create(PrfId::kHmacSha1);
  ASSERT_TRUE(prf.ok());
  auto dkm = prf->plus(seed->span(), {ni, nr, spi_i, spi_r}, 132);
  ASSERT_TRUE(dkm.ok());
  EXPECT_EQ(hex_of(*dkm),
            "a14293677cc80ff8f9cc0eee30d895da9d8f405666e30ef0dfcb63c634a46002a2a63080e514a062768b76"
            "606f9fa5e992204fc5a670bde3f10d6b027113936a5c55b648a194ae587b0088d52204b702c979fa280870"
            "d2ed41efa9c549fd11198af1670b143d384bd275c5f594cf266b05ebadca855e4249520a441a81157435a7"
            "a56cc4");
  const auto sk_d = dkm->span().first(20);
  auto child = prf->plus(sk_d, {ni, nr}, 132);
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(hex_of(*child),
            "8059e3ee8810e6c3a91bc8bcd2a7a41151b8d0e6ae239c7b38093ad85ef4c5811a8e7b5d1cdabd9560b2d5"
            "e092d1f24e2d4b85eccdf0ad0dc9abd94b51ee71814ca6dbc8bb51b6309f5b9545c7eb35cf5580b1e521a8"
            "fe20754a2d883ba0c2cf285f524aea6545b33106bc03e614296d319d41d4b50b3f510b1c0a22f3e664994d"
            "234cb4");
  auto child_dh = prf->plus(sk_d, {gir_new, ni, nr}, 132);
  ASSERT_TRUE(child_dh.ok());
  EXPECT_EQ(hex_of(*child_dh),
            "bb43244c1860ad65ee1e211ffe8bb3661750c8f89cb9f547df7f4fa61d37301628190e38c66232eab4b3ab"
            "14c400a5197dd3730ed4820a8a10394d51e1c0400052f63ebd36b0e7ef53aaed31eba4a5080d7d4b566602"
            "3a8bbb5ffb7857240f9a05884d1b7d2f933708450b7b3288f1fc863ab49fa901227cffc06e27899c7054d5"
            "6fd74c");
  auto rekey = rekey_skeyseed(PrfId::kHmacSha1, sk_d, gir_new, ni, nr);
  ASSERT_TRUE(rekey.ok());
  EXPECT_EQ(hex_of(*rekey), "63e81194946ebd05df7df5ebf5d8750056bf1f1d");
}

TEST(IkeKeymat, IkeSaKeysAeadSha256) {
  NegotiatedAlgorithms algs{EncryptionId::kAesGcm16, 256, PrfId::kHmacSha256, IntegrityId::kNone};
  SecretBytes seed;
  auto keys = derive_ike_sa_keys_from_dh(algs, kGir, kNi, kNr, kSpiI, kSpiR, &seed);
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_EQ(hex_of(seed), "fb7b0d6107cf71fb87cb4f19020bd81cc0f757a8f6a81a8a62c5b6f3a2660ac5");
  EXPECT_EQ(hex_of(keys->sk_d), "0c26341d77313c227236f4aebf29182f0629dbe10e8ac56347f067a8defc22d5");
  EXPECT_TRUE(keys->sk_ai.empty());
  EXPECT_TRUE(keys->sk_ar.empty());
  EXPECT_EQ(hex_of(keys->sk_ei),
            "8748594d3353b3e04121026ebf49d4a4907e2ae4eb2a9831832397da89af6f7968b67ce3");
  EXPECT_EQ(hex_of(keys->sk_er),
            "c70fad273ae0bbb34ee581341bbfd3303ab1d48166dde54604d0286bd75427665fbbb117");
  EXPECT_EQ(hex_of(keys->sk_pi),
            "f4d9f877d73606ca959fbdb34f746d24f8939191f8d3af60fc816d7edfca54ae");
  EXPECT_EQ(hex_of(keys->sk_pr),
            "0e23cdb44dc9e8476619d587774b27a4824b6c47d2e341e57237e03458c7e3e9");
}

TEST(IkeKeymat, IkeSaKeysCbcSha512ChildAndRekey) {
  NegotiatedAlgorithms algs{EncryptionId::kAesCbc, 256, PrfId::kHmacSha512,
                            IntegrityId::kHmacSha256_128};
  auto keys = derive_ike_sa_keys_from_dh(algs, kGir, kNi, kNr, kSpiI, kSpiR);
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_EQ(hex_of(keys->sk_d),
            "4ac6bbbe85eb36f89131e551922034c9ce1eb0eccfdac4624be1d5977a522209320737975fc4dcf48a2f06"
            "540ecf3b0ddd958ed7f07a839f2c9cdde976217e3a");
  EXPECT_EQ(hex_of(keys->sk_ai),
            "152a9b9cdb32acc8ef78dd9a3894d420deddfe6db08b43d51373acc9d764f11b");
  EXPECT_EQ(hex_of(keys->sk_ar),
            "5267969b4fb054ab94b3af7bef83076ac7b92569390282096648d69de3e40514");
  EXPECT_EQ(hex_of(keys->sk_ei),
            "c90132caff8791dc82c5741cee4c9ce28c4ef8a8fb8d4f9509c26670da4a5b43");
  EXPECT_EQ(hex_of(keys->sk_er),
            "c6fbe1db784fbd0cda39ed3ad83386377cb93ff9f006b989247e4fb53efe0910");
  EXPECT_EQ(hex_of(keys->sk_pi),
            "8c51eb2480cb27bc42b242124152172f45154c3b23904b8d7cab5e7031e885ef7602ab998a7819b24fbfa2"
            "f57fcc687d7dd37fae418d89edfd4ecb524939829f");
  EXPECT_EQ(hex_of(keys->sk_pr),
            "493087fd7511551bf4c8a271ba6e7f47dff042921a96ea97f55dec917765dfff690009a87b1138279c3a7a"
            "51e45ea71b543ce4587ff79266decc783f7eeb4af2");

  NegotiatedAlgorithms esp{EncryptionId::kAesCbc, 128, PrfId::kHmacSha512,
                           IntegrityId::kHmacSha256_128};
  auto child = derive_child_sa_keys(PrfId::kHmacSha512, keys->sk_d.span(), esp, {}, kNi, kNr);
  ASSERT_TRUE(child.ok()) << child.error().message;
  EXPECT_EQ(hex_of(child->encryption_i), "e5fe2d85a1311e5ef64df4a786c3357e");
  EXPECT_EQ(hex_of(child->integrity_i),
            "c1b16216af0a3af481a4cc88417f5e99b71784069ae9bcc943f6726f2eb987a0");
  EXPECT_EQ(hex_of(child->encryption_r), "a53e118bd96ad3dd4e35d0f79fc59e61");
  EXPECT_EQ(hex_of(child->integrity_r),
            "31153eb9d5b372e82d8a0226630da70498f170463363811143fed3b378801810");

  auto pfs = derive_child_sa_keys(PrfId::kHmacSha512, keys->sk_d.span(), esp, kGirNew, kNi, kNr);
  ASSERT_TRUE(pfs.ok());
  EXPECT_EQ(hex_of(pfs->encryption_i), "15836fadff64965bbd29d6724f990de2");
  EXPECT_EQ(hex_of(pfs->integrity_i),
            "f4bd4216e60b6b4c1a56bedf1ab55d65025deb5648fdddcd15bb946a8f2ab8c5");
  EXPECT_EQ(hex_of(pfs->encryption_r), "d656e4e5f6d4fcecc5f8941e16f48364");
  EXPECT_EQ(hex_of(pfs->integrity_r),
            "9df6c91dc3ec19cd1770114335b0053ddbda11c2d7ec2ebe2b753b63b5cb4f18");

  auto rekey = rekey_skeyseed(PrfId::kHmacSha512, keys->sk_d.span(), kGirNew, kNi, kNr);
  ASSERT_TRUE(rekey.ok());
  EXPECT_EQ(hex_of(*rekey),
            "ed95c16fb6e8d37266a492c347e3aa3c12116e5758b17f0a68417cfd06e634528a64ab73d84cd8826c5c11"
            "906289c0e9fb85d20550ac91d6052511ee4db65b33");
}

TEST(IkeKeymat, KeySizesFollowTheTransforms) {
  // ChaCha20-Poly1305: 32-byte key + 4-byte salt, no integrity; PRF SHA-384 sizes SK_d/SK_p.
  NegotiatedAlgorithms chacha{EncryptionId::kChaCha20Poly1305, 0, PrfId::kHmacSha384,
                              IntegrityId::kNone};
  auto keys = derive_ike_sa_keys_from_dh(chacha, kGir, kNi, kNr, kSpiI, kSpiR);
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_EQ(keys->sk_d.size(), 48u);
  EXPECT_EQ(keys->sk_ei.size(), 36u);
  EXPECT_EQ(keys->sk_pr.size(), 48u);
  // AES-GCM-16 128 for ESP: 20 bytes per direction, no integrity keys.
  NegotiatedAlgorithms gcm{EncryptionId::kAesGcm16, 128, PrfId::kHmacSha256, IntegrityId::kNone};
  auto child = derive_child_sa_keys(PrfId::kHmacSha384, keys->sk_d.span(), gcm, {}, kNi, kNr);
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->encryption_i.size(), 20u);
  EXPECT_TRUE(child->integrity_i.empty());
  EXPECT_EQ(child->encryption_r.size(), 20u);
  // HMAC-SHA1-96 integrity keys are 20 bytes.
  NegotiatedAlgorithms sha1{EncryptionId::kAesCbc, 128, PrfId::kHmacSha1,
                            IntegrityId::kHmacSha1_96};
  auto old = derive_ike_sa_keys_from_dh(sha1, kGir, kNi, kNr, kSpiI, kSpiR);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->sk_ai.size(), 20u);
  EXPECT_EQ(old->sk_ei.size(), 16u);
}

TEST(IkeKeymat, InconsistentTransformsRefused) {
  // AEAD with an integrity transform, CBC without one, a bad key length, an unknown cipher.
  const NegotiatedAlgorithms bad[] = {
      {EncryptionId::kAesGcm16, 256, PrfId::kHmacSha256, IntegrityId::kHmacSha256_128},
      {EncryptionId::kAesCbc, 256, PrfId::kHmacSha256, IntegrityId::kNone},
      {EncryptionId::kAesCbc, 100, PrfId::kHmacSha256, IntegrityId::kHmacSha256_128},
      {EncryptionId::kChaCha20Poly1305, 128, PrfId::kHmacSha256, IntegrityId::kNone},
      {EncryptionId::kAesCtr, 128, PrfId::kHmacSha256, IntegrityId::kHmacSha256_128},
      {EncryptionId::kAesGcm16, 128, PrfId(1), IntegrityId::kNone},
  };
  for (size_t i = 0; i < std::size(bad); ++i) {
    SCOPED_TRACE(i);
    auto keys = derive_ike_sa_keys_from_dh(bad[i], kGir, kNi, kNr, kSpiI, kSpiR);
    ASSERT_FALSE(keys.ok());
    EXPECT_TRUE(keys.error().is(ErrorKind::kProtocol));
  }
}

TEST(IkeKeymat, DhGroupMapping) {
  EXPECT_EQ(*dh_kind(DhGroup::kEcp384), crypto::DhKind::kEcp384);
  EXPECT_EQ(*dh_kind(DhGroup::kCurve25519), crypto::DhKind::kX25519);
  EXPECT_EQ(*dh_kind(DhGroup::kModp2048), crypto::DhKind::kModp2048);
  EXPECT_FALSE(dh_kind(DhGroup::kNone).ok());
  EXPECT_EQ(*dh_kind(DhGroup(2)), crypto::DhKind::kModp1024);  // opt-in, for Windows
  EXPECT_FALSE(dh_kind(DhGroup(5)).ok());                      // modp1536: not implemented
}

}  // namespace
}  // namespace waypost::ike
