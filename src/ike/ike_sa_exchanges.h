#pragma once
// The per-exchange data of an IKE SA while it is being set up, shared by ike_sa.cc (which owns
// and drops it) and the exchange files. Private to src/ike/.

#include <optional>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "crypto/dh.h"
#include "ike/algorithms.h"
#include "ike/ike_sa.h"

namespace waypost::ike {

// --- small pieces every exchange uses ----------------------------------------------------------

constexpr size_t kNonceSize = 32;  // the nonces we send (RFC 7296 2.10: at least half the PRF key)

inline NotifyPayload notify(NotifyType type, std::vector<uint8_t> data = {}) {
  return NotifyPayload{kNoProtocol, {}, type, std::move(data)};
}

// INVALID_KE_PAYLOAD names the group the responder wants (RFC 7296 1.2).
inline NotifyPayload invalid_ke_notify(DhGroup wanted) {
  std::vector<uint8_t> group(2);
  store_be16(group.data(), uint16_t(wanted));
  return notify(NotifyType::kInvalidKePayload, std::move(group));
}

inline uint64_t nonzero_spi(crypto::Random& random) {
  uint64_t spi = 0;
  while (spi == 0) spi = random.u64();
  return spi;
}

inline std::vector<uint8_t> be32_bytes(uint32_t v) {
  std::vector<uint8_t> out(4);
  store_be32(out.data(), v);
  return out;
}

inline std::vector<uint8_t> be64_bytes(uint64_t v) {
  std::vector<uint8_t> out(8);
  store_be64(out.data(), v);
  return out;
}

// A fresh key pair in `group`: the initiator's KE.
inline Result<crypto::DhKeyPair> new_key_pair(DhGroup group) {
  auto kind = dh_kind(group);
  if (!kind) return kind.take_error();
  return crypto::DhKeyPair::generate(*kind);
}

// The responder's half of a key exchange: its key pair and g^ir for the peer's public value.
inline Result<std::pair<crypto::DhKeyPair, SecretBytes>> answer_key_exchange(
    DhGroup group, std::span<const uint8_t> peer_public) {
  auto pair = new_key_pair(group);
  if (!pair) return pair.take_error();
  auto shared = pair->shared_secret(peer_public);
  if (!shared) return shared.take_error();
  return std::pair{std::move(*pair), std::move(*shared)};
}

// After TEMPORARY_FAILURE (a rekey collided with the peer's): 1 to 10 s, at random, so that two
// peers on the same schedule do not collide again (RFC 7296 2.25).
inline Nanos collision_retry_delay(crypto::Random& random) {
  return seconds(1) + Nanos(random.below(9000)) * kNanosPerMilli;
}

struct IkeSa::InitState {
  std::optional<crypto::DhKeyPair> dh;
  DhGroup group = DhGroup::kNone;
  std::vector<uint8_t> nonce_i;
  std::vector<uint8_t> nonce_r;
  // The IKE_SA_INIT messages as sent, which the AUTH payloads vouch for (RFC 7296 2.15).
  std::vector<uint8_t> request_bytes;
  std::vector<uint8_t> response_bytes;
  std::vector<Proposal> offered;  // initiator
  std::vector<uint8_t> cookie;    // initiator: the responder's COOKIE, sent back
  int ke_retries = 0;
  int cookie_retries = 0;
  std::vector<const Connection*> candidates;  // responder: connections IKE_AUTH may pick from
  bool peer_fragmentation = false;
  std::vector<HashAlgorithm> peer_hashes;  // its SIGNATURE_HASH_ALGORITHMS (RFC 7427)
  SecretBytes sk_pi;                       // for the AUTH payloads
  SecretBytes sk_pr;
};

struct IkeSa::AuthState {
  // Initiator: the first CHILD SA's offer.
  std::vector<Proposal> esp_offered;
  uint32_t spi_in = 0;
  std::vector<TrafficSelector> ts_i;
  std::vector<TrafficSelector> ts_r;
  bool asked_vips = false;
};

// The CHILD SA an exchange we initiated produced, from the responder's choice and selectors
// (create_child_sa.cc).
ChildSaInfo initiated_child(std::string name, uint32_t spi_in, const ChosenProposal& chosen,
                            const TsPayload& ts_i, const TsPayload& ts_r, ChildSaKeys keys);

// Our CREATE_CHILD_SA rekeying one CHILD SA, or setting up a new one (old_spi_in 0)
// (create_child_sa.cc).
struct IkeSa::RekeyState {
  uint32_t old_spi_in = 0;
  uint32_t new_spi_in = 0;
  std::string child;
  std::vector<Proposal> offered;
  std::vector<uint8_t> nonce_i;
  DhGroup group = DhGroup::kNone;
  std::optional<crypto::DhKeyPair> dh;
  // The peer rekeyed the same CHILD SA while our request was out (RFC 7296 2.8.1): its
  // exchange's nonces and the SA it made, to decide which of the two new SAs goes.
  struct Collision {
    std::vector<uint8_t> nonce_i;  // the peer's
    std::vector<uint8_t> nonce_r;  // ours in the answer
    uint32_t spi_in = 0;           // our inbound SPI of the SA the peer made
  };
  std::optional<Collision> collision;
  // A new CHILD SA: the selectors we offered, which the answer must stay within.
  std::vector<TrafficSelector> ts_i;
  std::vector<TrafficSelector> ts_r;
};

// What a completed CREATE_CHILD_SA of ours gave (complete_child_exchange).
struct IkeSa::ChildExchange {
  ChosenProposal chosen;
  ChildSaKeys keys;
  const TsPayload* ts_i = nullptr;  // the responder's selectors, in the response
  const TsPayload* ts_r = nullptr;
};

// Our CREATE_CHILD_SA rekeying the IKE SA (ike_rekey.cc).
struct IkeSa::IkeRekeyState {
  uint64_t new_spi = 0;  // ours in the successor
  std::vector<Proposal> offered;
  std::vector<uint8_t> nonce_i;
  DhGroup group = DhGroup::kNone;
  std::optional<crypto::DhKeyPair> dh;
};

}  // namespace waypost::ike
