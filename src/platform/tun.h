#pragma once
// The TUN device: inner IP packets in and out.
//
// With offloads (IFF_VNET_HDR + TSO/checksum offload), reads return TCP super-packets of up to
// 64 KB which are split here into MTU-sized packets with full checksums (see offload.h), and
// writes coalesce consecutive TCP segments of a flow into one super-packet. Either way the rest
// of Waypost sees ordinary IP packets; offloads only change how many system calls move them.
// Packets are delivered in the caller's fixed slots at the data-plane headroom offset, so that
// tunnels can seal them in place.

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/memory.h"
#include "common/result.h"
#include "net/packet.h"
#include "platform/fd.h"
#include "platform/offload.h"
#include "platform/tun_io.h"

namespace waypost::platform {

class TunDevice final : public TunIo {
 public:
  // Creates a new TUN interface named `name`. Fails plainly if the name is taken, if
  // /dev/net/tun is missing, or without CAP_NET_ADMIN. `offloads` asks for TSO/checksum
  // offload; if the kernel refuses, the device works without.
  static Result<TunDevice> create(std::string_view name, bool offloads);

  int fd() const override { return fd_.get(); }
  const std::string& name() const override { return name_; }
  bool offloads() const override { return vnet_; }

  // See TunIo::read.
  size_t read(uint8_t* slots, size_t nslots, int max_reads, const Deliver& deliver) override;

  void push(uint8_t* data, uint32_t size) override;
  void flush() override;

  uint64_t write_errors() const override { return write_errors_; }
  uint64_t malformed() const override { return malformed_; }

 private:
  TunDevice(UniqueFd fd, std::string name, bool vnet);
  void write_group(const TcpCoalescer::Group& g);

  UniqueFd fd_;
  std::string name_;
  bool vnet_ = false;
  PageBuffer staging_;  // one super-packet (vnet mode)
  TcpCoalescer coalescer_;
  uint64_t write_errors_ = 0;
  uint64_t malformed_ = 0;
};

}  // namespace waypost::platform
