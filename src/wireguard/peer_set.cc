#include "wireguard/peer_set.h"

#include "wireguard/timers.h"

namespace waypost::wireguard {

Peer& PeerSet::add(const crypto::PublicKey& key, PeerActions& actions, uint32_t mtu) {
  auto peer = std::make_unique<Peer>(*this, actions, next_id_++, key, mtu);
  Peer& raw = *peer;
  by_id_[raw.id()] = &raw;
  peers_.emplace(key, std::move(peer));
  return raw;
}

void PeerSet::remove(const crypto::PublicKey& key) {
  auto it = peers_.find(key);
  if (it == peers_.end()) return;
  timers_.cancel_all(it->second->timers());
  by_id_.erase(it->second->id());
  peers_.erase(it);
}

Nanos PeerSet::jitter() {
  jitter_state_ += 0x9e3779b97f4a7c15ULL;
  uint64_t z = jitter_state_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return Nanos((z ^ (z >> 31)) % uint64_t(kRekeyTimeoutJitterMax));
}

void PeerSet::run_timers() {
  timers_.run(
      clock_.now(),
      [this](uint32_t id) -> PeerTimers* {
        auto it = by_id_.find(id);
        return it == by_id_.end() ? nullptr : &it->second->timers();
      },
      [this](uint32_t id, int kind) {
        auto it = by_id_.find(id);
        if (it != by_id_.end()) timers_fire(*it->second, kind);
      });
}

}  // namespace waypost::wireguard
