#pragma once
// A WireGuard device: our identity and the pieces that do the work, each small enough to hold in
// mind (docs/ARCHITECTURE.md):
//
//   PeerSet          peers by key and id, and the timer wheel their timers share (peer_set.h)
//   IndexTable       receiver indexes -> handshake or session (index_table.h)
//   HandshakeEngine  queue, cookies, rate limiting, initiations and responses (handshake_engine.h)
//   SendPath         sealing, staging, keepalives, control messages (send_path.h)
//   ReceivePath      classification, opening, delivery to the router (receive_path.h)
//
// The Device composes them, keeps configuration consistent across them (device_config.cc), and
// is what a Peer asks when its timers fire or the data plane wants a probe sealed. It does no
// I/O itself: datagrams come in through receive(), sealed datagrams leave through a
// DatagramSink, opened packets through the Router; path MTU is the data plane's (PathProber).
// The same object therefore runs in the daemon and, on a virtual clock, in the unit tests.
//
// Threading: one thread (the event loop) owns a Device; nothing here locks.

#include <optional>
#include <span>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/work_pool.h"
#include "crypto/random.h"
#include "dataplane/packet.h"
#include "dataplane/path_prober.h"
#include "dataplane/router.h"
#include "wireguard/device_counters.h"
#include "wireguard/device_spec.h"
#include "wireguard/handshake_engine.h"
#include "wireguard/index_table.h"
#include "wireguard/peer.h"
#include "wireguard/peer_set.h"
#include "wireguard/receive_path.h"
#include "wireguard/send_path.h"
#include "wireguard/uapi.h"

namespace waypost::wireguard {

// What the device needs from the platform, beyond the sinks: socket-level settings.
class DeviceHost {
 public:
  virtual ~DeviceHost() = default;
  // Rebinds the UDP socket; 0 means any free port. Returns the port actually bound.
  virtual Result<uint16_t> bind_port(uint16_t port) = 0;
  virtual Status set_fwmark(uint32_t mark) = 0;
};

class Device final : private PeerActions {
 public:
  struct Environment {
    const Clock& clock;
    crypto::Random& random;
    dataplane::DatagramSink& network;
    dataplane::Router& router;
    dataplane::PathProber& prober;  // owns the interface MTU
    DeviceHost* host = nullptr;     // optional (tests)
    WorkPool* pool = nullptr;       // crypto workers; nullptr = all inline
  };
  explicit Device(Environment env);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // --- configuration ---------------------------------------------------------------------
  // The one way configuration changes: makes the device what `spec` describes, touching only
  // what differs (peers that stay keep their sessions), and says what changed. spec() is the
  // current configuration in the same form.
  Result<ConfigChanges> configure(const DeviceSpec& spec);
  DeviceSpec spec() const;
  // UAPI: applies a parsed set request with the kernel's semantics (through configure); reads the
  // full state.
  Status apply(const UapiSet& set);
  UapiDeviceState uapi_state() const;

  // The steps configure() is made of, for tests and the few callers that change one thing.
  void set_private_key(const std::optional<crypto::PrivateKey>& key);
  const LocalIdentity& identity() const { return identity_; }
  Peer* find_peer(const crypto::PublicKey& key) const { return peers_.find(key); }
  // Creates the peer if missing; nullptr if `key` is our own public key (ignored, as wg does)
  // or the peer limit is reached.
  Peer* add_peer(const crypto::PublicKey& key);
  void remove_peer(const crypto::PublicKey& key);
  void set_preshared_key(Peer& peer, const crypto::SymmetricKey& psk);
  void set_endpoint(Peer& peer, const net::Endpoint& endpoint) { peer.set_endpoint(endpoint); }
  void set_persistent_keepalive(Peer& peer, uint16_t seconds);
  void add_allowed_ip(Peer& peer, const net::Prefix& prefix);
  void remove_allowed_ip(Peer& peer, const net::Prefix& prefix);

  // Whether the interface is up (the kernel's IFF_UP): a device configured before it comes up
  // sends nothing until then. The daemon configures first, then brings the interface up and
  // says hello to peers with a persistent keepalive (kick_persistent_keepalives). Tests and
  // UAPI see an up device.
  void set_up(bool up) { up_ = up; }
  void kick_persistent_keepalives();
  uint16_t listen_port() const { return listen_port_; }
  void set_listen_port_value(uint16_t port) { listen_port_ = port; }
  uint32_t fwmark() const { return fwmark_; }
  void set_fwmark_value(uint32_t mark) { fwmark_ = mark; }
  size_t peer_count() const { return peers_.size(); }
  template <typename F>
  void for_each_peer(F&& f) const {
    peers_.for_each(f);
  }

  // --- data path -------------------------------------------------------------------------
  // Datagrams from the UDP socket. Transport data is opened in place and handed to the router;
  // handshake messages are checked and queued. Call flush() after a batch.
  void receive(std::span<dataplane::Datagram> datagrams) { receive_.receive(datagrams); }
  // Processes up to `budget` queued handshake messages; returns how many remain.
  size_t process_handshakes(size_t budget) { return handshakes_.process(budget); }
  void flush();

  // --- timers ----------------------------------------------------------------------------
  void run_timers() { peers_.run_timers(); }
  Nanos next_timer_deadline() const { return peers_.next_timer_deadline(); }

  const DeviceCounters& counters() const { return counters_; }
  bool under_load() const { return handshakes_.under_load(); }
  // Tests and benchmarks: treat the device as under load regardless of queue depth.
  void force_under_load(bool on) { handshakes_.force_under_load(on); }
  // Tests only: start rekeying earlier than REKEY_AFTER_TIME (the peer accepts a new handshake
  // at any time, so interop is unaffected; the daemon honours WAYPOST_TEST_REKEY_AFTER).
  void set_rekey_after_time(Nanos t) { send_.set_rekey_after_time(t); }

  // PeerActions, public for tests that drive a peer by hand.
  void send_handshake_initiation(Peer& peer, bool is_retry) override {
    handshakes_.send_initiation(peer, is_retry);
  }
  void send_keepalive(Peer& peer) override { send_.send_keepalive(peer); }
  void zero_key_material(Peer& peer) override;

 private:
  // PeerActions
  void send_packets(Peer& peer, std::span<dataplane::Packet> packets) override {
    send_.send_packets(peer, packets);
  }
  bool send_probe(Peer& peer, dataplane::Packet packet) override {
    return send_.send_probe(peer, packet);
  }
  void drop_staged(Peer& peer) override { send_.drop_staged(peer); }
  void start_path_probing(Peer& peer) override { env_.prober.start(peer); }
  void path_probe_due(Peer& peer) override { env_.prober.on_wakeup(peer); }

  Environment env_;
  LocalIdentity identity_;
  DeviceCounters counters_;
  PeerSet peers_;
  IndexTable indexes_;
  SendPath send_;
  HandshakeEngine handshakes_;
  ReceivePath receive_;
  bool up_ = true;
  uint16_t listen_port_ = 0;
  uint32_t fwmark_ = 0;
};

}  // namespace waypost::wireguard
