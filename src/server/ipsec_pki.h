#pragma once
// The server's IKEv2 PKI, shaped like Algo VPN's so that its users' habits and client files carry
// over: an ECDSA P-384 CA (10 years, CN = endpoint, path length 0, critical name constraints
// permitting the users' e-mail domain and a DNS endpoint's name), a server certificate (SAN = the
// endpoint, serverAuth + IKE intermediate EKUs), one certificate per user (CN = user, SAN e-mail
// user@<random id>.algo, clientAuth), a CRL naming removed users, and one random .p12 password
// per server. Disabled users' certificates are on hold in the CRL (certificateHold) until they
// are enabled again.
//
//   <dir>/pki/                   0700, never copied anywhere
//     ca.key                     the CA key, 0600: it signs certificates and CRLs and nothing else
//     index.json                 serials issued and revoked, the e-mail domain, the CRL number
//     p12_password               0600
//     users/<user>.pem, .key     each user's certificate and key (0600)
//   <dir>/ipsec/                 what the IKEv2 side loads, in swanctl's directory layout
//     x509ca/cacert.pem
//     x509/server.pem
//     private/server.key         0600
//     x509crl/crl.pem
//
// reconcile_pki() is level-triggered like reconcile() in state.h: it makes the files agree with
// config.yaml whatever state a crash left them in.

#include <cstdint>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "crypto/random.h"
#include "server/config.h"
#include "server/ipsec_profiles.h"

namespace waypost::server {

struct PkiChanges {
  bool created_ca = false;
  bool new_server_certificate = false;
  std::vector<std::string> issued;    // users that got a certificate
  std::vector<std::string> revoked;   // users whose certificate was revoked
  std::vector<std::string> held;      // disabled users whose certificate went on hold
  std::vector<std::string> released;  // enabled again: their certificate left the CRL
  // What an imported PKI without its CA key could not do (issue, renew, revoke), for the user.
  std::vector<std::string> notes;
  bool crl_changed() const {
    return created_ca || !revoked.empty() || !held.empty() || !released.empty();
  }
};

// Creates what is missing and revokes certificates of users no longer in config.users. Writes
// the users' client files (ipsec_profiles.h) for users that got a certificate, or whose files are
// missing, and removes those of revoked users.
Result<PkiChanges> reconcile_pki(const std::string& dir, const ServerConfig& config,
                                 crypto::Random& random, time_t now);

// The user's IKE identity: the e-mail SAN of its certificate ("phone@<id>.algo").
Result<std::string> user_ike_identity(const std::string& dir, const std::string& user);
// Which user an IKE identity (the e-mail address, or a DN with CN=<user>) belongs to; "" when
// it is none of ours.
std::string user_of_identity(const std::string& email_domain, const std::string& identity);
Result<std::string> pki_email_domain(const std::string& dir);

Result<std::string> p12_password(const std::string& dir);
Result<IpsecProfile> user_ipsec_profile(const std::string& dir, const ServerConfig& config,
                                        const std::string& user);

// Checks the files the IKEv2 side needs before it starts: each unreadable, corrupt or expired one
// is an error naming the file.
Status check_pki(const std::string& dir, time_t now);

// A PKI taken over from Algo VPN (server/import_algo.h), checked by the importer: its CA, the
// server's certificate and key and each user's, PEM.
struct ImportedPki {
  struct UserCert {
    std::string cert_pem;
    std::string key_pem;
    std::string serial_hex;
  };
  std::string ca_cert_pem;
  std::string ca_key_pem;  // unencrypted PKCS#8; empty when Algo's could not be read
  std::string server_cert_pem;
  std::string server_key_pem;
  std::string server_serial_hex;
  std::map<std::string, UserCert> users;
  std::string email_domain;                  // "<uuid>.algo", from the users' e-mail SANs
  std::vector<std::string> revoked_serials;  // hex, from Algo's CRL
  std::string crl_pem;                       // Algo's CRL, kept while the CA key is missing
  std::string p12_password;                  // Algo's, when known; else a new random one
};

// Writes `pki` into <dir> in the layout above, marked as imported in index.json so that
// reconcile_pki goes on from it (and does without the CA key when it is missing). Refuses a
// directory that has a PKI already.
Status install_imported_pki(const std::string& dir, const ImportedPki& pki,
                            const std::string& endpoint, crypto::Random& random);

std::string pki_dir(const std::string& dir);    // <dir>/pki
std::string ipsec_dir(const std::string& dir);  // <dir>/ipsec

}  // namespace waypost::server
