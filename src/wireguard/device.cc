#include "wireguard/device.h"

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "common/log.h"
#include "crypto/keys.h"
#include "wireguard/timers.h"

namespace waypost::wireguard {

using dataplane::Datagram;
using dataplane::Packet;

namespace {
std::string short_key(const crypto::PublicKey& k) {
  return crypto::key_to_base64(k);
}
}  // namespace

// --- Peer (Tunnel) -------------------------------------------------------------------------

void Peer::send(std::span<Packet> packets) {
  device_.send_packets(*this, packets);
}

std::string Peer::describe() const {
  return "peer " + short_key(public_key_) + " (" +
         (endpoint ? endpoint->to_string() : std::string("no endpoint")) + ")";
}

// --- construction and configuration --------------------------------------------------------

Device::Device(Environment env)
    : env_(env),
      rate_limiter_(env.random.u64()),
      probe_id_(uint16_t(env.random.u32())),
      jitter_state_(env.random.u64()) {
  tx_jobs_.reserve(512);
  rx_jobs_.reserve(1024);
}

void Device::set_mtu(uint32_t mtu) {
  mtu_ = mtu;
  for (auto& [key, peer] : peers_) peer->path().set_interface_mtu(mtu);
}

void Device::set_private_key(const std::optional<crypto::PrivateKey>& key) {
  // Setting the same key again (wg syncconf does) must not disturb live sessions.
  if (key && identity_.has_key() && identity_.static_key.private_key().equals(key->span())) return;
  if (!key && !identity_.has_key()) return;
  if (key && !key->is_zero()) {
    identity_.set_private_key(*key);
    cookie_checker_.set_local_public_key(identity_.static_key.public_key());
    // A peer with our own public key would be talking to itself: drop it, as the kernel does.
    remove_peer(identity_.static_key.public_key());
  } else {
    identity_.clear();
  }
  for (auto& [k, peer] : peers_) {
    peer->handshake.set_static_keys(identity_, peer->public_key());
    peer->handshake.zero();
    // Sessions keyed from the old identity must not continue; force a fresh handshake.
    clear_keypairs(*peer);
  }
}

Peer* Device::find_peer(const crypto::PublicKey& key) {
  auto it = peers_.find(key);
  return it == peers_.end() ? nullptr : it->second.get();
}

Peer* Device::add_peer(const crypto::PublicKey& key) {
  if (Peer* p = find_peer(key)) return p;
  if (identity_.has_key() && key == identity_.static_key.public_key()) return nullptr;
  if (peers_.size() >= kMaxPeers) return nullptr;
  auto peer = std::make_unique<Peer>(*this, next_peer_id_++, key, mtu_);
  peer->handshake.set_static_keys(identity_, key);
  peer->cookie.set_remote_public_key(key);
  Peer* raw = peer.get();
  peers_by_id_[raw->id()] = raw;
  peers_.emplace(key, std::move(peer));
  return raw;
}

void Device::remove_peer(const crypto::PublicKey& key) {
  auto it = peers_.find(key);
  if (it == peers_.end()) return;
  Peer& peer = *it->second;
  env_.router.table().remove_value(&peer);
  clear_keypairs(peer);
  release_handshake_index(peer);
  timers_.cancel_all(peer.timers);
  peers_by_id_.erase(peer.id());
  peers_.erase(it);
}

void Device::remove_all_peers() {
  while (!peers_.empty()) remove_peer(peers_.begin()->first);
}

void Device::set_preshared_key(Peer& peer, const crypto::SymmetricKey& psk) {
  peer.handshake.preshared_key = psk;
}

void Device::set_persistent_keepalive(Peer& peer, uint16_t seconds) {
  bool was_off = peer.persistent_keepalive_interval == 0;
  peer.persistent_keepalive_interval = seconds;
  if (seconds == 0) {
    cancel_timer(peer, kTimerPersistentKeepalive);
  } else if (was_off && peer.endpoint && up_) {
    // Turning it on opens the NAT mapping right away rather than after the first interval (on a
    // device that is not up yet, that happens when it comes up, as in the kernel).
    send_keepalive(peer);
  }
}

void Device::add_allowed_ip(Peer& peer, const net::Prefix& prefix) {
  env_.router.table().insert(prefix, &peer);
  peer.probe_target_known = false;
}

void Device::remove_allowed_ip(Peer& peer, const net::Prefix& prefix) {
  env_.router.table().remove_if_value(prefix, &peer);
  peer.probe_target_known = false;
}

void Device::clear_allowed_ips(Peer& peer) {
  env_.router.table().remove_value(&peer);
  peer.probe_target_known = false;
}

std::vector<net::Prefix> Device::allowed_ips(const Peer& peer) const {
  std::vector<net::Prefix> out;
  env_.router.table().for_each([&](const net::Prefix& p, dataplane::Tunnel* t) {
    if (t == &peer) out.push_back(p);
  });
  return out;
}

// --- indexes and sessions --------------------------------------------------------------------

uint32_t Device::new_index(Peer& peer) {
  for (;;) {
    uint32_t index = env_.random.u32();
    if (index == 0) continue;
    if (index_.emplace(index, IndexEntry{&peer, nullptr}).second) return index;
  }
}

void Device::release_index(uint32_t index) {
  index_.erase(index);
}

void Device::release_handshake_index(Peer& peer) {
  // Once a session takes over the handshake's index the entry is the keypair's; and after that
  // keypair is gone the number may belong to someone else. Only remove our own handshake entry.
  auto it = index_.find(peer.handshake.local_index);
  if (it != index_.end() && it->second.peer == &peer && it->second.keypair == nullptr) {
    index_.erase(it);
  }
  peer.handshake.local_index = 0;
}

void Device::clear_keypairs(Peer& peer) {
  for (auto* slot : {&peer.previous_keypair, &peer.current_keypair, &peer.next_keypair}) {
    if (*slot) {
      release_index((*slot)->local_index);
      slot->reset();
    }
  }
}

void Device::install_keypair(Peer& peer, std::unique_ptr<Keypair> keypair) {
  // The session takes over the handshake's index: a response or data packet addressed to it
  // now finds the keypair.
  index_[keypair->local_index] = IndexEntry{&peer, keypair.get()};
  auto drop = [this](std::unique_ptr<Keypair>& slot) {
    if (slot) {
      release_index(slot->local_index);
      slot.reset();
    }
  };
  if (keypair->initiator) {
    // We initiated and got the response: the new session is usable at once.
    if (peer.next_keypair) {
      drop(peer.previous_keypair);
      peer.previous_keypair = std::move(peer.next_keypair);
      drop(peer.current_keypair);
    } else {
      drop(peer.previous_keypair);
      peer.previous_keypair = std::move(peer.current_keypair);
    }
    peer.current_keypair = std::move(keypair);
  } else {
    // We responded: the session becomes current only when the initiator's first data packet
    // confirms it received our response.
    drop(peer.next_keypair);
    peer.next_keypair = std::move(keypair);
    drop(peer.previous_keypair);
  }
}

bool Device::received_with_keypair(Peer& peer, Keypair* keypair) {
  if (peer.next_keypair.get() != keypair) return false;
  // Key confirmation: rotate next -> current -> previous. The old previous may still be
  // referenced by later packets of this batch: retire it rather than free it.
  if (peer.previous_keypair) {
    release_index(peer.previous_keypair->local_index);
    retired_.push_back(std::move(peer.previous_keypair));
  }
  peer.previous_keypair = std::move(peer.current_keypair);
  peer.current_keypair = std::move(peer.next_keypair);
  return true;
}

void Device::zero_key_material(Peer& peer) {
  spdlog::debug("{}: zeroing keys after {} s without a new session", peer.describe(),
                3 * kRejectAfterTime / kNanosPerSecond);
  clear_keypairs(peer);
  release_handshake_index(peer);
  peer.handshake.zero();
}

// --- sending -------------------------------------------------------------------------------

void Device::push_control_to(const net::Endpoint& to, std::span<const uint8_t> message) {
  if (control_used_ == kControlSlots) flush();
  auto& slot = control_[control_used_++];
  std::memcpy(slot.data(), message.data(), message.size());
  env_.network.push(slot.data(), uint32_t(message.size()), to);
}

void Device::push_control(Peer& peer, std::span<const uint8_t> message) {
  if (!peer.endpoint) return;
  peer.counters.tx_bytes += message.size();
  push_control_to(*peer.endpoint, message);
}

void Device::send_handshake_initiation(Peer& peer, bool is_retry) {
  if (!is_retry) peer.handshake_attempts = 0;
  const Nanos now = env_.clock.now();
  if (peer.last_sent_handshake != kNever && now - peer.last_sent_handshake < kRekeyTimeout) return;
  if (!peer.endpoint) {
    WP_LOG_RATELIMITED(debug, "{}: cannot send handshake: no endpoint", peer.describe());
    ++counters_.tx_no_endpoint;
    return;
  }
  release_handshake_index(peer);
  uint32_t index = new_index(peer);
  std::array<uint8_t, initiation::kSize> msg{};
  if (!create_initiation(msg, peer.handshake, identity_, index, env_.clock, env_.random)) {
    release_index(index);
    peer.handshake.local_index = 0;
    return;
  }
  peer.cookie.add_macs(msg, env_.clock);
  peer.last_sent_handshake = now;
  timers_any_authenticated_packet_traversal(peer);
  timers_any_authenticated_packet_sent(peer);
  spdlog::debug("{}: sending handshake initiation", peer.describe());
  push_control(peer, msg);
  timers_handshake_initiated(peer);
}

void Device::stage(Peer& peer, const Packet& p) {
  if (peer.staged.size() >= kMaxStagedPackets) {
    peer.staged.erase(peer.staged.begin());  // drop the oldest, as the kernel does
    ++peer.counters.staged_dropped;
    ++counters_.tx_staged_dropped;
  }
  std::vector<uint8_t> copy(size_t{dataplane::kHeadroom} + p.size + dataplane::kTailroom);
  std::copy_n(p.data, size_t{p.size}, copy.begin() + dataplane::kHeadroom);
  peer.staged.push_back(std::move(copy));
}

void Device::drop_staged(Peer& peer) {
  peer.counters.staged_dropped += peer.staged.size();
  counters_.tx_staged_dropped += peer.staged.size();
  peer.staged.clear();
}

void Device::seal_batch(Peer& peer, Keypair& kp, std::span<const Packet> packets) {
  tx_jobs_.clear();
  for (const Packet& p : packets) {
    // Pad to a multiple of 16, but never beyond the MTU (paper 5.4.6).
    uint32_t padded = (p.size + uint32_t(kPaddingMultiple) - 1) & ~uint32_t(kPaddingMultiple - 1);
    if (padded > mtu_) padded = std::max(mtu_, p.size);
    std::memset(p.data + p.size, 0, padded - p.size);
    uint8_t* header = p.data - transport::kHeaderSize;
    const uint64_t counter = kp.send_counter++;
    store_le32(header, uint32_t(MessageType::kTransportData));
    store_le32(header + transport::kReceiver, kp.remote_index);
    store_le64(header + transport::kCounter, counter);
    tx_jobs_.push_back({&peer, &kp, p.data, padded, counter, 0, false});
  }
  run_crypto(tx_jobs_, /*seal=*/true);
  for (const CryptoJob& job : tx_jobs_) {
    const uint32_t size = transport::kHeaderSize + job.length + uint32_t(crypto::kAeadTagSize);
    peer.counters.tx_bytes += size;
    env_.network.push(job.data - transport::kHeaderSize, size, *peer.endpoint);
  }
}

namespace {
struct CryptoBatch {
  std::vector<Device::CryptoJob>* jobs;
  bool seal;
  bool parallel;  // workers take part: use per-thread contexts keyed per packet
};
}  // namespace

void Device::crypto_slice(void* context, size_t begin, size_t end) {
  auto* batch = static_cast<CryptoBatch*>(context);
  for (size_t i = begin; i < end; ++i) {
    CryptoJob& j = (*batch->jobs)[i];
    Keypair& kp = *j.keypair;
    if (batch->seal) {
      j.ok = batch->parallel
                 ? crypto::seal_in_place(kp.send_key.span(), j.counter, j.data, j.length)
                 : kp.sender.seal(j.counter, {j.data, j.length},
                                  {j.data, j.length + crypto::kAeadTagSize});
    } else {
      j.ok = batch->parallel
                 ? crypto::open_in_place(kp.receive_key.span(), j.counter, j.data, j.length)
                 : kp.receiver.open(j.counter, {j.data, j.length + crypto::kAeadTagSize},
                                    {j.data, j.length});
    }
  }
}

void Device::run_crypto(std::vector<CryptoJob>& jobs, bool seal) {
  constexpr size_t kMinParallel = 8;
  const bool parallel =
      env_.pool != nullptr && env_.pool->workers() > 0 && jobs.size() >= kMinParallel;
  CryptoBatch batch{&jobs, seal, parallel};
  if (parallel) {
    env_.pool->run(jobs.size(), &Device::crypto_slice, &batch, kMinParallel);
  } else {
    crypto_slice(&batch, 0, jobs.size());
  }
}

void Device::send_packets(Peer& peer, std::span<Packet> packets) {
  const Nanos now = env_.clock.now();
  Keypair* kp = peer.current_keypair.get();
  if (kp == nullptr || kp->expired_for_sending(now) || !peer.endpoint ||
      kp->send_counter + packets.size() >= kRejectAfterMessages) {
    if (!peer.endpoint) ++counters_.tx_no_endpoint;
    for (const Packet& p : packets) stage(peer, p);
    send_handshake_initiation(peer, false);
    return;
  }
  // Packets staged earlier go first so that order is kept.
  if (!peer.staged.empty()) send_staged(peer);
  timers_any_authenticated_packet_traversal(peer);
  timers_any_authenticated_packet_sent(peer);
  bool data = false;
  for (const Packet& p : packets) data = data || p.size > 0;
  seal_batch(peer, *kp, packets);
  if (data) timers_data_sent(peer);
  keep_key_fresh_after_send(peer);
}

void Device::send_staged(Peer& peer) {
  const Nanos now = env_.clock.now();
  Keypair* kp = peer.current_keypair.get();
  if (kp == nullptr || kp->expired_for_sending(now) || !peer.endpoint) {
    send_handshake_initiation(peer, false);
    return;
  }
  if (peer.staged.empty()) return;
  std::vector<std::vector<uint8_t>> staged;
  staged.swap(peer.staged);
  timers_any_authenticated_packet_traversal(peer);
  timers_any_authenticated_packet_sent(peer);
  bool data = false;
  std::vector<Packet> packets;
  packets.reserve(staged.size());
  for (auto& buf : staged) {
    packets.push_back({buf.data() + dataplane::kHeadroom,
                       uint32_t(buf.size() - dataplane::kHeadroom - dataplane::kTailroom)});
    data = data || packets.back().size > 0;
  }
  seal_batch(peer, *kp, packets);
  // The staged buffers are referenced by queued datagrams: send them before freeing.
  env_.network.flush();
  if (data) timers_data_sent(peer);
  keep_key_fresh_after_send(peer);
}

void Device::send_keepalive(Peer& peer) {
  if (peer.staged.empty()) {
    // A keepalive is an empty transport packet.
    peer.staged.emplace_back(dataplane::kHeadroom + dataplane::kTailroom);
  }
  send_staged(peer);
}

void Device::keep_key_fresh_after_send(Peer& peer) {
  Keypair* kp = peer.current_keypair.get();
  if (kp == nullptr) return;
  if (kp->send_counter > kRekeyAfterMessages ||
      (kp->initiator && env_.clock.now() - kp->birthdate >= rekey_after_time_)) {
    send_handshake_initiation(peer, false);
  }
}

void Device::keep_key_fresh_after_receive(Peer& peer) {
  Keypair* kp = peer.current_keypair.get();
  if (kp == nullptr || !kp->initiator || peer.sent_lastminute_handshake) return;
  if (env_.clock.now() - kp->birthdate >= kRejectAfterTime - kKeepaliveTimeout - kRekeyTimeout) {
    peer.sent_lastminute_handshake = true;
    send_handshake_initiation(peer, false);
  }
}

void Device::flush() {
  env_.network.flush();
  env_.router.flush();
  control_used_ = 0;
}

// --- receiving -----------------------------------------------------------------------------

void Device::update_endpoint(Peer& peer, const net::Endpoint& from) {
  if (!peer.endpoint || !(*peer.endpoint == from)) {
    if (peer.endpoint) {
      spdlog::info("{}: endpoint changed to {}", peer.describe(), from.to_string());
    }
    peer.endpoint = from;
  }
}

void Device::receive(std::span<Datagram> datagrams) {
  // Three phases so that decryption can run on several cores while everything stateful stays
  // on this thread, in arrival order: classify and look up sessions; open; then replay
  // windows, timers, endpoints and delivery.
  rx_jobs_.clear();
  for (uint32_t i = 0; i < datagrams.size(); ++i) {
    Datagram& d = datagrams[i];
    ++counters_.rx_datagrams;
    if (d.size < 4) {
      ++counters_.rx_bad_message;
      continue;
    }
    // The type is a little-endian 32-bit word: the three reserved bytes must be zero.
    switch (load_le32(d.data)) {
      case uint32_t(MessageType::kTransportData):
        if (d.size < transport::kMinSize) {
          ++counters_.rx_bad_message;
          continue;
        }
        prepare_open(d, i);
        break;
      case uint32_t(MessageType::kHandshakeInitiation):
      case uint32_t(MessageType::kHandshakeResponse): {
        const size_t expected = d.data[0] == uint8_t(MessageType::kHandshakeInitiation)
                                    ? initiation::kSize
                                    : response::kSize;
        if (d.size != expected) {
          ++counters_.rx_bad_message;
          continue;
        }
        // MAC1 is cheap and proves the sender knows our public key: check it before queueing
        // so garbage never occupies the queue.
        if (cookie_checker_.check({d.data, d.size}, d.from, env_.clock, env_.random) ==
            MacCheck::kInvalidMac1) {
          ++counters_.hs_invalid_mac1;
          WP_LOG_RATELIMITED(info,
                             "handshake message from {} dropped: invalid mac1 (the sender does "
                             "not use our public key)",
                             d.from.to_string());
          continue;
        }
        [[fallthrough]];
      }
      case uint32_t(MessageType::kCookieReply): {
        if (load_le32(d.data) == uint32_t(MessageType::kCookieReply) &&
            d.size != cookie_reply::kSize) {
          ++counters_.rx_bad_message;
          continue;
        }
        // Past half full, each source gets its fair share of what is left.
        if (handshake_queue_.size() > HandshakeQueue::kCapacity / 2 &&
            !rate_limiter_.allow(d.from, env_.clock.now())) {
          ++counters_.hs_rate_limited;
          continue;
        }
        if (!handshake_queue_.push(d.data, d.size, d.from)) ++counters_.hs_queue_full;
        break;
      }
      default:
        ++counters_.rx_bad_message;
        break;
    }
  }
  run_crypto(rx_jobs_, /*seal=*/false);
  for (const CryptoJob& job : rx_jobs_) finish_open(job, datagrams[job.datagram]);
  retired_.clear();
}

void Device::prepare_open(Datagram& d, uint32_t batch_index) {
  const uint32_t index = load_le32(d.data + transport::kReceiver);
  auto it = index_.find(index);
  if (it == index_.end() || it->second.keypair == nullptr) {
    ++counters_.rx_unknown_index;
    return;
  }
  Keypair& kp = *it->second.keypair;
  if (kp.expired_for_receiving(env_.clock.now())) {
    ++counters_.rx_expired_session;
    return;
  }
  const uint64_t counter = load_le64(d.data + transport::kCounter);
  const uint32_t plain = d.size - uint32_t(transport::kMinSize);
  rx_jobs_.push_back(
      {it->second.peer, &kp, d.data + transport::kHeaderSize, plain, counter, batch_index, false});
}

void Device::finish_open(const CryptoJob& job, Datagram& d) {
  if (!job.ok) {
    ++counters_.rx_decrypt_failed;
    return;
  }
  Peer& peer = *job.peer;
  Keypair& kp = *job.keypair;
  // Only an authenticated counter may move the replay window.
  if (!kp.replay.accept(job.counter, kRejectAfterMessages)) {
    ++counters_.rx_replayed;
    return;
  }
  update_endpoint(peer, d.from);
  peer.counters.rx_bytes += d.size;
  if (received_with_keypair(peer, &kp)) {
    timers_handshake_complete(peer);
    send_staged(peer);
  }
  keep_key_fresh_after_receive(peer);
  timers_any_authenticated_packet_received(peer);
  timers_any_authenticated_packet_traversal(peer);
  if (job.length == 0) {
    ++counters_.rx_keepalives;
    return;
  }
  timers_data_received(peer);
  if (answer_path_probe(peer, job)) return;
  if (peer.path().probing()) {
    const uint32_t len = dataplane::inner_packet_length(job.data, job.length);
    const uint32_t mtu = peer.path().mtu(), mss_mtu = peer.path().mss_mtu();
    if (len != 0 && peer.path().consume_reply(job.data, len, probe_id_, env_.clock.now())) {
      log_path_mtu(peer, mtu, mss_mtu);
      return;
    }
  }
  if (!env_.router.accept(peer, Packet{job.data, job.length})) {
    WP_LOG_RATELIMITED(debug,
                       "{}: dropped packet with a source outside its allowed IPs or a "
                       "malformed inner header",
                       peer.describe());
  }
}

// --- timers --------------------------------------------------------------------------------

void Device::run_timers() {
  timers_.run(
      env_.clock.now(),
      [this](uint32_t id) -> PeerTimers* {
        auto it = peers_by_id_.find(id);
        return it == peers_by_id_.end() ? nullptr : &it->second->timers;
      },
      [this](uint32_t id, int kind) {
        auto it = peers_by_id_.find(id);
        if (it != peers_by_id_.end()) timers_fire(*it->second, kind);
      });
}

}  // namespace waypost::wireguard
