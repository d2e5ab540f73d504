#pragma once
// A WireGuard peer: its identity, handshake, sessions, endpoint, timers and counters, and the
// data plane's Tunnel for it. Mostly state, like the Linux module's struct wg_peer; the protocol
// logic lives in the device's pieces (send_path, receive_path, handshake_engine), timers.cc
// (timer policy) and noise.cc (the handshake itself). Configuration goes through the Device,
// which keeps the routing table and timers consistent with what is set here.

#include <optional>
#include <span>
#include <string>

#include "common/clock.h"
#include "common/log_fields.h"
#include "common/timer_queue.h"
#include "dataplane/tunnel.h"
#include "net/ip.h"
#include "wireguard/cookie.h"
#include "wireguard/noise.h"
#include "wireguard/sessions.h"
#include "wireguard/staged_packets.h"

namespace waypost::wireguard {

class Peer;
class PeerSet;

enum TimerKind : int {
  kTimerRetransmitHandshake = 0,
  kTimerSendKeepalive,
  kTimerNewHandshake,
  kTimerZeroKeyMaterial,
  kTimerPersistentKeepalive,
  kTimerPathProbe,  // in-tunnel path MTU probes (dataplane/path_prober.h)
  kTimerKinds,
};
using PeerTimers = TimerSlots<kTimerKinds>;

struct PeerCounters {
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  uint64_t handshakes_completed = 0;
  uint64_t staged_dropped = 0;  // packets dropped waiting for a session
};

// Handshake bookkeeping of the timer policy (timers.cc).
struct HandshakeTiming {
  int attempts = 0;
  bool sent_lastminute_handshake = false;
  bool need_another_keepalive = false;
  Nanos last_sent_handshake = kNever;
};

// What a peer, as a Tunnel and through its timers, asks of its device (implemented by Device).
class PeerActions {
 public:
  virtual void send_packets(Peer& peer, std::span<dataplane::Packet> packets) = 0;
  virtual bool send_probe(Peer& peer, dataplane::Packet packet) = 0;
  // Sends an initiation unless one went out less than REKEY_TIMEOUT ago.
  virtual void send_handshake_initiation(Peer& peer, bool is_retry) = 0;
  // Sends staged packets, or a keepalive if none are staged.
  virtual void send_keepalive(Peer& peer) = 0;
  virtual void drop_staged(Peer& peer) = 0;
  virtual void zero_key_material(Peer& peer) = 0;
  // A handshake completed: path MTU probing starts or continues.
  virtual void start_path_probing(Peer& peer) = 0;
  // The path-probe timer fired.
  virtual void path_probe_due(Peer& peer) = 0;

 protected:
  ~PeerActions() = default;
};

class Peer final : public dataplane::Tunnel {
 public:
  Peer(PeerSet& set, PeerActions& actions, uint32_t id, const crypto::PublicKey& public_key,
       uint32_t mtu)
      : set_(set), actions_(actions), id_(id), public_key_(public_key), path_(mtu) {}

  // dataplane::Tunnel
  void send(std::span<dataplane::Packet> packets) override {
    actions_.send_packets(*this, packets);
  }
  std::string describe() const override;
  // For the journal's fields (common/log_fields.h): this peer's key and endpoint.
  LogFields log_fields() const;
  dataplane::PathMtu& path() override { return path_; }
  uint32_t overhead() const override;
  bool send_probe(dataplane::Packet packet) override { return actions_.send_probe(*this, packet); }
  void schedule_probe(Nanos delay) override;
  const dataplane::PathMtu& path() const { return path_; }

  uint32_t id() const { return id_; }
  const crypto::PublicKey& public_key() const { return public_key_; }
  const crypto::SymmetricKey& preshared_key() const { return handshake_.preshared_key; }
  const std::optional<net::Endpoint>& endpoint() const { return endpoint_; }
  // Set by configuration (Endpoint=, UAPI), rather than learned from authenticated packets.
  bool endpoint_configured() const { return endpoint_configured_; }
  uint16_t persistent_keepalive() const { return persistent_keepalive_; }  // seconds, 0 = off
  const PeerCounters& counters() const { return counters_; }
  WallTime last_handshake() const { return last_handshake_; }  // {0,0} = never
  const Sessions& sessions() const { return sessions_; }
  size_t staged_count() const { return staged_.size(); }

  // --- for the device's pieces ---------------------------------------------------------------
  void set_endpoint(const net::Endpoint& endpoint) {
    endpoint_ = endpoint;
    endpoint_configured_ = true;
  }
  // Roaming (paper 2.1): the source of an authenticated packet becomes the endpoint.
  void learn_endpoint(const net::Endpoint& from);
  void set_persistent_keepalive_value(uint16_t seconds) { persistent_keepalive_ = seconds; }
  void set_last_handshake(WallTime t) { last_handshake_ = t; }
  Handshake& handshake() { return handshake_; }
  CookieMaker& cookie() { return cookie_; }
  Sessions& sessions() { return sessions_; }
  PeerTimers& timers() { return timers_; }
  const PeerTimers& timers() const { return timers_; }
  HandshakeTiming& timing() { return timing_; }
  StagedPackets& staged() { return staged_; }
  PeerCounters& counters() { return counters_; }
  PeerSet& set() const { return set_; }
  PeerActions& actions() const { return actions_; }

 private:
  PeerSet& set_;
  PeerActions& actions_;
  const uint32_t id_;
  const crypto::PublicKey public_key_;
  Handshake handshake_;
  CookieMaker cookie_;
  std::optional<net::Endpoint> endpoint_;
  bool endpoint_configured_ = false;
  uint16_t persistent_keepalive_ = 0;
  Sessions sessions_;
  PeerTimers timers_;
  HandshakeTiming timing_;
  StagedPackets staged_;
  PeerCounters counters_;
  WallTime last_handshake_{};
  dataplane::PathMtu path_;
};

}  // namespace waypost::wireguard
