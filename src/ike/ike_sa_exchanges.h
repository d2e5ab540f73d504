#pragma once
// The per-exchange data of an IKE SA while it is being set up, shared by ike_sa.cc (which owns
// and drops it) and the exchange files. Private to src/ike/.

#include <optional>
#include <vector>

#include "crypto/dh.h"
#include "ike/ike_sa.h"

namespace waypost::ike {

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
  SecretBytes sk_pi;  // for the AUTH payloads
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

// Our CREATE_CHILD_SA rekeying one CHILD SA (create_child_sa.cc).
struct IkeSa::RekeyState {
  uint32_t old_spi_in = 0;
  uint32_t new_spi_in = 0;
  std::string child;
  std::vector<Proposal> offered;
  std::vector<uint8_t> nonce_i;
  DhGroup group = DhGroup::kNone;
  std::optional<crypto::DhKeyPair> dh;
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
