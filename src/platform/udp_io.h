#pragma once
// The WireGuard UDP socket as the interface daemon uses it. The daemon holds this interface
// rather than UdpSocket so that tests can run it against an in-memory double
// (tests/unit/kernel_double.h).
//
// Batch-oriented, so the indirection costs per batch, not per datagram: receive() hands over a
// batch per call, and sends go through net::DatagramSink (virtual already, since the WireGuard
// device only knows the sink) and leave on flush().

#include <cstdint>
#include <functional>
#include <span>

#include "common/result.h"
#include "net/packet.h"

namespace waypost::platform {

class UdpIo : public net::DatagramSink {
 public:
  using Deliver = std::function<void(std::span<net::Datagram>)>;

  // Receives what is waiting (at most `max_calls` batches) and calls `deliver` once per batch.
  // Buffers are reused after `deliver` returns. Returns the number of datagrams.
  virtual size_t receive(int max_calls, const Deliver& deliver) = 0;

  // Readable when datagrams are waiting (the event loop polls it).
  virtual int fd() const = 0;
  virtual uint16_t port() const = 0;
  // Whether UDP_GRO / UDP_SEGMENT are in use (reported by `waypost show`).
  virtual bool gro() const = 0;
  virtual bool gso() const = 0;
  // SO_MARK on everything sent from now on.
  virtual Status set_fwmark(uint32_t mark) = 0;
  // Moves to another port (0 = any free port): flushes, binds a fresh socket with `fwmark` and
  // the same offload choice, and takes its place, so that whoever holds this object (the device
  // holds it as its DatagramSink) keeps sending through it. fd() changes. On failure nothing
  // changes.
  virtual Status rebind(uint16_t port, uint32_t fwmark) = 0;

  virtual uint64_t send_errors() const = 0;
  virtual uint64_t truncated() const = 0;
};

}  // namespace waypost::platform
