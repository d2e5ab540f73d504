// Handshake messages after the cheap checks: load detection and cookies, then initiations,
// responses and cookie replies (paper 5.4.2 - 5.4.7).
#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "common/log.h"
#include "crypto/keys.h"
#include "wireguard/device.h"
#include "wireguard/timers.h"

namespace waypost::wireguard {

using dataplane::Datagram;

namespace {
std::string short_key(const crypto::PublicKey& k) {
  return crypto::key_to_base64(k);
}
}  // namespace

bool Device::update_under_load() {
  const Nanos now = env_.clock.now();
  bool load = force_under_load_ || handshake_queue_.size() >= HandshakeQueue::kUnderLoadDepth;
  if (load) {
    last_under_load_ = now;
  } else if (last_under_load_ != kNever) {
    load = now - last_under_load_ < kUnderLoadAfterTime;
  }
  under_load_ = load;
  return load;
}

size_t Device::process_handshakes(size_t budget) {
  while (budget-- > 0 && !handshake_queue_.empty()) {
    const QueuedHandshake& q = *handshake_queue_.front();
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
        push_control_to(q.from, reply);
        ++counters_.hs_cookies_sent;
        handshake_queue_.pop();
        continue;
      }
      if (!rate_limiter_.allow(q.from, env_.clock.now())) {
        ++counters_.hs_rate_limited;
        handshake_queue_.pop();
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
    handshake_queue_.pop();
  }
  return handshake_queue_.size();
}

void Device::handle_initiation(const QueuedHandshake& q) {
  std::span<const uint8_t, initiation::kSize> msg(q.data.data(), initiation::kSize);
  PendingInitiation pending;
  InitiationError err = begin_consume_initiation(msg, identity_, pending);
  Peer* peer = nullptr;
  if (err == InitiationError::kNone) {
    peer = find_peer(pending.remote_static);
    if (peer == nullptr) {
      err = InitiationError::kUnknownPeer;
    } else {
      err = finish_consume_initiation(msg, pending, peer->handshake, env_.clock);
    }
  }
  if (err != InitiationError::kNone) {
    ++counters_.hs_initiations_rejected;
    if (err == InitiationError::kUnknownPeer) {
      WP_LOG_RATELIMITED(info, "handshake initiation from {} rejected: unknown peer public key {}",
                         q.from.to_string(), short_key(pending.remote_static));
    } else {
      WP_LOG_RATELIMITED(info, "handshake initiation from {} rejected: {}", q.from.to_string(),
                         to_string(err));
    }
    return;
  }
  update_endpoint(*peer, q.from);
  timers_any_authenticated_packet_received(*peer);
  timers_any_authenticated_packet_traversal(*peer);
  spdlog::debug("{}: received handshake initiation", peer->describe());

  // Respond.
  release_handshake_index(*peer);
  uint32_t index = new_index(*peer);
  std::array<uint8_t, response::kSize> msg_out{};
  peer->last_sent_handshake = env_.clock.now();
  if (!create_response(msg_out, peer->handshake, identity_, index, env_.random)) {
    release_index(index);
    peer->handshake.local_index = 0;
    return;
  }
  peer->cookie.add_macs(msg_out, env_.clock);
  auto keys = begin_session(peer->handshake);
  if (!keys) return;
  install_keypair(*peer, std::make_unique<Keypair>(*keys, env_.clock.now()));
  timers_session_derived(*peer);
  timers_any_authenticated_packet_traversal(*peer);
  timers_any_authenticated_packet_sent(*peer);
  push_control(*peer, msg_out);
}

void Device::handle_response(const QueuedHandshake& q) {
  std::span<const uint8_t, response::kSize> msg(q.data.data(), response::kSize);
  const uint32_t receiver = load_le32(&msg[response::kReceiver]);
  auto it = index_.find(receiver);
  if (it == index_.end() || it->second.keypair != nullptr) {
    ++counters_.hs_responses_rejected;
    WP_LOG_RATELIMITED(debug, "handshake response from {} for unknown index", q.from.to_string());
    return;
  }
  Peer& peer = *it->second.peer;
  if (!consume_response(msg, peer.handshake, identity_)) {
    ++counters_.hs_responses_rejected;
    WP_LOG_RATELIMITED(info,
                       "handshake response from {} rejected: it does not authenticate "
                       "(wrong preshared key or keys)",
                       q.from.to_string());
    return;
  }
  update_endpoint(peer, q.from);
  timers_any_authenticated_packet_received(peer);
  timers_any_authenticated_packet_traversal(peer);
  auto keys = begin_session(peer.handshake);
  if (!keys) return;
  install_keypair(peer, std::make_unique<Keypair>(*keys, env_.clock.now()));
  timers_session_derived(peer);
  timers_handshake_complete(peer);
  // Confirm the session to the responder: staged data, or a keepalive.
  send_keepalive(peer);
}

void Device::handle_cookie_reply(const QueuedHandshake& q) {
  const uint32_t receiver = load_le32(&q.data[cookie_reply::kReceiver]);
  auto it = index_.find(receiver);
  if (it == index_.end()) return;
  Peer& peer = *it->second.peer;
  std::span<const uint8_t, cookie_reply::kSize> msg(q.data.data(), cookie_reply::kSize);
  if (peer.cookie.consume_reply(msg, env_.clock)) {
    ++counters_.hs_cookies_received;
    spdlog::debug("{}: received cookie reply: the peer is under load", peer.describe());
  }
}

}  // namespace waypost::wireguard
