#include "web/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <vector>

#include "common/encoding.h"
#include "common/secret.h"

namespace waypost::web {

std::string random_token(crypto::Random& random, size_t bytes) {
  std::vector<uint8_t> raw(bytes);
  random.fill(raw);
  std::string text = to_hex(raw);
  secure_wipe(raw.data(), raw.size());
  return text;
}

TokenHash hash_token(std::string_view token) {
  TokenHash out{};
  unsigned int size = 0;
  if (EVP_Digest(token.data(), token.size(), out.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != out.size()) {
    // SHA-256 cannot fail short of memory exhaustion; a zero hash would match other tokens.
    std::abort();
  }
  return out;
}

bool same_hash(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace waypost::web
