#include "ipsec/esp_keys.h"

#include <openssl/crypto.h>

namespace waypost::ipsec {

namespace {

Result<esp::Aead> aead_for(const ike::NegotiatedAlgorithms& a) {
  using ike::EncryptionId;
  if (a.encryption == EncryptionId::kAesGcm16 && a.key_bits == 128) return esp::Aead::kAes128Gcm16;
  if (a.encryption == EncryptionId::kAesGcm16 && a.key_bits == 256) return esp::Aead::kAes256Gcm16;
  if (a.encryption == EncryptionId::kChaCha20Poly1305) return esp::Aead::kChaCha20Poly1305;
  return make_error(
      "ESP transform {} with a {}-bit key is not in Waypost's data plane yet "
      "(AES-GCM-16 128/256 and ChaCha20-Poly1305 are)",
      int(a.encryption), a.key_bits);
}

}  // namespace

Result<esp::ChildSaKeys> esp_keys_for(const ike::ChildSaInfo& child) {
  auto aead = aead_for(child.algorithms);
  if (!aead) return aead.take_error();
  esp::ChildSaKeys keys;
  keys.aead = *aead;
  keys.spi_in = child.spi_in;
  keys.spi_out = child.spi_out;
  const auto in = child.inbound_keys();
  const auto out = child.outbound_keys();
  keys.keymat_in.assign(in.first->data(), in.first->data() + in.first->size());
  keys.keymat_out.assign(out.first->data(), out.first->data() + out.first->size());
  if (keys.keymat_in.size() != esp::keymat_size(keys.aead) ||
      keys.keymat_out.size() != esp::keymat_size(keys.aead)) {
    wipe(keys);
    return make_error("CHILD SA {}: key material of {} bytes, expected {}", child.name,
                      keys.keymat_in.size(), esp::keymat_size(keys.aead));
  }
  return keys;
}

void wipe(esp::ChildSaKeys& keys) {
  OPENSSL_cleanse(keys.keymat_in.data(), keys.keymat_in.size());
  OPENSSL_cleanse(keys.keymat_out.data(), keys.keymat_out.size());
}

}  // namespace waypost::ipsec
