// Fuzzes SK payload protection (ike/sk_cipher). The input picks the cipher suite and its keys,
// then an AAD and a body:
//   [suite] [encryption key] [integrity key] [AAD length] [AAD] [body]
// Invariants besides "no crash, no sanitizer report":
//  - decrypt() succeeds only for a body the keys authenticate: with AEAD, re-encrypting what it
//    returned with the same keys, AAD and IV gives the body back byte for byte; with CBC + HMAC,
//    the ICV is the truncated HMAC of the message before it (see check_accepted);
//  - the body read as plaintext survives encrypt -> decrypt, and a one-bit change to the result
//    is refused.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "crypto/hmac.h"
#include "crypto/random.h"
#include "ike/algorithms.h"
#include "ike/sk_cipher.h"

namespace {

using waypost::ike::EncryptionId;
using waypost::ike::IntegrityId;
using waypost::ike::NegotiatedAlgorithms;
using waypost::ike::PrfId;
using waypost::ike::SkCipher;

const NegotiatedAlgorithms kSuites[] = {
    {EncryptionId::kAesGcm16, 128, PrfId::kHmacSha256, IntegrityId::kNone},
    {EncryptionId::kAesGcm16, 256, PrfId::kHmacSha256, IntegrityId::kNone},
    {EncryptionId::kChaCha20Poly1305, 0, PrfId::kHmacSha256, IntegrityId::kNone},
    {EncryptionId::kAesCbc, 128, PrfId::kHmacSha256, IntegrityId::kHmacSha256_128},
    {EncryptionId::kAesCbc, 256, PrfId::kHmacSha384, IntegrityId::kHmacSha384_192},
    {EncryptionId::kAesCbc, 256, PrfId::kHmacSha512, IntegrityId::kHmacSha512_256},
    {EncryptionId::kAesCbc, 128, PrfId::kHmacSha1, IntegrityId::kHmacSha1_96},
};

// Replays given bytes: makes the encryptor use a chosen IV.
class ReplayRandom final : public waypost::crypto::Random {
 public:
  explicit ReplayRandom(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  void fill(std::span<uint8_t> out) override {
    for (auto& b : out) b = bytes_.empty() ? 0 : bytes_[pos_++ % bytes_.size()];
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "ike_sk_fuzz: %s\n", what);
  std::abort();
}

// Takes n bytes from the front of `in`, or fewer at its end.
std::span<const uint8_t> take(std::span<const uint8_t>& in, size_t n) {
  n = std::min(n, in.size());
  auto out = in.first(n);
  in = in.subspan(n);
  return out;
}

// decrypt() accepted `body`. With an AEAD cipher the tag binds key, nonce, AAD and ciphertext,
// so the encryptor given the same IV must reproduce the body exactly. With CBC + HMAC the ICV
// covers the ciphertext but not the encryption key (a body made under another encryption key and
// the same integrity key verifies, and decrypts to other bytes), so there the check is that the
// ICV is the truncated HMAC of everything before it, computed here without SkCipher.
void check_accepted(const NegotiatedAlgorithms& suite, std::span<const uint8_t> enc_key,
                    std::span<const uint8_t> int_key, std::span<const uint8_t> aad,
                    std::span<const uint8_t> body, const std::vector<uint8_t>& plain) {
  if (waypost::ike::is_aead(suite.encryption)) {
    ReplayRandom same_iv(body.first(std::min<size_t>(body.size(), 8)));
    auto encryptor = SkCipher::create(suite, enc_key, int_key, same_iv);
    auto again = encryptor->encrypt(aad, plain);
    if (!again.ok() || again->size() != body.size() ||
        !std::equal(again->begin(), again->end(), body.begin())) {
      fail("decrypt accepted a body the encryptor would not produce");
    }
    return;
  }
  const auto hash = *waypost::ike::integrity_hash(suite.integrity);
  const size_t icv = *waypost::ike::integrity_icv_size(suite.integrity);
  std::vector<uint8_t> mac(waypost::crypto::digest_size(hash));
  if (body.size() < icv || plain.size() + 1 + 16 + icv > body.size() ||
      !waypost::crypto::hmac(hash, int_key, {aad, body.first(body.size() - icv)}, mac) ||
      !std::equal(mac.begin(), mac.begin() + long(icv), body.end() - long(icv))) {
    fail("decrypt accepted a body without a valid ICV");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  if (in.empty()) return 0;
  const NegotiatedAlgorithms& suite = kSuites[in[0] % std::size(kSuites)];
  in = in.subspan(1);
  const size_t enc_len = *waypost::ike::encryption_key_size(suite.encryption, suite.key_bits);
  const size_t int_len = *waypost::ike::integrity_key_size(suite.integrity);
  if (in.size() < enc_len + int_len + 1) return 0;
  const auto enc_key = take(in, enc_len);
  const auto int_key = take(in, int_len);
  const size_t aad_len = take(in, 1)[0];
  const auto aad = take(in, aad_len);
  const auto body = in;

  waypost::crypto::SeededRandom random(size);
  auto decryptor = SkCipher::create(suite, enc_key, int_key, random);
  if (!decryptor.ok()) fail("cannot create a cipher for valid keys");

  auto plain = decryptor->decrypt(aad, body);
  if (plain.ok()) check_accepted(suite, enc_key, int_key, aad, body, *plain);

  // The body as plaintext: encrypt -> decrypt round trip, and a flipped bit is refused.
  auto encryptor = SkCipher::create(suite, enc_key, int_key, random);
  const auto plaintext = body.first(std::min<size_t>(body.size(), 4096));
  auto sealed = encryptor->encrypt(aad, plaintext);
  if (!sealed.ok()) fail("encrypt failed");
  if (sealed->size() != encryptor->body_size(plaintext.size())) fail("body_size disagrees");
  auto opened = decryptor->decrypt(aad, *sealed);
  if (!opened.ok() || *opened != std::vector<uint8_t>(plaintext.begin(), plaintext.end())) {
    fail("round trip failed");
  }
  (*sealed)[size % sealed->size()] ^= uint8_t(1u << (size % 8));
  if (decryptor->decrypt(aad, *sealed).ok()) fail("a changed body was accepted");
  return 0;
}
