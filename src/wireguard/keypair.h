#pragma once
// A transport session: the two ChaCha20-Poly1305 keys from one handshake, the send counter and
// the receive replay window. A peer holds up to three (previous, current, next) so that packets
// in flight across a rekey still decrypt.

#include <cstdint>

#include "common/clock.h"
#include "crypto/aead.h"
#include "dataplane/replay_window.h"
#include "wireguard/noise.h"

namespace waypost::wireguard {

struct Keypair {
  Keypair(const SessionKeys& keys, Nanos now)
      : sender(keys.send.span(), true),
        receiver(keys.receive.span(), false),
        send_key(keys.send),
        receive_key(keys.receive),
        birthdate(now),
        initiator(keys.initiator),
        local_index(keys.local_index),
        remote_index(keys.remote_index) {}

  crypto::ChaChaPoly sender;  // keyed contexts for the loop thread
  crypto::ChaChaPoly receiver;
  Secret<32> send_key;  // the raw keys, for crypto worker threads
  Secret<32> receive_key;
  uint64_t send_counter = 0;  // the next nonce to use
  dataplane::ReplayWindow replay;
  Nanos birthdate;
  bool initiator;
  uint32_t local_index;
  uint32_t remote_index;

  bool expired_for_sending(Nanos now) const {
    return now - birthdate >= kRejectAfterTime || send_counter >= kRejectAfterMessages;
  }
  bool expired_for_receiving(Nanos now) const { return now - birthdate >= kRejectAfterTime; }
};

}  // namespace waypost::wireguard
