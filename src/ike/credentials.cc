#include "ike/credentials.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

namespace waypost::ike {

namespace {

namespace fs = std::filesystem;

std::string resolve(const std::string& dir, const std::string& sub, const std::string& name) {
  if (!name.empty() && name.front() == '/') return name;
  return (fs::path(dir) / sub / name).string();
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The passphrase a `secrets` entry of one of `kinds` gives for `path` (matched by file name,
// as swanctl matches them), or empty.
std::string passphrase_for(const IpsecConfig& config, const std::string& path,
                           std::initializer_list<SecretKind> kinds) {
  const std::string base = fs::path(path).filename().string();
  for (const Secret& s : config.secrets) {
    if (std::find(kinds.begin(), kinds.end(), s.kind) == kinds.end()) continue;
    if (s.file == path || fs::path(s.file).filename().string() == base) {
      return {reinterpret_cast<const char*>(s.secret.data()), s.secret.size()};
    }
  }
  return {};
}

}  // namespace

bool uses_certificates(const IpsecConfig& config) {
  for (const Connection& c : config.connections) {
    for (const auto* rounds : {&c.local, &c.remote}) {
      for (const AuthRound& r : *rounds) {
        if (r.auth == AuthClass::kPubkey) return true;
      }
    }
  }
  return false;
}

Result<std::shared_ptr<const Credentials>> Credentials::load(const IpsecConfig& config,
                                                             const std::string& dir) {
  auto creds = std::make_shared<Credentials>();
  creds->dir_ = dir;
  // Private keys, whatever their format, and PKCS#12 bundles (key, certificate, chain).
  std::vector<crypto::SigningKey> keys;
  std::vector<crypto::Pkcs12Contents> bundles;
  for (const char* sub : {"private", "rsa", "ecdsa", "pkcs8"}) {
    for (const auto& f : files_in((fs::path(dir) / sub).string())) {
      auto key = crypto::SigningKey::load(
          f, passphrase_for(
                 config, f,
                 {SecretKind::kPrivate, SecretKind::kRsa, SecretKind::kEcdsa, SecretKind::kPkcs8}));
      if (!key) return key.take_error();
      keys.push_back(std::move(*key));
    }
  }
  for (const auto& f : files_in((fs::path(dir) / "pkcs12").string())) {
    auto b = crypto::load_pkcs12(f, passphrase_for(config, f, {SecretKind::kPkcs12}));
    if (!b) return b.take_error();
    bundles.push_back(std::move(*b));
  }
  // CA certificates and CRLs.
  for (const auto& f : files_in((fs::path(dir) / "x509ca").string())) {
    auto c = crypto::Certificate::load(f);
    if (!c) return c.take_error();
    creds->cas_.push_back(*c);
  }
  for (const Authority& a : config.authorities) {
    auto c = crypto::Certificate::load(resolve(dir, "x509ca", a.cacert));
    if (!c) {
      return make_error("{}: authority {}: {}", a.where.to_string(), a.name, c.error().message);
    }
    creds->cas_.push_back(*c);
  }
  for (const auto& f : files_in((fs::path(dir) / "x509crl").string())) {
    auto crl = crypto::Crl::load(f);
    if (!crl) return crl.take_error();
    creds->crls_.push_back(std::move(*crl));
  }
  for (const auto& b : bundles) {
    for (const auto& c : b.chain) {
      if (c.is_ca()) creds->cas_.push_back(c);
    }
  }
  // What the rounds name.
  for (const Connection& conn : config.connections) {
    for (const AuthRound& r : conn.local) {
      for (const std::string& name : r.certs) {
        if (creds->local_.count(name) != 0) continue;
        const std::string path = resolve(dir, "x509", name);
        LocalCredential cred;
        cred.path = path;
        bool have_key = false;
        // A certificate in x509/, or the one of a PKCS#12 bundle of that name.
        auto cert = crypto::Certificate::load(path);
        if (!cert) {
          return make_error("{}: connections.{}.{}.certs: {}", r.where.to_string(), conn.name,
                            r.section, cert.error().message);
        }
        cred.cert = *cert;
        const crypto::VerifyKey pub = cred.cert.public_key();
        for (const auto& k : keys) {
          if (k.public_key() == pub) {
            cred.key = k;
            have_key = true;
            break;
          }
        }
        for (const auto& b : bundles) {
          if (!have_key && b.key.get() != nullptr && b.key.public_key() == pub) {
            cred.key = b.key;
            cred.chain = b.chain;
            have_key = true;
          }
        }
        if (!have_key) {
          return make_error(
              "{}: no private key in private/, rsa/, ecdsa/, pkcs8/ or pkcs12/ beside the "
              "configuration matches this certificate ({})",
              path, cred.cert.subject());
        }
        creds->local_[name] = std::move(cred);
      }
    }
    for (const AuthRound& r : conn.remote) {
      for (const std::string& name : r.cacerts) {
        if (creds->named_cas_.count(name) != 0) continue;
        auto c = crypto::Certificate::load(resolve(dir, "x509ca", name));
        if (!c) {
          return make_error("{}: connections.{}.{}.cacerts: {}", r.where.to_string(), conn.name,
                            r.section, c.error().message);
        }
        creds->named_cas_[name] = *c;
      }
    }
  }
  spdlog::debug("credentials from {}: {} certificate(s) with keys, {} CA certificate(s), {} CRL(s)",
                dir, creds->local_.size(), creds->cas_.size(), creds->crls_.size());
  return std::shared_ptr<const Credentials>(std::move(creds));
}

const LocalCredential* Credentials::local(const AuthRound& round) const {
  if (round.certs.empty()) return nullptr;
  auto it = local_.find(round.certs.front());
  return it == local_.end() ? nullptr : &it->second;
}

std::vector<crypto::Certificate> Credentials::trusted(const AuthRound& round) const {
  if (round.cacerts.empty()) return cas_;
  std::vector<crypto::Certificate> out;
  for (const auto& name : round.cacerts) {
    if (auto it = named_cas_.find(name); it != named_cas_.end()) out.push_back(it->second);
  }
  return out;
}

std::vector<uint8_t> Credentials::certreq(const AuthRound& round) const {
  std::vector<uint8_t> out;
  for (const auto& ca : trusted(round)) {
    const auto h = ca.spki_sha1();
    out.insert(out.end(), h.begin(), h.end());
  }
  return out;
}

}  // namespace waypost::ike
