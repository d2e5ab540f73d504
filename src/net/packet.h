#pragma once
// Packet and datagram views shared by the I/O layer (platform/: TUN, UDP) and the data plane
// (dataplane/, the protocols). They live here, below both, so that platform/ never includes
// dataplane/.
//
// Packets on the data path are views into buffers owned by the I/O layer (fixed pools allocated at
// start-up; nothing is allocated per packet). Every inner packet handed to a Tunnel has kHeadroom
// writable bytes before `data` and kTailroom after `data + size`, so a tunnel seals it in place:
// it writes its header into the headroom and its padding and tag into the tailroom.

#include <cstdint>
#include <span>

#include "net/ip.h"

namespace waypost::net {

constexpr uint32_t kHeadroom = 64;  // WireGuard needs 16; room left for ESP-in-UDP later
constexpr uint32_t kTailroom = 64;  // WireGuard: up to 15 padding + 16 tag
constexpr uint32_t kMaxMtu = 9200;  // largest inner packet (jumbo frames)
constexpr uint32_t kSlotSize = kHeadroom + kMaxMtu + kTailroom;

struct Packet {
  uint8_t* data = nullptr;
  uint32_t size = 0;
  std::span<uint8_t> bytes() const { return {data, size}; }
};

// A received datagram: payload view plus where it came from.
struct Datagram {
  uint8_t* data = nullptr;
  uint32_t size = 0;
  net::Endpoint from;
};

// Where sealed datagrams go (the UDP socket). Data must stay valid until flush().
class DatagramSink {
 public:
  virtual ~DatagramSink() = default;
  virtual void push(const uint8_t* data, uint32_t size, const net::Endpoint& to) = 0;
  virtual void flush() = 0;
};

// Where opened inner packets go (the TUN device). Data must stay valid until flush().
class PacketSink {
 public:
  virtual ~PacketSink() = default;
  // Mutable: a sink may rewrite headers in place (e.g. when coalescing TCP segments).
  virtual void push(uint8_t* data, uint32_t size) = 0;
  virtual void flush() = 0;
};

// Inner IP header fields the router needs, read without copying.
inline bool ip_version(const Packet& p, int& version) {
  if (p.size < 1) return false;
  version = p.data[0] >> 4;
  return version == 4 || version == 6;
}

}  // namespace waypost::net
