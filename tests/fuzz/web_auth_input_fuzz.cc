// Fuzzes what a sign-in or setup request hands the web admin's auth code before any database
// access: base32 TOTP secrets, TOTP codes, recovery codes, admin names and client addresses.
// Invariants: a decoded secret re-encodes to the canonical spelling and decodes back to the same
// bytes; a code is accepted only if it is six digits; a normalised recovery code is 16 base32
// characters and normalises to itself; a valid admin name has only the allowed characters.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "web/auth.h"
#include "web/base32.h"
#include "web/rate_limit.h"
#include "web/recovery_codes.h"
#include "web/totp.h"

namespace {

[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "web_auth_input_fuzz: %s\n%.*s\n", what, int(input.size()), input.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace waypost::web;  // NOLINT: a fuzz harness over one namespace
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto bytes = base32_decode(text)) {
    const std::string canonical = base32_encode(*bytes);
    auto again = base32_decode(canonical);
    if (!again || *again != *bytes) fail("base32 does not round-trip", text);
    if (!bytes->empty()) {
      // Any decodable secret can drive TOTP; the code it makes must verify at the same time.
      const int64_t t = 1'700'000'000;
      const std::string code = hotp_code(*bytes, totp_step(t));
      if (code.size() != 6 || !totp_verify(*bytes, code, t, 0)) fail("own code refused", text);
    }
  }

  static const std::vector<uint8_t> kSecret(20, 0x42);
  if (totp_verify(kSecret, text, 1'700'000'000, 0)) {
    if (text.size() != 6 || text.find_first_not_of("0123456789") != std::string_view::npos) {
      fail("a code that is not six digits was accepted", text);
    }
  }

  if (auto canonical = normalize_recovery_code(text)) {
    if (canonical->size() != 16 || normalize_recovery_code(*canonical) != canonical) {
      fail("recovery code normalisation is not stable", text);
    }
    if (!hash_recovery_code(text)) fail("normalised but not hashed", text);
  }

  if (validate_admin_name(text)) {
    if (text.empty() || text.size() > 64 ||
        text.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-") !=
            std::string_view::npos) {
      fail("invalid admin name accepted", text);
    }
  }

  (void)address_key(text);
  (void)percent_encode(text);
  return 0;
}
