#pragma once
// Admin passwords, hashed with Argon2id (RFC 9106) through libargon2 into its self-describing
// "$argon2id$v=19$m=...,t=...,p=...$salt$hash" string, which is what web.db stores.
//
// The default cost is t=3 passes over m=64 MiB with p=1 lane: RFC 9106 section 4's second
// recommended option ("if much less memory is available", 64 MiB, t=3), chosen because Waypost
// runs on 1-vCPU, 512 MiB-1 GiB VMs where the first option's 2 GiB does not exist and a second
// lane brings no parallelism. One hash takes about 0.1-0.3 s of one core there: unnoticeable at
// sign-in, and with the login rate limit it also bounds how much CPU and memory a flood of
// sign-in attempts can take. Parameters are read back from each stored hash, so raising them
// later keeps old passwords working.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "crypto/random.h"

namespace waypost::web {

struct PasswordParams {
  uint32_t t_cost = 3;              // passes
  uint32_t m_cost_kib = 64 * 1024;  // memory in KiB
  uint32_t parallelism = 1;         // lanes
};

// Tests use the cheapest parameters libargon2 allows, so that a test suite does not spend seconds
// hashing. Never used by the daemon or the CLI.
inline constexpr PasswordParams kTestPasswordParams{1, 8, 1};

// Byte lengths of a new password. The upper bound keeps a request body from feeding megabytes
// into the hash; 12 characters is NIST SP 800-63B's floor of 8 with room for weak choices.
inline constexpr size_t kMinPasswordLength = 12;
inline constexpr size_t kMaxPasswordLength = 1024;

// Whether a new password is acceptable; the error says why, for the setup page.
Status check_new_password(std::string_view password);

// A fresh 16-byte random salt and the encoded hash.
Result<std::string> hash_password(std::string_view password, crypto::Random& random,
                                  const PasswordParams& params = {});

// Whether `password` matches the encoded hash. A malformed or empty hash never matches.
bool verify_password(std::string_view password, const std::string& encoded);

}  // namespace waypost::web
