#pragma once
// Everything one tunnel knows about the size of packets its path carries: the in-tunnel path
// MTU search (pmtu_probe.h), the blackhole detector that restarts it, and the addresses the
// probes go between. The router asks mtu() for every packet (MSS clamping, ICMP synthesis,
// fragmentation); the protocol (WireGuard peer, later an IPsec SA) sends the probes through its
// own sealing path and hands replies back here.

#include <cstdint>
#include <memory>
#include <optional>

#include "common/clock.h"
#include "dataplane/pmtu_probe.h"
#include "net/ip.h"

namespace waypost::dataplane {

// If `packet` is a path MTU probe (an ICMP/ICMPv6 echo request carrying the probe marker, of
// the size it says it has), writes the echo reply into `out` (room for `size` bytes) and
// returns its size; else 0. Waypost answers its peers' probes itself, at the full size and
// with DF, rather than letting the local kernel answer: the kernel would fragment the reply if
// it had cached a smaller path MTU (from our own ICMP packet-too-big, say), and the prober
// would then underestimate the path.
uint32_t answer_probe(const uint8_t* packet, uint32_t size, uint8_t* out);

class PathMtu {
 public:
  explicit PathMtu(uint32_t interface_mtu)
      : search_(PmtuSearch::kDefaultFloor, interface_mtu), interface_mtu_(interface_mtu) {}

  // The largest inner packet this tunnel should carry now. Without a probe target it is the
  // interface MTU (nothing better is known).
  uint32_t mtu() const { return probing_ ? search_.mtu() : interface_mtu_; }
  // What MSS clamping promises a new TCP connection: the size the search has confirmed, which
  // is below mtu() while the search still relies on an unverified starting size (right after a
  // handshake, for the first round). A connection keeps its MSS for life, so it must not be
  // promised a size that may turn out not to fit (pmtu_probe.h).
  uint32_t mss_mtu() const { return probing_ ? search_.confirmed_mtu() : interface_mtu_; }
  uint32_t interface_mtu() const { return interface_mtu_; }
  void set_interface_mtu(uint32_t mtu);

  // Probes go from `local` (one of our tunnel addresses) to `remote` (the peer's). Without a
  // target the tunnel simply uses the interface MTU.
  void set_probe_target(const std::optional<net::IpAddress>& local,
                        const std::optional<net::IpAddress>& remote);
  bool has_probe_target() const { return local_.has_value() && remote_.has_value(); }
  // Whether the target was chosen since the addresses or routes it depends on last changed
  // (PathProber chooses it again when probing starts).
  bool target_current() const { return target_current_; }
  void invalidate_target() { target_current_ = false; }
  // This path's place in its PathProber's list of tunnels (PathProber::attach), so that
  // detaching is O(1) without a per-tunnel hash node.
  uint32_t prober_slot() const { return prober_slot_; }
  void set_prober_slot(uint32_t slot) { prober_slot_ = slot; }
  static constexpr uint32_t kNoSlot = UINT32_MAX;

  // A session exists: probing may start (or continue).
  void start(Nanos now);
  bool probing() const { return probing_; }
  bool searching() const { return probing_ && search_.searching(); }
  Nanos next_wakeup() const { return probing_ ? search_.next_wakeup() : kNever; }

  // Builds the probe due now, if any, into `out` (room for interface_mtu() bytes); returns its
  // size or 0.
  uint32_t build_due_probe(Nanos now, uint8_t* out, uint16_t id);
  // True if `packet` is the reply to one of our probes (then it must not reach the TUN device).
  bool consume_reply(const uint8_t* packet, uint32_t size, uint16_t id, Nanos now);
  // Every packet sent into the tunnel: notices repeated retransmission of large TCP segments.
  // True when that restarted the search: a probe is due at once (Tunnel::schedule_probe).
  bool observe_outbound(const uint8_t* packet, uint32_t size, Nanos now);

  uint64_t probes_sent() const { return probes_sent_; }
  uint64_t blackholes_suspected() const { return blackholes_; }

 private:
  PmtuSearch search_;
  // 1 KB of flow slots: allocated only for tunnels that are probed and carry TCP, so that
  // thousands of idle configured peers stay small.
  std::unique_ptr<LargePacketLossDetector> detector_;
  uint32_t interface_mtu_;
  std::optional<net::IpAddress> local_;
  std::optional<net::IpAddress> remote_;
  bool probing_ = false;
  bool target_current_ = false;
  uint32_t prober_slot_ = kNoSlot;
  uint16_t seq_ = 0;
  uint64_t probes_sent_ = 0;
  uint64_t blackholes_ = 0;
};

}  // namespace waypost::dataplane
