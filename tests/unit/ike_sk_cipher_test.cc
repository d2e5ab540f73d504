// SK payload protection (RFC 7296 3.14, RFC 5282, RFC 7634).
//
// Where the known answers come from:
// - AES-GCM-16 and AES-CBC + HMAC-SHA2-256-128: computed with Python's `cryptography` package
//   (AESGCM, Cipher(AES, CBC)) and hmac/hashlib, building the body by the RFC text rather than
//   through this code:
//
//   import hmac, hashlib, struct
//   from cryptography.hazmat.primitives.ciphers.aead import AESGCM
//   from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
//   def aad(body_len):  # IKE header (IKE_AUTH, initiator, message ID 1) + SK header (next: IDi)
//       hdr = bytes.fromhex('0102030405060708' '1112131415161718') + bytes([46, 0x20, 35, 0x08])
//       hdr += struct.pack('>II', 1, 28 + 4 + body_len)
//       return hdr + bytes([35, 0]) + struct.pack('>H', 4 + body_len)
//   pt = bytes.fromhex('0900000c01000000c0000201' 'deadbeefcafe0123')  # 20 bytes of "payloads"
//   # AES-GCM-16, 128-bit key, salt a0a1a2a3, IV 0000000000000001, pad length 0 (RFC 5282:
//   # nonce = salt || IV, AAD = IKE header through the SK header, not the IV)
//   key, salt, iv = bytes(range(16)), bytes.fromhex('a0a1a2a3'), bytes.fromhex('0000000000000001')
//   n = 8 + len(pt) + 1 + 16
//   body = iv + AESGCM(key).encrypt(salt + iv, pt + b'\x00', aad(n))
//   # AES-CBC-128 + HMAC-SHA2-256-128, IV f0..ff, 11 zero bytes of padding, pad length 11; the
//   # ICV covers the whole message up to it (RFC 7296 3.14)
//   key, ikey, iv = bytes(range(16)), bytes(range(0x20, 0x40)), bytes(range(0xf0, 0x100))
//   ct = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor().update(pt + bytes(11) + b'\x0b')
//   n = 16 + len(ct) + 16
//   body = iv + ct + hmac.new(ikey, aad(n) + iv + ct, hashlib.sha256).digest()[:16]
//   # A GCM body whose pad length (5) exceeds what precedes it (1 byte)
//   iv = bytes.fromhex('0000000000000007')
//   bad = iv + AESGCM(bytes(range(16))).encrypt(salt + iv, b'\x41\x05', bytes(32))
//
// - ChaCha20-Poly1305: RFC 8439 section 2.8.2 (= RFC 7539), its 12-byte nonce split as RFC 7634
//   does: salt 07000000 || IV 4041424344454647. Its plaintext read as an SK body ends in '.'
//   (0x2e), a pad length of 46 bytes, leaving 67 bytes of "payloads".
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/encoding.h"
#include "crypto/random.h"
#include "ike/keymat.h"
#include "ike/sk_cipher.h"
#include "test_util.h"

namespace waypost::ike {
namespace {

using test::hex;

// Replays fixed bytes, so IVs (and the AEAD IV counter's start) are known.
class FixedRandom final : public crypto::Random {
 public:
  explicit FixedRandom(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  void fill(std::span<uint8_t> out) override {
    for (auto& b : out) b = bytes_[pos_++ % bytes_.size()];
  }

 private:
  std::vector<uint8_t> bytes_;
  size_t pos_ = 0;
};

struct Suite {
  const char* name;
  NegotiatedAlgorithms algorithms;
};

const Suite kSuites[] = {
    {"aes128gcm16", {EncryptionId::kAesGcm16, 128, PrfId::kHmacSha256, IntegrityId::kNone}},
    {"aes256gcm16", {EncryptionId::kAesGcm16, 256, PrfId::kHmacSha256, IntegrityId::kNone}},
    {"chacha20poly1305",
     {EncryptionId::kChaCha20Poly1305, 0, PrfId::kHmacSha256, IntegrityId::kNone}},
    {"aes128-sha256",
     {EncryptionId::kAesCbc, 128, PrfId::kHmacSha256, IntegrityId::kHmacSha256_128}},
    {"aes256-sha384",
     {EncryptionId::kAesCbc, 256, PrfId::kHmacSha384, IntegrityId::kHmacSha384_192}},
    {"aes256-sha512",
     {EncryptionId::kAesCbc, 256, PrfId::kHmacSha512, IntegrityId::kHmacSha512_256}},
    {"aes128-sha1", {EncryptionId::kAesCbc, 128, PrfId::kHmacSha1, IntegrityId::kHmacSha1_96}},
};

SkCipherPair pair_for(const NegotiatedAlgorithms& algs, crypto::Random& random, bool initiator) {
  std::vector<uint8_t> gir(32, 7), ni(32, 1), nr(32, 2);
  std::array<uint8_t, 8> spi_i{1}, spi_r{2};
  auto keys = derive_ike_sa_keys_from_dh(algs, gir, ni, nr, spi_i, spi_r);
  EXPECT_TRUE(keys.ok());
  auto pair = make_sk_ciphers(algs, *keys, initiator, random);
  EXPECT_TRUE(pair.ok()) << pair.error().message;
  return std::move(*pair);
}

std::vector<uint8_t> aad_for(size_t body_len) {
  // A plausible IKE header and SK header; the cipher treats it as opaque bytes.
  std::vector<uint8_t> aad(32, 0);
  aad[16] = 46;
  aad[17] = 0x20;
  aad[18] = 35;
  store_be32(&aad[24], uint32_t(32 + body_len));
  aad[28] = 35;
  store_be16(&aad[30], uint16_t(4 + body_len));
  return aad;
}

TEST(SkCipher, RoundTripEverySuiteAndSize) {
  crypto::SeededRandom random(1);
  for (const auto& suite : kSuites) {
    SCOPED_TRACE(suite.name);
    auto initiator = pair_for(suite.algorithms, random, true);
    auto responder = pair_for(suite.algorithms, random, false);
    for (size_t len = 0; len <= 70; ++len) {
      std::vector<uint8_t> plaintext(len);
      random.fill(plaintext);
      const size_t body_len = initiator.outbound.body_size(len);
      EXPECT_GE(initiator.outbound.max_plaintext(body_len), len);
      const auto aad = aad_for(body_len);
      auto body = initiator.outbound.encrypt(aad, plaintext);
      ASSERT_TRUE(body.ok()) << body.error().message;
      ASSERT_EQ(body->size(), body_len);
      auto back = responder.inbound.decrypt(aad, *body);
      ASSERT_TRUE(back.ok()) << len << ": " << back.error().message;
      EXPECT_EQ(*back, plaintext);
      // The other direction uses the other keys.
      EXPECT_FALSE(initiator.inbound.decrypt(aad, *body).ok());
    }
    // max_plaintext is the inverse of body_size.
    for (size_t body_len = 0; body_len < 120; ++body_len) {
      const size_t most = initiator.outbound.max_plaintext(body_len);
      if (most > 0) {
        EXPECT_LE(initiator.outbound.body_size(most), body_len);
      }
    }
  }
}

TEST(SkCipher, AnyTamperingFails) {
  crypto::SeededRandom random(2);
  for (const auto& suite : kSuites) {
    SCOPED_TRACE(suite.name);
    auto initiator = pair_for(suite.algorithms, random, true);
    auto responder = pair_for(suite.algorithms, random, false);
    std::vector<uint8_t> plaintext(37, 0x5a);
    const size_t body_len = initiator.outbound.body_size(plaintext.size());
    auto aad = aad_for(body_len);
    auto body = initiator.outbound.encrypt(aad, plaintext);
    ASSERT_TRUE(body.ok());
    for (size_t i = 0; i < aad.size(); ++i) {
      aad[i] ^= 0x01;
      auto r = responder.inbound.decrypt(aad, *body);
      EXPECT_FALSE(r.ok()) << "aad byte " << i;
      if (!r.ok()) {
        EXPECT_TRUE(r.error().is(ErrorKind::kProtocol));
      }
      aad[i] ^= 0x01;
    }
    for (size_t i = 0; i < body->size(); ++i) {  // IV, ciphertext and ICV
      (*body)[i] ^= 0x80;
      EXPECT_FALSE(responder.inbound.decrypt(aad, *body).ok()) << "body byte " << i;
      (*body)[i] ^= 0x80;
    }
    // Truncated or extended bodies and a shorter AAD fail too.
    EXPECT_FALSE(responder.inbound.decrypt(aad, std::span(*body).first(body->size() - 1)).ok());
    auto longer = *body;
    longer.push_back(0);
    EXPECT_FALSE(responder.inbound.decrypt(aad, longer).ok());
    EXPECT_FALSE(responder.inbound.decrypt(std::span(aad).first(28), *body).ok());
    EXPECT_TRUE(responder.inbound.decrypt(aad, *body).ok());
  }
}

TEST(SkCipher, AeadIvsNeverRepeat) {
  crypto::SeededRandom random(3);
  auto initiator = pair_for(kSuites[1].algorithms, random, true);
  std::vector<uint8_t> plaintext(16, 1);
  const auto aad = aad_for(initiator.outbound.body_size(16));
  auto a = initiator.outbound.encrypt(aad, plaintext);
  auto b = initiator.outbound.encrypt(aad, plaintext);
  ASSERT_TRUE(a.ok() && b.ok());
  auto iv = [](const std::vector<uint8_t>& body) {
    return uint64_t(load_be32(body.data())) << 32 | load_be32(body.data() + 4);
  };
  EXPECT_EQ(iv(*b), iv(*a) + 1);
  EXPECT_NE(*a, *b);
}

TEST(SkCipher, CbcIvsAreFreshRandom) {
  crypto::SeededRandom random(4);
  auto initiator = pair_for(kSuites[3].algorithms, random, true);
  std::vector<uint8_t> plaintext(16, 1);
  const auto aad = aad_for(initiator.outbound.body_size(16));
  auto a = initiator.outbound.encrypt(aad, plaintext);
  auto b = initiator.outbound.encrypt(aad, plaintext);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(std::vector<uint8_t>(a->begin(), a->begin() + 16),
            std::vector<uint8_t>(b->begin(), b->begin() + 16));
}

const char* const kPlaintext = "0900000c01000000c0000201deadbeefcafe0123";

TEST(SkCipher, AesGcmKnownAnswer) {
  NegotiatedAlgorithms algs{EncryptionId::kAesGcm16, 128, PrfId::kHmacSha256, IntegrityId::kNone};
  FixedRandom start(hex("0000000000000001"));  // the IV counter starts at 1
  auto key = hex("000102030405060708090a0b0c0d0e0f a0a1a2a3");
  auto cipher = SkCipher::create(algs, key, {}, start);
  ASSERT_TRUE(cipher.ok()) << cipher.error().message;
  const auto aad = hex("010203040506070811121314151617182e202308000000010000004d23000031");
  ASSERT_EQ(cipher->body_size(20), 0x4du - 32);
  auto body = cipher->encrypt(aad, hex(kPlaintext));
  ASSERT_TRUE(body.ok());
  const std::string expected =
      "00000000000000014f711cfe6d847750476c441605a92a89db0c18a096597c2388d3883efddb17e89f8f6e20a9";
  EXPECT_EQ(to_hex(*body), expected);
  auto back = cipher->decrypt(aad, hex(expected));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(to_hex(*back), kPlaintext);
}

TEST(SkCipher, AesCbcHmacSha256KnownAnswer) {
  NegotiatedAlgorithms algs{EncryptionId::kAesCbc, 128, PrfId::kHmacSha256,
                            IntegrityId::kHmacSha256_128};
  FixedRandom iv(hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"));
  auto cipher = SkCipher::create(algs, hex("000102030405060708090a0b0c0d0e0f"),
                                 hex("202122232425262728292a2b2c2d2e2f"
                                     "303132333435363738393a3b3c3d3e3f"),
                                 iv);
  ASSERT_TRUE(cipher.ok()) << cipher.error().message;
  const auto aad = hex("010203040506070811121314151617182e202308000000010000006023000044");
  ASSERT_EQ(cipher->body_size(20), 0x60u - 32);
  auto body = cipher->encrypt(aad, hex(kPlaintext));
  ASSERT_TRUE(body.ok());
  const std::string expected =
      "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff4048533aca2563752b2fbf413f697c8924e3559fc94c10f85518860f0d"
      "72d90a86f2d915cf03fbdc87625cd1113ba6cd";
  EXPECT_EQ(to_hex(*body), expected);
  auto back = cipher->decrypt(aad, hex(expected));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(to_hex(*back), kPlaintext);
}

TEST(SkCipher, ChaCha20Poly1305Rfc8439Vector) {
  NegotiatedAlgorithms algs{EncryptionId::kChaCha20Poly1305, 0, PrfId::kHmacSha256,
                            IntegrityId::kNone};
  crypto::SeededRandom random(5);
  auto key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f 07000000");
  auto cipher = SkCipher::create(algs, key, {}, random);
  ASSERT_TRUE(cipher.ok()) << cipher.error().message;
  const auto aad = hex("50515253c0c1c2c3c4c5c6c7");
  const auto body = hex(
      "4041424344454647"
      "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92"
      "728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b"
      "4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
      "1ae10b594f09e26a7e902ecbd0600691");
  auto back = cipher->decrypt(aad, body);
  ASSERT_TRUE(back.ok()) << back.error().message;
  const std::string text =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
      "sunscreen would be it.";
  EXPECT_EQ(std::string(back->begin(), back->end()), text.substr(0, text.size() - 1 - 46));
}

TEST(SkCipher, PadLengthBeyondTheDataRefused) {
  NegotiatedAlgorithms algs{EncryptionId::kAesGcm16, 128, PrfId::kHmacSha256, IntegrityId::kNone};
  crypto::SeededRandom random(6);
  auto cipher =
      SkCipher::create(algs, hex("000102030405060708090a0b0c0d0e0f a0a1a2a3"), {}, random);
  ASSERT_TRUE(cipher.ok());
  auto r = cipher->decrypt(std::vector<uint8_t>(32, 0),
                           hex("00000000000000077db22e967d3b9e68a16bab62ec68103a8de2"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().is(ErrorKind::kProtocol));
  EXPECT_NE(r.error().message.find("pad length"), std::string::npos) << r.error().message;
}

TEST(SkCipher, MalformedBodiesAndKeysRefused) {
  crypto::SeededRandom random(7);
  auto cbc = pair_for(kSuites[3].algorithms, random, true);
  const auto aad = aad_for(0);
  // Shorter than IV + one block + ICV, and not a whole number of blocks.
  for (size_t len : {size_t{0}, size_t{16}, size_t{47}, size_t{49}, size_t{63}}) {
    auto r = cbc.inbound.decrypt(aad, std::vector<uint8_t>(len, 0));
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.error().is(ErrorKind::kParse) || r.error().is(ErrorKind::kProtocol));
  }
  auto gcm = pair_for(kSuites[0].algorithms, random, true);
  for (size_t len : {size_t{0}, size_t{8}, size_t{24}}) {
    auto r = gcm.inbound.decrypt(aad, std::vector<uint8_t>(len, 0));
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.error().is(ErrorKind::kParse));
  }
  // Wrong key sizes at creation.
  NegotiatedAlgorithms algs{EncryptionId::kAesGcm16, 128, PrfId::kHmacSha256, IntegrityId::kNone};
  EXPECT_FALSE(SkCipher::create(algs, std::vector<uint8_t>(16), {}, random).ok());
  EXPECT_FALSE(
      SkCipher::create(algs, std::vector<uint8_t>(20), std::vector<uint8_t>(32), random).ok());
  EXPECT_FALSE(SkCipher::create(kSuites[3].algorithms, std::vector<uint8_t>(16),
                                std::vector<uint8_t>(20), random)
                   .ok());
  // A body buffer of the wrong size.
  std::vector<uint8_t> wrong(10);
  EXPECT_FALSE(gcm.outbound.encrypt(aad, std::vector<uint8_t>(4), wrong).ok());
}

}  // namespace
}  // namespace waypost::ike
