// Certificate authentication: crypto/x509 (loading, chains, revocation, identities, signatures
// and their encodings), ike/credentials (the swanctl directory layout) and ike/pubkey_auth (the
// AUTH payloads we make and the checks of the peer's), on a PKI made in memory (test_pki.h).
#include <gtest/gtest.h>
#include <cstdlib>

#include <filesystem>

#include "crypto/x509.h"
#include "ike/credentials.h"
#include "ike/pubkey_auth.h"
#include "ike/swanctl_conf.h"
#include "test_pki.h"

namespace waypost::ike {
namespace {

namespace fs = std::filesystem;
using namespace waypost::testing;

crypto::Certificate cert_of(X509* x) {
  unsigned char* der = nullptr;
  const int n = i2d_X509(x, &der);
  auto c = crypto::Certificate::from_der({der, size_t(n)});
  OPENSSL_free(der);
  return c.value();
}

struct Pki {
  PkeyPtr ca_key = ec_key("P-384");
  X509Ptr ca = make_cert(ca_key, "Test CA", nullptr, ca_key, true, "");
  PkeyPtr other_ca_key = ec_key();
  X509Ptr other_ca = make_cert(other_ca_key, "Other CA", nullptr, other_ca_key, true, "");
  PkeyPtr carol_key = ec_key();
  X509Ptr carol =
      make_cert(carol_key, "carol", ca.get(), ca_key, false, "email:carol@example.org", 2);
  PkeyPtr moon_key = rsa_key();
  X509Ptr moon = make_cert(moon_key, "moon.example.org", ca.get(), ca_key, false,
                           "DNS:moon.example.org,IP:192.0.2.1", 3);
  PkeyPtr erin_key = ec_key();
  X509Ptr erin = make_cert(erin_key, "erin", ca.get(), ca_key, false, "email:erin@example.org", 4,
                           -7200, -3600);  // expired an hour ago
  PkeyPtr dave_key = ec_key();
  X509Ptr dave =
      make_cert(dave_key, "dave", other_ca.get(), other_ca_key, false, "email:dave@example.org", 5);
};

Pki& pki() {
  static Pki p;
  return p;
}

IdPayload email_id(const std::string& a) {
  return IdPayload{IdType::kRfc822, Bytes(a.begin(), a.end())};
}

TEST(X509, IdentitiesAndSubject) {
  const auto carol = cert_of(pki().carol.get());
  const auto moon = cert_of(pki().moon.get());
  EXPECT_EQ(carol.subject(), "O=Test, CN=carol");
  EXPECT_TRUE(carol.has_email("carol@example.org"));
  EXPECT_FALSE(carol.has_email("dave@example.org"));
  EXPECT_TRUE(moon.has_fqdn("moon.example.org"));
  EXPECT_FALSE(moon.has_fqdn("sun.example.org"));
  const uint8_t ip[] = {192, 0, 2, 1};
  EXPECT_TRUE(moon.has_ip(ip));
  EXPECT_TRUE(vouches_for(carol, IdPayload{IdType::kDerAsn1Dn, carol.subject_der()}));
  EXPECT_FALSE(vouches_for(carol, IdPayload{IdType::kDerAsn1Dn, moon.subject_der()}));
  EXPECT_TRUE(vouches_for(carol, email_id("carol@example.org")));
  EXPECT_FALSE(vouches_for(carol, email_id("Carol@example.net")));
  EXPECT_EQ(carol.spki_sha1().size(), 20u);
  EXPECT_TRUE(cert_of(pki().ca.get()).is_ca());
  EXPECT_FALSE(carol.is_ca());
  EXPECT_EQ(moon.public_key().kind(), crypto::KeyKind::kRsa);
  EXPECT_EQ(carol.public_key().kind(), crypto::KeyKind::kEcdsa);
  EXPECT_EQ(carol.public_key().bits(), 256);
}

TEST(X509, ChainsExpiryAndRevocation) {
  const std::vector<crypto::Certificate> trusted{cert_of(pki().ca.get())};
  EXPECT_TRUE(crypto::verify_chain(cert_of(pki().carol.get()), {}, trusted, {}, false).ok());
  auto untrusted = crypto::verify_chain(cert_of(pki().dave.get()), {}, trusted, {}, false);
  ASSERT_FALSE(untrusted.ok());
  EXPECT_NE(untrusted.error().message.find("unable to get local issuer certificate"),
            std::string::npos);
  auto expired = crypto::verify_chain(cert_of(pki().erin.get()), {}, trusted, {}, false);
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.error().message.find("certificate has expired"), std::string::npos);
  // Strict revocation without a CRL fails; a CRL listing carol revokes her, not moon.
  EXPECT_FALSE(crypto::verify_chain(cert_of(pki().moon.get()), {}, trusted, {}, true).ok());
  char tmpl[] = "/tmp/waypost-crl-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  write_crl(dir + "/ca.crl", make_crl(pki().ca.get(), pki().ca_key, {2}).get());
  std::vector<crypto::Crl> crls{crypto::Crl::load(dir + "/ca.crl").value()};
  auto revoked = crypto::verify_chain(cert_of(pki().carol.get()), {}, trusted, crls, false);
  ASSERT_FALSE(revoked.ok());
  EXPECT_NE(revoked.error().message.find("certificate revoked"), std::string::npos);
  EXPECT_TRUE(crypto::verify_chain(cert_of(pki().moon.get()), {}, trusted, crls, true).ok());
  // A CRL signed by another CA is not the issuer's CRL.
  write_crl(dir + "/other.crl", make_crl(pki().ca.get(), pki().other_ca_key, {3}).get());
  std::vector<crypto::Crl> forged{crypto::Crl::load(dir + "/other.crl").value()};
  EXPECT_TRUE(crypto::verify_chain(cert_of(pki().moon.get()), {}, trusted, forged, false).ok());
  fs::remove_all(dir);
}

TEST(X509, SignatureEncodings) {
  for (auto kind : {crypto::KeyKind::kRsa, crypto::KeyKind::kEcdsa}) {
    for (auto hash :
         {crypto::HashAlg::kSha256, crypto::HashAlg::kSha384, crypto::HashAlg::kSha512}) {
      auto der = crypto::signature_algorithm_der(kind, hash).value();
      auto back = crypto::parse_signature_algorithm(der).value();
      EXPECT_EQ(back.kind, kind);
      EXPECT_EQ(back.hash, hash);
    }
  }
  // RFC 7427 A.4.3: ecdsa-with-SHA384 without parameters.
  auto ecdsa384 =
      crypto::signature_algorithm_der(crypto::KeyKind::kEcdsa, crypto::HashAlg::kSha384);
  EXPECT_EQ(*ecdsa384,
            (Bytes{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}));
  const uint8_t junk[] = {0x30, 0x03, 0x06, 0x01, 0x00};
  EXPECT_FALSE(crypto::parse_signature_algorithm(junk).ok());
  EXPECT_FALSE(crypto::parse_signature_algorithm({}).ok());
  // r||s and DER forms of an ECDSA signature.
  const Bytes raw(64, 0x42);
  auto der = crypto::ecdsa_raw_to_der(raw).value();
  EXPECT_EQ(crypto::ecdsa_der_to_raw(der, 32).value(), raw);
  EXPECT_FALSE(crypto::ecdsa_raw_to_der(Bytes(63, 1)).ok());
  EXPECT_FALSE(crypto::ecdsa_der_to_raw(Bytes{1, 2, 3}, 32).ok());
}

// A swanctl directory for carol (ECDSA) trusting the test CA.
struct Dir {
  Dir() {
    char tmpl[] = "/tmp/waypost-creds-XXXXXX";
    path = ::mkdtemp(tmpl);
    for (const char* sub : {"x509", "x509ca", "private"}) fs::create_directories(path + "/" + sub);
    write_cert(path + "/x509/carol.pem", pki().carol.get());
    write_key(path + "/private/carol.key", pki().carol_key.get());
    write_cert(path + "/x509ca/ca.pem", pki().ca.get());
  }
  ~Dir() { fs::remove_all(path); }
  std::string path;
};

IpsecConfig config_for(const std::string& certs) {
  auto c = parse_swanctl_text(
      "connections { home { remote_addrs = 192.0.2.1\n"
      "  local { auth = pubkey\n certs = " +
          certs +
          " }\n"
          "  remote { auth = pubkey } } }",
      "test.conf", nullptr);
  return c.value();
}

TEST(Credentials, LoadsTheLayoutAndMatchesKeys) {
  Dir d;
  auto config = config_for("carol.pem");
  EXPECT_TRUE(uses_certificates(config));
  auto creds = Credentials::load(config, d.path);
  ASSERT_TRUE(creds.ok()) << creds.error().message;
  const LocalCredential* carol = (*creds)->local(config.connections[0].local[0]);
  ASSERT_NE(carol, nullptr);
  EXPECT_EQ(carol->cert.subject(), "O=Test, CN=carol");
  EXPECT_EQ((*creds)->trusted(config.connections[0].remote[0]).size(), 1u);
  EXPECT_EQ((*creds)->certreq(config.connections[0].remote[0]).size(), 20u);
  // A certificate without its key, and a missing certificate, are errors naming the file.
  write_cert(d.path + "/x509/moon.pem", pki().moon.get());
  auto no_key = Credentials::load(config_for("moon.pem"), d.path);
  ASSERT_FALSE(no_key.ok());
  EXPECT_NE(no_key.error().message.find("moon.pem: no private key"), std::string::npos);
  auto missing = Credentials::load(config_for("nobody.pem"), d.path);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("nobody.pem"), std::string::npos);
}

TEST(PubkeyAuth, SignsAndVerifiesBothMethodFamilies) {
  Dir d;
  auto config = config_for("carol.pem");
  auto creds = Credentials::load(config, d.path).value();
  const LocalCredential& carol = *creds->local(config.connections[0].local[0]);
  const Bytes octets(100, 7);
  const IdPayload id = email_id("carol@example.org");
  const AuthRound& remote = config.connections[0].remote[0];
  auto with_cert = [&](const AuthPayload& auth) {
    Payloads inner = cert_payloads(carol);
    inner.push_back(Payload::of(auth));
    return inner;
  };
  // The peer announced SHA-256: RFC 7427; it did not: ECDSA P-256 (method 9).
  for (const auto& hashes :
       {std::vector<HashAlgorithm>{HashAlgorithm::kSha256}, std::vector<HashAlgorithm>{}}) {
    auto auth = sign_auth(carol, hashes, octets).value();
    EXPECT_EQ(auth.method,
              hashes.empty() ? AuthMethod::kEcdsaSha256P256 : AuthMethod::kDigitalSignature);
    auto ok = verify_pubkey_auth(*creds, remote, with_cert(auth), id, auth, octets);
    EXPECT_TRUE(ok.ok()) << (ok ? "" : ok.error().message);
    // Other octets (another IKE SA), another identity, a damaged signature: refused.
    EXPECT_FALSE(verify_pubkey_auth(*creds, remote, with_cert(auth), id, auth, Bytes(100, 8)).ok());
    auto wrong_id = verify_pubkey_auth(*creds, remote, with_cert(auth),
                                       email_id("dave@example.org"), auth, octets);
    ASSERT_FALSE(wrong_id.ok());
    EXPECT_NE(wrong_id.error().message.find("does not contain the identity"), std::string::npos);
    AuthPayload bad = auth;
    bad.data.back() ^= 1;
    EXPECT_FALSE(verify_pubkey_auth(*creds, remote, with_cert(bad), id, bad, octets).ok());
  }
  // No certificate, a PSK AUTH, a truncated RFC 7427 blob: refused with a reason.
  auto auth = sign_auth(carol, {HashAlgorithm::kSha256}, octets).value();
  Payloads no_cert{Payload::of(auth)};
  EXPECT_FALSE(verify_pubkey_auth(*creds, remote, no_cert, id, auth, octets).ok());
  AuthPayload psk{AuthMethod::kSharedKeyMic, Bytes(32, 1)};
  EXPECT_FALSE(verify_pubkey_auth(*creds, remote, with_cert(psk), id, psk, octets).ok());
  AuthPayload cut{AuthMethod::kDigitalSignature, Bytes{200, 1, 2}};
  EXPECT_FALSE(verify_pubkey_auth(*creds, remote, with_cert(cut), id, cut, octets).ok());
}

TEST(PubkeyAuth, SignatureHashNotify) {
  auto data = signature_hash_notify_data();
  EXPECT_EQ(data, (Bytes{0, 2, 0, 3, 0, 4}));
  EXPECT_EQ(parse_signature_hashes(data),
            (std::vector<HashAlgorithm>{HashAlgorithm::kSha256, HashAlgorithm::kSha384,
                                        HashAlgorithm::kSha512}));
  EXPECT_TRUE(parse_signature_hashes(Bytes{0}).empty());
}

}  // namespace
}  // namespace waypost::ike
