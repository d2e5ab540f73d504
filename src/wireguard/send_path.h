#pragma once
// The way out (paper 5.4.6): packets the router chose a peer for are sealed in place under the
// peer's current session and queued for the UDP socket, or staged while a handshake makes a
// session; handshake messages and keepalives we originate are queued here too, in fixed slots
// that live until flush().

#include <array>
#include <span>
#include <vector>

#include "common/clock.h"
#include "common/work_pool.h"
#include "dataplane/packet.h"
#include "wireguard/crypto_batch.h"
#include "wireguard/device_counters.h"
#include "wireguard/messages.h"
#include "wireguard/peer.h"

namespace waypost::wireguard {

class SendPath {
 public:
  struct Environment {
    const Clock& clock;
    dataplane::DatagramSink& network;
    WorkPool* pool;  // crypto workers; nullptr = all inline
    DeviceCounters& counters;
  };
  explicit SendPath(Environment env) : env_(env) { jobs_.reserve(512); }

  // Data from the router. Without a usable session the packets are staged and a handshake
  // started.
  void send_packets(Peer& peer, std::span<dataplane::Packet> packets);
  // Sends what is staged if the session allows, else starts a handshake.
  void send_staged(Peer& peer);
  // Sends staged packets, or a keepalive if none are staged.
  void send_keepalive(Peer& peer);
  // Seals one control packet (a path MTU probe or the answer to one) and sends it now; false
  // without a usable session.
  bool send_probe(Peer& peer, dataplane::Packet packet);
  void drop_staged(Peer& peer);
  // A handshake message or cookie reply we originate.
  void push_control(Peer& peer, std::span<const uint8_t> message);
  void push_control_to(const net::Endpoint& to, std::span<const uint8_t> message);
  // As initiator, a session near REJECT_AFTER_TIME is renewed once from the receive side.
  void keep_key_fresh_after_receive(Peer& peer);
  // Hands everything queued to the socket; control slots are free again afterwards.
  void flush();

  // Tests only: start rekeying earlier than REKEY_AFTER_TIME.
  void set_rekey_after_time(Nanos t) { rekey_after_time_ = t; }

 private:
  void stage(Peer& peer, const dataplane::Packet& p);
  // Seals packets in place (header into the headroom, padding and tag into the tailroom) and
  // queues them for the network, in order.
  void seal_batch(Peer& peer, Keypair& kp, std::span<const dataplane::Packet> packets);
  void keep_key_fresh_after_send(Peer& peer);

  Environment env_;
  Nanos rekey_after_time_ = kRekeyAfterTime;
  static constexpr size_t kControlSlots = 256;
  std::array<std::array<uint8_t, initiation::kSize>, kControlSlots> control_{};
  size_t control_used_ = 0;
  std::vector<CryptoJob> jobs_;
};

}  // namespace waypost::wireguard
