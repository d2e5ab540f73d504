// Writes sample client bundles for tests/unit/plist_check.py: the full WireGuard tree of two users
// through write_bundles and their IKEv2 files through write_ipsec_profiles (with a PKCS#12 made
// here, whose password and certificates go to <dir>/ikev2-sample.json for the checker), plus
// one iOS profile per on-demand combination of each kind, named
// ondemand-w<wifi>-c<cellular>-x<exclude>.mobileconfig (WireGuard) and
// ikev2-ondemand-w<wifi>-c<cellular>-x<exclude>.mobileconfig (IKEv2).
// Usage: write_sample_bundles <dir>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/encoding.h"
#include "crypto/random.h"
#include "server/bundles.h"
#include "server/ipsec_profiles.h"

using waypost::server::AppleOs;
using waypost::server::IpsecProfile;
using waypost::server::ServerConfig;
using waypost::server::ServerState;

namespace {

constexpr const char* kP12Password = "sample-p12-password";

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// A certificate for `key`, CN = cn, signed by `issuer_key` (self-signed when issuer is null).
X509Ptr make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                  const std::string& san) {
  X509Ptr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), issuer == nullptr ? 1 : 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * 365);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::string ext = issuer == nullptr ? "critical,CA:TRUE" : "CA:FALSE";
  if (X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, ext.c_str())) {
    X509_add_ext(cert.get(), e, -1);
    X509_EXTENSION_free(e);
  }
  if (!san.empty()) {
    if (X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str())) {
      X509_add_ext(cert.get(), e, -1);
      X509_EXTENSION_free(e);
    }
  }
  X509_sign(cert.get(), issuer_key, EVP_sha384());
  return cert;
}

std::vector<uint8_t> der(X509* cert) {
  unsigned char* out = nullptr;
  const int n = i2d_X509(cert, &out);
  std::vector<uint8_t> v(out, out + (n > 0 ? n : 0));
  OPENSSL_free(out);
  return v;
}

struct SamplePki {
  std::string ca_pem;
  std::vector<uint8_t> ca_der;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> p12s;  // user, PKCS#12
};

// A P-384 CA named after the endpoint and one PKCS#12 per user, as the server's PKI makes them.
bool make_pki(const std::string& endpoint, const std::vector<std::string>& users, SamplePki& out) {
  PkeyPtr ca_key(EVP_EC_gen("P-384"), EVP_PKEY_free);
  if (!ca_key) {
    return false;
  }
  X509Ptr ca = make_cert(ca_key.get(), endpoint, nullptr, ca_key.get(), "");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, ca.get());
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  out.ca_pem.assign(data, size_t(len > 0 ? len : 0));
  BIO_free(bio);
  out.ca_der = der(ca.get());
  for (const auto& user : users) {
    PkeyPtr key(EVP_EC_gen("P-384"), EVP_PKEY_free);
    X509Ptr cert =
        make_cert(key.get(), user, ca.get(), ca_key.get(), "email:" + user + "@sample.algo");
    STACK_OF(X509)* chain = sk_X509_new_null();
    sk_X509_push(chain, ca.get());
    PKCS12* p12 =
        PKCS12_create(kP12Password, user.c_str(), key.get(), cert.get(), chain, 0, 0, 0, 0, 0);
    sk_X509_free(chain);
    if (p12 == nullptr) {
      return false;
    }
    unsigned char* bytes = nullptr;
    const int n = i2d_PKCS12(p12, &bytes);
    PKCS12_free(p12);
    if (n <= 0) {
      return false;
    }
    out.p12s.emplace_back(user, std::vector<uint8_t>(bytes, bytes + n));
    OPENSSL_free(bytes);
  }
  return true;
}

IpsecProfile ipsec_profile(const ServerConfig& config, const SamplePki& pki, size_t user) {
  IpsecProfile p;
  p.endpoint = config.endpoint;
  p.user = pki.p12s[user].first;
  p.user_id = p.user + "@sample.algo";
  p.ca_cert_pem = pki.ca_pem;
  p.ca_name = config.endpoint;
  p.p12 = pki.p12s[user].second;
  p.p12_password = kP12Password;
  p.ondemand_cellular = config.ondemand_cellular;
  p.ondemand_wifi = config.ondemand_wifi;
  p.ondemand_wifi_exclude = config.ondemand_wifi_exclude;
  return p;
}

// What plist_check.py compares the profiles with: the .p12 password, the CA and each user's
// identity and .p12.
bool write_sample_json(const std::string& dir, const ServerConfig& config, const SamplePki& pki) {
  try {
    nlohmann::json sample;
    sample["p12_password"] = kP12Password;
    sample["ca_der"] = waypost::to_base64(pki.ca_der);
    for (size_t i = 0; i < pki.p12s.size(); ++i) {
      const IpsecProfile p = ipsec_profile(config, pki, i);
      sample["users"][p.user] = {{"user_id", p.user_id}, {"p12", waypost::to_base64(p.p12)}};
    }
    if (auto st = waypost::write_file_atomic(fmt::format("{}/ikev2-sample.json", dir),
                                             sample.dump(2), 0600);
        !st) {
      std::fprintf(stderr, "%s\n", st.error().message.c_str());
      return false;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ikev2-sample.json: %s\n", e.what());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  ServerConfig config;
  config.users = {"phone", "alice@example.com"};
  config.endpoint = "vpn.example.com";
  config.wireguard_persistent_keepalive = 25;
  ServerState state;
  waypost::crypto::SeededRandom rng(42);
  if (auto r = reconcile(state, config, rng, 0); !r) {
    std::fprintf(stderr, "reconcile: %s\n", r.error().message.c_str());
    return 1;
  }
  for (const auto& user : config.users) {
    if (auto st = write_bundles(dir, config, state, user); !st) {
      std::fprintf(stderr, "write_bundles: %s\n", st.error().message.c_str());
      return 1;
    }
  }
  SamplePki pki;
  if (!make_pki(config.endpoint, config.users, pki)) {
    std::fprintf(stderr, "cannot make the sample PKI\n");
    return 1;
  }
  for (size_t i = 0; i < pki.p12s.size(); ++i) {
    if (auto st = write_ipsec_profiles(dir, ipsec_profile(config, pki, i)); !st) {
      std::fprintf(stderr, "write_ipsec_profiles: %s\n", st.error().message.c_str());
      return 1;
    }
  }
  if (!write_sample_json(dir, config, pki)) {
    return 1;
  }
  for (int wifi = 0; wifi < 2; ++wifi) {
    for (int cell = 0; cell < 2; ++cell) {
      for (int exclude = 0; exclude < 2; ++exclude) {
        ServerConfig c = config;
        c.ondemand_wifi = wifi != 0;
        c.ondemand_cellular = cell != 0;
        if (exclude != 0) {
          // Characters XML must escape, and non-ASCII.
          c.ondemand_wifi_exclude = {"home", "<Caf\xc3\xa9 & \"Bar's\">"};
        }
        const std::string name = "ondemand-w" + std::to_string(wifi) + "-c" + std::to_string(cell) +
                                 "-x" + std::to_string(exclude) + ".mobileconfig";
        const std::string xml = apple_mobileconfig(c, state, "phone", AppleOs::kIos);
        if (auto st = waypost::write_file_atomic(fmt::format("{}/{}", dir, name), xml, 0600); !st) {
          std::fprintf(stderr, "%s\n", st.error().message.c_str());
          return 1;
        }
        const std::string ikev2 = ipsec_apple_mobileconfig(ipsec_profile(c, pki, 0));
        if (auto st =
                waypost::write_file_atomic(fmt::format("{}/ikev2-{}", dir, name), ikev2, 0600);
            !st) {
          std::fprintf(stderr, "%s\n", st.error().message.c_str());
          return 1;
        }
      }
    }
  }
  return 0;
}
