#pragma once
// The TUN device: inner IP packets in and out. Reads land in the caller's fixed slots at the
// data-plane headroom offset, so that tunnels can seal them in place.

#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "dataplane/packet.h"
#include "platform/fd.h"

namespace waypost::platform {

class TunDevice final : public dataplane::PacketSink {
 public:
  // Creates a new TUN interface named `name`. Fails plainly if the name is taken, if
  // /dev/net/tun is missing, or without CAP_NET_ADMIN.
  static Result<TunDevice> create(std::string_view name);

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }

  // Reads up to `max` packets, the i-th into slots + i * kSlotSize + kHeadroom. Returns how many
  // were read (0 when none are waiting). Packets are described in `out`.
  size_t read_batch(uint8_t* slots, std::span<dataplane::Packet> out);

  void push(const uint8_t* data, uint32_t size) override;
  void flush() override {}

  uint64_t write_errors() const { return write_errors_; }

 private:
  TunDevice(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}
  UniqueFd fd_;
  std::string name_;
  uint64_t write_errors_ = 0;
};

}  // namespace waypost::platform
