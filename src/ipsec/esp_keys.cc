#include "ipsec/esp_keys.h"

#include <openssl/crypto.h>

namespace waypost::ipsec {

namespace {

Result<esp::Cipher> cipher_for(const ike::NegotiatedAlgorithms& a) {
  using ike::EncryptionId;
  switch (a.encryption) {
    case EncryptionId::kAesGcm16:
      if (a.key_bits == 128) return esp::Cipher::kAes128Gcm16;
      if (a.key_bits == 256) return esp::Cipher::kAes256Gcm16;
      break;
    case EncryptionId::kChaCha20Poly1305:
      return esp::Cipher::kChaCha20Poly1305;
    case EncryptionId::kAesCbc:
      if (a.key_bits == 128) return esp::Cipher::kAes128Cbc;
      if (a.key_bits == 192) return esp::Cipher::kAes192Cbc;
      if (a.key_bits == 256) return esp::Cipher::kAes256Cbc;
      break;
    default:
      break;
  }
  return make_error(
      "ESP transform {} with a {}-bit key is not in Waypost's data plane (AES-GCM-16 128/256, "
      "ChaCha20-Poly1305 and AES-CBC 128/192/256 are)",
      int(a.encryption), a.key_bits);
}

Result<esp::Integrity> integrity_for(ike::IntegrityId id) {
  switch (id) {
    case ike::IntegrityId::kNone:
      return esp::Integrity::kNone;
    case ike::IntegrityId::kHmacSha1_96:
      return esp::Integrity::kHmacSha1_96;
    case ike::IntegrityId::kHmacSha256_128:
      return esp::Integrity::kHmacSha256_128;
    case ike::IntegrityId::kHmacSha384_192:
      return esp::Integrity::kHmacSha384_192;
    case ike::IntegrityId::kHmacSha512_256:
      return esp::Integrity::kHmacSha512_256;
  }
  return make_error("ESP integrity transform {} is not in Waypost's data plane", int(id));
}

std::vector<uint8_t> bytes_of(const crypto::SecretBytes& s) {
  return {s.data(), s.data() + s.size()};
}

}  // namespace

Result<esp::ChildSaKeys> esp_keys_for(const ike::ChildSaInfo& child) {
  auto cipher = cipher_for(child.algorithms);
  if (!cipher) return cipher.take_error();
  auto integrity = integrity_for(child.algorithms.integrity);
  if (!integrity) return integrity.take_error();
  esp::ChildSaKeys keys;
  keys.cipher = *cipher;
  keys.integrity = *integrity;
  keys.spi_in = child.spi_in;
  keys.spi_out = child.spi_out;
  const auto in = child.inbound_keys();
  const auto out = child.outbound_keys();
  keys.keymat_in = bytes_of(*in.first);
  keys.keymat_out = bytes_of(*out.first);
  keys.integrity_in = bytes_of(*in.second);
  keys.integrity_out = bytes_of(*out.second);
  if (keys.keymat_in.size() != esp::keymat_size(keys.cipher) ||
      keys.keymat_out.size() != esp::keymat_size(keys.cipher) ||
      keys.integrity_in.size() != esp::integrity_key_size(keys.integrity) ||
      keys.integrity_out.size() != esp::integrity_key_size(keys.integrity)) {
    const size_t got = keys.keymat_in.size();
    wipe(keys);
    return make_error("CHILD SA {}: key material of {} bytes, expected {}", child.name, got,
                      esp::keymat_size(keys.cipher));
  }
  return keys;
}

void wipe(esp::ChildSaKeys& keys) {
  for (auto* v : {&keys.keymat_in, &keys.keymat_out, &keys.integrity_in, &keys.integrity_out}) {
    OPENSSL_cleanse(v->data(), v->size());
  }
}

}  // namespace waypost::ipsec
