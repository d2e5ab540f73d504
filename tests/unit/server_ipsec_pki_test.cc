// The server's IKEv2 PKI (server/ipsec_pki.h): Algo's shape of CA, server and user certificates,
// revocation on removal, file modes, and the checks `server up` makes before it starts.
#include "server/ipsec_pki.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/atomic_file.h"
#include "crypto/random.h"
#include "crypto/x509.h"
#include "test_util.h"

namespace waypost::server {
namespace {

class IpsecPki : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("waypost-pki-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    config_.endpoint = "vpn.example.com";
    config_.users = {"phone", "laptop"};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  PkiChanges reconcile(time_t now = 1'800'000'000) {
    auto r = reconcile_pki(dir_, config_, crypto::system_random(), now);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : PkiChanges{};
  }
  crypto::Certificate cert(const std::string& rel) {
    auto c = crypto::Certificate::load(dir_ + "/" + rel);
    EXPECT_TRUE(c.ok()) << rel;
    return *c;
  }
  std::vector<crypto::Crl> crls() {
    auto crl = crypto::Crl::load(dir_ + "/ipsec/x509crl/crl.pem");
    EXPECT_TRUE(crl.ok());
    return {*crl};
  }
  mode_t mode(const std::string& rel) {
    struct stat st {};
    EXPECT_EQ(::stat((dir_ + "/" + rel).c_str(), &st), 0) << rel;
    return st.st_mode & 07777;
  }
  static std::string extension_text(const crypto::Certificate& c, int nid) {
    const int at = X509_get_ext_by_NID(c.get(), nid, -1);
    if (at < 0) return "";
    X509_EXTENSION* ext = X509_get_ext(c.get(), at);
    BIO* bio = BIO_new(BIO_s_mem());
    X509V3_EXT_print(bio, ext, 0, 0);
    BUF_MEM* mem = nullptr;
    BIO_get_mem_ptr(bio, &mem);
    std::string text(mem->data, mem->length);
    BIO_free(bio);
    return (X509_EXTENSION_get_critical(ext) != 0 ? "critical " : "") + text;
  }

  std::string dir_;
  ServerConfig config_;
};

TEST_F(IpsecPki, CreatesAlgosPki) {
  // "now" is the real time: verify_chain checks validity against the clock.
  const time_t now = std::time(nullptr);
  const PkiChanges ch = reconcile(now);
  EXPECT_TRUE(ch.created_ca);
  EXPECT_TRUE(ch.new_server_certificate);
  EXPECT_EQ(ch.issued, (std::vector<std::string>{"phone", "laptop"}));
  EXPECT_TRUE(ch.revoked.empty());

  const crypto::Certificate ca = cert("ipsec/x509ca/cacert.pem");
  EXPECT_TRUE(ca.is_ca());
  EXPECT_EQ(ca.subject(), "CN=vpn.example.com");
  EXPECT_EQ(ca.public_key().kind(), crypto::KeyKind::kEcdsa);
  EXPECT_EQ(ca.public_key().bits(), 384);
  EXPECT_EQ(extension_text(ca, NID_basic_constraints), "critical CA:TRUE, pathlen:0");
  auto domain = pki_email_domain(dir_);
  ASSERT_TRUE(domain.ok());
  EXPECT_TRUE(domain->ends_with(".algo")) << *domain;
  EXPECT_EQ(domain->size(), 36u + 5u);
  const std::string nc = extension_text(ca, NID_name_constraints);
  EXPECT_NE(nc.find("critical"), std::string::npos) << nc;
  EXPECT_NE(nc.find("email:" + *domain), std::string::npos) << nc;
  EXPECT_NE(nc.find("DNS:vpn.example.com"), std::string::npos) << nc;
  EXPECT_EQ(nc.find("IP:"), std::string::npos) << nc;
  tm t{};
  ASSERT_EQ(ASN1_TIME_to_tm(X509_get0_notAfter(ca.get()), &t), 1);
  EXPECT_NEAR(double(timegm(&t) - now) / (365.25 * 86400), 10.0, 0.05);

  const crypto::Certificate server = cert("ipsec/x509/server.pem");
  EXPECT_TRUE(server.has_fqdn("vpn.example.com"));
  EXPECT_FALSE(server.is_ca());
  const std::string eku = extension_text(server, NID_ext_key_usage);
  EXPECT_NE(eku.find("TLS Web Server Authentication"), std::string::npos) << eku;
  EXPECT_NE(eku.find("1.3.6.1.5.5.8.2.2"), std::string::npos) << eku;
  EXPECT_TRUE(crypto::verify_chain(server, {}, {ca}, crls(), true).ok());

  for (const std::string user : {"phone", "laptop"}) {
    const crypto::Certificate c = cert("pki/users/" + user + ".pem");
    EXPECT_EQ(c.subject(), "CN=" + user);
    EXPECT_TRUE(c.has_email(user + "@" + *domain));
    EXPECT_EQ(c.public_key().bits(), 384);
    EXPECT_NE(extension_text(c, NID_ext_key_usage).find("TLS Web Client Authentication"),
              std::string::npos);
    auto st = crypto::verify_chain(c, {}, {ca}, crls(), true);
    EXPECT_TRUE(st.ok()) << user << ": " << (st.ok() ? "" : st.error().message);
    auto id = user_ike_identity(dir_, user);
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(*id, user + "@" + *domain);
    EXPECT_EQ(user_of_identity(*domain, *id), user);
  }
  EXPECT_EQ(user_of_identity(*domain, "CN=phone"), "phone");
  EXPECT_EQ(user_of_identity(*domain, "phone@other.algo"), "");
  EXPECT_EQ(user_of_identity(*domain, "C=CH, CN=phone"), "");

  // Secrets are the owner's only.
  EXPECT_EQ(mode("pki"), 0700u);
  EXPECT_EQ(mode("pki/ca.key"), 0600u);
  EXPECT_EQ(mode("pki/p12_password"), 0600u);
  EXPECT_EQ(mode("pki/index.json"), 0600u);
  EXPECT_EQ(mode("pki/users/phone.key"), 0600u);
  EXPECT_EQ(mode("ipsec/private"), 0700u);
  EXPECT_EQ(mode("ipsec/private/server.key"), 0600u);
  EXPECT_TRUE(check_pki(dir_, now).ok());

  // The .p12 opens with the server's password and holds the user's key, certificate and the CA.
  auto pw = p12_password(dir_);
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(pw->size(), 16u);
  auto profile = user_ipsec_profile(dir_, config_, "phone");
  ASSERT_TRUE(profile.ok()) << profile.error().message;
  const std::string p12_file = dir_ + "/phone.p12";
  ASSERT_TRUE(
      write_file_atomic(p12_file, std::string(profile->p12.begin(), profile->p12.end()), 0600)
          .ok());
  auto contents = crypto::load_pkcs12(p12_file, *pw);
  ASSERT_TRUE(contents.ok()) << contents.error().message;
  EXPECT_EQ(contents->cert.subject(), "CN=phone");
  EXPECT_TRUE(contents->key.public_key() == contents->cert.public_key());
  ASSERT_EQ(contents->chain.size(), 1u);
  EXPECT_EQ(contents->chain[0].subject(), "CN=vpn.example.com");
  EXPECT_FALSE(crypto::load_pkcs12(p12_file, "wrong").ok());
}

TEST_F(IpsecPki, SecondRunChangesNothing) {
  reconcile();
  const std::string ca_before = read_file(dir_ + "/ipsec/x509ca/cacert.pem").value();
  const std::string phone_before = read_file(dir_ + "/pki/users/phone.pem").value();
  const PkiChanges ch = reconcile();
  EXPECT_FALSE(ch.created_ca);
  EXPECT_FALSE(ch.new_server_certificate);
  EXPECT_TRUE(ch.issued.empty());
  EXPECT_TRUE(ch.revoked.empty());
  EXPECT_EQ(read_file(dir_ + "/ipsec/x509ca/cacert.pem").value(), ca_before);
  EXPECT_EQ(read_file(dir_ + "/pki/users/phone.pem").value(), phone_before);
}

TEST_F(IpsecPki, RemovedUserIsRevoked) {
  const time_t now = std::time(nullptr);
  reconcile(now);
  const crypto::Certificate laptop = cert("pki/users/laptop.pem");
  config_.users = {"phone", "tablet"};
  const PkiChanges ch = reconcile(now);
  EXPECT_EQ(ch.revoked, (std::vector<std::string>{"laptop"}));
  EXPECT_EQ(ch.issued, (std::vector<std::string>{"tablet"}));
  const crypto::Certificate ca = cert("ipsec/x509ca/cacert.pem");
  auto st = crypto::verify_chain(laptop, {}, {ca}, crls(), true);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("revoked"), std::string::npos) << st.error().message;
  EXPECT_TRUE(crypto::verify_chain(cert("pki/users/phone.pem"), {}, {ca}, crls(), true).ok());
  EXPECT_TRUE(crypto::verify_chain(cert("pki/users/tablet.pem"), {}, {ca}, crls(), true).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/pki/users/laptop.key"));
  // Adding the name again gives a new certificate; the old one stays revoked.
  config_.users = {"phone", "tablet", "laptop"};
  EXPECT_EQ(reconcile(now).issued, (std::vector<std::string>{"laptop"}));
  EXPECT_FALSE(crypto::verify_chain(laptop, {}, {ca}, crls(), true).ok());
  EXPECT_TRUE(crypto::verify_chain(cert("pki/users/laptop.pem"), {}, {ca}, crls(), true).ok());
}

TEST_F(IpsecPki, DisabledUserIsOnHoldUntilEnabled) {
  const time_t now = std::time(nullptr);
  reconcile(now);
  const crypto::Certificate ca = cert("ipsec/x509ca/cacert.pem");
  const crypto::Certificate phone = cert("pki/users/phone.pem");
  config_.disabled_users = {"phone"};
  PkiChanges ch = reconcile(now);
  EXPECT_EQ(ch.held, (std::vector<std::string>{"phone"}));
  EXPECT_TRUE(ch.crl_changed());
  auto st = crypto::verify_chain(phone, {}, {ca}, crls(), true);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("revoked"), std::string::npos) << st.error().message;
  // On hold, not revoked for good: the entry says certificateHold.
  const crypto::Crl crl_file = crls().front();
  X509_CRL* crl = crl_file.get();
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl);
  ASSERT_EQ(sk_X509_REVOKED_num(entries), 1);
  auto* reason = static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(
      sk_X509_REVOKED_value(entries, 0), NID_crl_reason, nullptr, nullptr));
  ASSERT_NE(reason, nullptr);
  EXPECT_EQ(ASN1_ENUMERATED_get(reason), 6);  // certificateHold
  ASN1_ENUMERATED_free(reason);
  EXPECT_TRUE(crypto::verify_chain(cert("pki/users/laptop.pem"), {}, {ca}, crls(), true).ok());
  // The same certificate (no new one) works again once enabled.
  EXPECT_TRUE(reconcile(now).held.empty());  // level-triggered: nothing new
  config_.disabled_users.clear();
  ch = reconcile(now);
  EXPECT_EQ(ch.released, (std::vector<std::string>{"phone"}));
  EXPECT_TRUE(ch.issued.empty());
  EXPECT_TRUE(crypto::verify_chain(phone, {}, {ca}, crls(), true).ok());
}

TEST_F(IpsecPki, UserNamesWithDotsAndAtSigns) {
  // CN=john.doe looks like a host name to name-constraint checks; the certificate must still
  // verify against a CA that permits only the endpoint's DNS name.
  const time_t now = std::time(nullptr);
  config_.users = {"john.doe", "@home", "a_b-c"};
  reconcile(now);
  const crypto::Certificate ca = cert("ipsec/x509ca/cacert.pem");
  for (const auto& user : config_.users) {
    auto st = crypto::verify_chain(cert("pki/users/" + user + ".pem"), {}, {ca}, crls(), true);
    EXPECT_TRUE(st.ok()) << user << ": " << (st.ok() ? "" : st.error().message);
  }
}

TEST_F(IpsecPki, IpEndpoint) {
  const time_t now = std::time(nullptr);
  config_.endpoint = "203.0.113.7";
  reconcile(now);
  const crypto::Certificate ca = cert("ipsec/x509ca/cacert.pem");
  const std::string nc = extension_text(ca, NID_name_constraints);
  EXPECT_EQ(nc.find("DNS:"), std::string::npos) << nc;
  EXPECT_EQ(nc.find("IP:"), std::string::npos) << nc;
  const crypto::Certificate server = cert("ipsec/x509/server.pem");
  const uint8_t ip[] = {203, 0, 113, 7};
  EXPECT_TRUE(server.has_ip(ip));
  EXPECT_TRUE(crypto::verify_chain(server, {}, {ca}, crls(), true).ok());
}

TEST_F(IpsecPki, NewEndpointGetsANewServerCertificate) {
  reconcile();
  config_.endpoint = "vpn2.example.com";
  const PkiChanges ch = reconcile();
  EXPECT_TRUE(ch.new_server_certificate);
  EXPECT_FALSE(ch.created_ca);
  EXPECT_TRUE(cert("ipsec/x509/server.pem").has_fqdn("vpn2.example.com"));
}

TEST_F(IpsecPki, CheckNamesTheBadFile) {
  const time_t now = std::time(nullptr);
  reconcile(now);
  ASSERT_TRUE(write_file_atomic(dir_ + "/ipsec/x509ca/cacert.pem",
                                "-----BEGIN CERTIFICATE-----\nxx\n", 0644)
                  .ok());
  auto st = check_pki(dir_, now);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("cacert.pem"), std::string::npos) << st.error().message;
  // Expired server certificate.
  std::filesystem::remove_all(dir_ + "/pki");
  std::filesystem::remove_all(dir_ + "/ipsec");
  reconcile(now - 3651L * 86400);
  st = check_pki(dir_, now);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("expired"), std::string::npos) << st.error().message;
  // Unreadable password file.
  std::filesystem::remove_all(dir_ + "/pki");
  std::filesystem::remove_all(dir_ + "/ipsec");
  reconcile(now);
  ::chmod((dir_ + "/pki/p12_password").c_str(), 0644);
  st = check_pki(dir_, now);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("p12_password"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace waypost::server
