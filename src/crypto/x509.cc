#include "crypto/x509.h"

#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>

namespace waypost::crypto {

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

namespace {

Result<Bytes> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorKind::kNotFound, "cannot read {}: {}", path, std::strerror(errno));
  }
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool is_pem(std::span<const uint8_t> b) {
  static constexpr std::string_view kBegin = "-----BEGIN";
  std::string_view s(reinterpret_cast<const char*>(b.data()), b.size());
  return s.find(kBegin) != std::string_view::npos;
}

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
BioPtr mem_bio(std::span<const uint8_t> b) {
  return {BIO_new_mem_buf(b.data(), int(b.size())), BIO_free};
}

const EVP_MD* md_for(HashAlg h) {
  switch (h) {
    case HashAlg::kSha1:
      return EVP_sha1();
    case HashAlg::kSha256:
      return EVP_sha256();
    case HashAlg::kSha384:
      return EVP_sha384();
    case HashAlg::kSha512:
      return EVP_sha512();
  }
  return nullptr;
}

std::shared_ptr<X509> wrap(X509* x) {
  return {x, X509_free};
}

std::string name_text(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio ||
      X509_NAME_print_ex(bio.get(), name, 0,
                         XN_FLAG_SEP_CPLUS_SPC | ASN1_STRFLGS_UTF8_CONVERT | XN_FLAG_FN_SN) < 0) {
    return "?";
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return {data, size_t(len)};
}

// The passphrase callback for PEM_read_bio_PrivateKey: `u` is the passphrase.
int passphrase_cb(char* buf, int size, int /*rwflag*/, void* u) {
  const auto* pass = static_cast<const std::string*>(u);
  const int n = std::min<int>(size, int(pass->size()));
  std::memcpy(buf, pass->data(), size_t(n));
  return n;
}

}  // namespace

KeyKind VerifyKey::kind() const {
  if (!key_) return KeyKind::kOther;
  switch (EVP_PKEY_get_base_id(key_.get())) {
    case EVP_PKEY_RSA:
      return KeyKind::kRsa;
    case EVP_PKEY_EC:
      return KeyKind::kEcdsa;
    default:
      return KeyKind::kOther;
  }
}

int VerifyKey::bits() const {
  return key_ ? EVP_PKEY_get_bits(key_.get()) : 0;
}

bool VerifyKey::operator==(const VerifyKey& o) const {
  return key_ && o.key_ && EVP_PKEY_eq(key_.get(), o.key_.get()) == 1;
}

Result<Certificate> Certificate::from_bytes(std::span<const uint8_t> bytes,
                                            const std::string& what) {
  X509* x = nullptr;
  if (is_pem(bytes)) {
    BioPtr bio = mem_bio(bytes);
    x = bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  } else {
    const unsigned char* p = bytes.data();
    x = d2i_X509(nullptr, &p, long(bytes.size()));
  }
  if (x == nullptr) {
    return make_error(ErrorKind::kParse, "{}: not an X.509 certificate ({})", what,
                      openssl_error());
  }
  Certificate c;
  c.cert_ = wrap(x);
  return c;
}

Result<Certificate> Certificate::load(const std::string& path) {
  auto bytes = read_file(path);
  if (!bytes) return bytes.take_error();
  return from_bytes(*bytes, path);
}

Result<Certificate> Certificate::from_der(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  X509* x = d2i_X509(nullptr, &p, long(der.size()));
  if (x == nullptr || p != der.data() + der.size()) {
    X509_free(x);
    ERR_clear_error();
    return make_error(ErrorKind::kParse, "not a DER X.509 certificate");
  }
  Certificate c;
  c.cert_ = wrap(x);
  return c;
}

Bytes Certificate::der() const {
  unsigned char* out = nullptr;
  const int n = i2d_X509(cert_.get(), &out);
  if (n <= 0) return {};
  Bytes b(out, out + n);
  OPENSSL_free(out);
  return b;
}

std::string Certificate::subject() const {
  return name_text(X509_get_subject_name(cert_.get()));
}

std::string Certificate::issuer() const {
  return name_text(X509_get_issuer_name(cert_.get()));
}

Bytes Certificate::subject_der() const {
  unsigned char* out = nullptr;
  const int n = i2d_X509_NAME(X509_get_subject_name(cert_.get()), &out);
  if (n <= 0) return {};
  Bytes b(out, out + n);
  OPENSSL_free(out);
  return b;
}

VerifyKey Certificate::public_key() const {
  EVP_PKEY* k = X509_get_pubkey(cert_.get());  // a new reference
  return VerifyKey(std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free));
}

Bytes Certificate::spki_sha1() const {
  unsigned char* out = nullptr;
  const int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert_.get()), &out);
  if (n <= 0) return {};
  Bytes hash(20);
  const bool ok = digest(HashAlg::kSha1, {std::span<const uint8_t>(out, size_t(n))}, hash);
  OPENSSL_free(out);
  return ok ? hash : Bytes{};
}

bool Certificate::is_ca() const {
  return X509_check_ca(cert_.get()) > 0;
}

bool Certificate::has_dn(std::span<const uint8_t> dn_der) const {
  const unsigned char* p = dn_der.data();
  std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)> name(
      d2i_X509_NAME(nullptr, &p, long(dn_der.size())), X509_NAME_free);
  if (!name) {
    ERR_clear_error();
    return false;
  }
  return X509_NAME_cmp(name.get(), X509_get_subject_name(cert_.get())) == 0;
}

bool Certificate::has_fqdn(const std::string& name) const {
  return X509_check_host(cert_.get(), name.data(), name.size(), 0, nullptr) == 1;
}

bool Certificate::has_email(const std::string& address) const {
  return X509_check_email(cert_.get(), address.data(), address.size(), 0) == 1;
}

std::vector<std::string> Certificate::email_addresses() const {
  std::vector<std::string> out;
  STACK_OF(OPENSSL_STRING)* emails = X509_get1_email(cert_.get());
  const int n = sk_OPENSSL_STRING_num(emails);  // -1 when there are none (a null stack)
  if (n > 0) out.reserve(size_t(n));
  for (int i = 0; i < n; ++i) {
    out.emplace_back(sk_OPENSSL_STRING_value(emails, i));
  }
  X509_email_free(emails);
  return out;
}

time_t Certificate::not_after() const {
  tm t{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert_.get()), &t) != 1) return 0;
  return timegm(&t);
}

Status verify_signed_by(const Certificate& cert, const Certificate& issuer) {
  if (X509_check_issued(issuer.get(), cert.get()) != X509_V_OK) {
    return make_error("not issued by {}", issuer.subject());
  }
  EVP_PKEY* key = X509_get0_pubkey(issuer.get());
  if (key == nullptr || X509_verify(cert.get(), key) != 1) {
    ERR_clear_error();
    return make_error("its signature does not verify with {}'s key", issuer.subject());
  }
  time_t now = time(nullptr);
  if (X509_cmp_time(X509_get0_notBefore(cert.get()), &now) > 0) {
    return make_error("not valid yet");
  }
  if (X509_cmp_time(X509_get0_notAfter(cert.get()), &now) < 0) return make_error("expired");
  return {};
}

bool Certificate::has_ip(std::span<const uint8_t> address) const {
  return X509_check_ip(cert_.get(), address.data(), address.size(), 0) == 1;
}

Result<SigningKey> SigningKey::load(const std::string& path, const std::string& passphrase) {
  auto bytes = read_file(path);
  if (!bytes) return bytes.take_error();
  EVP_PKEY* k = nullptr;
  if (is_pem(*bytes)) {
    BioPtr bio = mem_bio(*bytes);
    std::string pass = passphrase;
    k = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_cb, &pass) : nullptr;
    OPENSSL_cleanse(pass.data(), pass.size());
  } else {
    const unsigned char* p = bytes->data();
    k = d2i_AutoPrivateKey(nullptr, &p, long(bytes->size()));
  }
  OPENSSL_cleanse(bytes->data(), bytes->size());
  if (k == nullptr) {
    return make_error(ErrorKind::kParse, "{}: not a private key, or the passphrase is wrong ({})",
                      path, openssl_error());
  }
  SigningKey key;
  key.key_ = std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free);
  return key;
}

SigningKey SigningKey::adopt(EVP_PKEY* key) {
  SigningKey k;
  k.key_ = std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
  return k;
}

Result<Pkcs12Contents> load_pkcs12(const std::string& path, const std::string& passphrase) {
  auto bytes = read_file(path);
  if (!bytes) return bytes.take_error();
  const unsigned char* p = bytes->data();
  std::unique_ptr<PKCS12, decltype(&PKCS12_free)> p12(d2i_PKCS12(nullptr, &p, long(bytes->size())),
                                                      PKCS12_free);
  if (!p12) {
    return make_error(ErrorKind::kParse, "{}: not a PKCS#12 file ({})", path, openssl_error());
  }
  EVP_PKEY* k = nullptr;
  X509* x = nullptr;
  STACK_OF(X509)* ca = nullptr;
  if (PKCS12_parse(p12.get(), passphrase.c_str(), &k, &x, &ca) != 1) {
    return make_error(ErrorKind::kParse, "{}: cannot open the PKCS#12 file (wrong passphrase?): {}",
                      path, openssl_error());
  }
  Pkcs12Contents out;
  if (k != nullptr) out.key = SigningKey::adopt(k);
  if (x != nullptr) {
    auto c = Certificate::from_der([&] {
      unsigned char* der = nullptr;
      const int n = i2d_X509(x, &der);
      Bytes b(der, der + std::max(n, 0));
      OPENSSL_free(der);
      return b;
    }());
    X509_free(x);
    if (c) out.cert = std::move(*c);
  }
  for (int i = 0; ca != nullptr && i < sk_X509_num(ca); ++i) {
    X509* e = sk_X509_value(ca, i);
    unsigned char* der = nullptr;
    const int n = i2d_X509(e, &der);
    if (n > 0) {
      if (auto c = Certificate::from_der({der, size_t(n)})) out.chain.push_back(std::move(*c));
    }
    OPENSSL_free(der);
  }
  sk_X509_pop_free(ca, X509_free);
  return out;
}

Result<Crl> Crl::load(const std::string& path) {
  auto bytes = read_file(path);
  if (!bytes) return bytes.take_error();
  X509_CRL* c = nullptr;
  if (is_pem(*bytes)) {
    BioPtr bio = mem_bio(*bytes);
    c = bio ? PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  } else {
    const unsigned char* p = bytes->data();
    c = d2i_X509_CRL(nullptr, &p, long(bytes->size()));
  }
  if (c == nullptr) {
    return make_error(ErrorKind::kParse, "{}: not a CRL ({})", path, openssl_error());
  }
  Crl crl;
  crl.crl_ = std::shared_ptr<X509_CRL>(c, X509_CRL_free);
  return crl;
}

Status verify_chain(const Certificate& leaf, const std::vector<Certificate>& intermediates,
                    const std::vector<Certificate>& trusted, const std::vector<Crl>& crls,
                    bool require_crl) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> untrusted(
      sk_X509_new_null(), [](STACK_OF(X509) * s) { sk_X509_free(s); });
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  if (!store || !untrusted || !ctx) return make_error("out of memory");
  for (const auto& t : trusted) X509_STORE_add_cert(store.get(), t.get());
  for (const auto& i : intermediates) sk_X509_push(untrusted.get(), i.get());
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    return make_error("cannot set up the certificate check: {}", openssl_error());
  }
  // IKE identities are subjectAltNames or the whole subject DN, never a CN read as a host name:
  // without this, a CA's DNS name constraint would refuse a user certificate with CN=john.doe
  // (a CN with a dot looks like a host name to OpenSSL). Constraints on SANs still apply.
  X509_VERIFY_PARAM_set_hostflags(X509_STORE_CTX_get0_param(ctx.get()),
                                  X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return make_error(ErrorKind::kPermission, "{}", X509_verify_cert_error_string(err));
  }
  // Revocation: each certificate of the chain below the root, against its issuer's CRL.
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  for (int i = 0; i + 1 < sk_X509_num(chain); ++i) {
    X509* cert = sk_X509_value(chain, i);
    X509* issuer = sk_X509_value(chain, i + 1);
    const X509_CRL* found = nullptr;
    for (const Crl& crl : crls) {
      if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(issuer)) != 0) {
        continue;
      }
      EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
      if (issuer_key == nullptr || X509_CRL_verify(crl.get(), issuer_key) != 1) {
        ERR_clear_error();
        continue;  // not signed by this issuer: not its CRL
      }
      found = crl.get();
      X509_REVOKED* revoked = nullptr;
      if (X509_CRL_get0_by_cert(crl.get(), &revoked, cert) == 1) {
        return make_error(ErrorKind::kPermission, "certificate revoked ({})",
                          name_text(X509_get_subject_name(cert)));
      }
    }
    if (found == nullptr && require_crl) {
      return make_error(
          ErrorKind::kPermission, "no CRL of {} to check {} against (revocation = strict)",
          name_text(X509_get_subject_name(issuer)), name_text(X509_get_subject_name(cert)));
    }
  }
  return {};
}

Result<Bytes> sign(const SigningKey& key, HashAlg hash, std::span<const uint8_t> data) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md_for(hash), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1) {
    return make_error("signing failed: {}", openssl_error());
  }
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) != 1) {
    return make_error("signing failed: {}", openssl_error());
  }
  sig.resize(len);
  return sig;
}

bool verify(const VerifyKey& key, HashAlg hash, std::span<const uint8_t> data,
            std::span<const uint8_t> signature) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const bool ok = ctx && key.valid() &&
                  EVP_DigestVerifyInit(ctx.get(), nullptr, md_for(hash), nullptr, key.get()) == 1 &&
                  EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(),
                                   data.size()) == 1;
  ERR_clear_error();
  return ok;
}

Result<Bytes> ecdsa_der_to_raw(std::span<const uint8_t> der, size_t half) {
  const unsigned char* p = der.data();
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
      d2i_ECDSA_SIG(nullptr, &p, long(der.size())), ECDSA_SIG_free);
  if (!sig) return make_error("not an ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  Bytes raw(2 * half);
  if (BN_bn2binpad(r, raw.data(), int(half)) < 0 ||
      BN_bn2binpad(s, raw.data() + half, int(half)) < 0) {
    return make_error("ECDSA signature does not fit");
  }
  return raw;
}

Result<Bytes> ecdsa_raw_to_der(std::span<const uint8_t> raw) {
  if (raw.empty() || raw.size() % 2 != 0) {
    return make_error(ErrorKind::kParse, "ECDSA signature of odd length");
  }
  const size_t half = raw.size() / 2;
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), ECDSA_SIG_free);
  BIGNUM* r = BN_bin2bn(raw.data(), int(half), nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + half, int(half), nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return make_error("out of memory");
  }
  unsigned char* out = nullptr;
  const int n = i2d_ECDSA_SIG(sig.get(), &out);
  if (n <= 0) return make_error("cannot encode an ECDSA signature");
  Bytes der(out, out + n);
  OPENSSL_free(out);
  return der;
}

Result<Bytes> signature_algorithm_der(KeyKind kind, HashAlg hash) {
  int nid = NID_undef;
  if (kind == KeyKind::kRsa) {
    nid = hash == HashAlg::kSha1     ? NID_sha1WithRSAEncryption
          : hash == HashAlg::kSha256 ? NID_sha256WithRSAEncryption
          : hash == HashAlg::kSha384 ? NID_sha384WithRSAEncryption
                                     : NID_sha512WithRSAEncryption;
  } else if (kind == KeyKind::kEcdsa) {
    nid = hash == HashAlg::kSha1     ? NID_ecdsa_with_SHA1
          : hash == HashAlg::kSha256 ? NID_ecdsa_with_SHA256
          : hash == HashAlg::kSha384 ? NID_ecdsa_with_SHA384
                                     : NID_ecdsa_with_SHA512;
  } else {
    return make_error("no signature algorithm for this key type");
  }
  std::unique_ptr<X509_ALGOR, decltype(&X509_ALGOR_free)> alg(X509_ALGOR_new(), X509_ALGOR_free);
  // RSA's PKCS#1 identifiers carry an explicit NULL parameter, ECDSA's none (RFC 7427 A).
  if (!alg || X509_ALGOR_set0(alg.get(), OBJ_nid2obj(nid),
                              kind == KeyKind::kRsa ? V_ASN1_NULL : V_ASN1_UNDEF, nullptr) != 1) {
    return make_error("out of memory");
  }
  unsigned char* out = nullptr;
  const int n = i2d_X509_ALGOR(alg.get(), &out);
  if (n <= 0) return make_error("cannot encode an AlgorithmIdentifier");
  Bytes der(out, out + n);
  OPENSSL_free(out);
  return der;
}

Result<SignatureAlgorithm> parse_signature_algorithm(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  std::unique_ptr<X509_ALGOR, decltype(&X509_ALGOR_free)> alg(
      d2i_X509_ALGOR(nullptr, &p, long(der.size())), X509_ALGOR_free);
  if (!alg || p != der.data() + der.size()) {
    ERR_clear_error();
    return make_error(ErrorKind::kParse, "not an AlgorithmIdentifier");
  }
  const ASN1_OBJECT* obj = nullptr;
  X509_ALGOR_get0(&obj, nullptr, nullptr, alg.get());
  const int nid = OBJ_obj2nid(obj);
  int md = NID_undef;
  int pkey = NID_undef;
  if (OBJ_find_sigid_algs(nid, &md, &pkey) != 1) {
    return make_error(ErrorKind::kParse, "signature algorithm {} is not supported",
                      nid == NID_undef ? "?" : OBJ_nid2sn(nid));
  }
  SignatureAlgorithm out;
  if (pkey == NID_rsaEncryption) {
    out.kind = KeyKind::kRsa;
  } else if (pkey == NID_X9_62_id_ecPublicKey) {
    out.kind = KeyKind::kEcdsa;
  } else {
    return make_error(ErrorKind::kParse, "signature algorithm {} is not supported",
                      OBJ_nid2sn(nid));
  }
  switch (md) {
    case NID_sha1:
      out.hash = HashAlg::kSha1;
      break;
    case NID_sha256:
      out.hash = HashAlg::kSha256;
      break;
    case NID_sha384:
      out.hash = HashAlg::kSha384;
      break;
    case NID_sha512:
      out.hash = HashAlg::kSha512;
      break;
    default:
      return make_error(ErrorKind::kParse, "signature algorithm {} is not supported",
                        OBJ_nid2sn(nid));
  }
  return out;
}

}  // namespace waypost::crypto
