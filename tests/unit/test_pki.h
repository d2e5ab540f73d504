#pragma once
// A tiny PKI made in memory with OpenSSL for unit tests: keys, a CA, leaf certificates with
// subjectAltNames and validity windows, and CRLs, written as PEM files where a test needs files.

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

namespace waypost::testing {

using PkeyPtr = std::shared_ptr<EVP_PKEY>;
using X509Ptr = std::shared_ptr<X509>;

inline PkeyPtr ec_key(const char* curve = "P-256") {
  return {EVP_EC_gen(curve), EVP_PKEY_free};
}
inline PkeyPtr rsa_key(unsigned bits = 2048) {
  return {EVP_RSA_gen(bits), EVP_PKEY_free};
}

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext != nullptr) {
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
}

// A certificate for `key` with subject CN=`cn` (O=Test), signed by `issuer_key` (self-signed
// when issuer is null), valid from now + not_before_s to now + not_after_s.
inline X509Ptr make_cert(const PkeyPtr& key, const std::string& cn, X509* issuer,
                         const PkeyPtr& issuer_key, bool ca, const std::string& san,
                         long serial = 1, long not_before_s = -3600, long not_after_s = 86400) {
  X509Ptr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after_s);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509* iss = issuer != nullptr ? issuer : cert.get();
  if (ca) {
    add_ext(cert.get(), iss, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  if (!san.empty()) add_ext(cert.get(), iss, NID_subject_alt_name, san.c_str());
  X509_sign(cert.get(), issuer_key.get(), EVP_sha256());
  return cert;
}

// A CRL of `ca` revoking the certificates with these serials.
inline std::shared_ptr<X509_CRL> make_crl(X509* ca, const PkeyPtr& ca_key,
                                          std::initializer_list<long> serials) {
  std::shared_ptr<X509_CRL> crl(X509_CRL_new(), X509_CRL_free);
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca));
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> now(ASN1_TIME_new(), ASN1_TIME_free);
  X509_gmtime_adj(now.get(), 0);
  X509_CRL_set1_lastUpdate(crl.get(), now.get());
  X509_gmtime_adj(now.get(), 86400);
  X509_CRL_set1_nextUpdate(crl.get(), now.get());
  for (long s : serials) {
    X509_REVOKED* r = X509_REVOKED_new();
    ASN1_INTEGER* i = ASN1_INTEGER_new();
    ASN1_INTEGER_set(i, s);
    X509_REVOKED_set_serialNumber(r, i);
    ASN1_INTEGER_free(i);
    X509_gmtime_adj(now.get(), -60);
    X509_REVOKED_set_revocationDate(r, now.get());
    X509_CRL_add0_revoked(crl.get(), r);
  }
  X509_CRL_sort(crl.get());
  X509_CRL_sign(crl.get(), ca_key.get(), EVP_sha256());
  return crl;
}

inline void write_cert(const std::string& path, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "w");
  PEM_write_X509(f, cert);
  std::fclose(f);
}
inline void write_key(const std::string& path, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}
inline void write_crl(const std::string& path, X509_CRL* crl) {
  FILE* f = std::fopen(path.c_str(), "w");
  PEM_write_X509_CRL(f, crl);
  std::fclose(f);
}

}  // namespace waypost::testing
