#pragma once
// Cryptokey routing, protocol-agnostic: inner destination -> Tunnel on the way out (longest
// prefix match), and on the way in a packet is accepted only if its inner source routes back to
// the tunnel it arrived on. WireGuard AllowedIPs and IPsec traffic selectors both land here.
//
// MTU policy lives here too, in one place for every protocol: TCP SYNs are clamped to the
// tunnel's path MTU in both directions, and a packet too big for its tunnel is answered with an
// ICMP "fragmentation needed" / "packet too big" toward the TUN device (IPv4 without DF is
// fragmented instead), so that the sending stack adapts at once instead of losing the packet
// silently somewhere on the path.

#include <cstdint>
#include <span>
#include <vector>

#include "common/clock.h"
#include "common/memory.h"
#include "dataplane/packet.h"
#include "dataplane/prefix_trie.h"
#include "dataplane/tunnel.h"

namespace waypost::dataplane {

struct RouterCounters {
  uint64_t no_route = 0;         // outbound packets no tunnel claims
  uint64_t bad_inner = 0;        // not IPv4/IPv6 or truncated header
  uint64_t source_rejected = 0;  // inbound packets whose source is not routed to their tunnel
  uint64_t mss_clamped = 0;      // SYNs whose MSS was lowered (both directions)
  uint64_t too_big = 0;          // outbound packets answered with ICMP packet-too-big
  uint64_t fragmented = 0;       // outbound IPv4 packets fragmented to fit
  uint64_t mtu_dropped = 0;      // too big, and neither answerable nor fragmentable
};

class Router {
 public:
  explicit Router(PacketSink& tun, const Clock* clock = nullptr);

  PrefixTrie<Tunnel*>& table() { return table_; }
  const PrefixTrie<Tunnel*>& table() const { return table_; }

  // Outbound: packets read from the TUN device. Consecutive packets for the same tunnel are
  // handed over as one batch. Fragments made here live until the next dispatch().
  void dispatch(std::span<Packet> packets);

  // Inbound: a tunnel opened `packet`; trims it to its IP length, clamps a SYN's MSS to the
  // tunnel's path, and queues it for the TUN device if its source belongs to `from`. Returns
  // false (and counts) otherwise.
  bool accept(Tunnel& from, Packet packet);
  void flush() { tun_.flush(); }

  Tunnel* lookup_destination(const Packet& p) const;
  Tunnel* lookup_source(const Packet& p) const;
  const RouterCounters& counters() const { return counters_; }

 private:
  // Applies the MTU policy to one outbound packet; appends what should be sent to `out`.
  void apply_mtu(Tunnel& t, const Packet& p, std::vector<Packet>& out);
  uint8_t* arena_slot();

  PrefixTrie<Tunnel*> table_;
  PacketSink& tun_;
  const Clock* clock_;
  RouterCounters counters_;
  // Fragments and synthesized ICMP errors: fixed slots with data-plane head/tailroom.
  static constexpr size_t kArenaSlots = 128;
  PageBuffer arena_;
  size_t arena_used_ = 0;
  std::vector<Packet> run_;  // packets of the current tunnel run
};

// Validates an inner IP header and returns the packet's length per that header (<= size), or 0
// if the packet is not a well-formed IPv4/IPv6 packet.
uint32_t inner_packet_length(const uint8_t* data, uint32_t size);

}  // namespace waypost::dataplane
