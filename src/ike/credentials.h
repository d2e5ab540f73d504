#pragma once
// The certificates, keys and CRLs of an instance, read the way swanctl reads the directory that
// holds swanctl.conf: our certificates in x509/, CA certificates in x509ca/, CRLs in x509crl/,
// private keys in private/ (also rsa/, ecdsa/, pkcs8/; PEM or DER, encrypted ones with the
// passphrase of a `secrets { private-x { file, secret } }` entry) and PKCS#12 bundles in pkcs12/
// (`secrets { pkcs12-x { file, secret } }`). `certs = moon.pem` means x509/moon.pem; a private
// key is matched to a certificate by its public key.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "crypto/x509.h"
#include "ike/swanctl_conf.h"

namespace waypost::ike {

struct LocalCredential {
  std::string path;  // for messages
  crypto::Certificate cert;
  crypto::SigningKey key;
  std::vector<crypto::Certificate> chain;  // intermediates to send along (from PKCS#12)
};

class Credentials {
 public:
  // Reads what `config`'s rounds name and what the directories hold. Errors name the file: a
  // certificate that does not parse, one named by `certs` without a matching private key, a
  // `cacerts` file that is missing.
  static Result<std::shared_ptr<const Credentials>> load(const IpsecConfig& config,
                                                         const std::string& dir);

  // The certificate and key a local round presents (its first `certs` entry); null if none.
  const LocalCredential* local(const AuthRound& round) const;
  // Trust anchors for a remote round: its `cacerts`, or every CA certificate of x509ca/ and of
  // the `authorities` section when it names none.
  std::vector<crypto::Certificate> trusted(const AuthRound& round) const;
  const std::vector<crypto::Crl>& crls() const { return crls_; }
  // The CERTREQ payload's data for a remote round: SHA-1 hashes of its CAs' public keys.
  std::vector<uint8_t> certreq(const AuthRound& round) const;

 private:
  std::string dir_;
  std::map<std::string, LocalCredential> local_;          // by the name in `certs`
  std::map<std::string, crypto::Certificate> named_cas_;  // by the name in `cacerts`
  std::vector<crypto::Certificate> cas_;                  // everything in x509ca/ and authorities
  std::vector<crypto::Crl> crls_;
};

// Whether any connection authenticates with certificates (then Credentials are needed).
bool uses_certificates(const IpsecConfig& config);

}  // namespace waypost::ike
