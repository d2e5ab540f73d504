#pragma once
// A WireGuard peer: its identity, handshake, up to three sessions, endpoint, timers and counters.
// Like the Linux module's struct wg_peer this is mostly state; the protocol logic lives in
// device.cc (send/receive), timers.cc (timer policy) and noise.cc (handshake).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/timer_queue.h"
#include "dataplane/tunnel.h"
#include "net/ip.h"
#include "wireguard/cookie.h"
#include "wireguard/keypair.h"
#include "wireguard/noise.h"

namespace waypost::wireguard {

class Device;

enum TimerKind : int {
  kTimerRetransmitHandshake = 0,
  kTimerSendKeepalive,
  kTimerNewHandshake,
  kTimerZeroKeyMaterial,
  kTimerPersistentKeepalive,
  kTimerPathProbe,  // in-tunnel path MTU probes (dataplane/path_mtu.h)
  kTimerKinds,
};
using PeerTimers = TimerSlots<kTimerKinds>;

struct PeerCounters {
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  uint64_t handshakes_completed = 0;
  uint64_t staged_dropped = 0;  // packets dropped waiting for a session
};

class Peer final : public dataplane::Tunnel {
 public:
  Peer(Device& device, uint32_t id, const crypto::PublicKey& public_key, uint32_t mtu)
      : path_(mtu), device_(device), id_(id), public_key_(public_key) {}

  void send(std::span<dataplane::Packet> packets) override;
  std::string describe() const override;
  dataplane::PathMtu& path() override { return path_; }
  const dataplane::PathMtu& path() const { return path_; }
  bool probe_target_known = false;  // path_'s probe addresses are up to date

  uint32_t id() const { return id_; }
  const crypto::PublicKey& public_key() const { return public_key_; }
  Device& device() const { return device_; }

  Handshake handshake;
  CookieMaker cookie;
  std::optional<net::Endpoint> endpoint;
  bool endpoint_configured = false;  // set by configuration (Endpoint=, UAPI), not learned
  uint16_t persistent_keepalive_interval = 0;  // seconds

  std::unique_ptr<Keypair> previous_keypair;
  std::unique_ptr<Keypair> current_keypair;
  std::unique_ptr<Keypair> next_keypair;

  PeerTimers timers;
  int handshake_attempts = 0;
  bool sent_lastminute_handshake = false;
  bool need_another_keepalive = false;
  Nanos last_sent_handshake = kNever;

  // Packets waiting for a session: owned copies with the dataplane head/tailroom around them.
  std::vector<std::vector<uint8_t>> staged;

  PeerCounters counters;
  WallTime last_handshake{};  // wall time of the last completed handshake, {0,0} = never

 private:
  dataplane::PathMtu path_;
  Device& device_;
  const uint32_t id_;
  const crypto::PublicKey public_key_;
};

}  // namespace waypost::wireguard
