#include "wireguard/receive_path.h"

#include "common/bytes.h"
#include "common/log.h"
#include "wireguard/timers.h"

namespace waypost::wireguard {

using dataplane::Datagram;
using dataplane::Packet;

void ReceivePath::receive(std::span<Datagram> datagrams) {
  jobs_.clear();
  for (uint32_t i = 0; i < datagrams.size(); ++i) {
    Datagram& d = datagrams[i];
    ++env_.counters.rx_datagrams;
    if (d.size < 4) {
      ++env_.counters.rx_bad_message;
      continue;
    }
    // The type is a little-endian 32-bit word: the three reserved bytes must be zero.
    size_t expected = 0;
    switch (load_le32(d.data)) {
      case uint32_t(MessageType::kTransportData):
        if (d.size < transport::kMinSize) {
          ++env_.counters.rx_bad_message;
          continue;
        }
        prepare_open(d, i);
        continue;
      case uint32_t(MessageType::kHandshakeInitiation):
        expected = initiation::kSize;
        break;
      case uint32_t(MessageType::kHandshakeResponse):
        expected = response::kSize;
        break;
      case uint32_t(MessageType::kCookieReply):
        expected = cookie_reply::kSize;
        break;
      default:
        break;
    }
    if (expected == 0 || d.size != expected) {
      ++env_.counters.rx_bad_message;
      continue;
    }
    env_.handshakes.admit(d);
  }
  run_crypto(env_.pool, jobs_, /*seal=*/false);
  for (const CryptoJob& job : jobs_) finish_open(job, datagrams[job.datagram]);
  retired_.clear();
}

void ReceivePath::prepare_open(Datagram& d, uint32_t batch_index) {
  const IndexEntry* entry = env_.indexes.find(load_le32(d.data + transport::kReceiver));
  if (entry == nullptr || entry->keypair == nullptr) {
    ++env_.counters.rx_unknown_index;
    return;
  }
  Keypair& kp = *entry->keypair;
  if (kp.expired_for_receiving(env_.clock.now())) {
    ++env_.counters.rx_expired_session;
    return;
  }
  const uint64_t counter = load_le64(d.data + transport::kCounter);
  const uint32_t plain = d.size - uint32_t(transport::kMinSize);
  jobs_.push_back(
      {entry->peer, &kp, d.data + transport::kHeaderSize, plain, counter, batch_index, false});
}

void ReceivePath::finish_open(const CryptoJob& job, Datagram& d) {
  if (!job.ok) {
    ++env_.counters.rx_decrypt_failed;
    return;
  }
  Peer& peer = *job.peer;
  Keypair& kp = *job.keypair;
  // Only an authenticated counter may move the replay window.
  if (!kp.replay.accept(job.counter, kRejectAfterMessages)) {
    ++env_.counters.rx_replayed;
    return;
  }
  peer.learn_endpoint(d.from);
  peer.counters().rx_bytes += d.size;
  if (peer.sessions().confirm(&kp, env_.indexes, retired_)) {
    timers_handshake_complete(peer);
    env_.send.send_staged(peer);
  }
  env_.send.keep_key_fresh_after_receive(peer);
  timers_any_authenticated_packet_received(peer);
  timers_any_authenticated_packet_traversal(peer);
  if (job.length == 0) {
    ++env_.counters.rx_keepalives;
    return;
  }
  timers_data_received(peer);
  if (env_.prober.intercept(peer, job.data, job.length)) return;
  if (!env_.router.accept(peer, Packet{job.data, job.length})) {
    WP_LOG_RATELIMITED(debug,
                       "{}: dropped packet with a source outside its allowed IPs or a "
                       "malformed inner header",
                       peer.describe());
  }
}

}  // namespace waypost::wireguard
