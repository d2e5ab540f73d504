#pragma once
// A WireGuard device: our identity, the peers, the index table that maps receiver indexes to
// sessions, and the send and receive paths. It does no I/O itself: datagrams come in through
// receive(), sealed datagrams leave through a DatagramSink, opened packets through the Router.
// The same object therefore runs in the daemon and, on a virtual clock, in the unit tests.
//
// Threading: one thread (the event loop) owns a Device; nothing here locks.

#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/memory.h"
#include "common/result.h"
#include "common/timer_queue.h"
#include "common/work_pool.h"
#include "crypto/random.h"
#include "dataplane/packet.h"
#include "dataplane/router.h"
#include "wireguard/cookie.h"
#include "wireguard/device_spec.h"
#include "wireguard/handshake_queue.h"
#include "wireguard/peer.h"
#include "wireguard/ratelimiter.h"
#include "wireguard/uapi.h"

namespace waypost::wireguard {

struct KeyHash {
  size_t operator()(const crypto::PublicKey& k) const {
    size_t h;
    std::memcpy(&h, k.data(), sizeof(h));  // public keys are uniformly random
    return h;
  }
};

// Why packets were dropped; shown by `waypost show --json`.
struct DeviceCounters {
  uint64_t rx_datagrams = 0;
  uint64_t rx_bad_message = 0;    // unknown type or wrong length
  uint64_t rx_unknown_index = 0;  // no session with that receiver index
  uint64_t rx_expired_session = 0;
  uint64_t rx_decrypt_failed = 0;
  uint64_t rx_replayed = 0;
  uint64_t rx_keepalives = 0;
  uint64_t hs_invalid_mac1 = 0;
  uint64_t hs_queue_full = 0;
  uint64_t hs_rate_limited = 0;
  uint64_t hs_cookies_sent = 0;
  uint64_t hs_cookies_received = 0;
  uint64_t hs_initiations_rejected = 0;
  uint64_t hs_responses_rejected = 0;
  uint64_t hs_completed = 0;
  uint64_t tx_no_endpoint = 0;
  uint64_t tx_staged_dropped = 0;
};

// What the device needs from the platform, beyond the sinks: socket-level settings.
class DeviceHost {
 public:
  virtual ~DeviceHost() = default;
  // Rebinds the UDP socket; 0 means any free port. Returns the port actually bound.
  virtual Result<uint16_t> bind_port(uint16_t port) = 0;
  virtual Status set_fwmark(uint32_t mark) = 0;
};

class Device {
 public:
  struct Environment {
    const Clock& clock;
    crypto::Random& random;
    dataplane::DatagramSink& network;
    dataplane::Router& router;
    DeviceHost* host = nullptr;  // optional (tests)
    WorkPool* pool = nullptr;    // crypto workers; nullptr = all inline
  };
  explicit Device(Environment env);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // --- configuration ---------------------------------------------------------------------
  void set_private_key(const std::optional<crypto::PrivateKey>& key);
  const LocalIdentity& identity() const { return identity_; }
  Peer* find_peer(const crypto::PublicKey& key);
  // Creates the peer if missing; nullptr if `key` is our own public key (ignored, as wg does).
  Peer* add_peer(const crypto::PublicKey& key);
  void remove_peer(const crypto::PublicKey& key);
  void remove_all_peers();
  void set_preshared_key(Peer& peer, const crypto::SymmetricKey& psk);
  void set_persistent_keepalive(Peer& peer, uint16_t seconds);
  void add_allowed_ip(Peer& peer, const net::Prefix& prefix);
  void remove_allowed_ip(Peer& peer, const net::Prefix& prefix);
  void clear_allowed_ips(Peer& peer);
  std::vector<net::Prefix> allowed_ips(const Peer& peer) const;
  void set_mtu(uint32_t mtu);
  // Our tunnel addresses (Address=): the source of path MTU probes, and a hint to find the
  // peer's tunnel address to probe.
  void set_local_addresses(std::vector<net::Prefix> addresses);
  uint32_t mtu() const { return mtu_; }
  // Whether the interface is up (the kernel's IFF_UP): a device configured before it comes up
  // sends nothing until then. The daemon configures first, then brings the interface up and
  // says hello to peers with a persistent keepalive. Tests and UAPI see an up device.
  void set_up(bool up) { up_ = up; }
  uint16_t listen_port() const { return listen_port_; }
  void set_listen_port_value(uint16_t port) { listen_port_ = port; }
  uint32_t fwmark() const { return fwmark_; }
  void set_fwmark_value(uint32_t mark) { fwmark_ = mark; }
  size_t peer_count() const { return peers_.size(); }
  template <typename F>
  void for_each_peer(F&& f) const {
    for (const auto& [key, peer] : peers_) f(*peer);
  }

  // The one way configuration changes: makes the device what `spec` describes, touching only
  // what differs (peers that stay keep their sessions), and says what changed. spec() is the
  // current configuration in the same form.
  Result<ConfigChanges> configure(const DeviceSpec& spec);
  DeviceSpec spec() const;

  // UAPI: applies a parsed set request with the kernel's semantics (through configure); reads the
  // full state.
  Status apply(const UapiSet& set);
  UapiDeviceState uapi_state() const;

  // --- data path -------------------------------------------------------------------------
  // Datagrams from the UDP socket. Transport data is opened in place and handed to the router;
  // handshake messages are checked and queued. Call flush() after a batch.
  void receive(std::span<dataplane::Datagram> datagrams);
  // Processes up to `budget` queued handshake messages; returns how many remain.
  size_t process_handshakes(size_t budget);
  // Seals packets for `peer` (called by Peer::send from the router).
  void send_packets(Peer& peer, std::span<dataplane::Packet> packets);
  void flush();

  // --- timers ----------------------------------------------------------------------------
  void run_timers();
  Nanos next_timer_deadline() const { return timers_.next_deadline(); }

  // --- used by timers.cc ------------------------------------------------------------------
  void arm_timer(Peer& peer, int kind, Nanos delay) {
    timers_.arm(peer.timers, peer.id(), kind, env_.clock.now() + delay);
  }
  void cancel_timer(Peer& peer, int kind) { timers_.cancel(peer.timers, kind); }
  // Timer jitter only spreads peers' handshakes apart; it needs no secrecy. It is drawn per
  // send batch (timers_data_sent re-arms after every received packet cancelled the timer), where
  // RAND_bytes cost a DRBG call and a getpid() system call each time: a splitmix64 sequence
  // seeded once from the injected Random instead.
  Nanos jitter() {
    jitter_state_ += 0x9e3779b97f4a7c15ull;
    uint64_t z = jitter_state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return Nanos((z ^ (z >> 31)) % uint64_t(kRekeyTimeoutJitterMax));
  }
  // Sends an initiation unless one went out less than REKEY_TIMEOUT ago.
  void send_handshake_initiation(Peer& peer, bool is_retry);
  // Sends staged packets, or a keepalive if none are staged.
  void send_keepalive(Peer& peer);
  void drop_staged(Peer& peer);
  void zero_key_material(Peer& peer);
  // Path MTU: start probing once a session exists; send the probe that is due.
  void start_path_probing(Peer& peer);
  void send_path_probe(Peer& peer);
  const Clock& clock() const { return env_.clock; }

  // One packet's crypto, prepared on the loop thread and run (possibly) on a worker.
  struct CryptoJob {
    Peer* peer;
    Keypair* keypair;
    uint8_t* data;    // plaintext (seal) or ciphertext (open), tag follows
    uint32_t length;  // plaintext/ciphertext length without the tag
    uint64_t counter;
    uint32_t datagram;  // receive: index in the batch
    bool ok;
  };
  const DeviceCounters& counters() const { return counters_; }
  bool under_load() const { return under_load_; }
  // Tests and benchmarks: treat the device as under load regardless of queue depth.
  void force_under_load(bool on) { force_under_load_ = on; }
  // Tests only: start rekeying earlier than REKEY_AFTER_TIME (the peer accepts a new handshake
  // at any time, so interop is unaffected; the daemon honours WAYPOST_TEST_REKEY_AFTER).
  void set_rekey_after_time(Nanos t) { rekey_after_time_ = t; }

 private:
  struct IndexEntry {
    Peer* peer = nullptr;
    Keypair* keypair = nullptr;  // nullptr: the entry is the peer's handshake
  };

  uint32_t new_index(Peer& peer);
  void release_index(uint32_t index);
  void release_handshake_index(Peer& peer);
  void clear_keypairs(Peer& peer);
  void install_keypair(Peer& peer, std::unique_ptr<Keypair> keypair);
  bool received_with_keypair(Peer& peer, Keypair* keypair);
  void send_staged(Peer& peer);
  void keep_key_fresh_after_send(Peer& peer);
  void keep_key_fresh_after_receive(Peer& peer);
  void stage(Peer& peer, const dataplane::Packet& p);
  // Seals packets in place (header into the headroom, padding and tag into the tailroom) and
  // queues them for the network, in order.
  void seal_batch(Peer& peer, Keypair& kp, std::span<const dataplane::Packet> packets);
  void run_crypto(std::vector<CryptoJob>& jobs, bool seal);
  static void crypto_slice(void* context, size_t begin, size_t end);
  void push_control(Peer& peer, std::span<const uint8_t> message);
  void push_control_to(const net::Endpoint& to, std::span<const uint8_t> message);
  void update_endpoint(Peer& peer, const net::Endpoint& from);

  void prepare_open(dataplane::Datagram& d, uint32_t index);
  // Answers a peer's path MTU probe directly (see dataplane::answer_probe); true if it was one.
  bool answer_path_probe(Peer& peer, const CryptoJob& job);
  // Logs (debug) a change of the peer's path MTU or of what MSS clamping uses, given both before.
  void log_path_mtu(const Peer& peer, uint32_t mtu_before, uint32_t mss_mtu_before) const;
  void finish_open(const CryptoJob& job, dataplane::Datagram& d);
  void handle_initiation(const QueuedHandshake& q);
  void handle_response(const QueuedHandshake& q);
  void handle_cookie_reply(const QueuedHandshake& q);
  bool update_under_load();

  Environment env_;
  LocalIdentity identity_;
  CookieChecker cookie_checker_;
  RateLimiter rate_limiter_;
  HandshakeQueue handshake_queue_;
  bool under_load_ = false;
  bool force_under_load_ = false;
  Nanos last_under_load_ = kNever;

  std::unordered_map<crypto::PublicKey, std::unique_ptr<Peer>, KeyHash> peers_;
  std::unordered_map<uint32_t, Peer*> peers_by_id_;
  std::unordered_map<uint32_t, IndexEntry> index_;
  uint32_t next_peer_id_ = 1;
  TimerQueue<kTimerKinds> timers_;

  Nanos rekey_after_time_ = kRekeyAfterTime;
  std::vector<net::Prefix> local_addresses_;
  uint16_t probe_id_ = 0;
  uint64_t jitter_state_ = 0;
  PageBuffer probe_buffer_;
  uint32_t mtu_ = kDefaultMtu;
  bool up_ = true;
  uint16_t listen_port_ = 0;
  uint32_t fwmark_ = 0;

  // Handshake messages and keepalives we originate live here until flush().
  static constexpr size_t kControlSlots = 256;
  std::array<std::array<uint8_t, initiation::kSize>, kControlSlots> control_{};
  size_t control_used_ = 0;

  std::vector<CryptoJob> tx_jobs_;
  std::vector<CryptoJob> rx_jobs_;
  // Keypairs rotated out while a receive batch is in flight stay alive until it is done.
  std::vector<std::unique_ptr<Keypair>> retired_;

  DeviceCounters counters_;
};

}  // namespace waypost::wireguard
