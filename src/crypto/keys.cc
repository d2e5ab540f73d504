#include "crypto/keys.h"

#include "common/encoding.h"

namespace waypost::crypto {

std::string key_to_base64(std::span<const uint8_t, kKeySize> key) {
  return to_base64(key);
}

Result<PublicKey> public_key_from_base64(std::string_view text) {
  PublicKey k{};
  if (!from_base64(text, k)) return make_error("invalid key (expected 44 characters of base64)");
  return k;
}

Result<PrivateKey> private_key_from_base64(std::string_view text) {
  PrivateKey k;
  if (!from_base64(text, k.span())) {
    return make_error("invalid key (expected 44 characters of base64)");
  }
  return k;
}

}  // namespace waypost::crypto
