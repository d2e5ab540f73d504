#include "wireguard/send_path.h"

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "crypto/aead.h"
#include "wireguard/timers.h"

namespace waypost::wireguard {

using dataplane::Packet;

void SendPath::push_control_to(const net::Endpoint& to, std::span<const uint8_t> message) {
  if (control_used_ == kControlSlots) flush();
  auto& slot = control_[control_used_++];
  std::memcpy(slot.data(), message.data(), message.size());
  env_.network.push(slot.data(), uint32_t(message.size()), to);
}

void SendPath::push_control(Peer& peer, std::span<const uint8_t> message) {
  if (!peer.endpoint()) return;
  peer.counters().tx_bytes += message.size();
  push_control_to(*peer.endpoint(), message);
}

void SendPath::flush() {
  env_.network.flush();
  control_used_ = 0;
}

void SendPath::stage(Peer& peer, const Packet& p) {
  if (peer.staged().push(p)) {
    ++peer.counters().staged_dropped;
    ++env_.counters.tx_staged_dropped;
  }
}

void SendPath::drop_staged(Peer& peer) {
  const size_t n = peer.staged().clear();
  peer.counters().staged_dropped += n;
  env_.counters.tx_staged_dropped += n;
}

void SendPath::seal_batch(Peer& peer, Keypair& kp, std::span<const Packet> packets) {
  // Padding never goes beyond the MTU (paper 5.4.6).
  const uint32_t mtu = peer.path().interface_mtu();
  jobs_.clear();
  for (const Packet& p : packets) {
    uint32_t padded = (p.size + uint32_t(kPaddingMultiple) - 1) & ~uint32_t(kPaddingMultiple - 1);
    if (padded > mtu) padded = std::max(mtu, p.size);
    std::memset(p.data + p.size, 0, padded - p.size);
    uint8_t* header = p.data - transport::kHeaderSize;
    const uint64_t counter = kp.send_counter++;
    store_le32(header, uint32_t(MessageType::kTransportData));
    store_le32(header + transport::kReceiver, kp.remote_index);
    store_le64(header + transport::kCounter, counter);
    jobs_.push_back({&peer, &kp, p.data, padded, counter, 0, false});
  }
  run_crypto(env_.pool, jobs_, /*seal=*/true);
  for (const CryptoJob& job : jobs_) {
    const uint32_t size = transport::kHeaderSize + job.length + uint32_t(crypto::kAeadTagSize);
    peer.counters().tx_bytes += size;
    env_.network.push(job.data - transport::kHeaderSize, size, *peer.endpoint());
  }
}

void SendPath::send_packets(Peer& peer, std::span<Packet> packets) {
  const Nanos now = env_.clock.now();
  Keypair* kp = peer.sessions().current();
  if (kp == nullptr || kp->expired_for_sending(now) || !peer.endpoint() ||
      kp->send_counter + packets.size() >= kRejectAfterMessages) {
    if (!peer.endpoint()) ++env_.counters.tx_no_endpoint;
    for (const Packet& p : packets) stage(peer, p);
    peer.actions().send_handshake_initiation(peer, false);
    return;
  }
  // Packets staged earlier go first so that order is kept.
  if (!peer.staged().empty()) send_staged(peer);
  timers_any_authenticated_packet_traversal(peer);
  timers_any_authenticated_packet_sent(peer);
  bool data = false;
  for (const Packet& p : packets) data = data || p.size > 0;
  seal_batch(peer, *kp, packets);
  if (data) timers_data_sent(peer);
  keep_key_fresh_after_send(peer);
}

void SendPath::send_staged(Peer& peer) {
  const Nanos now = env_.clock.now();
  Keypair* kp = peer.sessions().current();
  if (kp == nullptr || kp->expired_for_sending(now) || !peer.endpoint()) {
    peer.actions().send_handshake_initiation(peer, false);
    return;
  }
  if (peer.staged().empty()) return;
  auto staged = peer.staged().take();
  timers_any_authenticated_packet_traversal(peer);
  timers_any_authenticated_packet_sent(peer);
  bool data = false;
  std::vector<Packet> packets;
  packets.reserve(staged.size());
  for (auto& buf : staged) {
    packets.push_back(StagedPackets::view(buf));
    data = data || packets.back().size > 0;
  }
  seal_batch(peer, *kp, packets);
  // The staged buffers are referenced by queued datagrams: send them before freeing.
  env_.network.flush();
  if (data) timers_data_sent(peer);
  keep_key_fresh_after_send(peer);
}

void SendPath::send_keepalive(Peer& peer) {
  if (peer.staged().empty()) peer.staged().push_keepalive();
  send_staged(peer);
}

bool SendPath::send_probe(Peer& peer, Packet packet) {
  Keypair* kp = peer.sessions().current();
  if (kp == nullptr || kp->expired_for_sending(env_.clock.now()) || !peer.endpoint()) {
    return false;
  }
  // Not data: a lost probe must not make the session look dead (no data_sent hook).
  timers_any_authenticated_packet_traversal(peer);
  timers_any_authenticated_packet_sent(peer);
  seal_batch(peer, *kp, {&packet, 1});
  env_.network.flush();
  return true;
}

void SendPath::keep_key_fresh_after_send(Peer& peer) {
  Keypair* kp = peer.sessions().current();
  if (kp == nullptr) return;
  if (kp->send_counter > kRekeyAfterMessages ||
      (kp->initiator && env_.clock.now() - kp->birthdate >= rekey_after_time_)) {
    peer.actions().send_handshake_initiation(peer, false);
  }
}

void SendPath::keep_key_fresh_after_receive(Peer& peer) {
  Keypair* kp = peer.sessions().current();
  if (kp == nullptr || !kp->initiator || peer.timing().sent_lastminute_handshake) return;
  if (env_.clock.now() - kp->birthdate >= kRejectAfterTime - kKeepaliveTimeout - kRekeyTimeout) {
    peer.timing().sent_lastminute_handshake = true;
    peer.actions().send_handshake_initiation(peer, false);
  }
}

}  // namespace waypost::wireguard
