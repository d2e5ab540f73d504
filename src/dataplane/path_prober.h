#pragma once
// Drives in-tunnel path MTU discovery (path_mtu.h, pmtu_probe.h) for every tunnel of one
// interface, whatever protocol the tunnel speaks: it owns the interface MTU, chooses whom each
// tunnel pings, sends the probes that are due through the tunnel, answers the peers' probes and
// takes the replies to ours out of the inbound stream. A tunnel supplies only what is
// protocol-specific (Tunnel::overhead, send_probe, schedule_probe), so an IPsec SA gets the same
// discovery as a WireGuard peer without a line of its own.
//
// Threading: the event loop's thread, like the router.

#include <cstdint>
#include <vector>

#include "common/clock.h"
#include "common/memory.h"
#include "dataplane/router.h"
#include "dataplane/tunnel.h"
#include "net/ip.h"

namespace waypost::dataplane {

class PathProber {
 public:
  // `probe_id` is the ICMP identifier of our probes (random per interface, so that two
  // interfaces, or two Waypost peers, never take each other's replies); `interface_mtu` the
  // MTU until set_interface_mtu (the protocol's default).
  PathProber(const Clock& clock, const Router& router, uint16_t probe_id, uint32_t interface_mtu);
  PathProber(const PathProber&) = delete;
  PathProber& operator=(const PathProber&) = delete;

  // The interface MTU: the largest inner packet any tunnel carries, and where each tunnel's path
  // search starts. This is its one owner; attached tunnels follow every change.
  uint32_t interface_mtu() const { return interface_mtu_; }
  void set_interface_mtu(uint32_t mtu);
  // Our tunnel addresses (Address=): the source of probes, and a hint to find the peer's tunnel
  // address to probe. Every tunnel chooses its target again.
  void set_local_addresses(std::vector<net::Prefix> addresses);

  // Tunnels whose path follows the interface MTU. A tunnel detaches before it is destroyed.
  void attach(Tunnel& tunnel);
  void detach(Tunnel& tunnel);
  // The routes to `tunnel` changed (allowed IPs, traffic selectors): choose its target again.
  void routes_changed(Tunnel& tunnel) { tunnel.path().invalidate_target(); }

  // The tunnel has a new session: choose its target if needed and start (or continue) probing.
  void start(Tunnel& tunnel);
  // The tunnel's probe timer fired (Tunnel::schedule_probe).
  void on_wakeup(Tunnel& tunnel);
  // An inner packet `tunnel` opened (`size` from its outer framing; trimmed here to the IP
  // length). True if it was a peer's probe (answered) or the reply to one of ours (consumed):
  // then it must not reach the TUN device.
  bool intercept(Tunnel& tunnel, uint8_t* packet, uint32_t size);

  uint16_t probe_id() const { return probe_id_; }

 private:
  void choose_target(Tunnel& tunnel);
  bool answer(Tunnel& tunnel, const uint8_t* packet, uint32_t size);
  // Logs (debug) a change of the path MTU or of what MSS clamping uses, given both before.
  void log_change(Tunnel& tunnel, uint32_t mtu_before, uint32_t mss_mtu_before);
  uint8_t* scratch();

  const Clock& clock_;
  const Router& router_;
  const uint16_t probe_id_;
  uint32_t interface_mtu_;
  std::vector<net::Prefix> local_addresses_;
  std::vector<Tunnel*> tunnels_;  // index = PathMtu::prober_slot()
  PageBuffer buffer_;             // one slot for the probe or answer being sealed
};

}  // namespace waypost::dataplane
