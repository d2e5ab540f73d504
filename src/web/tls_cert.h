#pragma once
// The web admin's TLS certificate: the files config.yaml names (web_tls_cert / web_tls_key), or a
// self-signed one that Waypost makes once in <dir>/web/ so that the page works over HTTPS from
// the first start, without a domain or a CA. Browsers warn about a self-signed certificate; the
// admin accepts it once, or configures a real one.

#include <ctime>
#include <string>

#include "common/result.h"

namespace waypost::web {

struct TlsFiles {
  std::string cert_path;       // PEM chain
  std::string key_path;        // PEM private key
  bool generated = false;      // made just now
  std::string renewal_reason;  // why an earlier self-signed one was replaced ("" if it was not)
};

// The configured pair when both are given, else <dir>/web/cert.pem and key.pem, made now when
// they do not exist: an ECDSA P-256 key (0600) and a self-signed certificate for `host` (a DNS
// name or an IP address, put in subjectAltName), valid for 825 days, the longest Apple's
// platforms accept for a TLS server certificate. One made earlier is made again when it
// expires within 30 days or no longer names `host` (checked at every start).
Result<TlsFiles> ensure_tls_files(const std::string& dir, const std::string& configured_cert,
                                  const std::string& configured_key, const std::string& host,
                                  time_t now);

}  // namespace waypost::web
