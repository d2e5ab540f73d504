#pragma once
// IKEv2 key derivation (RFC 7296 2.13, 2.14, 2.17, 2.18): prf and prf+, SKEYSEED and the seven
// IKE SA keys, CHILD SA KEYMAT, and SKEYSEED for a rekeyed IKE SA. Every derived key is a
// crypto::SecretBytes, wiped when it goes.

#include <cstdint>
#include <initializer_list>
#include <span>

#include "common/result.h"
#include "crypto/hmac.h"
#include "crypto/secret_bytes.h"
#include "ike/algorithms.h"

namespace waypost::ike {

using crypto::SecretBytes;

constexpr size_t kIkeSpiSize = 8;
using SpiBytes = std::span<const uint8_t, kIkeSpiSize>;

// A negotiated PRF (HMAC-SHA1 / SHA2-256/384/512).
class Prf {
 public:
  static Result<Prf> create(PrfId id);
  PrfId id() const { return id_; }
  size_t output_size() const { return crypto::digest_size(hash_); }

  // prf(key, concatenation of data); out.size() must be output_size().
  [[nodiscard]] bool compute(std::span<const uint8_t> key,
                             std::initializer_list<std::span<const uint8_t>> data,
                             std::span<uint8_t> out) const;
  // prf+ (RFC 7296 2.13): T1 | T2 | ... with Tn = prf(key, Tn-1 | seed | n), n one octet, so at
  // most 255 blocks; longer requests are an error. The seed is the concatenation of `seed`.
  Result<SecretBytes> plus(std::span<const uint8_t> key,
                           std::initializer_list<std::span<const uint8_t>> seed,
                           size_t length) const;

 private:
  Prf(PrfId id, crypto::HashAlg hash) : id_(id), hash_(hash) {}
  PrfId id_;
  crypto::HashAlg hash_;
};

// SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 2.14).
Result<SecretBytes> skeyseed(PrfId prf, std::span<const uint8_t> ni, std::span<const uint8_t> nr,
                             std::span<const uint8_t> shared_secret);

// SKEYSEED of a new IKE SA made by rekeying (RFC 7296 2.18): prf(SK_d (old), g^ir (new) | Ni | Nr)
// with the *old* SA's PRF; the new SA's keys then follow from derive_ike_sa_keys with its own.
Result<SecretBytes> rekey_skeyseed(PrfId old_prf, std::span<const uint8_t> old_sk_d,
                                   std::span<const uint8_t> new_shared_secret,
                                   std::span<const uint8_t> ni, std::span<const uint8_t> nr);

struct IkeSaKeys {
  SecretBytes sk_d;   // for CHILD SA KEYMAT and the next rekey
  SecretBytes sk_ai;  // integrity, initiator -> responder (empty with AEAD)
  SecretBytes sk_ar;  // integrity, responder -> initiator (empty with AEAD)
  SecretBytes sk_ei;  // encryption, initiator -> responder (AEAD: key || 4-byte salt)
  SecretBytes sk_er;  // encryption, responder -> initiator
  SecretBytes sk_pi;  // for the initiator's AUTH payload
  SecretBytes sk_pr;  // for the responder's AUTH payload
};

// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr),
// sized by the IKE SA's transforms.
Result<IkeSaKeys> derive_ike_sa_keys(const NegotiatedAlgorithms& algorithms,
                                     std::span<const uint8_t> skeyseed, std::span<const uint8_t> ni,
                                     std::span<const uint8_t> nr, SpiBytes spi_i, SpiBytes spi_r);

// SKEYSEED and the keys in one step, for IKE_SA_INIT.
Result<IkeSaKeys> derive_ike_sa_keys_from_dh(const NegotiatedAlgorithms& algorithms,
                                             std::span<const uint8_t> shared_secret,
                                             std::span<const uint8_t> ni,
                                             std::span<const uint8_t> nr, SpiBytes spi_i,
                                             SpiBytes spi_r, SecretBytes* skeyseed_out = nullptr);

struct ChildSaKeys {
  SecretBytes encryption_i;  // initiator -> responder (AEAD: key || salt)
  SecretBytes integrity_i;   // empty with AEAD
  SecretBytes encryption_r;  // responder -> initiator
  SecretBytes integrity_r;
};

// KEYMAT = prf+(SK_d, [g^ir (new)] | Ni | Nr) (RFC 7296 2.17), split in the RFC's order: all keys
// for initiator-to-responder traffic first, and within a direction the encryption key before the
// integrity key. `new_shared_secret` is empty unless the CREATE_CHILD_SA exchange had a KE (PFS).
// `ike_prf` is the IKE SA's PRF; `child` gives the CHILD SA's encryption and integrity.
Result<ChildSaKeys> derive_child_sa_keys(PrfId ike_prf, std::span<const uint8_t> sk_d,
                                         const NegotiatedAlgorithms& child,
                                         std::span<const uint8_t> new_shared_secret,
                                         std::span<const uint8_t> ni, std::span<const uint8_t> nr);

}  // namespace waypost::ike
