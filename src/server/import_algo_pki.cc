// `server import-algo`, the IKEv2 half: Algo's CA, the server's certificate and the users'.
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <filesystem>

#include <fmt/format.h>

#include "common/atomic_file.h"
#include "crypto/x509.h"
#include "crypto/x509_issue.h"
#include "server/import_algo.h"

namespace waypost::server {

namespace {

namespace fs = std::filesystem;

constexpr const char* kServerIpsecDir = "/etc/ipsec.d";

bool is_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// Algo's users' e-mail domain when no certificate says it: "<to_uuid(server)>.algo", where
// Ansible's to_uuid is a name-based UUID (RFC 4122 version 5) in Ansible's own namespace.
std::string algo_email_domain(const std::string& endpoint) {
  static constexpr std::array<uint8_t, 16> kAnsibleNamespace = {0x36, 0x1e, 0x6d, 0x51, 0xfa, 0xec,
                                                                0x44, 0x4a, 0x90, 0x79, 0x34, 0x13,
                                                                0x86, 0xda, 0x8e, 0x2e};
  std::string input(kAnsibleNamespace.begin(), kAnsibleNamespace.end());
  input += endpoint;
  std::array<uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), digest.data(), &size, EVP_sha1(), nullptr);
  digest[6] = uint8_t((digest[6] & 0x0f) | 0x50);
  digest[8] = uint8_t((digest[8] & 0x3f) | 0x80);
  std::string out;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += fmt::format("{:02x}", digest[i]);
  }
  return out + ".algo";
}

struct Pair {
  crypto::Certificate cert;
  crypto::SigningKey key;
  std::string from;
};

// A certificate and its key, checked against each other and against the CA.
Result<Pair> load_pair(const std::string& cert_path, const std::string& key_path,
                       const crypto::Certificate& ca) {
  auto cert = crypto::Certificate::load(cert_path);
  if (!cert) return cert.take_error();
  auto key = crypto::SigningKey::load(key_path, "");
  if (!key) return key.take_error();
  if (!(cert->public_key() == key->public_key())) {
    return make_error("{} does not belong to the key {}", cert_path, key_path);
  }
  if (auto st = crypto::verify_signed_by(*cert, ca); !st) {
    return make_error("{}: {}", cert_path, st.error().message);
  }
  return Pair{std::move(*cert), std::move(*key), cert_path};
}

Result<Pair> load_p12(const std::string& path, const std::string& password,
                      const crypto::Certificate& ca) {
  auto p12 = crypto::load_pkcs12(path, password);
  if (!p12) return p12.take_error();
  if (auto st = crypto::verify_signed_by(p12->cert, ca); !st) {
    return make_error("{}: {}", path, st.error().message);
  }
  return Pair{std::move(p12->cert), std::move(p12->key), path};
}

Result<ImportedPki::UserCert> to_pem(const Pair& pair) {
  auto key = crypto::private_key_pem(pair.key);
  if (!key) return key.take_error();
  return ImportedPki::UserCert{crypto::certificate_pem(pair.cert), std::move(*key),
                               crypto::serial_hex(pair.cert)};
}

void drop_user(ImportPlan& plan, const std::string& user) {
  plan.state.users.erase(user);
  auto& users = plan.config.users;
  users.erase(std::remove(users.begin(), users.end(), user), users.end());
}

}  // namespace

Status plan_algo_pki(ImportPlan& plan, const AlgoImportOptions& o, const AlgoSettings& settings) {
  const std::string pki = o.tree + "/ipsec/.pki";
  const std::string manual = o.tree + "/ipsec/manual";
  const std::string& endpoint = plan.config.endpoint;
  const std::string ca_path =
      is_file(pki + "/cacert.pem") ? pki + "/cacert.pem" : manual + "/cacert.pem";
  if (!is_file(ca_path)) {
    plan.notes.emplace_back(
        "no IKEv2 CA in the Algo tree: Waypost makes a new one, so IKEv2 devices need new "
        "profiles");
    return {};
  }
  auto ca = crypto::Certificate::load(ca_path);
  if (!ca) return ca.take_error();
  ImportedPki out;
  out.ca_cert_pem = crypto::certificate_pem(*ca);
  out.p12_password = !o.p12_password.empty() ? o.p12_password : settings.p12_password.value_or("");

  // The CA key, encrypted with the CA password Algo printed at the end of its run.
  const std::string ca_key_path = pki + "/private/cakey.pem";
  const std::string password =
      !o.ca_password.empty() ? o.ca_password : settings.ca_password.value_or("");
  if (!is_file(ca_key_path)) {
    plan.notes.emplace_back(
        "Algo's CA key is not in the tree (Algo keeps it only when asked to keep the PKI): new "
        "users get no IKEv2 certificate, and removed users' certificates cannot be revoked");
  } else {
    auto key = crypto::SigningKey::load(ca_key_path, password);
    if (key && !(key->public_key() == ca->public_key())) {
      return make_error("{} does not belong to the CA certificate {}", ca_key_path, ca_path);
    }
    if (key) {
      auto pem = crypto::private_key_pem(*key);
      if (!pem) return pem.take_error();
      out.ca_key_pem = std::move(*pem);
    } else {
      plan.notes.push_back(fmt::format(
          "cannot read Algo's CA key {} ({}): pass --ca-password or --ca-password-file with the "
          "CA password Algo printed. Certificates are imported anyway; until the key is given, "
          "new users get no IKEv2 certificate and removed users' certificates stay valid",
          ca_key_path, password.empty() ? "no password given" : "wrong password?"));
    }
  }

  // The server's certificate: in the tree, or on the old server itself.
  const std::string etc = o.server_ipsec_dir.empty() ? kServerIpsecDir : o.server_ipsec_dir;
  std::optional<Pair> server;
  for (const auto& [cert, key] :
       {std::pair<std::string, std::string>{fmt::format("{}/certs/{}.crt", pki, endpoint),
                                            fmt::format("{}/private/{}.key", pki, endpoint)},
        {fmt::format("{}/certs/{}.crt", etc, endpoint),
         fmt::format("{}/private/{}.key", etc, endpoint)}}) {
    if (!is_file(cert) || !is_file(key)) continue;
    auto pair = load_pair(cert, key, *ca);
    if (!pair) return pair.take_error();
    server = std::move(*pair);
    break;
  }
  if (server) {
    auto pem = to_pem(*server);
    if (!pem) return pem.take_error();
    out.server_cert_pem = pem->cert_pem;
    out.server_key_pem = pem->key_pem;
    out.server_serial_hex = pem->serial_hex;
  } else if (!out.ca_key_pem.empty()) {
    plan.notes.emplace_back(
        "Algo's IKEv2 server certificate is not in the tree: Waypost issues a new one from "
        "Algo's CA, which Algo's profiles accept");
  } else {
    plan.notes.push_back(fmt::format(
        "neither Algo's IKEv2 server certificate ({}/certs/{}.crt) nor its CA key is available: "
        "Waypost makes a new CA, so IKEv2 devices need new profiles",
        pki, endpoint));
    return {};
  }

  // Algo's CRL: the users Algo removed stay revoked. The tree's copy, else the Algo server's.
  for (const std::string& crl_file :
       {fmt::format("{}/crl.pem", pki), fmt::format("{}/crls/crl.pem", etc)}) {
    if (!is_file(crl_file)) continue;
    auto crl = crypto::Crl::load(crl_file);
    if (!crl) return crl.take_error();
    out.revoked_serials = crypto::revoked_serials_hex(*crl);
    auto text = read_file(crl_file);
    if (text) out.crl_pem = *text;
    break;
  }
  // IKEv2 checks every client certificate against a CRL (revocation = strict). Without the CA
  // key Waypost cannot sign one, so Algo's must come along, or no IKEv2 client could connect.
  if (out.ca_key_pem.empty() && out.crl_pem.empty()) {
    return make_error(
        "the Algo tree has neither its CA key (give the CA password with --ca-password-file if "
        "{}/private/cakey.pem exists) nor its CRL ({}/crl.pem, or {}/crls/crl.pem on the Algo "
        "server, --ipsec-dir): without one of them Waypost cannot check certificates for "
        "revocation, and IKEv2 would refuse every client",
        pki, pki, etc);
  }

  // The users' certificates: .pki/certs and .pki/private, or the .p12 files in manual/.
  const std::string p12_password = out.p12_password;
  std::vector<std::string> users = plan.config.users;
  for (const auto& user : users) {
    const std::string cert_path = fmt::format("{}/certs/{}.crt", pki, user);
    const std::string key_path = fmt::format("{}/private/{}.key", pki, user);
    const std::string p12_path = fmt::format("{}/{}.p12", manual, user);
    Result<Pair> pair = make_error("none");
    bool found = false;
    if (is_file(cert_path) && is_file(key_path)) {
      pair = load_pair(cert_path, key_path, *ca);
      found = true;
    } else if (is_file(p12_path) && !p12_password.empty()) {
      pair = load_p12(p12_path, p12_password, *ca);
      found = true;
    }
    if (!found) {
      plan.notes.push_back(fmt::format(
          "user {}: no IKEv2 certificate in the Algo tree{}; {}", user,
          is_file(p12_path) ? " (pass --p12-password to read its .p12)" : "",
          out.ca_key_pem.empty() ? "it gets none until Algo's CA key is given"
                                 : "Waypost issues one from Algo's CA (a new IKEv2 profile)"));
      continue;
    }
    if (!pair) return pair.take_error();
    auto pem = to_pem(*pair);
    if (!pem) return pem.take_error();
    if (std::find(out.revoked_serials.begin(), out.revoked_serials.end(), pem->serial_hex) !=
        out.revoked_serials.end()) {
      if (!settings.users) {
        // Without config.cfg the users come from leftover files: this one Algo removed.
        plan.notes.push_back(fmt::format(
            "user {}: its certificate is revoked in Algo's CRL (removed from Algo): not imported",
            user));
        drop_user(plan, user);
      } else {
        plan.notes.push_back(fmt::format(
            "user {}: its certificate is revoked in Algo's CRL: it gets a new one", user));
      }
      continue;
    }
    for (const auto& email : pair->cert.email_addresses()) {
      const size_t at = email.find('@');
      if (at != std::string::npos && email.substr(0, at) == user && out.email_domain.empty()) {
        out.email_domain = email.substr(at + 1);
      }
    }
    out.users[user] = std::move(*pem);
  }
  if (out.email_domain.empty()) out.email_domain = algo_email_domain(endpoint);
  for (const auto& [user, cert] : out.users) {
    auto c = crypto::certificate_from_pem(cert.cert_pem, user);
    if (c && !c->has_email(user + "@" + out.email_domain)) {
      return make_error(
          "{}'s certificate does not name {}@{} like the others: not one Algo "
          "deployment?",
          user, user, out.email_domain);
    }
  }
  plan.pki = std::move(out);
  return {};
}

}  // namespace waypost::server
