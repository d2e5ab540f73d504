#include "ike/pubkey_auth.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/bytes.h"
#include "ike/identity_wire.h"

namespace waypost::ike {

namespace {

using crypto::HashAlg;
using crypto::KeyKind;

constexpr HashAlgorithm kOurHashes[] = {HashAlgorithm::kSha256, HashAlgorithm::kSha384,
                                        HashAlgorithm::kSha512};

HashAlgorithm to_hash_algorithm(HashAlg h) {
  switch (h) {
    case HashAlg::kSha1:
      return HashAlgorithm::kSha1;
    case HashAlg::kSha384:
      return HashAlgorithm::kSha384;
    case HashAlg::kSha512:
      return HashAlgorithm::kSha512;
    case HashAlg::kSha256:
      break;
  }
  return HashAlgorithm::kSha256;
}

// The hash that goes with an ECDSA curve (RFC 4754), by the curve's size in bits.
HashAlg ecdsa_hash(int bits) {
  return bits <= 256 ? HashAlg::kSha256 : bits <= 384 ? HashAlg::kSha384 : HashAlg::kSha512;
}

size_t ecdsa_half(int bits) {
  return size_t((bits + 7) / 8);
}

std::string_view kind_name(KeyKind k) {
  return k == KeyKind::kRsa ? "RSA" : k == KeyKind::kEcdsa ? "ECDSA" : "unsupported";
}

}  // namespace

std::vector<uint8_t> signature_hash_notify_data() {
  std::vector<uint8_t> out;
  for (HashAlgorithm h : kOurHashes) {
    out.push_back(uint8_t(uint16_t(h) >> 8));
    out.push_back(uint8_t(uint16_t(h)));
  }
  return out;
}

std::vector<HashAlgorithm> parse_signature_hashes(std::span<const uint8_t> data) {
  std::vector<HashAlgorithm> out;
  for (size_t i = 0; i + 1 < data.size(); i += 2) {
    out.push_back(HashAlgorithm(uint16_t(data[i]) << 8 | data[i + 1]));
  }
  return out;
}

IdPayload subject_id(const LocalCredential& cred) {
  IdPayload id;
  id.type = IdType::kDerAsn1Dn;
  id.data = cred.cert.subject_der();
  return id;
}

bool vouches_for(const crypto::Certificate& cert, const IdPayload& id) {
  const std::string text(id.data.begin(), id.data.end());
  switch (id.type) {
    case IdType::kDerAsn1Dn:
      return cert.has_dn(id.data);
    case IdType::kFqdn:
      return cert.has_fqdn(text);
    case IdType::kRfc822:
      return cert.has_email(text);
    case IdType::kIpv4:
    case IdType::kIpv6:
      return cert.has_ip(id.data);
    default:
      return false;
  }
}

Payloads cert_payloads(const LocalCredential& cred) {
  Payloads out;
  out.push_back(Payload::of(CertPayload{CertEncoding::kX509Signature, cred.cert.der()}));
  for (const auto& c : cred.chain) {
    if (!c.is_ca() || c.subject() == c.issuer()) continue;  // intermediates only, not roots
    out.push_back(Payload::of(CertPayload{CertEncoding::kX509Signature, c.der()}));
  }
  return out;
}

Result<AuthPayload> sign_auth(const LocalCredential& cred,
                              const std::vector<HashAlgorithm>& peer_hashes,
                              std::span<const uint8_t> octets) {
  const crypto::VerifyKey pub = cred.cert.public_key();
  const KeyKind kind = pub.kind();
  if (kind == KeyKind::kOther) {
    return make_error("{}: only RSA and ECDSA keys can sign IKE_AUTH", cred.path);
  }
  const HashAlg hash = kind == KeyKind::kEcdsa ? ecdsa_hash(pub.bits()) : HashAlg::kSha256;
  const bool rfc7427 = std::find(peer_hashes.begin(), peer_hashes.end(), to_hash_algorithm(hash)) !=
                       peer_hashes.end();
  if (rfc7427) {
    auto alg = crypto::signature_algorithm_der(kind, hash);
    if (!alg) return alg.take_error();
    auto sig = crypto::sign(cred.key, hash, octets);
    if (!sig) return sig.take_error();
    AuthPayload auth{AuthMethod::kDigitalSignature, {}};
    auth.data.push_back(uint8_t(alg->size()));
    auth.data.insert(auth.data.end(), alg->begin(), alg->end());
    auth.data.insert(auth.data.end(), sig->begin(), sig->end());
    return auth;
  }
  if (kind == KeyKind::kRsa) {
    auto sig = crypto::sign(cred.key, HashAlg::kSha1, octets);
    if (!sig) return sig.take_error();
    return AuthPayload{AuthMethod::kRsaSignature, std::move(*sig)};
  }
  const int bits = pub.bits();
  const AuthMethod method = bits <= 256   ? AuthMethod::kEcdsaSha256P256
                            : bits <= 384 ? AuthMethod::kEcdsaSha384P384
                                          : AuthMethod::kEcdsaSha512P521;
  auto der = crypto::sign(cred.key, hash, octets);
  if (!der) return der.take_error();
  auto raw = crypto::ecdsa_der_to_raw(*der, ecdsa_half(bits));
  if (!raw) return raw.take_error();
  return AuthPayload{method, std::move(*raw)};
}

Result<std::string> verify_pubkey_auth(const Credentials& creds, const AuthRound& round,
                                       const Payloads& inner, const IdPayload& id,
                                       const AuthPayload& auth, std::span<const uint8_t> octets) {
  const std::string who = identity_text(id);
  if (auth.method == AuthMethod::kSharedKeyMic) {
    return make_error("'{}' authenticated with a pre-shared key, but a certificate is expected",
                      who);
  }
  // The peer's certificate, then what else it sent as intermediates.
  std::vector<crypto::Certificate> sent;
  for (const Payload& p : inner) {
    const auto* c = p.get<CertPayload>();
    if (c == nullptr) continue;
    if (c->encoding != CertEncoding::kX509Signature) continue;
    auto cert = crypto::Certificate::from_der(c->data);
    if (!cert) return make_error("'{}' sent a certificate that does not parse", who);
    sent.push_back(std::move(*cert));
  }
  if (sent.empty()) {
    return make_error("'{}' sent no certificate (send_cert = never on its side?)", who);
  }
  const crypto::Certificate& leaf = sent.front();
  const std::vector<crypto::Certificate> intermediates(sent.begin() + 1, sent.end());
  const auto trusted = creds.trusted(round);
  if (trusted.empty()) {
    return make_error("no CA certificate to check '{}' against (x509ca/ is empty)", who);
  }
  if (auto st = crypto::verify_chain(leaf, intermediates, trusted, creds.crls(),
                                     round.revocation == Revocation::kStrict);
      !st) {
    return make_error("certificate of '{}' ({}) is not accepted: {}", who, leaf.subject(),
                      st.error().message);
  }
  if (!vouches_for(leaf, id)) {
    return make_error("certificate '{}' does not contain the identity '{}' the peer claims",
                      leaf.subject(), who);
  }
  const crypto::VerifyKey key = leaf.public_key();
  if ((round.key_type == KeyType::kRsa && key.kind() != KeyKind::kRsa) ||
      (round.key_type == KeyType::kEcdsa && key.kind() != KeyKind::kEcdsa) ||
      (round.min_key_bits != 0 && unsigned(key.bits()) < round.min_key_bits)) {
    return make_error("'{}' has a {}-bit {} key, which the connection's auth constraint refuses",
                      who, key.bits(), kind_name(key.kind()));
  }
  bool ok = false;
  switch (auth.method) {
    case AuthMethod::kRsaSignature:
      ok = key.kind() == KeyKind::kRsa && crypto::verify(key, HashAlg::kSha1, octets, auth.data);
      break;
    case AuthMethod::kEcdsaSha256P256:
    case AuthMethod::kEcdsaSha384P384:
    case AuthMethod::kEcdsaSha512P521: {
      const HashAlg h = auth.method == AuthMethod::kEcdsaSha256P256   ? HashAlg::kSha256
                        : auth.method == AuthMethod::kEcdsaSha384P384 ? HashAlg::kSha384
                                                                      : HashAlg::kSha512;
      auto der = crypto::ecdsa_raw_to_der(auth.data);
      ok = key.kind() == KeyKind::kEcdsa && der && crypto::verify(key, h, octets, *der);
      break;
    }
    case AuthMethod::kDigitalSignature: {
      if (auth.data.empty() || size_t(auth.data[0]) + 1 > auth.data.size()) {
        return make_error("'{}' sent a malformed RFC 7427 signature", who);
      }
      const size_t n = auth.data[0];
      auto alg = crypto::parse_signature_algorithm({auth.data.data() + 1, n});
      if (!alg) return make_error("'{}': {}", who, alg.error().message);
      if (alg->kind != key.kind()) {
        return make_error("'{}' signed as {} with a {} key", who, kind_name(alg->kind),
                          kind_name(key.kind()));
      }
      if (!round.hashes.empty() && std::find(round.hashes.begin(), round.hashes.end(),
                                             to_hash_algorithm(alg->hash)) == round.hashes.end()) {
        return make_error("'{}' signed with a hash the connection's auth constraint refuses", who);
      }
      ok = crypto::verify(key, alg->hash, octets,
                          {auth.data.data() + 1 + n, auth.data.size() - 1 - n});
      break;
    }
    default:
      return make_error("'{}' authenticated with method {}, which Waypost does not support", who,
                        int(auth.method));
  }
  if (!ok) return make_error("signature of '{}' does not verify", who);
  return leaf.subject();
}

}  // namespace waypost::ike
