#include "dataplane/router.h"

#include <cstring>

#include "common/bytes.h"
#include "dataplane/mtu.h"

namespace waypost::dataplane {

uint32_t inner_packet_length(const uint8_t* data, uint32_t size) {
  if (size < 1) return 0;
  switch (data[0] >> 4) {
    case 4: {
      if (size < 20) return 0;
      uint32_t total = load_be16(data + 2);
      uint32_t ihl = uint32_t(data[0] & 0x0f) * 4;
      if (ihl < 20 || total < ihl || total > size) return 0;
      return total;
    }
    case 6: {
      if (size < 40) return 0;
      uint32_t total = 40 + load_be16(data + 4);
      if (total > size) return 0;
      return total;
    }
    default:
      return 0;
  }
}

Router::Router(PacketSink& tun, const Clock* clock)
    : tun_(tun), clock_(clock), arena_(kArenaSlots * kSlotSize) {
  run_.reserve(256);
}

Tunnel* Router::lookup_destination(const Packet& p) const {
  if (p.size >= 20 && (p.data[0] >> 4) == 4) return table_.lookup_v4(p.data + 16);
  if (p.size >= 40 && (p.data[0] >> 4) == 6) return table_.lookup_v6(p.data + 24);
  return nullptr;
}

Tunnel* Router::lookup_source(const Packet& p) const {
  if (p.size >= 20 && (p.data[0] >> 4) == 4) return table_.lookup_v4(p.data + 12);
  if (p.size >= 40 && (p.data[0] >> 4) == 6) return table_.lookup_v6(p.data + 8);
  return nullptr;
}

namespace {
bool is_tcp_syn(const uint8_t* p, uint32_t size) {
  // A quick pre-check on the common header layouts; clamp_tcp_mss does the careful parsing.
  if ((p[0] >> 4) == 4) {
    const uint32_t ihl = uint32_t(p[0] & 0x0f) * 4;
    return p[9] == 6 && size >= ihl + 14 && (p[ihl + 13] & 0x02) != 0;
  }
  return p[6] == 6 ? size >= 54 && (p[53] & 0x02) != 0 : p[6] != 17 && p[6] != 58;
}
// An ICMP/ICMPv6 echo reply whose payload starts with the probe marker (pmtu_probe.h).
bool is_probe_echo_reply(const uint8_t* p, uint32_t size) {
  uint32_t l4 = 0;
  if ((p[0] >> 4) == 4) {
    l4 = uint32_t(p[0] & 0x0f) * 4;
    if (p[9] != 1 || size < l4 + 12 || p[l4] != 0) return false;
  } else {
    l4 = 40;
    if (p[6] != 58 || size < l4 + 12 || p[l4] != 129) return false;
  }
  return load_be32(p + l4 + 8) == kProbeMarker;
}
}  // namespace

uint8_t* Router::arena_slot() {
  if (arena_used_ == kArenaSlots) return nullptr;
  return arena_.data() + (arena_used_++) * kSlotSize + kHeadroom;
}

void Router::apply_mtu(Tunnel& t, const Packet& p, std::vector<Packet>& out) {
  const uint32_t mtu = t.path().mtu();
  const bool v6 = (p.data[0] >> 4) == 6;
  if (is_tcp_syn(p.data, p.size) &&
      clamp_tcp_mss(p.data, p.size, mss_for_mtu(t.path().mss_mtu(), v6))) {
    ++counters_.mss_clamped;
  }
  if (p.size <= mtu) {
    // A suspected blackhole restarts the search; its first probe must not wait for the
    // periodic re-probe timer that is pending while the search is idle.
    if (clock_ != nullptr && t.path().observe_outbound(p.data, p.size, clock_->now())) {
      t.schedule_probe(0);
    }
    out.push_back(p);
    return;
  }
  // Too big for this tunnel's path. Except: the answer to a peer's path MTU probe must go out at
  // the size asked, or two Waypost peers probing each other would each hide the truth from the
  // other.
  if (is_probe_echo_reply(p.data, p.size)) {
    out.push_back(p);
    return;
  }
  if (!v6 && !ipv4_dont_fragment(p.data, p.size)) {
    uint8_t scratch[kMaxMtu];
    bool ok = fragment_ipv4(p.data, p.size, mtu, scratch, sizeof(scratch),
                            [&](const uint8_t* frag, uint32_t len) {
                              uint8_t* slot = arena_slot();
                              if (slot == nullptr) return;
                              std::memcpy(slot, frag, len);
                              out.push_back({slot, len});
                            });
    if (ok) {
      ++counters_.fragmented;
      return;
    }
  } else if (uint8_t* slot = arena_slot()) {
    // The error comes "from" the destination the packet could not reach: a source the local
    // stack accepts on this interface (our own address would look martian) and, for forwarded
    // traffic, one that the NAT translates back like the rest of the connection.
    const net::IpAddress from =
        v6 ? net::IpAddress::v6_bytes(p.data + 24) : net::IpAddress::v4_bytes(p.data + 16);
    uint32_t n = make_packet_too_big(p.data, p.size, mtu, from, slot, kMaxMtu);
    if (n != 0) {
      ++counters_.too_big;
      tun_.push(slot, n);
      return;
    }
  }
  ++counters_.mtu_dropped;
}

void Router::dispatch(std::span<Packet> packets) {
  arena_used_ = 0;  // the previous batch has been flushed
  Tunnel* run_tunnel = nullptr;
  run_.clear();
  for (Packet& p : packets) {
    Tunnel* t = lookup_destination(p);
    if (t == nullptr) {
      if (inner_packet_length(p.data, p.size) == 0) {
        ++counters_.bad_inner;
      } else {
        ++counters_.no_route;
      }
      continue;
    }
    if (t != run_tunnel) {
      if (run_tunnel != nullptr && !run_.empty()) run_tunnel->send(run_);
      run_.clear();
      run_tunnel = t;
    }
    apply_mtu(*t, p, run_);
  }
  if (run_tunnel != nullptr && !run_.empty()) run_tunnel->send(run_);
  run_.clear();
}

bool Router::accept(Tunnel& from, Packet packet) {
  uint32_t len = inner_packet_length(packet.data, packet.size);
  if (len == 0) {
    ++counters_.bad_inner;
    return false;
  }
  packet.size = len;
  if (lookup_source(packet) != &from) {
    ++counters_.source_rejected;
    return false;
  }
  // The peer's SYN tells our side what segment size to send back: make it fit the path.
  if (is_tcp_syn(packet.data, packet.size) &&
      clamp_tcp_mss(packet.data, packet.size,
                    mss_for_mtu(from.path().mss_mtu(), (packet.data[0] >> 4) == 6))) {
    ++counters_.mss_clamped;
  }
  tun_.push(packet.data, packet.size);
  return true;
}

}  // namespace waypost::dataplane
