#include "crypto/x509_issue.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include <memory>

namespace waypost::crypto {

namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL, X509_CRL_free>>;
using Asn1IntPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME, ASN1_TIME_free>>;
using Asn1EnumPtr =
    std::unique_ptr<ASN1_ENUMERATED, Deleter<ASN1_ENUMERATED, ASN1_ENUMERATED_free>>;
using RevokedPtr = std::unique_ptr<X509_REVOKED, Deleter<X509_REVOKED, X509_REVOKED_free>>;
using Pkcs12Ptr = std::unique_ptr<PKCS12, Deleter<PKCS12, PKCS12_free>>;

std::string bio_text(BIO* bio) {
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  return mem != nullptr ? std::string(mem->data, mem->length) : std::string();
}

Asn1IntPtr serial_integer(uint64_t serial) {
  BIGNUM* bn = BN_new();
  if (bn == nullptr) return nullptr;
  BN_set_word(bn, serial);
  Asn1IntPtr out(BN_to_ASN1_INTEGER(bn, nullptr));
  BN_free(bn);
  return out;
}

Asn1IntPtr serial_integer_hex(const std::string& hex) {
  BIGNUM* bn = nullptr;
  if (hex.empty() || BN_hex2bn(&bn, hex.c_str()) != int(hex.size())) {
    BN_free(bn);
    return nullptr;
  }
  Asn1IntPtr out(BN_to_ASN1_INTEGER(bn, nullptr));
  BN_free(bn);
  return out;
}

std::string integer_hex(const ASN1_INTEGER* value) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(value, nullptr);
  if (bn == nullptr) return {};
  char* text = BN_bn2hex(bn);
  BN_free(bn);
  if (text == nullptr) return {};
  std::string out(text);
  OPENSSL_free(text);
  // BN_bn2hex writes whole bytes ("0A"); one leading zero is dropped so every serial has one
  // spelling.
  if (out.size() > 1 && out.front() == '0') out.erase(0, 1);
  return out;
}

const EVP_MD* digest_for(const SigningKey& key) {
  // ECDSA keys are signed with the hash of their strength (P-384 with SHA-384, as Algo's CA);
  // RSA with SHA-256.
  return EVP_PKEY_get_bits(key.get()) >= 384 && EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC
             ? EVP_sha384()
             : EVP_sha256();
}

Status add_extension(X509* cert, X509V3_CTX* ctx, const std::string& name,
                     const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf(nullptr, ctx, name.c_str(), value.c_str());
  if (ext == nullptr) {
    return make_error("certificate extension {} = '{}': {}", name, value, openssl_error());
  }
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return make_error("certificate extension {}: {}", name, openssl_error());
  return {};
}

}  // namespace

Result<SigningKey> generate_ec_key(const std::string& curve) {
  EVP_PKEY* key = EVP_EC_gen(curve.c_str());
  if (key == nullptr) return make_error("cannot create a {} key: {}", curve, openssl_error());
  return SigningKey::adopt(key);
}

Result<std::string> private_key_pem(const SigningKey& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return make_error("cannot encode a private key: {}", openssl_error());
  }
  return bio_text(bio.get());
}

Result<SigningKey> private_key_from_pem(const std::string& pem, const std::string& what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (key == nullptr) return make_error("{}: not a PEM private key ({})", what, openssl_error());
  return SigningKey::adopt(key);
}

std::string certificate_pem(const Certificate& cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1) return {};
  return bio_text(bio.get());
}

Result<Certificate> certificate_from_pem(const std::string& pem, const std::string& what) {
  return Certificate::from_bytes(
      std::span(reinterpret_cast<const uint8_t*>(pem.data()), pem.size()), what);
}

Result<Certificate> issue_certificate(const CertificateRequest& request,
                                      const VerifyKey& subject_key, const Certificate* issuer,
                                      const SigningKey& issuer_key) {
  X509Ptr cert(X509_new());
  if (!cert) return make_error("out of memory");
  X509_set_version(cert.get(), 2);
  Asn1IntPtr serial = serial_integer(request.serial);
  if (!serial || X509_set_serialNumber(cert.get(), serial.get()) != 1) {
    return make_error("certificate serial: {}", openssl_error());
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), request.not_before) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), request.not_after) == nullptr) {
    return make_error("certificate validity: {}", openssl_error());
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& [attr, value] : request.subject) {
    if (X509_NAME_add_entry_by_txt(name, attr.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                   0) != 1) {
      return make_error("certificate subject {}={}: {}", attr, value, openssl_error());
    }
  }
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer->get()) : name);
  if (X509_set_pubkey(cert.get(), subject_key.get()) != 1) {
    return make_error("certificate key: {}", openssl_error());
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer->get() : cert.get(), cert.get(), nullptr, nullptr,
                 0);
  if (auto st = add_extension(cert.get(), &ctx, "subjectKeyIdentifier", "hash"); !st) {
    return st.take_error();
  }
  if (auto st = add_extension(cert.get(), &ctx, "authorityKeyIdentifier", "keyid:always"); !st) {
    return st.take_error();
  }
  for (const auto& [ext, value] : request.extensions) {
    if (auto st = add_extension(cert.get(), &ctx, ext, value); !st) return st.take_error();
  }
  if (X509_sign(cert.get(), issuer_key.get(), digest_for(issuer_key)) <= 0) {
    return make_error("cannot sign the certificate: {}", openssl_error());
  }
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert.get(), &der);
  if (len <= 0) return make_error("cannot encode the certificate: {}", openssl_error());
  Bytes bytes(der, der + len);
  OPENSSL_free(der);
  return Certificate::from_der(bytes);
}

Result<std::string> issue_crl(const Certificate& issuer, const SigningKey& issuer_key,
                              const std::vector<RevokedEntry>& revoked, uint64_t crl_number,
                              time_t this_update, time_t next_update) {
  CrlPtr crl(X509_CRL_new());
  if (!crl) return make_error("out of memory");
  X509_CRL_set_version(crl.get(), 1);  // v2
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.get()));
  Asn1TimePtr last(ASN1_TIME_set(nullptr, this_update));
  Asn1TimePtr next(ASN1_TIME_set(nullptr, next_update));
  if (!last || !next || X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1) {
    return make_error("CRL validity: {}", openssl_error());
  }
  for (const auto& entry : revoked) {
    RevokedPtr r(X509_REVOKED_new());
    Asn1IntPtr serial = entry.serial_hex.empty() ? serial_integer(entry.serial)
                                                 : serial_integer_hex(entry.serial_hex);
    Asn1TimePtr when(ASN1_TIME_set(nullptr, entry.revoked_at));
    if (!r || !serial || !when || X509_REVOKED_set_serialNumber(r.get(), serial.get()) != 1 ||
        X509_REVOKED_set_revocationDate(r.get(), when.get()) != 1) {
      return make_error("CRL entry {}: {}", entry.serial, openssl_error());
    }
    if (entry.on_hold) {
      constexpr long kCertificateHold = 6;  // CRLReason (RFC 5280 5.3.1)
      Asn1EnumPtr reason(ASN1_ENUMERATED_new());
      if (!reason || ASN1_ENUMERATED_set(reason.get(), kCertificateHold) != 1 ||
          X509_REVOKED_add1_ext_i2d(r.get(), NID_crl_reason, reason.get(), 0, 0) != 1) {
        return make_error("CRL entry {}: reason: {}", entry.serial, openssl_error());
      }
    }
    if (X509_CRL_add0_revoked(crl.get(), r.get()) != 1) {
      return make_error("CRL entry {}: {}", entry.serial, openssl_error());
    }
    (void)r.release();  // owned by the CRL now
  }
  X509_CRL_sort(crl.get());
  Asn1IntPtr number = serial_integer(crl_number);
  if (!number || X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1) {
    return make_error("CRL number: {}", openssl_error());
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer.get(), nullptr, nullptr, crl.get(), 0);
  X509_EXTENSION* aki = X509V3_EXT_conf(nullptr, &ctx, "authorityKeyIdentifier", "keyid:always");
  if (aki == nullptr) return make_error("CRL authorityKeyIdentifier: {}", openssl_error());
  const int aki_ok = X509_CRL_add_ext(crl.get(), aki, -1);
  X509_EXTENSION_free(aki);
  if (aki_ok != 1) return make_error("CRL authorityKeyIdentifier: {}", openssl_error());
  if (X509_CRL_sign(crl.get(), issuer_key.get(), digest_for(issuer_key)) <= 0) {
    return make_error("cannot sign the CRL: {}", openssl_error());
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) {
    return make_error("cannot encode the CRL: {}", openssl_error());
  }
  return bio_text(bio.get());
}

Result<Bytes> make_pkcs12(const SigningKey& key, const Certificate& cert,
                          const std::vector<Certificate>& chain, const std::string& password,
                          const std::string& friendly_name) {
  STACK_OF(X509)* ca = sk_X509_new_null();
  if (ca == nullptr) return make_error("out of memory");
  for (const auto& c : chain) sk_X509_push(ca, c.get());
  // PBE-SHA1-3DES for both bags, no MAC yet: OpenSSL 3 would pick HMAC-SHA-256, which older
  // Apple and Windows importers reject; the SHA-1 MAC is added below.
  Pkcs12Ptr p12(PKCS12_create(password.c_str(), friendly_name.c_str(), key.get(), cert.get(), ca,
                              NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                              NID_pbe_WithSHA1And3_Key_TripleDES_CBC, PKCS12_DEFAULT_ITER, -1, 0));
  sk_X509_free(ca);  // the certificates belong to `chain`
  if (!p12) return make_error("cannot create the PKCS#12: {}", openssl_error());
  if (PKCS12_set_mac(p12.get(), password.c_str(), -1, nullptr, 0, PKCS12_DEFAULT_ITER,
                     EVP_sha1()) != 1) {
    return make_error("cannot MAC the PKCS#12: {}", openssl_error());
  }
  unsigned char* der = nullptr;
  const int len = i2d_PKCS12(p12.get(), &der);
  if (len <= 0) return make_error("cannot encode the PKCS#12: {}", openssl_error());
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

std::string serial_hex(const Certificate& cert) {
  return integer_hex(X509_get0_serialNumber(cert.get()));
}

std::vector<std::string> revoked_serials_hex(const Crl& crl) {
  std::vector<std::string> out;
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  const int n = sk_X509_REVOKED_num(revoked);  // -1 when nothing is revoked (a null stack)
  if (n > 0) out.reserve(size_t(n));
  for (int i = 0; i < n; ++i) {
    out.push_back(integer_hex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
  }
  return out;
}

std::optional<uint64_t> serial_from_hex(const std::string& hex) {
  if (hex.empty() || hex.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : hex) {
    int d = 0;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | uint64_t(d);
  }
  return v;
}

}  // namespace waypost::crypto
