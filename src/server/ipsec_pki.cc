#include "server/ipsec_pki.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "crypto/x509_issue.h"
#include "net/ip.h"

namespace waypost::server {

namespace {

constexpr time_t kDay = 24 * 3600;
constexpr time_t kCaLifetime = 3650 * kDay;  // 10 years, as Algo's CA
constexpr time_t kLeafLifetime = 3650 * kDay;
// A server certificate this close to its end is replaced at the next reconcile.
constexpr time_t kRenewBefore = 30 * kDay;
// CRLs are re-signed at every reconcile (start, users add/remove, sync); this is how long one
// stays valid if nothing happens for a long time.
constexpr time_t kCrlLifetime = 365 * kDay;
constexpr time_t kCrlRenewBefore = 30 * kDay;
// Backdating absorbs clients whose clocks run a little behind.
constexpr time_t kBackdate = 3600;
constexpr const char* kCurve = "P-384";
constexpr const char* kIkeIntermediateEku = "1.3.6.1.5.5.8.2.2";

// What the PKI remembers besides the PEM files.
struct Index {
  std::string email_domain;
  uint64_t next_serial = 1;
  uint64_t crl_number = 0;
  uint64_t server_serial = 0;
  std::string server_endpoint;
  std::map<std::string, uint64_t> users;  // user -> certificate serial
  // Certificates imported from Algo VPN carry random serials longer than 64 bits: user -> serial
  // in hex (such a user has 0 in `users`).
  std::map<std::string, std::string> imported_serials;
  struct Revoked {
    uint64_t serial = 0;
    std::string user;
    time_t at = 0;
    std::string serial_hex;  // instead of `serial` when not empty
  };
  std::vector<Revoked> revoked;
  // Disabled users (config.disabled_users) -> since when: their certificates are listed on hold
  // in the CRL and leave it when the user is enabled again.
  std::map<std::string, time_t> held;
  // "algo" for a PKI imported from Algo VPN. Its CA key may be missing (Algo encrypts it with a
  // password the user may not have): such a PKI keeps working with the certificates it has
  // instead of starting over, and issues, renews and revokes nothing until the key is there.
  std::string imported_from;
};

std::string index_path(const std::string& dir) {
  return pki_dir(dir) + "/index.json";
}
std::string ca_key_path(const std::string& dir) {
  return pki_dir(dir) + "/ca.key";
}
std::string ca_cert_path(const std::string& dir) {
  return ipsec_dir(dir) + "/x509ca/cacert.pem";
}
std::string server_cert_path(const std::string& dir) {
  return ipsec_dir(dir) + "/x509/server.pem";
}
std::string server_key_path(const std::string& dir) {
  return ipsec_dir(dir) + "/private/server.key";
}
std::string crl_path(const std::string& dir) {
  return ipsec_dir(dir) + "/x509crl/crl.pem";
}
std::string password_path(const std::string& dir) {
  return pki_dir(dir) + "/p12_password";
}
std::string user_cert_path(const std::string& dir, const std::string& user) {
  return pki_dir(dir) + "/users/" + user + ".pem";
}
std::string user_key_path(const std::string& dir, const std::string& user) {
  return pki_dir(dir) + "/users/" + user + ".key";
}

bool exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

Status make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return {};
  return make_error("cannot create directory {}: {}", path, std::strerror(errno));
}

std::string index_to_json(const Index& index) {
  nlohmann::json j;
  j["email_domain"] = index.email_domain;
  j["next_serial"] = index.next_serial;
  j["crl_number"] = index.crl_number;
  j["server"] = {{"serial", index.server_serial}, {"endpoint", index.server_endpoint}};
  if (!index.imported_from.empty()) j["imported_from"] = index.imported_from;
  j["users"] = nlohmann::json::object();
  for (const auto& [user, serial] : index.users) {
    j["users"][user] = {{"serial", serial}};
    if (auto it = index.imported_serials.find(user); it != index.imported_serials.end()) {
      j["users"][user]["serial_hex"] = it->second;
    }
  }
  j["revoked"] = nlohmann::json::array();
  for (const auto& r : index.revoked) {
    nlohmann::json entry = {{"serial", r.serial}, {"user", r.user}, {"at", r.at}};
    if (!r.serial_hex.empty()) entry["serial_hex"] = r.serial_hex;
    j["revoked"].push_back(entry);
  }
  if (!index.held.empty()) {
    j["held"] = nlohmann::json::object();
    for (const auto& [user, at] : index.held) j["held"][user] = {{"at", at}};
  }
  return j.dump(2) + "\n";
}

Result<Index> index_from_json(const std::string& text, const std::string& path) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("{}: not valid JSON", path);
  Index index;
  try {
    index.email_domain = j.at("email_domain").get<std::string>();
    index.next_serial = j.at("next_serial").get<uint64_t>();
    index.crl_number = j.value("crl_number", uint64_t{0});
    index.server_serial = j.at("server").value("serial", uint64_t{0});
    index.server_endpoint = j.at("server").value("endpoint", std::string());
    index.imported_from = j.value("imported_from", std::string());
    for (const auto& [user, entry] : j.at("users").items()) {
      index.users[user] = entry.at("serial").get<uint64_t>();
      if (entry.contains("serial_hex")) {
        index.imported_serials[user] = entry.at("serial_hex").get<std::string>();
      }
    }
    for (const auto& r : j.value("revoked", nlohmann::json::array())) {
      index.revoked.push_back({r.at("serial").get<uint64_t>(), r.value("user", std::string()),
                               r.value("at", time_t{0}), r.value("serial_hex", std::string())});
    }
    if (j.contains("held")) {
      for (const auto& [user, entry] : j.at("held").items()) {
        index.held[user] = entry.value("at", time_t{0});
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return make_error("{}: {}", path, e.what());
  }
  if (index.email_domain.empty()) return make_error("{}: email_domain is empty", path);
  return index;
}

// "<uuid>.algo", as Algo names the users' e-mail domain: random, so that the CA's name
// constraint permits this server's users and nothing else.
std::string random_email_domain(crypto::Random& random) {
  std::array<uint8_t, 16> b{};
  random.fill(b);
  b[6] = uint8_t((b[6] & 0x0f) | 0x40);
  b[8] = uint8_t((b[8] & 0x3f) | 0x80);
  std::string hex;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) hex += '-';
    hex += fmt::format("{:02x}", b[i]);
  }
  return hex + ".algo";
}

std::string random_password(crypto::Random& random) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  std::string out;
  for (int i = 0; i < 16; ++i) out += kAlphabet[random.below(kAlphabet.size())];
  return out;
}

bool endpoint_is_ip(const std::string& endpoint) {
  return net::IpAddress::parse(endpoint).ok();
}

struct Ca {
  std::optional<crypto::SigningKey> key;  // absent only in an imported PKI (Index::imported_from)
  crypto::Certificate cert;
};

Result<Ca> create_ca(const ServerConfig& config, const Index& index, time_t now) {
  auto key = crypto::generate_ec_key(kCurve);
  if (!key) return key.take_error();
  crypto::CertificateRequest req;
  req.subject = {{"CN", config.endpoint}};
  req.serial = 1;
  req.not_before = now - kBackdate;
  req.not_after = now + kCaLifetime;
  // Name constraints: the CA can vouch for this server's users (their e-mail domain) and, for
  // a DNS endpoint, the server's name; nothing else, so a leaked CA key is worth little. No IP
  // entry: strongSwan up to 5.9.8 refuses to load a CA with an iPAddress constraint.
  std::string constraints = "critical,permitted;email:" + index.email_domain;
  if (!endpoint_is_ip(config.endpoint)) constraints += ",permitted;DNS:" + config.endpoint;
  req.extensions = {{"basicConstraints", "critical,CA:TRUE,pathlen:0"},
                    {"keyUsage", "critical,keyCertSign,cRLSign"},
                    {"nameConstraints", constraints}};
  auto cert = crypto::issue_certificate(req, key->public_key(), nullptr, *key);
  if (!cert) return cert.take_error();
  return Ca{std::move(*key), std::move(*cert)};
}

// `key_optional`: a PKI imported without its CA key works with the CA certificate alone.
Result<Ca> load_ca(const std::string& dir, bool key_optional = false) {
  if (key_optional && !exists(ca_key_path(dir))) {
    auto cert = crypto::Certificate::load(ca_cert_path(dir));
    if (!cert) return cert.take_error();
    return Ca{std::nullopt, std::move(*cert)};
  }
  auto key_pem = read_file(ca_key_path(dir));
  if (!key_pem) return key_pem.take_error();
  auto key = crypto::private_key_from_pem(*key_pem, ca_key_path(dir));
  if (!key) return key.take_error();
  auto cert = crypto::Certificate::load(ca_cert_path(dir));
  if (!cert) return cert.take_error();
  if (!(cert->public_key() == key->public_key())) {
    return make_error("{} does not belong to the CA key {}", ca_cert_path(dir), ca_key_path(dir));
  }
  return Ca{std::move(*key), std::move(*cert)};
}

struct Issued {
  std::string key_pem;
  std::string cert_pem;
};

Result<Issued> issue_leaf(const Ca& ca, uint64_t serial, const std::string& cn,
                          const std::string& san, const std::string& eku, time_t now) {
  auto key = crypto::generate_ec_key(kCurve);
  if (!key) return key.take_error();
  crypto::CertificateRequest req;
  req.subject = {{"CN", cn}};
  req.serial = serial;
  req.not_before = now - kBackdate;
  req.not_after = now + kLeafLifetime;
  req.extensions = {{"basicConstraints", "critical,CA:FALSE"},
                    {"keyUsage", "critical,digitalSignature,keyEncipherment"},
                    {"extendedKeyUsage", eku},
                    {"subjectAltName", san}};
  if (!ca.key) return make_error("the CA key is not available");
  auto cert = crypto::issue_certificate(req, key->public_key(), &ca.cert, *ca.key);
  if (!cert) return cert.take_error();
  auto key_pem = crypto::private_key_pem(*key);
  if (!key_pem) return key_pem.take_error();
  return Issued{std::move(*key_pem), crypto::certificate_pem(*cert)};
}

time_t not_after(const crypto::Certificate& cert) {
  tm t{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &t) != 1) return 0;
  return timegm(&t);
}

Status write_crl(const std::string& dir, const Ca& ca, Index& index, time_t now) {
  if (!ca.key) return make_error("the CA key is not available");
  std::vector<crypto::RevokedEntry> entries;
  entries.reserve(index.revoked.size());
  for (const auto& r : index.revoked) entries.push_back({r.serial, r.at, r.serial_hex});
  for (const auto& [user, at] : index.held) {
    auto serial = index.users.find(user);
    if (serial == index.users.end()) continue;
    std::string hex;
    if (auto it = index.imported_serials.find(user); it != index.imported_serials.end()) {
      hex = it->second;
    }
    entries.push_back({serial->second, at, hex, true});
  }
  ++index.crl_number;
  auto crl = crypto::issue_crl(ca.cert, *ca.key, entries, index.crl_number, now - kBackdate,
                               now + kCrlLifetime);
  if (!crl) return crl.take_error();
  return write_file_atomic(crl_path(dir), *crl, 0644);
}

bool crl_needs_renewal(const std::string& dir, time_t now) {
  auto crl = crypto::Crl::load(crl_path(dir));
  if (!crl) return true;
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl->get());
  tm t{};
  if (next == nullptr || ASN1_TIME_to_tm(next, &t) != 1) return true;
  return timegm(&t) - now < kCrlRenewBefore;
}

Status write_profiles(const std::string& dir, const ServerConfig& config, const std::string& user) {
  auto profile = user_ipsec_profile(dir, config, user);
  if (!profile) return profile.take_error();
  return write_ipsec_profiles(dir, *profile);
}

}  // namespace

std::string pki_dir(const std::string& dir) {
  return dir + "/pki";
}
std::string ipsec_dir(const std::string& dir) {
  return dir + "/ipsec";
}

Result<std::string> pki_email_domain(const std::string& dir) {
  auto text = read_file(index_path(dir));
  if (!text) return text.take_error();
  auto index = index_from_json(*text, index_path(dir));
  if (!index) return index.take_error();
  return index->email_domain;
}

Result<std::string> user_ike_identity(const std::string& dir, const std::string& user) {
  auto domain = pki_email_domain(dir);
  if (!domain) return domain.take_error();
  return user + "@" + *domain;
}

std::string user_of_identity(const std::string& email_domain, const std::string& identity) {
  const std::string suffix = "@" + email_domain;
  if (identity.size() > suffix.size() &&
      identity.compare(identity.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return identity.substr(0, identity.size() - suffix.size());
  }
  // A client that uses its certificate's subject as identity: "CN=phone".
  if (identity.rfind("CN=", 0) == 0 && identity.find(',') == std::string::npos) {
    return identity.substr(3);
  }
  return {};
}

Result<std::string> p12_password(const std::string& dir) {
  if (auto st = check_private_file(password_path(dir)); !st) return st.take_error();
  auto text = read_file(password_path(dir));
  if (!text) return text.take_error();
  std::string pw = *text;
  while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
  if (pw.empty()) return make_error("{} is empty", password_path(dir));
  return pw;
}

Result<IpsecProfile> user_ipsec_profile(const std::string& dir, const ServerConfig& config,
                                        const std::string& user) {
  IpsecProfile p;
  p.endpoint = config.endpoint;
  p.user = user;
  auto id = user_ike_identity(dir, user);
  if (!id) return id.take_error();
  p.user_id = *id;
  auto ca_pem = read_file(ca_cert_path(dir));
  if (!ca_pem) return ca_pem.take_error();
  p.ca_cert_pem = *ca_pem;
  p.ca_name = config.endpoint;
  auto password = p12_password(dir);
  if (!password) return password.take_error();
  p.p12_password = *password;
  auto key_pem = read_file(user_key_path(dir, user));
  if (!key_pem) return key_pem.take_error();
  auto key = crypto::private_key_from_pem(*key_pem, user_key_path(dir, user));
  if (!key) return key.take_error();
  auto cert = crypto::Certificate::load(user_cert_path(dir, user));
  if (!cert) return cert.take_error();
  auto ca = crypto::certificate_from_pem(*ca_pem, ca_cert_path(dir));
  if (!ca) return ca.take_error();
  auto p12 = crypto::make_pkcs12(*key, *cert, {*ca}, p.p12_password, user);
  if (!p12) return p12.take_error();
  p.p12 = std::move(*p12);
  p.ondemand_cellular = config.ondemand_cellular;
  p.ondemand_wifi = config.ondemand_wifi;
  p.ondemand_wifi_exclude = config.ondemand_wifi_exclude;
  return p;
}

Result<PkiChanges> reconcile_pki(const std::string& dir, const ServerConfig& config,
                                 crypto::Random& random, time_t now) {
  PkiChanges changes;
  for (const auto& [d, mode] : {std::pair<std::string, mode_t>{pki_dir(dir), 0700},
                                {pki_dir(dir) + "/users", 0700},
                                {ipsec_dir(dir), 0755},
                                {ipsec_dir(dir) + "/x509ca", 0755},
                                {ipsec_dir(dir) + "/x509", 0755},
                                {ipsec_dir(dir) + "/x509crl", 0755},
                                {ipsec_dir(dir) + "/private", 0700}}) {
    if (auto st = make_dir(d, mode); !st) return st.take_error();
  }

  Index index;
  if (exists(index_path(dir))) {
    auto text = read_file(index_path(dir));
    if (!text) return text.take_error();
    auto parsed = index_from_json(*text, index_path(dir));
    if (!parsed) return parsed.take_error();
    index = std::move(*parsed);
  }

  // The CA: created once. Without its key nothing issued so far can be trusted again, so a
  // missing key starts the PKI over (every user gets a new certificate and profile) -- except
  // in a PKI imported from Algo without its CA key, which goes on with what it has.
  const bool imported = !index.imported_from.empty() && !index.email_domain.empty();
  Ca ca;
  if ((exists(ca_key_path(dir)) || imported) && !index.email_domain.empty()) {
    auto loaded = load_ca(dir, imported);
    if (!loaded) return loaded.take_error();
    ca = std::move(*loaded);
  } else {
    Index fresh;
    fresh.email_domain = random_email_domain(random);
    fresh.next_serial = 2;  // 1 is the CA's own
    auto created = create_ca(config, fresh, now);
    if (!created) return created.take_error();
    ca = std::move(*created);
    auto key_pem = crypto::private_key_pem(*ca.key);
    if (!key_pem) return key_pem.take_error();
    if (auto st = write_file_atomic(ca_key_path(dir), *key_pem, 0600); !st) return st.take_error();
    if (auto st = write_file_atomic(ca_cert_path(dir), crypto::certificate_pem(ca.cert), 0644);
        !st) {
      return st.take_error();
    }
    index = std::move(fresh);
    changes.created_ca = true;
  }
  const bool can_sign = ca.key.has_value();
  const std::string no_key = fmt::format(
      "the CA key is not available (put Algo's decrypted CA key at {}, see docs/MIGRATING.md)",
      ca_key_path(dir));
  if (!exists(password_path(dir))) {
    if (auto st = write_file_atomic(password_path(dir), random_password(random) + "\n", 0600);
        !st) {
      return st.take_error();
    }
  }

  auto save_index = [&]() {
    return write_file_atomic(index_path(dir), index_to_json(index), 0600);
  };

  // The server certificate follows the endpoint, and is renewed before it runs out.
  bool server_ok = exists(server_key_path(dir)) && index.server_endpoint == config.endpoint &&
                   index.server_serial != 0 && !changes.created_ca;
  if (server_ok) {
    auto cert = crypto::Certificate::load(server_cert_path(dir));
    server_ok = cert.ok() && not_after(*cert) - now > kRenewBefore;
  }
  if (!server_ok && !can_sign) {
    changes.notes.push_back("cannot renew the IKEv2 server certificate for endpoint " +
                            config.endpoint + ": " + no_key);
  } else if (!server_ok) {
    const std::string san = (endpoint_is_ip(config.endpoint) ? "IP:" : "DNS:") + config.endpoint;
    auto issued = issue_leaf(ca, index.next_serial, config.endpoint, san,
                             std::string("serverAuth,") + kIkeIntermediateEku, now);
    if (!issued) return issued.take_error();
    index.server_serial = index.next_serial++;
    index.server_endpoint = config.endpoint;
    if (auto st = save_index(); !st) return st.take_error();
    if (auto st = write_file_atomic(server_key_path(dir), issued->key_pem, 0600); !st) {
      return st.take_error();
    }
    if (auto st = write_file_atomic(server_cert_path(dir), issued->cert_pem, 0644); !st) {
      return st.take_error();
    }
    changes.new_server_certificate = true;
  }

  // Users no longer in config.yaml: revoked first, so that a crash later never leaves a
  // removed user with a valid certificate and no CRL entry.
  const std::set<std::string> wanted(config.users.begin(), config.users.end());
  auto revoke = [&](const std::string& user) {
    std::string hex;
    if (auto it = index.imported_serials.find(user); it != index.imported_serials.end()) {
      hex = it->second;
      index.imported_serials.erase(it);
    }
    index.revoked.push_back({index.users[user], user, now, hex});
  };
  for (auto it = index.users.begin(); it != index.users.end();) {
    if (wanted.count(it->first) != 0) {
      ++it;
      continue;
    }
    revoke(it->first);  // reads index.users, does not change it
    changes.revoked.push_back(it->first);
    it = index.users.erase(it);
  }
  // Disabled users: on hold in the CRL while they are in disabled_users.
  std::map<std::string, time_t> held;
  for (const auto& user : config.disabled_users) {
    if (index.users.count(user) == 0) continue;
    auto was = index.held.find(user);
    held[user] = was == index.held.end() ? now : was->second;
    if (was == index.held.end()) changes.held.push_back(user);
  }
  for (const auto& [user, at] : index.held) {
    if (held.count(user) == 0 && index.users.count(user) != 0) changes.released.push_back(user);
  }
  const bool held_changed = held != index.held;
  index.held = std::move(held);
  if (held_changed && !can_sign) {
    changes.notes.push_back(fmt::format(
        "disabled users' IKEv2 certificates are not on hold until a CRL lists them: {}", no_key));
    if (auto st = save_index(); !st) return st.take_error();
  }
  if (!changes.revoked.empty() && !can_sign) {
    // Remembered in index.json: the first CRL signed once the key is there lists them.
    for (const auto& user : changes.revoked) {
      changes.notes.push_back(fmt::format(
          "the IKEv2 certificate of {} stays valid until a CRL lists it: {}", user, no_key));
    }
    if (auto st = save_index(); !st) return st.take_error();
  } else if (can_sign && (!changes.revoked.empty() || held_changed || changes.created_ca ||
                          crl_needs_renewal(dir, now))) {
    if (auto st = write_crl(dir, ca, index, now); !st) return st.take_error();
    if (auto st = save_index(); !st) return st.take_error();
  }
  for (const auto& user : changes.revoked) {
    std::error_code ec;
    std::filesystem::remove(user_cert_path(dir, user), ec);
    std::filesystem::remove(user_key_path(dir, user), ec);
    remove_ipsec_profiles(dir, config.endpoint, user);
  }

  bool revoked_lost = false;
  for (const auto& user : config.users) {
    const bool have = index.users.count(user) != 0 && exists(user_cert_path(dir, user)) &&
                      exists(user_key_path(dir, user));
    if (have) continue;
    if (!can_sign) {
      changes.notes.push_back(fmt::format("no IKEv2 certificate for {}: {}", user, no_key));
      continue;
    }
    if (index.users.count(user) != 0) {
      // Files lost: the old certificate is revoked before a new one is issued.
      revoke(user);
      revoked_lost = true;
    }
    const std::string id = user + "@" + index.email_domain;
    auto issued = issue_leaf(ca, index.next_serial, user, "email:" + id, "clientAuth", now);
    if (!issued) return issued.take_error();
    index.users[user] = index.next_serial++;
    if (auto st = save_index(); !st) return st.take_error();
    if (auto st = write_file_atomic(user_key_path(dir, user), issued->key_pem, 0600); !st) {
      return st.take_error();
    }
    if (auto st = write_file_atomic(user_cert_path(dir, user), issued->cert_pem, 0644); !st) {
      return st.take_error();
    }
    changes.issued.push_back(user);
  }
  if (revoked_lost) {
    if (auto st = write_crl(dir, ca, index, now); !st) return st.take_error();
    if (auto st = save_index(); !st) return st.take_error();
  }

  // Client files: for new certificates, a new endpoint, or files that went missing.
  for (const auto& user : config.users) {
    if (!exists(user_cert_path(dir, user)) || !exists(user_key_path(dir, user))) continue;
    const bool fresh =
        std::find(changes.issued.begin(), changes.issued.end(), user) != changes.issued.end();
    const std::string marker =
        ipsec_bundle_dir(dir, config.endpoint) + "/apple/" + user + ".mobileconfig";
    if (fresh || changes.new_server_certificate || !exists(marker)) {
      if (auto st = write_profiles(dir, config, user); !st) return st.take_error();
    }
  }
  return changes;
}

Status check_pki(const std::string& dir, time_t now) {
  bool imported = false;
  if (auto text = read_file(index_path(dir))) {
    auto index = index_from_json(*text, index_path(dir));
    imported = index && !index->imported_from.empty();
  }
  auto ca = load_ca(dir, imported);
  if (!ca) return make_error("IKEv2 CA: {}", ca.error().message);
  if (not_after(ca->cert) <= now) {
    return make_error("the CA certificate {} has expired", ca_cert_path(dir));
  }
  auto cert = crypto::Certificate::load(server_cert_path(dir));
  if (!cert) return make_error("IKEv2 server certificate: {}", cert.error().message);
  if (not_after(*cert) <= now) {
    return make_error("the server certificate {} has expired", server_cert_path(dir));
  }
  auto key_pem = read_file(server_key_path(dir));
  if (!key_pem) return make_error("IKEv2 server key: {}", key_pem.error().message);
  auto key = crypto::private_key_from_pem(*key_pem, server_key_path(dir));
  if (!key) return key.take_error();
  if (!(cert->public_key() == key->public_key())) {
    return make_error("{} does not belong to the key {}", server_cert_path(dir),
                      server_key_path(dir));
  }
  // An imported CA (Algo's) is checked only for what IKE clients check; see verify_signed_by.
  auto verified = imported ? crypto::verify_signed_by(*cert, ca->cert)
                           : crypto::verify_chain(*cert, {}, {ca->cert}, {}, false);
  if (!verified) return make_error("{}: {}", server_cert_path(dir), verified.error().message);
  if (auto crl = crypto::Crl::load(crl_path(dir)); !crl) {
    return make_error("IKEv2 CRL: {}", crl.error().message);
  }
  if (auto pw = p12_password(dir); !pw) return pw.take_error();
  return {};
}

Status install_imported_pki(const std::string& dir, const ImportedPki& pki,
                            const std::string& endpoint, crypto::Random& random) {
  if (exists(index_path(dir))) return make_error("{} exists already", index_path(dir));
  for (const auto& [d, mode] : {std::pair<std::string, mode_t>{pki_dir(dir), 0700},
                                {pki_dir(dir) + "/users", 0700},
                                {ipsec_dir(dir), 0755},
                                {ipsec_dir(dir) + "/x509ca", 0755},
                                {ipsec_dir(dir) + "/x509", 0755},
                                {ipsec_dir(dir) + "/x509crl", 0755},
                                {ipsec_dir(dir) + "/private", 0700}}) {
    if (auto st = make_dir(d, mode); !st) return st;
  }
  Index index;
  index.email_domain = pki.email_domain;
  index.imported_from = "algo";
  index.server_endpoint = endpoint;
  uint64_t highest = 1;  // Waypost's own CA takes serial 1; keep clear of it here too
  auto note_serial = [&](const std::string& hex) -> uint64_t {
    const auto n = crypto::serial_from_hex(hex);
    if (n) highest = std::max(highest, *n);
    return n.value_or(0);
  };
  // The server certificate's serial only marks that there is one (index.server_serial != 0).
  // No certificate (Algo's was not found): 0 makes reconcile_pki issue one from Algo's CA.
  index.server_serial =
      pki.server_cert_pem.empty() ? 0 : std::max<uint64_t>(1, note_serial(pki.server_serial_hex));
  for (const auto& [user, cert] : pki.users) {
    index.users[user] = note_serial(cert.serial_hex);
    if (index.users[user] == 0) index.imported_serials[user] = cert.serial_hex;
  }
  // Algo's CRL does not say who they were; the revocation time of record is the import's.
  const time_t imported_at = std::time(nullptr);
  for (const auto& hex : pki.revoked_serials) {
    const uint64_t n = note_serial(hex);
    index.revoked.push_back({n, "", imported_at, n == 0 ? hex : std::string()});
  }
  // Algo's older CAs count serials up from 1: new certificates continue after the highest.
  index.next_serial = highest + 1;

  const std::string password =
      pki.p12_password.empty() ? random_password(random) : pki.p12_password;
  std::vector<std::pair<std::string, std::pair<std::string, mode_t>>> files{
      {ca_cert_path(dir), {pki.ca_cert_pem, 0644}},
      {password_path(dir), {password + "\n", 0600}},
  };
  if (!pki.server_cert_pem.empty()) {
    files.push_back({server_cert_path(dir), {pki.server_cert_pem, 0644}});
    files.push_back({server_key_path(dir), {pki.server_key_pem, 0600}});
  }
  if (!pki.ca_key_pem.empty()) files.push_back({ca_key_path(dir), {pki.ca_key_pem, 0600}});
  // Without the CA key Waypost cannot sign a CRL: Algo's, which lists the users Algo removed,
  // serves until then.
  if (pki.ca_key_pem.empty() && !pki.crl_pem.empty()) {
    files.push_back({crl_path(dir), {pki.crl_pem, 0644}});
  }
  for (const auto& [user, cert] : pki.users) {
    files.push_back({user_cert_path(dir, user), {cert.cert_pem, 0644}});
    files.push_back({user_key_path(dir, user), {cert.key_pem, 0600}});
  }
  for (const auto& [path, content] : files) {
    if (auto st = write_file_atomic(path, content.first, content.second); !st) return st;
  }
  return write_file_atomic(index_path(dir), index_to_json(index), 0600);
}

}  // namespace waypost::server
