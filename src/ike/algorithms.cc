#include "ike/algorithms.h"

namespace waypost::ike {

Result<size_t> encryption_key_size(EncryptionId id, uint16_t key_bits) {
  switch (id) {
    case EncryptionId::kAesCbc:
    case EncryptionId::kAesGcm16: {
      if (key_bits != 128 && key_bits != 192 && key_bits != 256) {
        return make_error(ErrorKind::kProtocol, "AES key length {} bits is not 128, 192 or 256",
                          key_bits);
      }
      const size_t key = key_bits / 8;
      return id == EncryptionId::kAesGcm16 ? key + kAeadSaltSize : key;
    }
    case EncryptionId::kChaCha20Poly1305:
      // RFC 7634 section 2: no Key Length attribute; tolerate an explicit 256.
      if (key_bits != 0 && key_bits != 256) {
        return make_error(ErrorKind::kProtocol, "ChaCha20-Poly1305 with key length {} bits",
                          key_bits);
      }
      return size_t{32} + kAeadSaltSize;
    default:  // AES-CTR, the short-ICV GCM variants, and IDs added later
      break;
  }
  return make_error(ErrorKind::kProtocol, "unsupported encryption transform {}", uint16_t(id));
}

Result<crypto::HashAlg> integrity_hash(IntegrityId id) {
  switch (id) {
    case IntegrityId::kHmacSha1_96:
      return crypto::HashAlg::kSha1;
    case IntegrityId::kHmacSha256_128:
      return crypto::HashAlg::kSha256;
    case IntegrityId::kHmacSha384_192:
      return crypto::HashAlg::kSha384;
    case IntegrityId::kHmacSha512_256:
      return crypto::HashAlg::kSha512;
    default:
      break;
  }
  return make_error(ErrorKind::kProtocol, "unsupported integrity transform {}", uint16_t(id));
}

Result<size_t> integrity_key_size(IntegrityId id) {
  if (id == IntegrityId::kNone) return size_t{0};
  auto hash = integrity_hash(id);
  if (!hash) return hash.take_error();
  return crypto::digest_size(*hash);
}

Result<size_t> integrity_icv_size(IntegrityId id) {
  if (id == IntegrityId::kNone) return size_t{0};
  if (id == IntegrityId::kHmacSha1_96) return size_t{12};  // RFC 2404
  auto hash = integrity_hash(id);
  if (!hash) return hash.take_error();
  return crypto::digest_size(*hash) / 2;  // RFC 4868: half the output
}

Result<crypto::HashAlg> prf_hash(PrfId id) {
  switch (id) {
    case PrfId::kHmacSha1:
      return crypto::HashAlg::kSha1;
    case PrfId::kHmacSha256:
      return crypto::HashAlg::kSha256;
    case PrfId::kHmacSha384:
      return crypto::HashAlg::kSha384;
    case PrfId::kHmacSha512:
      return crypto::HashAlg::kSha512;
    default:
      break;
  }
  return make_error(ErrorKind::kProtocol, "unsupported PRF {}", uint16_t(id));
}

Result<size_t> prf_key_size(PrfId id) {
  auto hash = prf_hash(id);
  if (!hash) return hash.take_error();
  return crypto::digest_size(*hash);
}

Result<crypto::DhKind> dh_kind(DhGroup group) {
  switch (group) {
    case DhGroup::kModp1024:
      return crypto::DhKind::kModp1024;
    case DhGroup::kModp2048:
      return crypto::DhKind::kModp2048;
    case DhGroup::kModp3072:
      return crypto::DhKind::kModp3072;
    case DhGroup::kModp4096:
      return crypto::DhKind::kModp4096;
    case DhGroup::kEcp256:
      return crypto::DhKind::kEcp256;
    case DhGroup::kEcp384:
      return crypto::DhKind::kEcp384;
    case DhGroup::kEcp521:
      return crypto::DhKind::kEcp521;
    case DhGroup::kCurve25519:
      return crypto::DhKind::kX25519;
    default:
      break;
  }
  return make_error(ErrorKind::kProtocol, "unsupported key exchange group {}", uint16_t(group));
}

Status check_cipher_suite(const NegotiatedAlgorithms& algorithms) {
  auto key = encryption_key_size(algorithms.encryption, algorithms.key_bits);
  if (!key) return key.take_error();
  if (is_aead(algorithms.encryption)) {
    if (algorithms.integrity != IntegrityId::kNone) {
      return make_error(ErrorKind::kProtocol, "an AEAD cipher takes no integrity transform");
    }
    return {};
  }
  if (algorithms.integrity == IntegrityId::kNone) {
    return make_error(ErrorKind::kProtocol, "encryption transform {} needs an integrity transform",
                      uint16_t(algorithms.encryption));
  }
  auto integ = integrity_key_size(algorithms.integrity);
  if (!integ) return integ.take_error();
  return {};
}

}  // namespace waypost::ike
