#include "web/password.h"

#include <argon2.h>

#include <array>
#include <vector>

#include "common/secret.h"

namespace waypost::web {

namespace {

constexpr size_t kSaltBytes = 16;  // RFC 9106 recommends 128 bits
constexpr size_t kHashBytes = 32;

}  // namespace

Status check_new_password(std::string_view password) {
  if (password.size() < kMinPasswordLength) {
    return make_error(ErrorKind::kParse, "the password must be at least {} characters long",
                      kMinPasswordLength);
  }
  if (password.size() > kMaxPasswordLength) {
    return make_error(ErrorKind::kParse, "the password must be at most {} characters long",
                      kMaxPasswordLength);
  }
  return {};
}

Result<std::string> hash_password(std::string_view password, crypto::Random& random,
                                  const PasswordParams& params) {
  std::array<uint8_t, kSaltBytes> salt{};
  random.fill(salt);
  const size_t encoded_len = argon2_encodedlen(params.t_cost, params.m_cost_kib, params.parallelism,
                                               kSaltBytes, kHashBytes, Argon2_id);
  std::vector<char> encoded(encoded_len);
  const int rc = argon2id_hash_encoded(params.t_cost, params.m_cost_kib, params.parallelism,
                                       password.data(), password.size(), salt.data(), salt.size(),
                                       kHashBytes, encoded.data(), encoded.size());
  secure_wipe(salt.data(), salt.size());
  if (rc != ARGON2_OK) {
    return make_error("cannot hash the password: {}", argon2_error_message(rc));
  }
  return std::string(encoded.data());
}

bool verify_password(std::string_view password, const std::string& encoded) {
  if (encoded.empty()) return false;
  // libargon2 compares the computed and stored hashes in constant time.
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace waypost::web
