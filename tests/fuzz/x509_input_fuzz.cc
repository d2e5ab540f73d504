// Fuzzes what a peer's IKE_AUTH hands the certificate code before anything is trusted: the
// certificate in a CERT payload (DER), the AlgorithmIdentifier of an RFC 7427 signature, and an
// ECDSA signature in r||s form. The first byte picks which. Invariant: no crash, no leak, no
// out-of-bounds read; whatever parses can be re-encoded.
#include <cstdint>
#include <span>

#include "crypto/x509.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  using namespace waypost::crypto;
  switch (data[0] % 3) {
    case 0:
      if (auto c = Certificate::from_der(rest)) {
        (void)c->subject();
        (void)c->spki_sha1();
        (void)c->public_key().bits();
        (void)c->has_email("a@b.c");
        (void)c->der();
      }
      break;
    case 1:
      if (auto a = parse_signature_algorithm(rest)) (void)signature_algorithm_der(a->kind, a->hash);
      break;
    default:
      if (auto der = ecdsa_raw_to_der(rest)) (void)ecdsa_der_to_raw(*der, rest.size() / 2);
      break;
  }
  return 0;
}
