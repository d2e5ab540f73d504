#include "web/tls_cert.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/atomic_file.h"
#include "crypto/random.h"
#include "crypto/x509_issue.h"
#include "net/ip.h"

namespace waypost::web {

namespace {

constexpr time_t kValiditySeconds = time_t{825} * 24 * 3600;
// A self-signed certificate is made again this long before it expires, so that a server
// restarted in its last month does not start serving an expired one.
constexpr time_t kRenewBeforeSeconds = time_t{30} * 24 * 3600;

// Why the certificate Waypost made earlier must be made again ("" when it is still good): it
// cannot be read, it expires within the renewal window, or it does not name `host` (the
// endpoint changed since).
std::string renewal_reason(const std::string& cert_path, const std::string& host, time_t now) {
  auto pem = read_file(cert_path);
  if (!pem) return "it cannot be read";
  auto cert = crypto::certificate_from_pem(*pem, cert_path);
  if (!cert) return "it cannot be parsed";
  if (cert->not_after() - now < kRenewBeforeSeconds) return "it expires within 30 days";
  auto ip = net::IpAddress::parse(host);
  const bool named =
      ip ? cert->has_ip({ip->bytes.data(), ip->byte_length()}) : cert->has_fqdn(host);
  if (!named) return "it does not name " + host;
  return {};
}

}  // namespace

Result<TlsFiles> ensure_tls_files(const std::string& dir, const std::string& configured_cert,
                                  const std::string& configured_key, const std::string& host,
                                  time_t now) {
  if (!configured_cert.empty() && !configured_key.empty()) {
    return TlsFiles{configured_cert, configured_key, false};
  }
  const std::string web_dir = dir + "/web";
  TlsFiles files{web_dir + "/cert.pem", web_dir + "/key.pem", false};
  std::error_code ec;
  if (std::filesystem::exists(files.cert_path, ec) && std::filesystem::exists(files.key_path, ec)) {
    files.renewal_reason = renewal_reason(files.cert_path, host, now);
    if (files.renewal_reason.empty()) return files;
  }
  if (::mkdir(web_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return make_errno_error(errno, "{}: cannot create: {}", web_dir, std::strerror(errno));
  }

  auto key = crypto::generate_ec_key("P-256");
  if (!key) return key.take_error();
  crypto::CertificateRequest request;
  request.subject = {{"O", "Waypost"}, {"CN", host}};
  // A random serial: a browser that saw an earlier certificate of this name with the same serial
  // refuses the new one outright (Firefox's SEC_ERROR_REUSED_ISSUER_AND_SERIAL).
  request.serial = crypto::system_random().u64() >> 1;
  request.not_before = now - 3600;  // an hour of slack for clients whose clock is behind
  request.not_after = now + kValiditySeconds;
  const bool is_ip = net::IpAddress::parse(host).ok();
  request.extensions = {
      {"basicConstraints", "critical,CA:FALSE"},
      {"keyUsage", "critical,digitalSignature"},
      {"extendedKeyUsage", "serverAuth"},
      {"subjectAltName", std::string(is_ip ? "IP:" : "DNS:") + host},
  };
  auto cert = crypto::issue_certificate(request, key->public_key(), nullptr, *key);
  if (!cert) return cert.take_error().context("the web admin's self-signed certificate");
  auto key_pem = crypto::private_key_pem(*key);
  if (!key_pem) return key_pem.take_error();
  // The key first: a certificate without its key would be taken as a complete pair next time.
  if (auto st = write_file_atomic(files.key_path, *key_pem, 0600); !st) return st.take_error();
  if (auto st = write_file_atomic(files.cert_path, crypto::certificate_pem(*cert), 0644); !st) {
    return st.take_error();
  }
  files.generated = true;
  return files;
}

}  // namespace waypost::web
