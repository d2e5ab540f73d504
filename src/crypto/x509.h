#pragma once
// X.509 certificates, private keys, CRLs and signatures through OpenSSL 3, for IKEv2
// certificate authentication: loading PEM/DER/PKCS#12 files, verifying a peer's chain against
// trusted CAs (with CRLs when there are any), checking which identities a certificate vouches
// for, and the signatures of RFC 7296 (RSA PKCS#1 v1.5, ECDSA) and RFC 7427 (any of them behind
// an AlgorithmIdentifier). Nothing here parses ASN.1 by hand: OpenSSL encodes and decodes.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "crypto/hmac.h"

namespace waypost::crypto {

using Bytes = std::vector<uint8_t>;

enum class KeyKind : uint8_t { kRsa, kEcdsa, kOther };

// The reason of OpenSSL's oldest queued error, and the queue cleared ("unknown OpenSSL error"
// when it is empty), for messages.
std::string openssl_error();

class VerifyKey {
 public:
  VerifyKey() = default;
  explicit VerifyKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  bool valid() const { return key_ != nullptr; }
  KeyKind kind() const;
  int bits() const;  // RSA modulus or EC field size
  EVP_PKEY* get() const { return key_.get(); }
  bool operator==(const VerifyKey& o) const;

 private:
  std::shared_ptr<EVP_PKEY> key_;
};

class Certificate {
 public:
  // PEM or DER.
  static Result<Certificate> from_bytes(std::span<const uint8_t> bytes, const std::string& what);
  static Result<Certificate> load(const std::string& path);
  static Result<Certificate> from_der(std::span<const uint8_t> der);

  X509* get() const { return cert_.get(); }
  Bytes der() const;
  std::string subject() const;  // "C=CH, O=strongSwan, CN=moon", as strongSwan prints DNs
  Bytes subject_der() const;
  std::string issuer() const;
  VerifyKey public_key() const;
  // SHA-1 of the SubjectPublicKeyInfo (what a CERTREQ lists for a CA, RFC 7296 3.7).
  Bytes spki_sha1() const;
  bool is_ca() const;
  // Whether the certificate vouches for an identity: a DN equal to its subject; an FQDN, e-mail
  // address or IP address among its subjectAltNames (an FQDN or e-mail also as the subject's CN
  // when there are no such SANs, as strongSwan accepts).
  bool has_dn(std::span<const uint8_t> dn_der) const;
  bool has_fqdn(const std::string& name) const;
  bool has_email(const std::string& address) const;
  // The e-mail addresses it names (subject emailAddress and rfc822Name SANs).
  std::vector<std::string> email_addresses() const;
  // Its notAfter as Unix time (0 when unreadable).
  time_t not_after() const;
  bool has_ip(std::span<const uint8_t> address) const;

 private:
  std::shared_ptr<X509> cert_;
};

class SigningKey {
 public:
  // PEM (PKCS#1, SEC1, PKCS#8, encrypted with `passphrase` if so) or DER.
  static Result<SigningKey> load(const std::string& path, const std::string& passphrase);
  // Takes ownership of `key`.
  static SigningKey adopt(EVP_PKEY* key);
  EVP_PKEY* get() const { return key_.get(); }
  VerifyKey public_key() const { return VerifyKey(key_); }

 private:
  std::shared_ptr<EVP_PKEY> key_;
};

struct Pkcs12Contents {
  SigningKey key;
  Certificate cert;
  std::vector<Certificate> chain;
};
Result<Pkcs12Contents> load_pkcs12(const std::string& path, const std::string& passphrase);

class Crl {
 public:
  static Result<Crl> load(const std::string& path);
  X509_CRL* get() const { return crl_.get(); }

 private:
  std::shared_ptr<X509_CRL> crl_;
};

// Verifies `leaf` up to one of `trusted` through `intermediates`, at the current time, checking
// revocation against `crls` for every certificate of the chain that has one from its issuer
// (and, with `require_crl`, failing when one is missing). The error says why in OpenSSL's words
// ("certificate has expired", "unable to get local issuer certificate", "certificate revoked").
Status verify_chain(const Certificate& leaf, const std::vector<Certificate>& intermediates,
                    const std::vector<Certificate>& trusted, const std::vector<Crl>& crls,
                    bool require_crl);

// Whether `issuer` signed `cert` (names and signature) and `cert` is valid now; nothing else. For
// certificates from another CA whose own constraints OpenSSL reads more strictly than IKE clients:
// Algo's name constraints permit only IP:<server> for its server certificate, whose CN, also
// "<server>", OpenSSL's full check takes for a DNS name and refuses.
Status verify_signed_by(const Certificate& cert, const Certificate& issuer);

// Signatures over `data`. RSA: PKCS#1 v1.5; ECDSA: DER (ECDSA-Sig-Value), as RFC 7427 carries
// them; ecdsa_der_to_raw / ecdsa_raw_to_der convert for RFC 4754's r||s form.
Result<Bytes> sign(const SigningKey& key, HashAlg hash, std::span<const uint8_t> data);
bool verify(const VerifyKey& key, HashAlg hash, std::span<const uint8_t> data,
            std::span<const uint8_t> signature);
Result<Bytes> ecdsa_der_to_raw(std::span<const uint8_t> der, size_t half);
Result<Bytes> ecdsa_raw_to_der(std::span<const uint8_t> raw);

// RFC 7427's AlgorithmIdentifier (DER) of a signature by `kind` with `hash`, and back.
Result<Bytes> signature_algorithm_der(KeyKind kind, HashAlg hash);
struct SignatureAlgorithm {
  KeyKind kind = KeyKind::kOther;
  HashAlg hash = HashAlg::kSha256;
};
Result<SignatureAlgorithm> parse_signature_algorithm(std::span<const uint8_t> der);

}  // namespace waypost::crypto
