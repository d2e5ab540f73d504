#pragma once
// The TUN device as the interface daemon uses it. The daemon holds this interface rather than
// TunDevice so that tests can run it against an in-memory double (tests/unit/kernel_double.h).
//
// Batch-oriented, so the indirection costs per batch, not per packet: read() hands over up to a
// slot array of packets per call, and writes go through net::PacketSink (virtual already, since
// the router only knows the sink) and leave on flush().

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "net/packet.h"

namespace waypost::platform {

class TunIo : public net::PacketSink {
 public:
  using Deliver = std::function<void(std::span<net::Packet>)>;

  // Reads what is waiting (at most `max_reads` reads), placing packet i of a batch at
  // slots + i * kSlotSize + kHeadroom, and calls `deliver` whenever the `nslots` slots are full
  // and at the end. Slots are reused after `deliver` returns. Returns the number of packets.
  virtual size_t read(uint8_t* slots, size_t nslots, int max_reads, const Deliver& deliver) = 0;

  // Readable when packets are waiting (the event loop polls it).
  virtual int fd() const = 0;
  virtual const std::string& name() const = 0;
  // Whether TSO/checksum offload is on (reported by `waypost show`).
  virtual bool offloads() const = 0;
  virtual uint64_t write_errors() const = 0;
  virtual uint64_t malformed() const = 0;
};

}  // namespace waypost::platform
