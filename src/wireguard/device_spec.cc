#include "wireguard/device_spec.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace waypost::wireguard {

PeerSpec* DeviceSpec::find(const crypto::PublicKey& key) {
  for (auto& p : peers) {
    if (p.public_key == key) return &p;
  }
  return nullptr;
}

bool ConfigChanges::empty() const {
  return !private_key && !listen_port && !fwmark && added.empty() && removed.empty() &&
         updated.empty() && allowed_ips_added == 0 && allowed_ips_removed == 0;
}

std::string ConfigChanges::summary() const {
  if (empty()) return "no change";
  std::vector<std::string> parts;
  if (private_key) parts.emplace_back("private key");
  if (listen_port) parts.emplace_back("listen port");
  if (fwmark) parts.emplace_back("fwmark");
  auto count = [&](size_t n, const char* what) {
    if (n != 0) parts.push_back(fmt::format("{} {} {}", n, n == 1 ? "peer" : "peers", what));
  };
  count(added.size(), "added");
  count(removed.size(), "removed");
  count(updated.size(), "updated");
  if (allowed_ips_added != 0) {
    parts.push_back(fmt::format("{} allowed IPs added", allowed_ips_added));
  }
  if (allowed_ips_removed != 0) {
    parts.push_back(fmt::format("{} allowed IPs removed", allowed_ips_removed));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

namespace {

void erase_prefix(std::vector<net::Prefix>& list, const net::Prefix& prefix) {
  list.erase(std::remove(list.begin(), list.end(), prefix), list.end());
}

}  // namespace

DeviceSpec apply_uapi_set(DeviceSpec spec, const UapiSet& set) {
  if (set.private_key) {
    if (set.private_key->is_zero()) {
      spec.private_key.reset();
    } else {
      spec.private_key = *set.private_key;
    }
  }
  if (set.listen_port) spec.listen_port = *set.listen_port;
  if (set.fwmark) spec.fwmark = *set.fwmark;
  if (set.replace_peers) {
    spec.peers.clear();
    spec.recreate_peers = true;
  }
  for (const UapiPeerChange& change : set.peers) {
    if (change.remove) {
      std::erase_if(spec.peers,
                    [&](const PeerSpec& p) { return p.public_key == change.public_key; });
      continue;
    }
    PeerSpec* peer = spec.find(change.public_key);
    if (peer == nullptr) {
      if (change.update_only) continue;
      spec.peers.push_back(PeerSpec{.public_key = change.public_key});
      peer = &spec.peers.back();
    }
    if (change.preshared_key) peer->preshared_key = *change.preshared_key;
    if (change.endpoint) peer->endpoint = *change.endpoint;
    if (change.replace_allowed_ips) peer->allowed_ips.clear();
    for (const UapiAllowedIp& a : change.allowed_ips) {
      if (a.remove) {
        erase_prefix(peer->allowed_ips, a.prefix);
        continue;
      }
      // A prefix belongs to one peer: giving it to this one takes it from any other.
      for (auto& other : spec.peers) {
        if (&other != peer) erase_prefix(other.allowed_ips, a.prefix);
      }
      if (std::find(peer->allowed_ips.begin(), peer->allowed_ips.end(), a.prefix) ==
          peer->allowed_ips.end()) {
        peer->allowed_ips.push_back(a.prefix);
      }
    }
    if (change.persistent_keepalive) peer->persistent_keepalive = *change.persistent_keepalive;
  }
  return spec;
}

}  // namespace waypost::wireguard
