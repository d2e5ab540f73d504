#include "wireguard/timers.h"

#include "common/log.h"
#include "wireguard/peer_set.h"

namespace waypost::wireguard {

// --- Event hooks ---------------------------------------------------------------------------

void timers_data_sent(Peer& peer) {
  // If nothing comes back within KEEPALIVE + REKEY_TIMEOUT, assume the session is dead and start
  // a new handshake.
  if (!peer.timers().pending(kTimerNewHandshake)) {
    PeerSet& s = peer.set();
    s.arm(peer, kTimerNewHandshake, kKeepaliveTimeout + kRekeyTimeout + s.jitter());
  }
}

void timers_data_received(Peer& peer) {
  // Acknowledge data with a keepalive if we have nothing to send back within KEEPALIVE.
  if (!peer.timers().pending(kTimerSendKeepalive)) {
    peer.set().arm(peer, kTimerSendKeepalive, kKeepaliveTimeout);
  } else {
    peer.timing().need_another_keepalive = true;
  }
}

void timers_any_authenticated_packet_sent(Peer& peer) {
  peer.set().cancel(peer, kTimerSendKeepalive);
}

void timers_any_authenticated_packet_received(Peer& peer) {
  peer.set().cancel(peer, kTimerNewHandshake);
}

void timers_any_authenticated_packet_traversal(Peer& peer) {
  if (peer.persistent_keepalive() != 0) {
    peer.set().arm(peer, kTimerPersistentKeepalive, seconds(peer.persistent_keepalive()));
  }
}

void timers_handshake_initiated(Peer& peer) {
  PeerSet& s = peer.set();
  s.arm(peer, kTimerRetransmitHandshake, kRekeyTimeout + s.jitter());
}

void timers_handshake_complete(Peer& peer) {
  peer.set().cancel(peer, kTimerRetransmitHandshake);
  peer.timing().attempts = 0;
  peer.timing().sent_lastminute_handshake = false;
  peer.set_last_handshake(peer.set().clock().wall());
  ++peer.counters().handshakes_completed;
  {
    const ScopedLogFields fields(peer.log_fields());
    spdlog::info("{}: handshake complete", peer.describe());
  }
  peer.actions().start_path_probing(peer);
}

void timers_session_derived(Peer& peer) {
  peer.set().arm(peer, kTimerZeroKeyMaterial, 3 * kRejectAfterTime);
}

// --- Handlers ------------------------------------------------------------------------------

namespace {

void on_retransmit_handshake(Peer& peer) {
  PeerSet& s = peer.set();
  PeerActions& act = peer.actions();
  const ScopedLogFields fields(peer.log_fields());
  if (peer.timing().attempts > kMaxTimerHandshakes) {
    spdlog::info("{}: handshake did not complete after {} attempts, giving up", peer.describe(),
                 kMaxTimerHandshakes + 2);
    s.cancel(peer, kTimerSendKeepalive);
    // Without a session for this long, queued packets are stale: drop them, and do not retry
    // until new traffic asks for a session.
    act.drop_staged(peer);
    if (!peer.timers().pending(kTimerZeroKeyMaterial)) {
      s.arm(peer, kTimerZeroKeyMaterial, 3 * kRejectAfterTime);
    }
    return;
  }
  ++peer.timing().attempts;
  spdlog::info("{}: handshake did not complete after {} seconds, retrying (try {})",
               peer.describe(), kRekeyTimeout / kNanosPerSecond, peer.timing().attempts + 1);
  act.send_handshake_initiation(peer, true);
}

void on_send_keepalive(Peer& peer) {
  peer.actions().send_keepalive(peer);
  if (peer.timing().need_another_keepalive) {
    peer.timing().need_another_keepalive = false;
    peer.set().arm(peer, kTimerSendKeepalive, kKeepaliveTimeout);
  }
}

void on_new_handshake(Peer& peer) {
  const ScopedLogFields fields(peer.log_fields());
  spdlog::info("{}: no reply for {} seconds after sending data, starting a new handshake",
               peer.describe(), (kKeepaliveTimeout + kRekeyTimeout) / kNanosPerSecond);
  peer.actions().send_handshake_initiation(peer, false);
}

void on_zero_key_material(Peer& peer) {
  peer.actions().zero_key_material(peer);
}

void on_persistent_keepalive(Peer& peer) {
  if (peer.persistent_keepalive() != 0) peer.actions().send_keepalive(peer);
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
      peer.actions().path_probe_due(peer);
      break;
    default:
      break;
  }
}

}  // namespace waypost::wireguard
