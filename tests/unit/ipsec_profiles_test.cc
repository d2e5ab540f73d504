// A user's IKEv2 client files (ipsec_profiles.h), each checked field by field: the ipsec.conf
// section line by line, the swanctl.conf through our own swanctl.conf parser, the .sswan through a
// JSON parser, the PowerShell script's cmdlets and parameters, and the Apple profile's payloads.
// The PKCS#12 is a real one made with OpenSSL, so the embedded copies are checked by opening
// them. tests/unit/plist_check.py additionally loads the Apple profile with Python's plistlib.
#include "server/ipsec_profiles.h"

#include <gtest/gtest.h>
#include <openssl/pkcs12.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/encoding.h"
#include "crypto/random.h"
#include "ike/swanctl_conf.h"
#include "server/bundles.h"
#include "test_pki.h"

namespace waypost::server {
namespace {

using Strings = std::vector<std::string>;
using testing::ec_key;
using testing::make_cert;

constexpr const char* kUserId = "phone@k3y9q2.algo";

// A CA named after the endpoint (as the server's PKI names it), a user certificate with the
// e-mail identity, and the user's PKCS#12 of both.
struct Pki {
  testing::PkeyPtr ca_key = ec_key("P-384");
  testing::X509Ptr ca;
  testing::PkeyPtr user_key = ec_key("P-384");
  testing::X509Ptr user_cert;
  std::string ca_pem;
  std::vector<uint8_t> ca_der;
  std::vector<uint8_t> p12;

  explicit Pki(const std::string& password) {
    ca = make_cert(ca_key, "vpn.example.com", nullptr, ca_key, true, "");
    user_cert =
        make_cert(user_key, "phone", ca.get(), ca_key, false, std::string("email:") + kUserId, 2);
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, ca.get());
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    ca_pem.assign(data, size_t(len));
    BIO_free(bio);
    ca_der = der(ca.get());

    STACK_OF(X509)* chain = sk_X509_new_null();
    sk_X509_push(chain, ca.get());
    PKCS12* p = PKCS12_create(password.c_str(), "phone", user_key.get(), user_cert.get(), chain, 0,
                              0, 0, 0, 0);
    sk_X509_free(chain);
    EXPECT_NE(p, nullptr);
    unsigned char* out = nullptr;
    const int n = i2d_PKCS12(p, &out);
    p12.assign(out, out + n);
    OPENSSL_free(out);
    PKCS12_free(p);
  }

  static std::vector<uint8_t> der(X509* cert) {
    unsigned char* out = nullptr;
    const int n = i2d_X509(cert, &out);
    std::vector<uint8_t> v(out, out + n);
    OPENSSL_free(out);
    return v;
  }
};

IpsecProfile make_profile(const Pki& pki, const std::string& password) {
  IpsecProfile p;
  p.endpoint = "vpn.example.com";
  p.user = "phone";
  p.user_id = kUserId;
  p.ca_cert_pem = pki.ca_pem;
  p.ca_name = "vpn.example.com";
  p.p12 = pki.p12;
  p.p12_password = password;
  return p;
}

struct Fixture {
  std::string password = "s3cret-P12";
  Pki pki{password};
  IpsecProfile profile = make_profile(pki, password);
};

std::vector<uint8_t> decode_base64(std::string text) {
  std::erase_if(text, [](char c) { return c == '\n' || c == '\t' || c == ' '; });
  size_t size = text.size() / 4 * 3;
  if (text.ends_with("==")) {
    size -= 2;
  } else if (text.ends_with("=")) {
    size -= 1;
  }
  std::vector<uint8_t> out(size);
  if (!from_base64(text, out)) {
    ADD_FAILURE() << "not base64: " << text.substr(0, 40);
    return {};
  }
  return out;
}

// Opens a PKCS#12 with the password and returns the certificate's DER; empty when it does not
// open.
std::vector<uint8_t> p12_certificate(const std::vector<uint8_t>& bytes, const std::string& pass) {
  const unsigned char* in = bytes.data();
  PKCS12* p = d2i_PKCS12(nullptr, &in, long(bytes.size()));
  if (p == nullptr) {
    return {};
  }
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* ca = nullptr;
  std::vector<uint8_t> out;
  if (PKCS12_parse(p, pass.c_str(), &key, &cert, &ca) == 1 && key != nullptr && cert != nullptr) {
    out = Pki::der(cert);
  }
  EVP_PKEY_free(key);
  X509_free(cert);
  sk_X509_pop_free(ca, X509_free);
  PKCS12_free(p);
  return out;
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// ------------------------------------------------------------------------------------------
// manual/<user>.conf and .secrets

// The conn name and its key=value lines.
std::pair<std::string, std::map<std::string, std::string>> parse_ipsec_conf(
    const std::string& text) {
  std::string conn;
  std::map<std::string, std::string> values;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.starts_with("#")) {
      continue;
    }
    if (line.starts_with("conn ")) {
      EXPECT_TRUE(conn.empty()) << "a second conn: " << line;
      conn = line.substr(5);
      continue;
    }
    EXPECT_TRUE(line.starts_with("    ")) << line;
    const size_t eq = line.find('=');
    EXPECT_NE(eq, std::string::npos) << line;
    const std::string key = line.substr(4, eq - 4);
    EXPECT_EQ(values.count(key), 0u) << "repeated " << key;
    values[key] = line.substr(eq + 1);
  }
  return {conn, values};
}

TEST(IpsecProfilesManual, ConfIsAlgosConnection) {
  Fixture f;
  const auto [conn, v] = parse_ipsec_conf(ipsec_manual_conf(f.profile));
  EXPECT_EQ(conn, "algovpn-vpn.example.com");
  const std::map<std::string, std::string> expected = {
      {"fragmentation", "yes"},
      {"rekey", "no"},
      {"dpdaction", "clear"},
      {"keyexchange", "ikev2"},
      {"compress", "no"},
      {"dpddelay", "35s"},
      {"ike", "aes256gcm16-prfsha512-ecp384!"},
      {"esp", "aes256gcm16-ecp384!"},
      {"right", "vpn.example.com"},
      {"rightid", "@vpn.example.com"},
      {"rightsubnet", "0.0.0.0/0,::/0"},
      {"rightauth", "pubkey"},
      {"leftsourceip", "%config4,%config6"},
      {"leftauth", "pubkey"},
      {"leftcert", "phone.crt"},
      {"leftid", kUserId},
      {"left", "%defaultroute"},
      {"auto", "add"},
  };
  EXPECT_EQ(v, expected);
  // The comment says where leftcert comes from.
  EXPECT_NE(ipsec_manual_conf(f.profile).find("openssl pkcs12 -in phone.p12 -clcerts -nokeys"),
            std::string::npos);
}

TEST(IpsecProfilesManual, AddressEndpointsStayAddresses) {
  Fixture f;
  f.profile.endpoint = "198.51.100.7";
  auto [conn, v] = parse_ipsec_conf(ipsec_manual_conf(f.profile));
  EXPECT_EQ(conn, "algovpn-198.51.100.7");
  EXPECT_EQ(v["right"], "198.51.100.7");
  EXPECT_EQ(v["rightid"], "198.51.100.7");

  f.profile.endpoint = "2001:db8::7";
  std::tie(conn, v) = parse_ipsec_conf(ipsec_manual_conf(f.profile));
  EXPECT_EQ(conn, "algovpn-2001-db8--7");
  EXPECT_EQ(v["right"], "2001:db8::7");
  EXPECT_EQ(v["rightid"], "2001:db8::7");
}

TEST(IpsecProfilesManual, SecretsLine) {
  Fixture f;
  const std::string text = ipsec_manual_secrets(f.profile);
  Strings lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("#")) {
      lines.push_back(line);
    }
  }
  EXPECT_EQ(lines, (Strings{": ECDSA phone.key"}));
}

// ------------------------------------------------------------------------------------------
// swanctl/<user>.conf

ike::IpsecConfig parse_swanctl(const std::string& text) {
  auto c = ike::parse_swanctl_text(text, "phone.conf", nullptr);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message) << "\n" << text;
  return c.ok() ? std::move(*c) : ike::IpsecConfig{};
}

TEST(IpsecProfilesSwanctl, LoadsWithEveryField) {
  Fixture f;
  const ike::IpsecConfig c = parse_swanctl(ipsec_swanctl_conf(f.profile));
  ASSERT_EQ(c.connections.size(), 1u);
  const ike::Connection& conn = c.connections[0];
  EXPECT_EQ(conn.name, "algovpn-vpn-example-com");
  EXPECT_EQ(conn.version, 2u);
  ASSERT_EQ(conn.remote_addrs.size(), 1u);
  EXPECT_EQ(conn.remote_addrs[0].kind, ike::AddressSpec::Kind::kHostname);
  EXPECT_EQ(conn.remote_addrs[0].text, "vpn.example.com");
  ASSERT_EQ(conn.vips.size(), 2u);
  EXPECT_EQ(conn.vips[0].to_string(), "0.0.0.0");
  EXPECT_EQ(conn.vips[1].to_string(), "::");
  EXPECT_EQ(
      conn.proposals,
      ike::parse_proposals("aes256gcm16-prfsha512-ecp384", ike::ProposalProtocol::kIke).value());
  EXPECT_EQ(conn.fragmentation, ike::Fragmentation::kYes);
  EXPECT_EQ(conn.dpd_delay.count(), 35);

  ASSERT_EQ(conn.local.size(), 1u);
  EXPECT_EQ(conn.local[0].auth, ike::AuthClass::kPubkey);
  EXPECT_FALSE(conn.local[0].id.any);
  EXPECT_EQ(conn.local[0].id.type, ike::IdType::kRfc822);
  EXPECT_EQ(conn.local[0].id.value, kUserId);
  EXPECT_TRUE(conn.local[0].certs.empty());  // found by the identity among the .p12's

  ASSERT_EQ(conn.remote.size(), 1u);
  EXPECT_EQ(conn.remote[0].auth, ike::AuthClass::kPubkey);
  EXPECT_EQ(conn.remote[0].id.type, ike::IdType::kFqdn);
  EXPECT_EQ(conn.remote[0].id.value, "vpn.example.com");
  EXPECT_EQ(conn.remote[0].cacerts, (Strings{"cacert.pem"}));

  ASSERT_EQ(conn.children.size(), 1u);
  const ike::Child& child = conn.children[0];
  EXPECT_EQ(child.name, conn.name);
  Strings ts;
  for (const auto& t : child.remote_ts) {
    EXPECT_FALSE(t.dynamic);
    ts.push_back(ike::to_string(t.range));
  }
  EXPECT_EQ(ts, (Strings{"0.0.0.0/0", "::/0"}));
  // Unset, so dynamic: the virtual IPs the server assigns.
  ASSERT_EQ(child.local_ts.size(), 1u);
  EXPECT_TRUE(child.local_ts[0].dynamic);
  EXPECT_EQ(child.esp_proposals,
            ike::parse_proposals("aes256gcm16-ecp384", ike::ProposalProtocol::kEsp).value());
  EXPECT_EQ(child.start_action, ike::ChildAction::kNone);
  EXPECT_EQ(child.dpd_action, ike::DpdAction::kClear);

  ASSERT_EQ(c.secrets.size(), 1u);
  const ike::Secret& secret = c.secrets[0];
  EXPECT_EQ(secret.name, "pkcs12-phone");
  EXPECT_EQ(secret.kind, ike::SecretKind::kPkcs12);
  EXPECT_EQ(secret.file, "phone.p12");
  EXPECT_EQ(std::string(secret.secret.span().begin(), secret.secret.span().end()), f.password);
  EXPECT_TRUE(c.warnings.empty());

  // The comment names the commands that make it work.
  const std::string text = ipsec_swanctl_conf(f.profile);
  for (const char* line :
       {"cp phone.p12 /etc/swanctl/pkcs12/", "cp cacert.pem /etc/swanctl/x509ca/",
        "swanctl --initiate --child algovpn-vpn-example-com"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

TEST(IpsecProfilesSwanctl, QuotesWhatTheSyntaxWouldRead) {
  Fixture f;
  // A password with the syntax's own characters; a user name with characters section names
  // cannot hold.
  f.profile.p12_password = R"(a "b" \c # {d} = e,f)";
  f.profile.user = "alice@example.com";
  f.profile.user_id = "alice@example.com@k3y9q2.algo";
  const ike::IpsecConfig c = parse_swanctl(ipsec_swanctl_conf(f.profile));
  ASSERT_EQ(c.secrets.size(), 1u);
  EXPECT_EQ(c.secrets[0].name, "pkcs12-alice-example-com");
  EXPECT_EQ(c.secrets[0].file, "alice@example.com.p12");
  EXPECT_EQ(std::string(c.secrets[0].secret.span().begin(), c.secrets[0].secret.span().end()),
            f.profile.p12_password);
  ASSERT_EQ(c.connections.size(), 1u);
  EXPECT_EQ(c.connections[0].local[0].id.value, "alice@example.com@k3y9q2.algo");
}

TEST(IpsecProfilesSwanctl, AddressEndpoint) {
  Fixture f;
  f.profile.endpoint = "198.51.100.7";
  const ike::IpsecConfig c = parse_swanctl(ipsec_swanctl_conf(f.profile));
  ASSERT_EQ(c.connections.size(), 1u);
  EXPECT_EQ(c.connections[0].name, "algovpn-198-51-100-7");
  ASSERT_EQ(c.connections[0].remote_addrs.size(), 1u);
  EXPECT_EQ(c.connections[0].remote_addrs[0].kind, ike::AddressSpec::Kind::kRange);
  EXPECT_EQ(c.connections[0].remote[0].id.type, ike::IdType::kIpv4);
  EXPECT_EQ(c.connections[0].remote[0].id.value, "198.51.100.7");

  f.profile.endpoint = "2001:db8::7";
  const ike::IpsecConfig v6 = parse_swanctl(ipsec_swanctl_conf(f.profile));
  ASSERT_EQ(v6.connections.size(), 1u);
  EXPECT_EQ(v6.connections[0].name, "algovpn-2001-db8--7");
  EXPECT_EQ(v6.connections[0].remote[0].id.type, ike::IdType::kIpv6);
}

// ------------------------------------------------------------------------------------------
// android/<user>.sswan

TEST(IpsecProfilesAndroid, StrongSwanAppProfile) {
  Fixture f;
  const std::string text = ipsec_android_sswan(f.profile);
  const auto j = nlohmann::json::parse(text);
  const std::regex uuid("[0-9A-F]{8}-[0-9A-F]{4}-8[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}");
  EXPECT_TRUE(std::regex_match(j.at("uuid").get<std::string>(), uuid)) << j.at("uuid");
  EXPECT_EQ(j.at("name"), "Waypost IKEv2 vpn.example.com");
  EXPECT_EQ(j.at("type"), "ikev2-cert");
  EXPECT_EQ(j.at("remote").at("addr"), "vpn.example.com");
  EXPECT_EQ(j.at("remote").at("id"), "vpn.example.com");
  EXPECT_EQ(decode_base64(j.at("remote").at("cert")), f.pki.ca_der);
  EXPECT_EQ(j.at("local").at("id"), kUserId);
  const std::vector<uint8_t> p12 = decode_base64(j.at("local").at("p12"));
  EXPECT_EQ(p12, f.pki.p12);
  EXPECT_EQ(p12_certificate(p12, f.password), Pki::der(f.pki.user_cert.get()));
  EXPECT_EQ(j.at("ike-proposal"), "aes256gcm16-prfsha512-ecp384");
  EXPECT_EQ(j.at("esp-proposal"), "aes256gcm16-ecp384");
  EXPECT_EQ(j.size(), 7u);
  // The app replaces a profile of the same UUID: the same user gets the same one again, another
  // user another.
  EXPECT_EQ(ipsec_android_sswan(f.profile), text);
  IpsecProfile other = f.profile;
  other.user = "laptop";
  EXPECT_NE(nlohmann::json::parse(ipsec_android_sswan(other)).at("uuid"), j.at("uuid"));
}

// ------------------------------------------------------------------------------------------
// windows/<user>.ps1

// The value of `$name = '...'` in the script.
std::string ps_variable(const std::string& script, const std::string& name) {
  const std::string prefix = "$" + name + " = '";
  const size_t at = script.find("\n" + prefix);
  if (at == std::string::npos) {
    return "<missing>";
  }
  const size_t start = at + 1 + prefix.size();
  // A single-quoted string ends at a quote that is not doubled.
  std::string value;
  for (size_t i = start; i < script.size(); ++i) {
    if (script[i] == '\'') {
      if (i + 1 < script.size() && script[i + 1] == '\'') {
        value += '\'';
        ++i;
        continue;
      }
      return value;
    }
    value += script[i];
  }
  return "<unterminated>";
}

TEST(IpsecProfilesWindows, ImportsCertificatesAndAddsTheConnection) {
  Fixture f;
  const std::string ps1 = ipsec_windows_ps1(f.profile);
  EXPECT_TRUE(ps1.starts_with("#Requires -RunAsAdministrator\n"));
  EXPECT_EQ(ps_variable(ps1, "VpnName"), "Waypost IKEv2 vpn.example.com");
  EXPECT_EQ(ps_variable(ps1, "ServerAddress"), "vpn.example.com");
  EXPECT_EQ(ps_variable(ps1, "VpnUser"), "phone");
  EXPECT_EQ(decode_base64(ps_variable(ps1, "CaCertificateBase64")), f.pki.ca_der);
  EXPECT_EQ(decode_base64(ps_variable(ps1, "UserPkcs12Base64")), f.pki.p12);
  EXPECT_NE(ps1.find("$Pkcs12Password = ConvertTo-SecureString -String 's3cret-P12' "
                     "-AsPlainText -Force\n"),
            std::string::npos);
  // Add and Remove, as Algo's script has them.
  EXPECT_NE(ps1.find("[Parameter(ParameterSetName = 'Add')] [switch] $Add"), std::string::npos);
  EXPECT_NE(ps1.find("[Parameter(ParameterSetName = 'Remove', Mandatory)] [switch] $Remove"),
            std::string::npos);
  for (const char* expected : {
           "Import-Certificate -FilePath $caPath -CertStoreLocation 'Cert:\\LocalMachine\\Root'",
           "Import-PfxCertificate -FilePath $p12Path -Password $Pkcs12Password",
           "-CertStoreLocation 'Cert:\\LocalMachine\\My'",
           "Add-VpnConnection @connection",
           "        ServerAddress = $ServerAddress\n",
           "        TunnelType = 'Ikev2'\n",
           "        AuthenticationMethod = 'MachineCertificate'\n",
           "        EncryptionLevel = 'Required'\n",
           "Set-VpnConnectionIPsecConfiguration @ipsec",
           "        ConnectionName = $VpnName\n",
           "        AuthenticationTransformConstants = 'GCMAES256'\n",
           "        CipherTransformConstants = 'GCMAES256'\n",
           "        EncryptionMethod = 'AES256'\n",
           "        IntegrityCheckMethod = 'SHA384'\n",
           "        DHGroup = 'ECP384'\n",
           "        PfsGroup = 'ECP384'\n",
           "        Force = $true\n",
           "Remove-VpnConnection -Name $VpnName",
           "'Add' { Add-WaypostVpn }",
           "'Remove' { Remove-WaypostVpn }",
       }) {
    EXPECT_NE(ps1.find(expected), std::string::npos) << expected;
  }
  // Plain ASCII: no byte order mark.
  EXPECT_EQ(ps1.find('\xEF'), std::string::npos);
}

TEST(IpsecProfilesWindows, QuotesThePassword) {
  Fixture f;
  // An apostrophe, PowerShell's typographic quotes (which also end a '...' string) and a '$'
  // that must not be expanded.
  f.profile.p12_password = "it's \xE2\x80\x99$x\xE2\x80\x98";
  const std::string ps1 = ipsec_windows_ps1(f.profile);
  EXPECT_NE(ps1.find("-String 'it''s \xE2\x80\x99\xE2\x80\x99$x\xE2\x80\x98\xE2\x80\x98' "),
            std::string::npos);
  // Not ASCII: a UTF-8 byte order mark so that Windows PowerShell reads it as UTF-8.
  EXPECT_TRUE(ps1.starts_with("\xEF\xBB\xBF#Requires"));
}

// ------------------------------------------------------------------------------------------
// apple/<user>.mobileconfig

// The <string> (or <integer>) following <key>name</key>, after `from`.
std::string value_after(const std::string& xml, const std::string& key, size_t from = 0) {
  const size_t k = xml.find("<key>" + key + "</key>\n", from);
  if (k == std::string::npos) {
    return "<missing>";
  }
  const size_t open = xml.find('<', xml.find('\n', k) + 1);
  const size_t close = xml.find('>', open);
  const std::string tag = xml.substr(open + 1, close - open - 1);
  if (tag.ends_with("/")) {
    return "<" + tag + ">";
  }
  const size_t end = xml.find("</" + tag + ">", close);
  return xml.substr(close + 1, end - close - 1);
}

// The OnDemandEnabled key through the end of the OnDemandRules array.
std::string on_demand_block(const std::string& xml) {
  const size_t start = xml.find("<key>OnDemandEnabled</key>");
  const size_t rules = xml.find("<key>OnDemandRules</key>", start);
  // The rules array is the first one at the depth of its key to close.
  const size_t line_start = xml.rfind('\n', rules) + 1;
  const std::string indent = xml.substr(line_start, rules - line_start);
  const size_t end = xml.find("\n" + indent + "</array>\n", rules);
  if (start == std::string::npos || rules == std::string::npos || end == std::string::npos) {
    return "<missing>";
  }
  return xml.substr(start, end + indent.size() + 10 - start);
}

TEST(IpsecProfilesApple, ThreePayloads) {
  Fixture f;
  const std::string xml = ipsec_apple_mobileconfig(f.profile);
  EXPECT_TRUE(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist"));
  EXPECT_TRUE(xml.ends_with("</plist>\n"));
  EXPECT_EQ(count(xml, "<key>PayloadType</key>"), 4u);

  // The VPN payload and its IKEv2 dictionary.
  const size_t vpn = xml.find("<key>IKEv2</key>");
  ASSERT_NE(vpn, std::string::npos);
  const std::map<std::string, std::string> ikev2 = {
      {"AuthenticationMethod", "Certificate"},
      {"CertificateType", "ECDSA384"},
      {"DeadPeerDetectionRate", "Medium"},
      {"DisableMOBIKE", "0"},
      {"DisableRedirect", "1"},
      {"EnableCertificateRevocationCheck", "0"},
      {"EnablePFS", "1"},
      {"ExtendedAuthEnabled", "0"},
      {"LocalIdentifier", kUserId},
      {"RemoteAddress", "vpn.example.com"},
      {"RemoteIdentifier", "vpn.example.com"},
      {"ServerCertificateIssuerCommonName", "vpn.example.com"},
      {"UseConfigurationAttributeInternalIPSubnet", "0"},
      {"OnDemandEnabled", "0"},
      {"OverridePrimary", "1"},
      {"VPNType", "IKEv2"},
      {"UserDefinedName", "Waypost IKEv2 vpn.example.com"},
  };
  for (const auto& [key, value] : ikev2) {
    EXPECT_EQ(value_after(xml, key, vpn), value) << key;
  }
  for (const char* sa :
       {"IKESecurityAssociationParameters", "ChildSecurityAssociationParameters"}) {
    const size_t at = xml.find(std::string("<key>") + sa + "</key>");
    ASSERT_NE(at, std::string::npos) << sa;
    EXPECT_EQ(value_after(xml, "DiffieHellmanGroup", at), "20") << sa;
    EXPECT_EQ(value_after(xml, "EncryptionAlgorithm", at), "AES-256-GCM") << sa;
    EXPECT_EQ(value_after(xml, "IntegrityAlgorithm", at), "SHA2-512") << sa;
    EXPECT_EQ(value_after(xml, "LifeTimeInMinutes", at), "1440") << sa;
  }

  // The PKCS#12 payload: its UUID is the certificate the VPN authenticates with.
  const size_t p12 = xml.find("<string>com.apple.security.pkcs12</string>");
  ASSERT_NE(p12, std::string::npos);
  const size_t p12_dict = xml.rfind("\t\t<dict>\n", p12);
  const std::string p12_uuid = value_after(xml, "PayloadUUID", p12_dict);
  EXPECT_EQ(value_after(xml, "PayloadCertificateUUID", vpn), p12_uuid);
  EXPECT_EQ(value_after(xml, "Password", p12_dict), f.password);
  EXPECT_EQ(value_after(xml, "PayloadCertificateFileName", p12_dict), "phone.p12");
  const std::vector<uint8_t> p12_bytes =
      decode_base64(value_after(xml, "PayloadContent", p12_dict));
  EXPECT_EQ(p12_bytes, f.pki.p12);
  EXPECT_EQ(p12_certificate(p12_bytes, f.password), Pki::der(f.pki.user_cert.get()));

  // The CA payload.
  const size_t root = xml.find("<string>com.apple.security.root</string>");
  ASSERT_NE(root, std::string::npos);
  const size_t root_dict = xml.rfind("\t\t<dict>\n", root);
  EXPECT_GT(root_dict, p12);
  EXPECT_EQ(decode_base64(value_after(xml, "PayloadContent", root_dict)), f.pki.ca_der);

  // The profile.
  const size_t outer = xml.find("\t</array>\n\t<key>PayloadDisplayName</key>");
  ASSERT_NE(outer, std::string::npos);
  EXPECT_EQ(value_after(xml, "PayloadDisplayName", outer), "Waypost IKEv2 vpn.example.com (phone)");
  EXPECT_EQ(value_after(xml, "PayloadType", outer), "Configuration");
  EXPECT_EQ(value_after(xml, "PayloadVersion", outer), "1");
}

TEST(IpsecProfilesApple, UuidsAndIdentifiersApartFromWireGuards) {
  Fixture f;
  ServerConfig config;
  config.users = {"phone"};
  config.endpoint = "vpn.example.com";
  ServerState state;
  crypto::SeededRandom rng(7);
  ASSERT_TRUE(reconcile(state, config, rng, 1000).ok());

  auto collect = [](const std::string& xml, const std::string& key) {
    Strings out;
    for (size_t at = xml.find("<key>" + key + "</key>"); at != std::string::npos;
         at = xml.find("<key>" + key + "</key>", at + 1)) {
      out.push_back(value_after(xml, key, at));
    }
    return out;
  };
  const std::string xml = ipsec_apple_mobileconfig(f.profile);
  const Strings uuids = collect(xml, "PayloadUUID");
  const Strings ids = collect(xml, "PayloadIdentifier");
  ASSERT_EQ(uuids.size(), 4u);
  ASSERT_EQ(ids.size(), 4u);
  const std::regex uuid("[0-9A-F]{8}-[0-9A-F]{4}-8[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}");
  Strings all = uuids;
  all.insert(all.end(), ids.begin(), ids.end());
  for (const auto& u : uuids) {
    EXPECT_TRUE(std::regex_match(u, uuid)) << u;
  }
  for (AppleOs os : {AppleOs::kIos, AppleOs::kMacos}) {
    const std::string wg = apple_mobileconfig(config, state, "phone", os);
    for (const auto& key : {"PayloadUUID", "PayloadIdentifier"}) {
      for (const auto& v : collect(wg, key)) {
        all.push_back(v);
      }
    }
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a repeated UUID or id";
  for (const auto& id : ids) {
    EXPECT_TRUE(id.starts_with("com.waypost.ikev2.")) << id;
  }
  // Stable: the same profile again; another user, another endpoint: other UUIDs.
  EXPECT_EQ(ipsec_apple_mobileconfig(f.profile), xml);
  IpsecProfile other = f.profile;
  other.user = "laptop";
  EXPECT_NE(collect(ipsec_apple_mobileconfig(other), "PayloadUUID")[0], uuids[0]);
  other = f.profile;
  other.endpoint = "vpn2.example.com";
  EXPECT_NE(collect(ipsec_apple_mobileconfig(other), "PayloadUUID")[0], uuids[0]);
}

TEST(IpsecProfilesApple, OnDemandRulesAreTheWireGuardProfiles) {
  for (int wifi = 0; wifi < 2; ++wifi) {
    for (int cell = 0; cell < 2; ++cell) {
      for (int exclude = 0; exclude < 2; ++exclude) {
        SCOPED_TRACE(::testing::Message()
                     << "wifi=" << wifi << " cell=" << cell << " exclude=" << exclude);
        ServerConfig config;
        config.users = {"phone"};
        config.endpoint = "vpn.example.com";
        config.ondemand_wifi = wifi != 0;
        config.ondemand_cellular = cell != 0;
        if (exclude != 0) {
          config.ondemand_wifi_exclude = {"home", "<Caf\xc3\xa9 & \"Bar's\">"};
        }
        ServerState state;
        crypto::SeededRandom rng(7);
        ASSERT_TRUE(reconcile(state, config, rng, 1000).ok());
        Fixture f;
        f.profile.ondemand_wifi = config.ondemand_wifi;
        f.profile.ondemand_cellular = config.ondemand_cellular;
        f.profile.ondemand_wifi_exclude = config.ondemand_wifi_exclude;
        const std::string ikev2 = on_demand_block(ipsec_apple_mobileconfig(f.profile));
        const std::string wg =
            on_demand_block(apple_mobileconfig(config, state, "phone", AppleOs::kIos));
        EXPECT_NE(ikev2, "<missing>");
        EXPECT_EQ(ikev2, wg);
        EXPECT_EQ(value_after(ikev2, "OnDemandEnabled"), wifi + cell > 0 ? "1" : "0");
      }
    }
  }
}

TEST(IpsecProfilesApple, EscapesStrings) {
  Fixture f;
  f.profile.ca_name = "<CA & \"Co's\">";
  f.profile.p12_password = "p&<>";
  const std::string xml = ipsec_apple_mobileconfig(f.profile);
  EXPECT_NE(xml.find("<string>&lt;CA &amp; &quot;Co&apos;s&quot;&gt;</string>"), std::string::npos);
  EXPECT_NE(xml.find("<string>p&amp;&lt;&gt;</string>"), std::string::npos);
  EXPECT_EQ(xml.find("CA & "), std::string::npos);
}

// ------------------------------------------------------------------------------------------
// Files

std::string temp_dir() {
  char tmpl[] = "/tmp/wp-ipsec-profiles-XXXXXX";
  return mkdtemp(tmpl);
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(IpsecProfilesFiles, WriteAndRemove) {
  const std::string dir = temp_dir();
  Fixture f;
  const std::string base = ipsec_bundle_dir(dir, "vpn.example.com");
  EXPECT_EQ(base, dir + "/configs/vpn.example.com/ipsec");
  ASSERT_TRUE(write_ipsec_profiles(dir, f.profile).ok());

  const std::map<std::string, std::string> texts = {
      {"manual/phone.conf", ipsec_manual_conf(f.profile)},
      {"manual/phone.secrets", ipsec_manual_secrets(f.profile)},
      {"apple/phone.mobileconfig", ipsec_apple_mobileconfig(f.profile)},
      {"swanctl/phone.conf", ipsec_swanctl_conf(f.profile)},
      {"android/phone.sswan", ipsec_android_sswan(f.profile)},
      {"windows/phone.ps1", ipsec_windows_ps1(f.profile)},
      {"manual/phone.p12", std::string(f.pki.p12.begin(), f.pki.p12.end())},
  };
  const std::string prefix = base + "/";
  for (const auto& [name, text] : texts) {
    const std::string path = prefix + name;
    EXPECT_EQ(mode_of(path), 0600u) << name;
    auto content = read_file(path);
    ASSERT_TRUE(content.ok()) << name;
    EXPECT_EQ(*content, text) << name;
  }
  EXPECT_EQ(mode_of(base + "/manual/cacert.pem"), 0644u);
  EXPECT_EQ(read_file(base + "/manual/cacert.pem").value(), f.pki.ca_pem);
  for (const char* d : {"", "/manual", "/apple", "/swanctl", "/android", "/windows"}) {
    EXPECT_EQ(mode_of(base + d), 0700u) << d;
  }

  // Rewriting works over existing files; a second user's files sit beside the first's.
  ASSERT_TRUE(write_ipsec_profiles(dir, f.profile).ok());
  IpsecProfile alice = f.profile;
  alice.user = "alice@example.com";
  alice.user_id = "alice@example.com@k3y9q2.algo";
  ASSERT_TRUE(write_ipsec_profiles(dir, alice).ok());

  remove_ipsec_profiles(dir, "vpn.example.com", "phone");
  for (const auto& [name, text] : texts) {
    EXPECT_FALSE(std::filesystem::exists(prefix + name)) << name;
  }
  EXPECT_TRUE(std::filesystem::exists(base + "/manual/cacert.pem"));
  EXPECT_TRUE(std::filesystem::exists(base + "/windows/alice@example.com.ps1"));
  remove_ipsec_profiles(dir, "vpn.example.com", "phone");     // already gone: no error, no crash
  remove_ipsec_profiles(dir, "vpn.example.com", "../phone");  // refused quietly
  std::filesystem::remove_all(dir);
}

TEST(IpsecProfilesFiles, WriteErrors) {
  const std::string dir = temp_dir();
  Fixture f;
  auto fails = [&](const std::function<void(IpsecProfile&)>& tweak, const std::string& message) {
    IpsecProfile p = f.profile;
    tweak(p);
    auto st = write_ipsec_profiles(dir, p);
    ASSERT_FALSE(st.ok()) << message;
    EXPECT_NE(st.error().message.find(message), std::string::npos) << st.error().message;
  };
  fails([](IpsecProfile& p) { p.endpoint.clear(); }, "is not a host name or IP address");
  fails([](IpsecProfile& p) { p.endpoint = "../etc"; }, "is not a host name or IP address");
  fails([](IpsecProfile& p) { p.endpoint = "a b"; }, "is not a host name or IP address");
  fails([](IpsecProfile& p) { p.user = "../phone"; }, "user name");
  fails([](IpsecProfile& p) { p.user_id = "phone @x"; }, "is not an e-mail-style identity");
  fails([](IpsecProfile& p) { p.p12.clear(); }, "no PKCS#12");
  fails([](IpsecProfile& p) { p.ca_cert_pem = "not a certificate"; },
        "the CA is not a PEM certificate");
  EXPECT_FALSE(std::filesystem::exists(dir + "/configs"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace waypost::server
