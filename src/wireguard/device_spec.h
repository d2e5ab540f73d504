#pragma once
// The one way to configure a Device: a declarative description of what the interface and its
// peers should be (DeviceSpec), applied by Device::configure, which changes only what differs and
// reports exactly what that was (ConfigChanges). `waypost up` builds a spec from a wg-quick file,
// the server from its users, and a UAPI `set` (the stock wg tool) is a delta that
// apply_uapi_set() turns into the next spec starting from the device's current one.
//
// Runtime state is not configuration: a learned (roamed) endpoint, sessions and counters are kept
// across configure() for every peer that stays, so users added or removed on a server never
// disturb anybody else.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/keys.h"
#include "net/ip.h"
#include "wireguard/uapi.h"

namespace waypost::wireguard {

struct PeerSpec {
  crypto::PublicKey public_key{};
  crypto::SymmetricKey preshared_key;  // all zeros = none
  // Set (and marked as configured) when given; nullopt keeps whatever the peer has, including an
  // endpoint learned from its packets.
  std::optional<net::Endpoint> endpoint;
  uint16_t persistent_keepalive = 0;  // seconds, 0 = off
  std::vector<net::Prefix> allowed_ips;
};

struct DeviceSpec {
  std::optional<crypto::PrivateKey> private_key;  // nullopt = no key
  std::optional<uint16_t> listen_port;            // nullopt = keep the bound port
  std::optional<uint32_t> fwmark;                 // nullopt = keep; 0 = none
  // UAPI replace_peers (`wg setconf`): every existing peer is removed and created anew, sessions
  // included, as the kernel does. Otherwise peers that stay keep their sessions.
  bool recreate_peers = false;
  std::vector<PeerSpec> peers;  // every peer the device should have; the others are removed

  PeerSpec* find(const crypto::PublicKey& key);
};

// What configure() changed. Peers are named by public key, in the order of the spec.
struct ConfigChanges {
  bool private_key = false;
  bool listen_port = false;
  bool fwmark = false;
  std::vector<crypto::PublicKey> added;
  std::vector<crypto::PublicKey> removed;
  std::vector<crypto::PublicKey> updated;  // existing peers whose settings or allowed IPs changed
  size_t allowed_ips_added = 0;
  size_t allowed_ips_removed = 0;  // withdrawn from peers that stay (a removed peer takes its own)

  bool empty() const;
  // "2 peers added, 1 removed, 3 allowed IPs added" (for logs); "no change" when empty.
  std::string summary() const;
};

// The spec a UAPI set request asks for, given the current one: the kernel's semantics
// (replace_peers, remove, update_only, replace_allowed_ips, "-prefix" removal, an allowed IP moving
// from one peer to another, a zero private key removing it). Pure.
DeviceSpec apply_uapi_set(DeviceSpec current, const UapiSet& set);

}  // namespace waypost::wireguard
