#pragma once
// All timer policy of the protocol (paper 6.2-6.5; the Linux module's timers.c), as event hooks
// called from the send and receive paths, and the handlers for when a timer fires. Keeping the
// whole policy in one file makes it reviewable against the paper in one sitting.

#include "wireguard/peer.h"

namespace waypost::wireguard {

// --- Event hooks ---------------------------------------------------------------------------
// An authenticated data packet (not a keepalive) was sent.
void timers_data_sent(Peer& peer);
// An authenticated data packet (not a keepalive) was received.
void timers_data_received(Peer& peer);
// Any authenticated packet (data, keepalive, handshake) was sent / received.
void timers_any_authenticated_packet_sent(Peer& peer);
void timers_any_authenticated_packet_received(Peer& peer);
// Any authenticated packet is about to be sent or was received.
void timers_any_authenticated_packet_traversal(Peer& peer);
// A handshake initiation was sent.
void timers_handshake_initiated(Peer& peer);
// A handshake completed: response consumed, or first data under a responder-side session.
void timers_handshake_complete(Peer& peer);
// New session keys were derived.
void timers_session_derived(Peer& peer);

// Dispatches a fired timer to its handler.
void timers_fire(Peer& peer, int kind);

}  // namespace waypost::wireguard
