#pragma once
// What an AUTH payload vouches for (RFC 7296 2.15), and the pre-shared key MIC over it.
//
//   signed octets = the sender's IKE_SA_INIT message as sent | the peer's nonce |
//                   prf(SK_px, the sender's ID payload body: type, 3 reserved bytes, data)
//   PSK AUTH      = prf(prf(secret, "Key Pad for IKEv2"), signed octets)
//
// Certificate signatures sign the same octets (auth_signature.h).

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "ike/keymat.h"
#include "ike/payloads.h"

namespace waypost::ike {

Result<std::vector<uint8_t>> signed_octets(const Prf& prf, std::span<const uint8_t> init_message,
                                           std::span<const uint8_t> peer_nonce,
                                           std::span<const uint8_t> sk_p, const IdPayload& id);

Result<std::vector<uint8_t>> psk_auth(const Prf& prf, std::span<const uint8_t> secret,
                                      std::span<const uint8_t> octets);

// Constant-time check of a received PSK AUTH.
bool psk_auth_verifies(const Prf& prf, std::span<const uint8_t> secret,
                       std::span<const uint8_t> octets, std::span<const uint8_t> received);

}  // namespace waypost::ike
