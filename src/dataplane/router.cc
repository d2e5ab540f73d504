#include "dataplane/router.h"

#include "common/bytes.h"

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

void Router::dispatch(std::span<Packet> packets) {
  size_t run_start = 0;
  Tunnel* run_tunnel = nullptr;
  // Packets without a route are compacted out so that each run is contiguous.
  size_t out = 0;
  for (size_t i = 0; i < packets.size(); ++i) {
    Tunnel* t = lookup_destination(packets[i]);
    if (t == nullptr) {
      if (inner_packet_length(packets[i].data, packets[i].size) == 0) {
        ++counters_.bad_inner;
      } else {
        ++counters_.no_route;
      }
      continue;
    }
    if (t != run_tunnel) {
      if (run_tunnel != nullptr) run_tunnel->send(packets.subspan(run_start, out - run_start));
      run_tunnel = t;
      run_start = out;
    }
    packets[out++] = packets[i];
  }
  if (run_tunnel != nullptr) run_tunnel->send(packets.subspan(run_start, out - run_start));
}

bool Router::accept(const Tunnel& from, Packet packet) {
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
  tun_.push(packet.data, packet.size);
  return true;
}

}  // namespace waypost::dataplane
