#pragma once
// Making certificates rather than checking them: the small CA `waypost server` runs for its
// IKEv2 users (Algo VPN's PKI: an ECDSA P-384 CA, a server certificate, one certificate per user,
// a CRL), and the PKCS#12 bundles clients import. Everything is OpenSSL 3; extensions are given
// in OpenSSL's configuration syntax ("critical,CA:TRUE,pathlen:0") and encoded by OpenSSL.

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "crypto/x509.h"

namespace waypost::crypto {

// A new ECDSA key on `curve` ("P-256", "P-384", "P-521").
Result<SigningKey> generate_ec_key(const std::string& curve);
// PKCS#8 PEM, unencrypted (written 0600 by the caller).
Result<std::string> private_key_pem(const SigningKey& key);
Result<SigningKey> private_key_from_pem(const std::string& pem, const std::string& what);
std::string certificate_pem(const Certificate& cert);
Result<Certificate> certificate_from_pem(const std::string& pem, const std::string& what);

struct CertificateRequest {
  // Subject as (attribute, value) pairs in order, e.g. {{"CN", "vpn.example.com"}}.
  std::vector<std::pair<std::string, std::string>> subject;
  uint64_t serial = 1;
  time_t not_before = 0;
  time_t not_after = 0;
  // X.509v3 extensions by OpenSSL name with their value in OpenSSL's syntax, e.g.
  // {"basicConstraints", "critical,CA:TRUE,pathlen:0"}, {"subjectAltName", "DNS:vpn.example.com"},
  // {"extendedKeyUsage", "serverAuth,1.3.6.1.5.5.8.2.2"}, {"nameConstraints", "critical,..."}.
  std::vector<std::pair<std::string, std::string>> extensions;
};

// Signs `request` for `subject_key` with `issuer_key`; self-signed when `issuer` is null. SHA-384
// for P-384 and larger keys, SHA-256 otherwise. subjectKeyIdentifier and authorityKeyIdentifier
// are added.
Result<Certificate> issue_certificate(const CertificateRequest& request,
                                      const VerifyKey& subject_key, const Certificate* issuer,
                                      const SigningKey& issuer_key);

struct RevokedEntry {
  uint64_t serial = 0;
  time_t revoked_at = 0;
  // When not empty, the serial in hex, used instead of `serial`: certificates imported from
  // another CA (Algo VPN's) carry random serials of up to 20 bytes.
  std::string serial_hex;
  // Reason code certificateHold (RFC 5280 5.3.1): suspended, not revoked for good; a later CRL
  // may leave the entry out again (a disabled VPN user).
  bool on_hold = false;
};

// A certificate's serial number in upper-case hex without leading zeros ("1A2B").
std::string serial_hex(const Certificate& cert);
// The serials (hex, as above) a CRL lists.
std::vector<std::string> revoked_serials_hex(const Crl& crl);
// The serial as a number when it fits 64 bits.
std::optional<uint64_t> serial_from_hex(const std::string& hex);
// A v2 CRL by `issuer` listing `revoked`, valid from `this_update` to `next_update`, with a CRL
// number; PEM.
Result<std::string> issue_crl(const Certificate& issuer, const SigningKey& issuer_key,
                              const std::vector<RevokedEntry>& revoked, uint64_t crl_number,
                              time_t this_update, time_t next_update);

// A PKCS#12 holding `key`, `cert` and `chain`, encrypted with `password` by PBE-SHA1-3DES with a
// SHA-1 MAC: the one encoding Apple's and Windows' importers and OpenSSL 3 (without its legacy
// provider) all read. `friendly_name` is what the importers show.
Result<Bytes> make_pkcs12(const SigningKey& key, const Certificate& cert,
                          const std::vector<Certificate>& chain, const std::string& password,
                          const std::string& friendly_name);

}  // namespace waypost::crypto
