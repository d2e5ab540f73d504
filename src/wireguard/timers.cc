#include "wireguard/timers.h"

#include "common/log.h"
#include "wireguard/device.h"

namespace waypost::wireguard {

// --- Event hooks ---------------------------------------------------------------------------

void timers_data_sent(Peer& peer) {
  // If nothing comes back within KEEPALIVE + REKEY_TIMEOUT, assume the session is dead and start
  // a new handshake.
  if (!peer.timers.pending(kTimerNewHandshake)) {
    Device& d = peer.device();
    d.arm_timer(peer, kTimerNewHandshake, kKeepaliveTimeout + kRekeyTimeout + d.jitter());
  }
}

void timers_data_received(Peer& peer) {
  // Acknowledge data with a keepalive if we have nothing to send back within KEEPALIVE.
  if (!peer.timers.pending(kTimerSendKeepalive)) {
    peer.device().arm_timer(peer, kTimerSendKeepalive, kKeepaliveTimeout);
  } else {
    peer.need_another_keepalive = true;
  }
}

void timers_any_authenticated_packet_sent(Peer& peer) {
  peer.device().cancel_timer(peer, kTimerSendKeepalive);
}

void timers_any_authenticated_packet_received(Peer& peer) {
  peer.device().cancel_timer(peer, kTimerNewHandshake);
}

void timers_any_authenticated_packet_traversal(Peer& peer) {
  if (peer.persistent_keepalive_interval != 0) {
    peer.device().arm_timer(peer, kTimerPersistentKeepalive,
                            seconds(peer.persistent_keepalive_interval));
  }
}

void timers_handshake_initiated(Peer& peer) {
  Device& d = peer.device();
  d.arm_timer(peer, kTimerRetransmitHandshake, kRekeyTimeout + d.jitter());
}

void timers_handshake_complete(Peer& peer) {
  peer.device().cancel_timer(peer, kTimerRetransmitHandshake);
  peer.handshake_attempts = 0;
  peer.sent_lastminute_handshake = false;
  peer.last_handshake = peer.device().clock().wall();
  ++peer.counters.handshakes_completed;
  spdlog::info("{}: handshake complete", peer.describe());
  peer.device().start_path_probing(peer);
}

void timers_session_derived(Peer& peer) {
  peer.device().arm_timer(peer, kTimerZeroKeyMaterial, 3 * kRejectAfterTime);
}

// --- Handlers ------------------------------------------------------------------------------

namespace {

void on_retransmit_handshake(Peer& peer) {
  Device& d = peer.device();
  if (peer.handshake_attempts > kMaxTimerHandshakes) {
    spdlog::info("{}: handshake did not complete after {} attempts, giving up", peer.describe(),
                 kMaxTimerHandshakes + 2);
    d.cancel_timer(peer, kTimerSendKeepalive);
    // Without a session for this long, queued packets are stale: drop them, and do not retry
    // until new traffic asks for a session.
    d.drop_staged(peer);
    if (!peer.timers.pending(kTimerZeroKeyMaterial)) {
      d.arm_timer(peer, kTimerZeroKeyMaterial, 3 * kRejectAfterTime);
    }
    return;
  }
  ++peer.handshake_attempts;
  spdlog::info("{}: handshake did not complete after {} seconds, retrying (try {})",
               peer.describe(), kRekeyTimeout / kNanosPerSecond, peer.handshake_attempts + 1);
  d.send_handshake_initiation(peer, true);
}

void on_send_keepalive(Peer& peer) {
  Device& d = peer.device();
  d.send_keepalive(peer);
  if (peer.need_another_keepalive) {
    peer.need_another_keepalive = false;
    d.arm_timer(peer, kTimerSendKeepalive, kKeepaliveTimeout);
  }
}

void on_new_handshake(Peer& peer) {
  spdlog::info("{}: no reply for {} seconds after sending data, starting a new handshake",
               peer.describe(), (kKeepaliveTimeout + kRekeyTimeout) / kNanosPerSecond);
  peer.device().send_handshake_initiation(peer, false);
}

void on_zero_key_material(Peer& peer) {
  peer.device().zero_key_material(peer);
}

void on_persistent_keepalive(Peer& peer) {
  if (peer.persistent_keepalive_interval != 0) peer.device().send_keepalive(peer);
}

}  // namespace

void timers_fire(Peer& peer, int kind) {
  switch (kind) {
    case kTimerRetransmitHandshake:
      on_retransmit_handshake(peer);
      break;
    case kTimerSendKeepalive:
      on_send_keepalive(peer);
      break;
    case kTimerNewHandshake:
      on_new_handshake(peer);
      break;
    case kTimerZeroKeyMaterial:
      on_zero_key_material(peer);
      break;
    case kTimerPersistentKeepalive:
      on_persistent_keepalive(peer);
      break;
    case kTimerPathProbe:
      peer.device().send_path_probe(peer);
      break;
    default:
      break;
  }
}

}  // namespace waypost::wireguard
