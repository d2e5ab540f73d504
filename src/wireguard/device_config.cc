// Applying configuration to a Device (device_spec.h): the one function every configuration
// path goes through, the UAPI set semantics of the Linux module and wireguard-go on top of it,
// and the state that `get` reports.
#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"
#include "wireguard/device.h"

namespace waypost::wireguard {

namespace {

bool same_private_key(const LocalIdentity& identity, const std::optional<crypto::PrivateKey>& key) {
  if (!key || key->is_zero()) return !identity.has_key();
  return identity.has_key() && identity.static_key.private_key().equals(key->span());
}

}  // namespace

DeviceSpec Device::spec() const {
  // The configured part of what `get` reports; endpoints stay nullopt, so every peer keeps the
  // one it has, configured or learned.
  UapiDeviceState state = uapi_state();
  DeviceSpec spec;
  spec.private_key = state.private_key;
  spec.listen_port = state.listen_port;
  spec.fwmark = state.fwmark;
  spec.peers.reserve(state.peers.size());
  for (auto& p : state.peers) {
    PeerSpec ps;
    ps.public_key = p.public_key;
    ps.preshared_key = p.preshared_key;
    ps.persistent_keepalive = p.persistent_keepalive;
    ps.allowed_ips = std::move(p.allowed_ips);
    spec.peers.push_back(std::move(ps));
  }
  return spec;
}

Result<ConfigChanges> Device::configure(const DeviceSpec& spec) {
  ConfigChanges changes;
  if (!same_private_key(identity_, spec.private_key)) {
    set_private_key(spec.private_key && !spec.private_key->is_zero() ? spec.private_key
                                                                     : std::nullopt);
    changes.private_key = true;
  }
  if (spec.listen_port && *spec.listen_port != listen_port_) {
    if (env_.host != nullptr) {
      auto bound = env_.host->bind_port(*spec.listen_port);
      if (!bound) {
        Error e = bound.take_error();
        e.code = kUapiErrorPortInUse;
        return e;
      }
      listen_port_ = *bound;
    } else {
      listen_port_ = *spec.listen_port;
    }
    changes.listen_port = true;
  }
  if (spec.fwmark && *spec.fwmark != fwmark_) {
    if (env_.host != nullptr) {
      auto st = env_.host->set_fwmark(*spec.fwmark);
      if (!st) {
        Error e = st.take_error();
        e.code = kUapiErrorPortInUse;  // what wireguard-go reports for a failed fwmark update
        return e;
      }
    }
    fwmark_ = *spec.fwmark;
    changes.fwmark = true;
  }

  // 1. Peers that go (all of them for recreate_peers); a new private key may also have removed
  //    the peer that has its public key.
  std::unordered_map<crypto::PublicKey, bool, KeyHash> wanted;
  for (const auto& ps : spec.peers) wanted[ps.public_key] = true;
  std::vector<crypto::PublicKey> going;
  peers_.for_each([&](const Peer& peer) {
    if (spec.recreate_peers || wanted.count(peer.public_key()) == 0) {
      going.push_back(peer.public_key());
    }
  });
  for (const auto& key : going) {
    remove_peer(key);
    changes.removed.push_back(key);
  }

  // 2. Allowed IPs each remaining peer no longer has, all withdrawn before any is added, so that a
  //    prefix moving from one peer to another ends up with its new owner.
  std::unordered_map<const dataplane::Tunnel*, std::set<net::Prefix>> owned;
  env_.router.table().for_each(
      [&](const net::Prefix& prefix, dataplane::Tunnel* t) { owned[t].insert(prefix); });
  std::unordered_set<const Peer*> withdrawn;  // existing peers that lost an allowed IP
  for (const auto& ps : spec.peers) {
    Peer* peer = find_peer(ps.public_key);
    if (peer == nullptr) continue;
    auto& has = owned[peer];
    const std::set<net::Prefix> want(ps.allowed_ips.begin(), ps.allowed_ips.end());
    for (auto it = has.begin(); it != has.end();) {
      if (want.count(*it) != 0) {
        ++it;
        continue;
      }
      remove_allowed_ip(*peer, *it);
      ++changes.allowed_ips_removed;
      withdrawn.insert(peer);
      it = has.erase(it);
    }
  }

  // 3. New peers, and the settings and allowed IPs of every peer.
  for (const auto& ps : spec.peers) {
    Peer* peer = find_peer(ps.public_key);
    const bool is_new = peer == nullptr;
    if (is_new) {
      peer = add_peer(ps.public_key);
      if (peer == nullptr) continue;  // our own key (ignored, as wg does) or the peer limit
      changes.added.push_back(ps.public_key);
    }
    bool changed = false;
    if (!peer->preshared_key().equals(ps.preshared_key.span())) {
      set_preshared_key(*peer, ps.preshared_key);
      changed = true;
    }
    if (ps.endpoint && (!peer->endpoint() || !(*peer->endpoint() == *ps.endpoint) ||
                        !peer->endpoint_configured())) {
      set_endpoint(*peer, *ps.endpoint);
      changed = true;
    }
    // A new peer owns nothing yet: its prefixes go in without the bookkeeping set, whose nodes,
    // allocated between the peers' own, would stay behind as heap holes (about 200 bytes per
    // peer for a server configured with thousands at once).
    std::set<net::Prefix>* has = is_new ? nullptr : &owned[peer];
    for (auto it = ps.allowed_ips.begin(); it != ps.allowed_ips.end(); ++it) {
      const bool seen = has != nullptr ? !has->insert(*it).second
                                       : std::find(ps.allowed_ips.begin(), it, *it) != it;
      if (seen) continue;
      add_allowed_ip(*peer, *it);
      ++changes.allowed_ips_added;
      changed = true;
    }
    // Last, so that a keepalive sent because it was switched on uses the new endpoint.
    if (peer->persistent_keepalive() != ps.persistent_keepalive) {
      set_persistent_keepalive(*peer, ps.persistent_keepalive);
      changed = true;
    }
    if (!is_new && (changed || withdrawn.count(peer) != 0)) {
      changes.updated.push_back(ps.public_key);
    }
  }
  flush();
  return changes;
}

Status Device::apply(const UapiSet& set) {
  auto changes = configure(apply_uapi_set(spec(), set));
  if (!changes) return changes.take_error();
  if (!changes->empty()) spdlog::debug("UAPI set: {}", changes->summary());
  return {};
}

UapiDeviceState Device::uapi_state() const {
  UapiDeviceState state;
  if (identity_.has_key()) state.private_key = identity_.static_key.private_key();
  state.listen_port = listen_port_;
  state.fwmark = fwmark_;
  std::unordered_map<const dataplane::Tunnel*, size_t> slot;
  state.peers.reserve(peers_.size());
  peers_.for_each([&](const Peer& peer) {
    UapiPeerState p;
    p.public_key = peer.public_key();
    p.preshared_key = peer.preshared_key();
    p.endpoint = peer.endpoint();
    p.persistent_keepalive = peer.persistent_keepalive();
    p.last_handshake = peer.last_handshake();
    p.rx_bytes = peer.counters().rx_bytes;
    p.tx_bytes = peer.counters().tx_bytes;
    slot[&peer] = state.peers.size();
    state.peers.push_back(std::move(p));
  });
  // One walk of the routing table instead of one per peer.
  env_.router.table().for_each([&](const net::Prefix& prefix, dataplane::Tunnel* t) {
    auto it = slot.find(t);
    if (it != slot.end()) state.peers[it->second].allowed_ips.push_back(prefix);
  });
  return state;
}

}  // namespace waypost::wireguard
