#include "wireguard/handshake_engine.h"

#include <array>
#include <memory>

#include "common/bytes.h"
#include "common/log.h"
#include "crypto/keys.h"
#include "wireguard/timers.h"

namespace waypost::wireguard {

void release_handshake_index(Peer& peer, IndexTable& indexes) {
  indexes.release_handshake(peer.handshake().local_index, peer);
  peer.handshake().local_index = 0;
}

HandshakeEngine::HandshakeEngine(Environment env) : env_(env), rate_limiter_(env.random.u64()) {}

void HandshakeEngine::set_local_public_key(const crypto::PublicKey& key) {
  cookie_checker_.set_local_public_key(key);
}

void HandshakeEngine::admit(const dataplane::Datagram& d) {
  const auto type = MessageType(d.data[0]);
  // MAC1 is cheap and proves the sender knows our public key: check it before queueing so
  // garbage never occupies the queue.
  if (type != MessageType::kCookieReply &&
      cookie_checker_.check({d.data, d.size}, d.from, env_.clock, env_.random) ==
          MacCheck::kInvalidMac1) {
    ++env_.counters.hs_invalid_mac1;
    WP_LOG_RATELIMITED(info,
                       "handshake message from {} dropped: invalid mac1 (the sender does not use "
                       "our public key)",
                       d.from.to_string());
    return;
  }
  // Past half full, each source gets its fair share of what is left.
  if (queue_.size() > HandshakeQueue::kCapacity / 2 &&
      !rate_limiter_.allow(d.from, env_.clock.now())) {
    ++env_.counters.hs_rate_limited;
    return;
  }
  if (!queue_.push(d.data, d.size, d.from)) ++env_.counters.hs_queue_full;
}

bool HandshakeEngine::update_under_load() {
  const Nanos now = env_.clock.now();
  bool load = force_under_load_ || queue_.size() >= HandshakeQueue::kUnderLoadDepth;
  if (load) {
    last_under_load_ = now;
  } else if (last_under_load_ != kNever) {
    load = now - last_under_load_ < kUnderLoadAfterTime;
  }
  under_load_ = load;
  return load;
}

size_t HandshakeEngine::process(size_t budget) {
  while (budget-- > 0 && !queue_.empty()) {
    const QueuedHandshake& q = *queue_.front();
    const auto type = MessageType(q.data[0]);
    if (type != MessageType::kCookieReply && update_under_load()) {
      MacCheck mac =
          cookie_checker_.check({q.data.data(), q.size}, q.from, env_.clock, env_.random);
      if (mac != MacCheck::kValidMac1AndMac2) {
        // Make the sender prove its address before we spend Diffie-Hellman work on it.
        std::array<uint8_t, cookie_reply::kSize> reply{};
        uint32_t sender = load_le32(&q.data[initiation::kSender]);
        cookie_checker_.make_reply(reply, {q.data.data(), q.size}, sender, q.from, env_.clock,
                                   env_.random);
        env_.send.push_control_to(q.from, reply);
        ++env_.counters.hs_cookies_sent;
        queue_.pop();
        continue;
      }
      if (!rate_limiter_.allow(q.from, env_.clock.now())) {
        ++env_.counters.hs_rate_limited;
        queue_.pop();
        continue;
      }
    }
    switch (type) {
      case MessageType::kHandshakeInitiation:
        handle_initiation(q);
        break;
      case MessageType::kHandshakeResponse:
        handle_response(q);
        break;
      case MessageType::kCookieReply:
        handle_cookie_reply(q);
        break;
      default:
        break;
    }
    queue_.pop();
  }
  return queue_.size();
}

void HandshakeEngine::send_initiation(Peer& peer, bool is_retry) {
  HandshakeTiming& timing = peer.timing();
  if (!is_retry) timing.attempts = 0;
  const Nanos now = env_.clock.now();
  if (timing.last_sent_handshake != kNever && now - timing.last_sent_handshake < kRekeyTimeout) {
    return;
  }
  if (!peer.endpoint()) {
    WP_LOG_RATELIMITED(debug, "{}: cannot send handshake: no endpoint", peer.describe());
    ++env_.counters.tx_no_endpoint;
    return;
  }
  release_handshake_index(peer, env_.indexes);
  const uint32_t index = env_.indexes.add_handshake(peer);
  std::array<uint8_t, initiation::kSize> msg{};
  if (!create_initiation(msg, peer.handshake(), env_.identity, index, env_.clock, env_.random)) {
    env_.indexes.release(index);
    peer.handshake().local_index = 0;
    return;
  }
  peer.cookie().add_macs(msg, env_.clock);
  timing.last_sent_handshake = now;
  timers_any_authenticated_packet_traversal(peer);
  timers_any_authenticated_packet_sent(peer);
  spdlog::debug("{}: sending handshake initiation", peer.describe());
  env_.send.push_control(peer, msg);
  timers_handshake_initiated(peer);
}

void HandshakeEngine::install_session(Peer& peer, const SessionKeys& keys) {
  auto keypair = std::make_unique<Keypair>(keys, env_.clock.now());
  env_.indexes.assign_keypair(keypair->local_index, peer, *keypair);
  peer.sessions().install(std::move(keypair), env_.indexes);
}

void HandshakeEngine::handle_initiation(const QueuedHandshake& q) {
  std::span<const uint8_t, initiation::kSize> msg(q.data.data(), initiation::kSize);
  PendingInitiation pending;
  InitiationError err = begin_consume_initiation(msg, env_.identity, pending);
  Peer* peer = nullptr;
  if (err == InitiationError::kNone) {
    peer = env_.peers.find(pending.remote_static);
    if (peer == nullptr) {
      err = InitiationError::kUnknownPeer;
    } else {
      err = finish_consume_initiation(msg, pending, peer->handshake(), env_.clock);
    }
  }
  if (err != InitiationError::kNone) {
    ++env_.counters.hs_initiations_rejected;
    if (err == InitiationError::kUnknownPeer) {
      WP_LOG_RATELIMITED(info, "handshake initiation from {} rejected: unknown peer public key {}",
                         q.from.to_string(), crypto::key_to_base64(pending.remote_static));
    } else {
      WP_LOG_RATELIMITED(info, "handshake initiation from {} rejected: {}", q.from.to_string(),
                         to_string(err));
    }
    return;
  }
  peer->learn_endpoint(q.from);
  timers_any_authenticated_packet_received(*peer);
  timers_any_authenticated_packet_traversal(*peer);
  spdlog::debug("{}: received handshake initiation", peer->describe());

  // Respond.
  release_handshake_index(*peer, env_.indexes);
  const uint32_t index = env_.indexes.add_handshake(*peer);
  std::array<uint8_t, response::kSize> msg_out{};
  peer->timing().last_sent_handshake = env_.clock.now();
  if (!create_response(msg_out, peer->handshake(), env_.identity, index, env_.random)) {
    env_.indexes.release(index);
    peer->handshake().local_index = 0;
    return;
  }
  peer->cookie().add_macs(msg_out, env_.clock);
  auto keys = begin_session(peer->handshake());
  if (!keys) return;
  install_session(*peer, *keys);
  timers_session_derived(*peer);
  timers_any_authenticated_packet_traversal(*peer);
  timers_any_authenticated_packet_sent(*peer);
  env_.send.push_control(*peer, msg_out);
}

void HandshakeEngine::handle_response(const QueuedHandshake& q) {
  std::span<const uint8_t, response::kSize> msg(q.data.data(), response::kSize);
  const IndexEntry* entry = env_.indexes.find(load_le32(&msg[response::kReceiver]));
  if (entry == nullptr || entry->keypair != nullptr) {
    ++env_.counters.hs_responses_rejected;
    WP_LOG_RATELIMITED(debug, "handshake response from {} for unknown index", q.from.to_string());
    return;
  }
  Peer& peer = *entry->peer;
  if (!consume_response(msg, peer.handshake(), env_.identity)) {
    ++env_.counters.hs_responses_rejected;
    WP_LOG_RATELIMITED(info,
                       "handshake response from {} rejected: it does not authenticate "
                       "(wrong preshared key or keys)",
                       q.from.to_string());
    return;
  }
  peer.learn_endpoint(q.from);
  timers_any_authenticated_packet_received(peer);
  timers_any_authenticated_packet_traversal(peer);
  auto keys = begin_session(peer.handshake());
  if (!keys) return;
  install_session(peer, *keys);
  timers_session_derived(peer);
  timers_handshake_complete(peer);
  // Confirm the session to the responder: staged data, or a keepalive.
  env_.send.send_keepalive(peer);
}

void HandshakeEngine::handle_cookie_reply(const QueuedHandshake& q) {
  const IndexEntry* entry = env_.indexes.find(load_le32(&q.data[cookie_reply::kReceiver]));
  if (entry == nullptr) return;
  Peer& peer = *entry->peer;
  std::span<const uint8_t, cookie_reply::kSize> msg(q.data.data(), cookie_reply::kSize);
  if (peer.cookie().consume_reply(msg, env_.clock)) {
    ++env_.counters.hs_cookies_received;
    spdlog::debug("{}: received cookie reply: the peer is under load", peer.describe());
  }
}

}  // namespace waypost::wireguard
