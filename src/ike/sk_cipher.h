#pragma once
// Protection of the Encrypted (SK) and Encrypted Fragment (SKF) payload bodies (RFC 7296 3.14,
// RFC 7383 2.5) with AES-GCM-16 (RFC 5282), ChaCha20-Poly1305 (RFC 7634) or AES-CBC with a
// truncated HMAC-SHA2 / HMAC-SHA1-96.
//
// The body is what follows the payload's header:
//   IV || encrypted(payloads || padding || pad length) || ICV
// and `aad` is every byte of the message before the IV: the IKE header, any payloads before SK,
// and the SK (or SKF, with its fragment numbers) payload header. With an AEAD cipher `aad` is the
// associated data (RFC 5282 5.1); otherwise the ICV is the truncated HMAC over aad || IV ||
// ciphertext (RFC 7296 3.14: the whole message up to the ICV).
//
// The message codec sends a message like this: ask body_size(plaintext length), write the IKE
// header and the SK header with the lengths that include it, then encrypt() into the space after
// them. The length fields are inside the AAD, so they must be final before encrypt().

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"
#include "crypto/hmac.h"
#include "crypto/random.h"
#include "crypto/secret_bytes.h"
#include "ike/algorithms.h"

namespace waypost::ike {

struct IkeSaKeys;

// One direction of an IKE SA (the initiator's outbound uses SK_ei/SK_ai, and so on). Not
// thread-safe; move-only.
class SkCipher {
 public:
  // `encryption_key` includes the AEAD salt; `integrity_key` is empty for AEAD. `random` supplies
  // CBC IVs and the AEAD IV counter's start and must outlive the cipher.
  static Result<SkCipher> create(const NegotiatedAlgorithms& algorithms,
                                 std::span<const uint8_t> encryption_key,
                                 std::span<const uint8_t> integrity_key, crypto::Random& random);
  SkCipher(SkCipher&&) noexcept;
  SkCipher& operator=(SkCipher&&) noexcept;
  ~SkCipher();

  size_t iv_size() const;   // 8 for AEAD, 16 for AES-CBC
  size_t icv_size() const;  // 16 for AEAD, the truncated HMAC size otherwise
  // The body size for `plaintext_len` bytes of inner payloads (IV, padding, pad length, ICV).
  size_t body_size(size_t plaintext_len) const;
  // The most plaintext a body of `body_len` bytes can carry (0 if none fits), for fragmenting.
  size_t max_plaintext(size_t body_len) const;

  // Writes the body for `plaintext`; body.size() must be body_size(plaintext.size()) and must not
  // overlap aad or plaintext.
  Status encrypt(std::span<const uint8_t> aad, std::span<const uint8_t> plaintext,
                 std::span<uint8_t> body);
  Result<std::vector<uint8_t>> encrypt(std::span<const uint8_t> aad,
                                       std::span<const uint8_t> plaintext);
  // Checks and decrypts a body; returns the inner payloads without padding. kProtocol when the
  // ICV does not verify, kParse when the body cannot be a valid one.
  Result<std::vector<uint8_t>> decrypt(std::span<const uint8_t> aad,
                                       std::span<const uint8_t> body) const;

 private:
  struct State;
  explicit SkCipher(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// The two directions of an IKE SA for one side of it.
struct SkCipherPair {
  SkCipher outbound;
  SkCipher inbound;
};
Result<SkCipherPair> make_sk_ciphers(const NegotiatedAlgorithms& algorithms, const IkeSaKeys& keys,
                                     bool initiator, crypto::Random& random);

// The free form of SkCipher::decrypt.
inline Result<std::vector<uint8_t>> decrypt(const SkCipher& cipher, std::span<const uint8_t> aad,
                                            std::span<const uint8_t> body) {
  return cipher.decrypt(aad, body);
}

}  // namespace waypost::ike
