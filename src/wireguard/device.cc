#include "wireguard/device.h"

#include "common/log.h"
#include "wireguard/timers.h"

namespace waypost::wireguard {

Device::Device(Environment env)
    : env_(env),
      peers_(env.clock, env.random.u64()),
      indexes_(env.random),
      send_({env.clock, env.network, env.pool, counters_}),
      handshakes_({env.clock, env.random, identity_, indexes_, peers_, send_, counters_}),
      receive_(
          {env.clock, indexes_, handshakes_, send_, env.router, env.prober, env.pool, counters_}) {}

Device::~Device() {
  std::vector<crypto::PublicKey> keys;
  peers_.for_each([&](const Peer& p) { keys.push_back(p.public_key()); });
  for (const auto& k : keys) remove_peer(k);
}

void Device::set_private_key(const std::optional<crypto::PrivateKey>& key) {
  // Setting the same key again (wg syncconf does) must not disturb live sessions.
  if (key && identity_.has_key() && identity_.static_key.private_key().equals(key->span())) return;
  if (!key && !identity_.has_key()) return;
  if (key && !key->is_zero()) {
    identity_.set_private_key(*key);
    handshakes_.set_local_public_key(identity_.static_key.public_key());
    // A peer with our own public key would be talking to itself: drop it, as the kernel does.
    remove_peer(identity_.static_key.public_key());
  } else {
    identity_.clear();
  }
  peers_.for_each([&](Peer& peer) {
    peer.handshake().set_static_keys(identity_, peer.public_key());
    peer.handshake().zero();
    // Sessions keyed from the old identity must not continue; force a fresh handshake.
    peer.sessions().clear(indexes_);
  });
}

Peer* Device::add_peer(const crypto::PublicKey& key) {
  if (Peer* p = find_peer(key)) return p;
  if (identity_.has_key() && key == identity_.static_key.public_key()) return nullptr;
  if (peers_.size() >= kMaxPeers) return nullptr;
  Peer& peer = peers_.add(key, *this, env_.prober.interface_mtu());
  peer.handshake().set_static_keys(identity_, key);
  peer.cookie().set_remote_public_key(key);
  env_.prober.attach(peer);
  return &peer;
}

void Device::remove_peer(const crypto::PublicKey& key) {
  Peer* peer = find_peer(key);
  if (peer == nullptr) return;
  env_.router.table().remove_value(peer);
  env_.prober.detach(*peer);
  peer->sessions().clear(indexes_);
  release_handshake_index(*peer, indexes_);
  peers_.remove(key);
}

void Device::set_preshared_key(Peer& peer, const crypto::SymmetricKey& psk) {
  peer.handshake().preshared_key = psk;
}

void Device::set_persistent_keepalive(Peer& peer, uint16_t seconds) {
  const bool was_off = peer.persistent_keepalive() == 0;
  peer.set_persistent_keepalive_value(seconds);
  if (seconds == 0) {
    peers_.cancel(peer, kTimerPersistentKeepalive);
  } else if (was_off && peer.endpoint() && up_) {
    // Turning it on opens the NAT mapping right away rather than after the first interval (on a
    // device that is not up yet, that happens when it comes up, as in the kernel).
    send_.send_keepalive(peer);
  }
}

void Device::kick_persistent_keepalives() {
  set_up(true);
  std::vector<Peer*> hello;
  peers_.for_each([&](Peer& p) {
    if (p.persistent_keepalive() != 0 && p.endpoint()) hello.push_back(&p);
  });
  for (Peer* p : hello) send_.send_keepalive(*p);
  flush();
}

void Device::add_allowed_ip(Peer& peer, const net::Prefix& prefix) {
  env_.router.table().insert(prefix, &peer);
  env_.prober.routes_changed(peer);
}

void Device::remove_allowed_ip(Peer& peer, const net::Prefix& prefix) {
  env_.router.table().remove_if_value(prefix, &peer);
  env_.prober.routes_changed(peer);
}

void Device::zero_key_material(Peer& peer) {
  spdlog::debug("{}: zeroing keys after {} s without a new session", peer.describe(),
                3 * kRejectAfterTime / kNanosPerSecond);
  peer.sessions().clear(indexes_);
  release_handshake_index(peer, indexes_);
  peer.handshake().zero();
}

void Device::flush() {
  send_.flush();
  env_.router.flush();
}

}  // namespace waypost::wireguard
