// Applying configuration to a Device: the UAPI set semantics of the Linux module and
// wireguard-go, and the state that `get` reports.
#include <unordered_map>

#include "common/log.h"
#include "wireguard/device.h"

namespace waypost::wireguard {

Status Device::apply(const UapiSet& set) {
  if (set.private_key) {
    if (set.private_key->is_zero()) {
      set_private_key(std::nullopt);
    } else {
      set_private_key(*set.private_key);
    }
  }
  if (set.listen_port && env_.host != nullptr) {
    auto bound = env_.host->bind_port(*set.listen_port);
    if (!bound) {
      Error e = bound.take_error();
      e.code = kUapiErrorPortInUse;
      return e;
    }
    listen_port_ = *bound;
  } else if (set.listen_port) {
    listen_port_ = *set.listen_port;
  }
  if (set.fwmark) {
    if (env_.host != nullptr) {
      auto st = env_.host->set_fwmark(*set.fwmark);
      if (!st) {
        Error e = st.take_error();
        e.code = kUapiErrorPortInUse;  // what wireguard-go reports for a failed fwmark update
        return e;
      }
    }
    fwmark_ = *set.fwmark;
  }
  if (set.replace_peers) remove_all_peers();

  for (const UapiPeerChange& change : set.peers) {
    if (change.remove) {
      remove_peer(change.public_key);
      continue;
    }
    Peer* peer = find_peer(change.public_key);
    if (peer == nullptr) {
      if (change.update_only) continue;
      peer = add_peer(change.public_key);
      if (peer == nullptr) continue;  // our own key: ignored, as wg does
    }
    if (change.preshared_key) set_preshared_key(*peer, *change.preshared_key);
    if (change.endpoint) {
      peer->endpoint = *change.endpoint;
      peer->endpoint_configured = true;
    }
    if (change.replace_allowed_ips) clear_allowed_ips(*peer);
    for (const UapiAllowedIp& a : change.allowed_ips) {
      if (a.remove) {
        remove_allowed_ip(*peer, a.prefix);
      } else {
        add_allowed_ip(*peer, a.prefix);
      }
    }
    // Last, so that a keepalive sent because it was switched on uses the new endpoint.
    if (change.persistent_keepalive) set_persistent_keepalive(*peer, *change.persistent_keepalive);
  }
  flush();
  return {};
}

UapiDeviceState Device::uapi_state() const {
  UapiDeviceState state;
  if (identity_.has_key()) state.private_key = identity_.static_key.private_key();
  state.listen_port = listen_port_;
  state.fwmark = fwmark_;
  std::unordered_map<const dataplane::Tunnel*, size_t> slot;
  state.peers.reserve(peers_.size());
  for (const auto& [key, peer] : peers_) {
    UapiPeerState p;
    p.public_key = peer->public_key();
    p.preshared_key = peer->handshake.preshared_key;
    p.endpoint = peer->endpoint;
    p.persistent_keepalive = peer->persistent_keepalive_interval;
    p.last_handshake = peer->last_handshake;
    p.rx_bytes = peer->counters.rx_bytes;
    p.tx_bytes = peer->counters.tx_bytes;
    slot[peer.get()] = state.peers.size();
    state.peers.push_back(std::move(p));
  }
  // One walk of the routing table instead of one per peer.
  env_.router.table().for_each([&](const net::Prefix& prefix, dataplane::Tunnel* t) {
    auto it = slot.find(t);
    if (it != slot.end()) state.peers[it->second].allowed_ips.push_back(prefix);
  });
  return state;
}

}  // namespace waypost::wireguard
