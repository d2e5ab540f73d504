#include "ike/sk_cipher.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "common/bytes.h"
#include "ike/keymat.h"

namespace waypost::ike {

namespace {

constexpr size_t kAeadIvSize = 8;    // RFC 5282 3.1, RFC 7634 2
constexpr size_t kAeadIcvSize = 16;  // the "-16" of AES-GCM-16; ChaCha20-Poly1305's tag
constexpr size_t kCbcBlockSize = 16;
constexpr size_t kNonceSize = kAeadSaltSize + kAeadIvSize;
// Far above any IKE message (UDP, or RFC 8229 TCP framing: 64 KiB); keeps EVP's int lengths safe.
constexpr size_t kMaxBodySize = size_t{1} << 24;

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

// Fetched once per process; each is a few hundred bytes and lives as long as OpenSSL.
const EVP_CIPHER* fetch(const char* name) {
  return EVP_CIPHER_fetch(nullptr, name, nullptr);
}

const EVP_CIPHER* cipher_for(EncryptionId id, size_t key_size) {
  static const EVP_CIPHER* gcm128 = fetch("AES-128-GCM");
  static const EVP_CIPHER* gcm192 = fetch("AES-192-GCM");
  static const EVP_CIPHER* gcm256 = fetch("AES-256-GCM");
  static const EVP_CIPHER* cbc128 = fetch("AES-128-CBC");
  static const EVP_CIPHER* cbc192 = fetch("AES-192-CBC");
  static const EVP_CIPHER* cbc256 = fetch("AES-256-CBC");
  static const EVP_CIPHER* chacha = fetch("ChaCha20-Poly1305");
  switch (id) {
    case EncryptionId::kAesGcm16:
      return key_size == 16 ? gcm128 : key_size == 24 ? gcm192 : gcm256;
    case EncryptionId::kAesCbc:
      return key_size == 16 ? cbc128 : key_size == 24 ? cbc192 : cbc256;
    case EncryptionId::kChaCha20Poly1305:
      return chacha;
    default:
      return nullptr;
  }
}

Error icv_mismatch() {
  return make_error(ErrorKind::kProtocol, "SK payload: integrity check failed");
}

}  // namespace

struct SkCipher::State {
  bool aead = true;
  const EVP_CIPHER* cipher = nullptr;
  crypto::SecretBytes key;                               // without the salt
  std::array<uint8_t, kAeadSaltSize> salt{};             // AEAD only
  crypto::HashAlg integrity = crypto::HashAlg::kSha256;  // CBC only
  crypto::SecretBytes integrity_key;
  size_t icv = kAeadIcvSize;
  crypto::Random* random = nullptr;
  // AEAD IVs count up from a random start, so no IV repeats under this key (RFC 5282 3.1 only
  // asks for uniqueness); they run out only after 2^64 messages.
  uint64_t next_iv = 0;
  uint64_t ivs_left = UINT64_MAX;

  ~State() { OPENSSL_cleanse(salt.data(), salt.size()); }

  size_t iv_size() const { return aead ? kAeadIvSize : kCbcBlockSize; }
  // Bytes encrypted for `plaintext_len`: payloads, padding, pad length.
  size_t encrypted_size(size_t plaintext_len) const {
    if (aead) return plaintext_len + 1;  // a stream cipher: no padding needed
    return (plaintext_len + 1 + kCbcBlockSize - 1) / kCbcBlockSize * kCbcBlockSize;
  }
  void nonce(const uint8_t* iv, uint8_t out[kNonceSize]) const {
    std::memcpy(out, salt.data(), kAeadSaltSize);
    std::memcpy(out + kAeadSaltSize, iv, kAeadIvSize);
  }
  bool mac(std::span<const uint8_t> aad, std::span<const uint8_t> covered, uint8_t* icv_out) const;
};

bool SkCipher::State::mac(std::span<const uint8_t> aad, std::span<const uint8_t> covered,
                          uint8_t* icv_out) const {
  std::array<uint8_t, crypto::kMaxDigestSize> full{};
  const size_t n = crypto::digest_size(integrity);
  const bool ok = crypto::hmac(integrity, integrity_key.span(), {aad, covered}, {full.data(), n});
  if (ok) std::memcpy(icv_out, full.data(), icv);  // truncated, RFC 4868 / RFC 2404
  return ok;
}

SkCipher::SkCipher(std::unique_ptr<State> state) : state_(std::move(state)) {}
SkCipher::SkCipher(SkCipher&&) noexcept = default;
SkCipher& SkCipher::operator=(SkCipher&&) noexcept = default;
SkCipher::~SkCipher() = default;

Result<SkCipher> SkCipher::create(const NegotiatedAlgorithms& algorithms,
                                  std::span<const uint8_t> encryption_key,
                                  std::span<const uint8_t> integrity_key, crypto::Random& random) {
  if (auto st = check_cipher_suite(algorithms); !st) return st.take_error();
  const size_t key_material = *encryption_key_size(algorithms.encryption, algorithms.key_bits);
  if (encryption_key.size() != key_material) {
    return make_error("SK cipher: encryption key has {} bytes, expected {}", encryption_key.size(),
                      key_material);
  }
  auto state = std::make_unique<State>();
  state->aead = is_aead(algorithms.encryption);
  state->random = &random;
  if (state->aead) {
    const size_t key_size = key_material - kAeadSaltSize;
    state->key = crypto::SecretBytes(encryption_key.first(key_size));
    std::memcpy(state->salt.data(), encryption_key.data() + key_size, kAeadSaltSize);
    if (!integrity_key.empty()) return make_error("SK cipher: AEAD takes no integrity key");
    std::array<uint8_t, 8> start{};
    random.fill(start);
    state->next_iv = load_be64(start.data());
  } else {
    state->key = crypto::SecretBytes(encryption_key);
    state->integrity = *integrity_hash(algorithms.integrity);
    state->icv = *integrity_icv_size(algorithms.integrity);
    if (integrity_key.size() != *integrity_key_size(algorithms.integrity)) {
      return make_error("SK cipher: integrity key has {} bytes, expected {}", integrity_key.size(),
                        *integrity_key_size(algorithms.integrity));
    }
    state->integrity_key = crypto::SecretBytes(integrity_key);
  }
  state->cipher = cipher_for(algorithms.encryption, state->key.size());
  if (state->cipher == nullptr) return make_error("SK cipher: OpenSSL lacks the cipher");
  return SkCipher(std::move(state));
}

size_t SkCipher::iv_size() const {
  return state_->iv_size();
}

size_t SkCipher::icv_size() const {
  return state_->icv;
}

size_t SkCipher::body_size(size_t plaintext_len) const {
  return iv_size() + state_->encrypted_size(plaintext_len) + icv_size();
}

size_t SkCipher::max_plaintext(size_t body_len) const {
  const size_t overhead = iv_size() + icv_size();
  if (body_len <= overhead) return 0;
  size_t encrypted = body_len - overhead;
  if (!state_->aead) encrypted -= encrypted % kCbcBlockSize;
  return encrypted == 0 ? 0 : encrypted - 1;
}

Status SkCipher::encrypt(std::span<const uint8_t> aad, std::span<const uint8_t> plaintext,
                         std::span<uint8_t> body) {
  State& s = *state_;
  if (plaintext.size() > kMaxBodySize || aad.size() > kMaxBodySize) {
    return make_error("SK payload: message too large");
  }
  const size_t encrypted = s.encrypted_size(plaintext.size());
  if (body.size() != body_size(plaintext.size())) {
    return make_error("SK payload: body buffer has {} bytes, expected {}", body.size(),
                      body_size(plaintext.size()));
  }
  const size_t iv_len = s.iv_size();
  uint8_t* iv = body.data();
  uint8_t* data = body.data() + iv_len;
  uint8_t* icv = data + encrypted;

  if (s.aead) {
    if (s.ivs_left == 0) return make_error("SK payload: IVs exhausted under this key; rekey");
    --s.ivs_left;
    store_be64(iv, s.next_iv++);
  } else {
    // CBC needs an unpredictable IV (RFC 7296 3.14).
    s.random->fill({iv, iv_len});
  }
  // payloads || padding (zeros; any content is allowed) || pad length.
  const size_t pad = encrypted - plaintext.size() - 1;
  std::copy(plaintext.begin(), plaintext.end(), data);
  std::fill_n(data + plaintext.size(), pad, uint8_t{0});
  data[encrypted - 1] = uint8_t(pad);

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx != nullptr;
  if (s.aead) {
    uint8_t nonce[kNonceSize];
    s.nonce(iv, nonce);
    ok = ok && EVP_EncryptInit_ex2(ctx.get(), s.cipher, s.key.data(), nonce, nullptr) == 1 &&
         (aad.empty() ||
          EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), int(aad.size())) == 1) &&
         EVP_EncryptUpdate(ctx.get(), data, &len, data, int(encrypted)) == 1 &&
         EVP_EncryptFinal_ex(ctx.get(), data + encrypted, &len) == 1;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, icv, kAeadIcvSize),
        OSSL_PARAM_construct_end()};
    ok = ok && EVP_CIPHER_CTX_get_params(ctx.get(), params) == 1;
  } else {
    ok = ok && EVP_EncryptInit_ex2(ctx.get(), s.cipher, s.key.data(), iv, nullptr) == 1 &&
         EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1 &&
         EVP_EncryptUpdate(ctx.get(), data, &len, data, int(encrypted)) == 1 &&
         size_t(len) == encrypted && EVP_EncryptFinal_ex(ctx.get(), data + encrypted, &len) == 1 &&
         s.mac(aad, {body.data(), iv_len + encrypted}, icv);
  }
  if (!ok) {
    OPENSSL_cleanse(body.data(), body.size());
    return make_error("SK payload: encryption failed");
  }
  return {};
}

Result<std::vector<uint8_t>> SkCipher::encrypt(std::span<const uint8_t> aad,
                                               std::span<const uint8_t> plaintext) {
  std::vector<uint8_t> body(body_size(plaintext.size()));
  if (auto st = encrypt(aad, plaintext, body); !st) return st.take_error();
  return body;
}

Result<std::vector<uint8_t>> SkCipher::decrypt(std::span<const uint8_t> aad,
                                               std::span<const uint8_t> body) const {
  const State& s = *state_;
  const size_t iv_len = s.iv_size();
  // At least the IV, one encrypted block (or the pad length byte) and the ICV.
  const size_t min_encrypted = s.aead ? 1 : kCbcBlockSize;
  if (body.size() > kMaxBodySize || aad.size() > kMaxBodySize ||
      body.size() < iv_len + min_encrypted + s.icv) {
    return make_error(ErrorKind::kParse, "SK payload: body of {} bytes is malformed", body.size());
  }
  const size_t encrypted = body.size() - iv_len - s.icv;
  if (!s.aead && encrypted % kCbcBlockSize != 0) {
    return make_error(ErrorKind::kParse, "SK payload: ciphertext is not a whole number of blocks");
  }
  const uint8_t* iv = body.data();
  const uint8_t* data = body.data() + iv_len;
  const uint8_t* icv = data + encrypted;

  std::vector<uint8_t> out(encrypted);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return make_error("SK payload: out of memory");
  int len = 0;
  if (s.aead) {
    uint8_t nonce[kNonceSize];
    s.nonce(iv, nonce);
    uint8_t tag[kAeadIcvSize];
    std::memcpy(tag, icv, kAeadIcvSize);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kAeadIcvSize),
        OSSL_PARAM_construct_end()};
    if (EVP_DecryptInit_ex2(ctx.get(), s.cipher, s.key.data(), nonce, nullptr) != 1 ||
        (!aad.empty() &&
         EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), int(aad.size())) != 1) ||
        EVP_DecryptUpdate(ctx.get(), out.data(), &len, data, int(encrypted)) != 1 ||
        EVP_CIPHER_CTX_set_params(ctx.get(), params) != 1) {
      return make_error("SK payload: decryption failed");
    }
    // Final compares the tag (in constant time) and fails on a mismatch.
    if (EVP_DecryptFinal_ex(ctx.get(), out.data() + encrypted, &len) != 1) {
      OPENSSL_cleanse(out.data(), out.size());
      return icv_mismatch();
    }
  } else {
    // Encrypt-then-MAC: verify before decrypting anything.
    std::array<uint8_t, crypto::kMaxDigestSize> expected{};
    if (!s.mac(aad, {body.data(), iv_len + encrypted}, expected.data())) {
      return make_error("SK payload: integrity computation failed");
    }
    if (CRYPTO_memcmp(expected.data(), icv, s.icv) != 0) return icv_mismatch();
    if (EVP_DecryptInit_ex2(ctx.get(), s.cipher, s.key.data(), iv, nullptr) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
        EVP_DecryptUpdate(ctx.get(), out.data(), &len, data, int(encrypted)) != 1 ||
        size_t(len) != encrypted ||
        EVP_DecryptFinal_ex(ctx.get(), out.data() + encrypted, &len) != 1) {
      return make_error("SK payload: decryption failed");
    }
  }
  // RFC 7296 3.14: any padding content and any pad length that fits is accepted.
  const size_t pad = out.back();
  if (pad + 1 > out.size()) {
    OPENSSL_cleanse(out.data(), out.size());
    return make_error(ErrorKind::kProtocol, "SK payload: pad length {} exceeds the {} bytes", pad,
                      out.size());
  }
  out.resize(out.size() - pad - 1);
  return out;
}

Result<SkCipherPair> make_sk_ciphers(const NegotiatedAlgorithms& algorithms, const IkeSaKeys& keys,
                                     bool initiator, crypto::Random& random) {
  const auto& e_out = initiator ? keys.sk_ei : keys.sk_er;
  const auto& a_out = initiator ? keys.sk_ai : keys.sk_ar;
  const auto& e_in = initiator ? keys.sk_er : keys.sk_ei;
  const auto& a_in = initiator ? keys.sk_ar : keys.sk_ai;
  auto out = SkCipher::create(algorithms, e_out.span(), a_out.span(), random);
  if (!out) return out.take_error();
  auto in = SkCipher::create(algorithms, e_in.span(), a_in.span(), random);
  if (!in) return in.take_error();
  return SkCipherPair{std::move(*out), std::move(*in)};
}

}  // namespace waypost::ike
