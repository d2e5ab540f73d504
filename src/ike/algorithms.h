#pragma once
// The algorithms an SA negotiated (filled by the caller from the chosen proposal's transforms)
// and what they mean for key material: key sizes, ICV sizes, and the OpenSSL-level primitives
// behind the IANA numbers of ike/constants.h.

#include <cstddef>
#include <cstdint>

#include "common/result.h"
#include "crypto/dh.h"
#include "crypto/hmac.h"
#include "ike/constants.h"

namespace waypost::ike {

// One SA's transforms. For an IKE SA all four matter; for a CHILD SA (ESP) `prf` is unused,
// since its KEYMAT comes from the IKE SA's PRF.
struct NegotiatedAlgorithms {
  EncryptionId encryption = EncryptionId::kAesGcm16;
  // The Key Length attribute in bits (128/192/256 for AES); 0 when the transform has none
  // (ChaCha20-Poly1305, whose key is always 256 bits).
  uint16_t key_bits = 256;
  PrfId prf = PrfId::kHmacSha256;
  IntegrityId integrity = IntegrityId::kNone;  // kNone with an AEAD cipher
};

// RFC 5282 / RFC 7634: the 4-byte salt at the end of an AEAD cipher's keying material.
constexpr size_t kAeadSaltSize = 4;

// Keying material for the encryption transform in bytes, including the AEAD salt (AES-GCM-16:
// key + 4, ChaCha20-Poly1305: 32 + 4). Error for a cipher or key length Waypost does not speak.
Result<size_t> encryption_key_size(EncryptionId id, uint16_t key_bits);
// Integrity key size (the HMAC's output size, RFC 4868 / RFC 2404); 0 for kNone.
Result<size_t> integrity_key_size(IntegrityId id);
// Truncated ICV size: 12, 16, 24, 32 bytes; 0 for kNone.
Result<size_t> integrity_icv_size(IntegrityId id);
Result<crypto::HashAlg> integrity_hash(IntegrityId id);
Result<crypto::HashAlg> prf_hash(PrfId id);
// The size of SK_d, SK_pi and SK_pr: the PRF's preferred key size, its output size for HMAC
// (RFC 7296 2.14).
Result<size_t> prf_key_size(PrfId id);
Result<crypto::DhKind> dh_kind(DhGroup group);

// AEAD needs no integrity transform and any other cipher needs one (RFC 7296 3.3, RFC 5282 8).
Status check_cipher_suite(const NegotiatedAlgorithms& algorithms);

}  // namespace waypost::ike
