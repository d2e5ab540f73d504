#pragma once
// Ephemeral Diffie-Hellman for key exchange protocols (IKEv2's KE payload), through OpenSSL 3's
// EVP_PKEY interface. Public values use IKEv2's encodings:
//   MODP groups (RFC 3526):    big-endian, zero-padded to the prime's length (RFC 7296 3.4);
//   NIST ECP groups (RFC 5903): x || y, each zero-padded to the field size, no 0x04 prefix;
//   Curve25519 (RFC 8031):      the 32-byte u-coordinate.
// The shared secret is padded the same way (for ECP it is x alone, RFC 5903 section 7).
// A peer's value is validated (length, range, on the curve, not a low-order result) before use;
// anything wrong is an error, never a crash.

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"
#include "crypto/secret_bytes.h"

namespace waypost::crypto {

enum class DhKind : uint8_t {
  // RFC 2409 group 2: weak, only for peers that offer nothing better (Windows' built-in IKEv2
  // client by default); never in a default proposal.
  kModp1024,
  kModp2048,
  kModp3072,
  kModp4096,
  kEcp256,
  kEcp384,
  kEcp521,
  kX25519,
};

// Bytes of a public value and of the shared secret in the encodings above.
size_t dh_public_size(DhKind kind);
size_t dh_shared_size(DhKind kind);
const char* dh_name(DhKind kind);  // "modp2048", "ecp256", "curve25519" (strongSwan's keywords)

class DhKeyPair {
 public:
  // A fresh key pair from OpenSSL's CSPRNG.
  static Result<DhKeyPair> generate(DhKind kind);
  // A key pair from a given private value (ECP: the big-endian scalar, padded to the field size;
  // X25519: the 32-byte scalar). For known-answer tests and reproducible simulations; MODP groups
  // are not supported here.
  static Result<DhKeyPair> from_private(DhKind kind, std::span<const uint8_t> private_value);

  DhKind kind() const { return kind_; }
  std::span<const uint8_t> public_value() const { return public_; }
  // g^ir from the peer's public value. kParse for a malformed or invalid value.
  Result<SecretBytes> shared_secret(std::span<const uint8_t> peer_public) const;

 private:
  struct PkeyDeleter {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  };
  using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
  DhKeyPair(DhKind kind, PkeyPtr pkey) : kind_(kind), pkey_(std::move(pkey)) {}
  Status fill_public();
  Result<PkeyPtr> peer_key(std::span<const uint8_t> peer_public) const;

  DhKind kind_ = DhKind::kX25519;
  PkeyPtr pkey_;
  std::vector<uint8_t> public_;
};

}  // namespace waypost::crypto
