#pragma once
// Cryptokey routing, protocol-agnostic: inner destination -> Tunnel on the way out (longest
// prefix match), and on the way in a packet is accepted only if its inner source routes back to
// the tunnel it arrived on. WireGuard AllowedIPs and IPsec traffic selectors both land here.

#include <cstdint>
#include <span>

#include "dataplane/packet.h"
#include "dataplane/prefix_trie.h"
#include "dataplane/tunnel.h"

namespace waypost::dataplane {

struct RouterCounters {
  uint64_t no_route = 0;        // outbound packets no tunnel claims
  uint64_t bad_inner = 0;       // not IPv4/IPv6 or truncated header
  uint64_t source_rejected = 0; // inbound packets whose source is not routed to their tunnel
};

class Router {
 public:
  explicit Router(PacketSink& tun) : tun_(tun) {}

  PrefixTrie<Tunnel*>& table() { return table_; }
  const PrefixTrie<Tunnel*>& table() const { return table_; }

  // Outbound: packets read from the TUN device. Consecutive packets for the same tunnel are
  // handed over as one batch.
  void dispatch(std::span<Packet> packets);

  // Inbound: a tunnel opened `packet`; trims it to its IP length and queues it for the TUN
  // device if its source belongs to `from`. Returns false (and counts) otherwise.
  bool accept(const Tunnel& from, Packet packet);
  void flush() { tun_.flush(); }

  Tunnel* lookup_destination(const Packet& p) const;
  Tunnel* lookup_source(const Packet& p) const;
  const RouterCounters& counters() const { return counters_; }

 private:
  PrefixTrie<Tunnel*> table_;
  PacketSink& tun_;
  RouterCounters counters_;
};

// Validates an inner IP header and returns the packet's length per that header (<= size), or 0
// if the packet is not a well-formed IPv4/IPv6 packet.
uint32_t inner_packet_length(const uint8_t* data, uint32_t size);

}  // namespace waypost::dataplane
