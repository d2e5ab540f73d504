#pragma once
// Handshake messages (paper 5.4.2 - 5.4.7): the cheap checks on arrival (MAC1, rate limiting,
// a bounded queue), load detection and cookies, then initiations, responses and cookie replies,
// and the initiations we send. A completed handshake installs a session in the peer's Sessions
// and its index in the IndexTable.

#include <cstdint>

#include "common/clock.h"
#include "crypto/random.h"
#include "dataplane/packet.h"
#include "wireguard/cookie.h"
#include "wireguard/device_counters.h"
#include "wireguard/handshake_queue.h"
#include "wireguard/index_table.h"
#include "wireguard/noise.h"
#include "wireguard/peer_set.h"
#include "wireguard/ratelimiter.h"
#include "wireguard/send_path.h"

namespace waypost::wireguard {

class HandshakeEngine {
 public:
  struct Environment {
    const Clock& clock;
    crypto::Random& random;
    const LocalIdentity& identity;
    IndexTable& indexes;
    PeerSet& peers;
    SendPath& send;
    DeviceCounters& counters;
  };
  explicit HandshakeEngine(Environment env);

  // Our public key changed: MAC1 of incoming messages is checked against the new one.
  void set_local_public_key(const crypto::PublicKey& key);
  // A handshake message or cookie reply of the right length arrived: queued, unless its MAC1 is
  // wrong or, past half a queue, its source exceeds its share.
  void admit(const dataplane::Datagram& d);
  // Processes up to `budget` queued messages; returns how many remain.
  size_t process(size_t budget);
  // Sends an initiation unless one went out less than REKEY_TIMEOUT ago.
  void send_initiation(Peer& peer, bool is_retry);

  bool under_load() const { return under_load_; }
  void force_under_load(bool on) { force_under_load_ = on; }

 private:
  bool update_under_load();
  void handle_initiation(const QueuedHandshake& q);
  void handle_response(const QueuedHandshake& q);
  void handle_cookie_reply(const QueuedHandshake& q);
  void install_session(Peer& peer, const SessionKeys& keys);

  Environment env_;
  CookieChecker cookie_checker_;
  RateLimiter rate_limiter_;
  HandshakeQueue queue_;
  bool under_load_ = false;
  bool force_under_load_ = false;
  Nanos last_under_load_ = kNever;
};

// Forgets the index of `peer`'s handshake in progress, if it still is one.
void release_handshake_index(Peer& peer, IndexTable& indexes);

}  // namespace waypost::wireguard
