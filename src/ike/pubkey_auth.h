#pragma once
// Authentication with certificates in IKE_AUTH (RFC 7296 2.15, 3.6-3.8; RFC 4754; RFC 7427):
// the CERT payloads and the AUTH signature we send, and the checks of the peer's: its
// certificate chains to a CA we trust (and is not revoked), it vouches for the identity the peer
// claims, and the signature over the peer's signed octets verifies with its key.
//
// Signatures: RFC 7427's "digital signature" (method 14) when the peer announced a hash we use
// in SIGNATURE_HASH_ALGORITHMS, otherwise the classic methods that iOS, macOS and Windows also
// understand: RSA PKCS#1 v1.5 with SHA-1 (1) and ECDSA with the curve's hash (9, 10, 11).

#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "ike/credentials.h"
#include "ike/payloads.h"

namespace waypost::ike {

// The hashes we announce in SIGNATURE_HASH_ALGORITHMS, and the notify's data.
std::vector<uint8_t> signature_hash_notify_data();
std::vector<HashAlgorithm> parse_signature_hashes(std::span<const uint8_t> data);

// Our ID payload for a certificate round without a configured id: the certificate's subject.
IdPayload subject_id(const LocalCredential& cred);
// Whether `cert` vouches for the identity in `id`.
bool vouches_for(const crypto::Certificate& cert, const IdPayload& id);

// CERT payloads: our certificate, then any intermediates we hold for it.
Payloads cert_payloads(const LocalCredential& cred);
// Our AUTH payload over `octets`.
Result<AuthPayload> sign_auth(const LocalCredential& cred,
                              const std::vector<HashAlgorithm>& peer_hashes,
                              std::span<const uint8_t> octets);

// The peer's certificate authentication, checked against `round` (its CAs, revocation policy,
// key constraints). On success, the certificate's subject (for the log); the error says what
// failed in words for the log ("certificate of 'carol@example.org' is not trusted: unable to get
// local issuer certificate").
Result<std::string> verify_pubkey_auth(const Credentials& creds, const AuthRound& round,
                                       const Payloads& inner, const IdPayload& id,
                                       const AuthPayload& auth, std::span<const uint8_t> octets);

}  // namespace waypost::ike
