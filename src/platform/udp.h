#pragma once
// The WireGuard UDP socket: one dual-stack socket (IPv4 peers appear as v4-mapped addresses),
// falling back to IPv4-only where the host has IPv6 disabled. Batched both ways:
//
//   receive: recvmmsg; with GRO the kernel hands over up to 64 KB of same-flow datagrams in one
//            buffer (UDP_GRO), which are split here into views, decrypted in place later;
//   send:    everything queued since the last flush goes out in one sendmmsg; consecutive
//            datagrams to the same endpoint with the same size share one message with
//            UDP_SEGMENT (GSO), pointing at the sealed packets where they are (no copy).

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <functional>
#include <span>
#include <vector>

#include "common/memory.h"
#include "common/result.h"
#include "net/packet.h"
#include "platform/fd.h"
#include "platform/udp_io.h"

namespace waypost::platform {

class UdpSocket final : public UdpIo {
 public:
  static constexpr size_t kMaxQueued = 512;  // datagrams between flushes
  static constexpr size_t kMaxGsoSegments = 64;
  static constexpr size_t kRecvMessages = 32;  // messages per recvmmsg without GRO
  static constexpr size_t kGroMessages = 8;    // 64 KB buffers per recvmmsg with GRO

  // Binds to `port` on all addresses (0 = a free port chosen by the kernel).
  static Result<UdpSocket> bind(uint16_t port, uint32_t fwmark, bool offloads);

  UdpSocket(UdpSocket&&) noexcept;
  UdpSocket& operator=(UdpSocket&&) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  ~UdpSocket() override = default;

  int fd() const override { return fd_.get(); }
  uint16_t port() const override { return port_; }
  bool gro() const override { return gro_; }
  bool gso() const override { return gso_; }
  Status set_fwmark(uint32_t mark) override;
  Status rebind(uint16_t port, uint32_t fwmark) override;

  // Receives what is waiting (at most `max_calls` recvmmsg calls) and calls `deliver` once per
  // call. Buffers are reused after `deliver` returns. Returns the number of datagrams.
  size_t receive(int max_calls, const Deliver& deliver) override;

  void push(const uint8_t* data, uint32_t size, const net::Endpoint& to) override;
  void flush() override;

  uint64_t send_errors() const override { return send_errors_; }
  uint64_t truncated() const override { return truncated_; }

 private:
  UdpSocket() = default;
  void init_buffers();
  void send_queued(bool use_gso);

  UniqueFd fd_;
  uint16_t port_ = 0;
  bool v4_only_ = false;
  bool offloads_ = false;  // asked for at bind(); rebind() asks again
  bool gro_ = false;
  bool gso_ = false;

  struct Queued {
    const uint8_t* data;
    uint32_t size;
    net::Endpoint to;
  };
  std::vector<Queued> queue_;

  PageBuffer rx_;        // receive buffers
  size_t rx_slot_ = 0;   // size of one receive buffer
  size_t rx_count_ = 0;  // buffers per recvmmsg
  std::vector<net::Datagram> rx_views_;

  uint64_t send_errors_ = 0;
  uint64_t truncated_ = 0;
};

}  // namespace waypost::platform
