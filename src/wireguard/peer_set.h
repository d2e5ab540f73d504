#pragma once
// The device's peers, by public key and by the small id their timers are keyed on, and the one
// timer wheel all their timers share. The timer interface is deliberately narrow: arm, cancel,
// jitter and the clock are all the timer policy (timers.cc) gets.

#include <cstring>
#include <memory>
#include <unordered_map>

#include "common/clock.h"
#include "common/timer_queue.h"
#include "crypto/keys.h"
#include "wireguard/peer.h"

namespace waypost::wireguard {

struct KeyHash {
  size_t operator()(const crypto::PublicKey& k) const {
    size_t h;
    std::memcpy(&h, k.data(), sizeof(h));  // public keys are uniformly random
    return h;
  }
};

class PeerSet {
 public:
  PeerSet(const Clock& clock, uint64_t jitter_seed) : clock_(clock), jitter_state_(jitter_seed) {}

  Peer* find(const crypto::PublicKey& key) const {
    auto it = peers_.find(key);
    return it == peers_.end() ? nullptr : it->second.get();
  }
  // Creates a peer (the key must not be present).
  Peer& add(const crypto::PublicKey& key, PeerActions& actions, uint32_t mtu);
  // Cancels the peer's timers and destroys it.
  void remove(const crypto::PublicKey& key);
  size_t size() const { return peers_.size(); }
  bool empty() const { return peers_.empty(); }
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [key, peer] : peers_) f(*peer);
  }

  // --- timers ------------------------------------------------------------------------------
  void arm(Peer& peer, TimerKind kind, Nanos delay) {
    timers_.arm(peer.timers(), peer.id(), kind, clock_.now() + delay);
  }
  void cancel(Peer& peer, TimerKind kind) { timers_.cancel(peer.timers(), kind); }
  // Timer jitter only spreads peers' handshakes apart; it needs no secrecy. It is drawn per send
  // batch (timers_data_sent re-arms after every received packet cancelled the timer), where
  // RAND_bytes would cost a DRBG call and a getpid() system call each time: a splitmix64
  // sequence seeded once instead.
  Nanos jitter();
  const Clock& clock() const { return clock_; }
  // Fires every timer that is due, through timers_fire (timers.h).
  void run_timers();
  Nanos next_timer_deadline() const { return timers_.next_deadline(); }

 private:
  const Clock& clock_;
  std::unordered_map<crypto::PublicKey, std::unique_ptr<Peer>, KeyHash> peers_;
  std::unordered_map<uint32_t, Peer*> by_id_;
  uint32_t next_id_ = 1;
  TimerQueue<kTimerKinds> timers_;
  uint64_t jitter_state_;
};

}  // namespace waypost::wireguard
