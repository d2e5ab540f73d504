#pragma once
// The WireGuard UDP socket: one dual-stack socket (IPv4 peers appear as v4-mapped addresses),
// falling back to IPv4-only where the host has IPv6 disabled. Batched both ways: recvmmsg into
// the caller's slots, sendmmsg of everything queued since the last flush.

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <span>

#include "common/result.h"
#include "dataplane/packet.h"
#include "platform/fd.h"

namespace waypost::platform {

class UdpSocket final : public dataplane::DatagramSink {
 public:
  static constexpr size_t kBatch = 64;

  // Binds to `port` on all addresses (0 = a free port chosen by the kernel).
  static Result<UdpSocket> bind(uint16_t port, uint32_t fwmark);

  UdpSocket(UdpSocket&&) noexcept;
  UdpSocket& operator=(UdpSocket&&) noexcept;

  int fd() const { return fd_.get(); }
  uint16_t port() const { return port_; }
  Status set_fwmark(uint32_t mark);

  // Receives up to out.size() (<= kBatch) datagrams, the i-th into slots + i * kSlotSize.
  size_t receive_batch(uint8_t* slots, std::span<dataplane::Datagram> out);

  void push(const uint8_t* data, uint32_t size, const net::Endpoint& to) override;
  void flush() override;

  uint64_t send_errors() const { return send_errors_; }
  uint64_t truncated() const { return truncated_; }

 private:
  UdpSocket() = default;

  UniqueFd fd_;
  uint16_t port_ = 0;
  bool v4_only_ = false;

  // Pending sends.
  std::array<mmsghdr, kBatch> out_msgs_{};
  std::array<iovec, kBatch> out_iov_{};
  std::array<sockaddr_storage, kBatch> out_addr_{};
  size_t pending_ = 0;

  // Receive scratch.
  std::array<mmsghdr, kBatch> in_msgs_{};
  std::array<iovec, kBatch> in_iov_{};
  std::array<sockaddr_in6, kBatch> in_addr_{};

  uint64_t send_errors_ = 0;
  uint64_t truncated_ = 0;
};

}  // namespace waypost::platform
