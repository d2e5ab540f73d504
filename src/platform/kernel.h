#pragma once
// Everything the interface daemon and its wg-quick style setup ask of the kernel, behind one
// narrow interface: the TUN device, the UDP socket, an rtnetlink socket, and the nftables and
// sysctl writes that policy routing needs. The daemon and the setup take a Kernel& (the running
// system's unless told otherwise), so unit tests can hand them an in-memory double
// (tests/unit/kernel_double.h) and check their decisions without root or a network namespace.
//
// Only the opening of devices and sockets goes through here; their I/O then goes through the
// objects returned, one virtual call per batch (tun_io.h, udp_io.h).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "platform/netlink_io.h"
#include "platform/tun_io.h"
#include "platform/udp_io.h"

namespace waypost::platform {

class Kernel {
 public:
  virtual ~Kernel() = default;

  // A new TUN interface (TunDevice::create).
  virtual Result<std::unique_ptr<TunIo>> create_tun(std::string_view name, bool offloads) = 0;
  // The WireGuard UDP socket on `port`, 0 = any free port (UdpSocket::bind).
  virtual Result<std::unique_ptr<UdpIo>> bind_udp(uint16_t port, uint32_t fwmark,
                                                  bool offloads) = 0;
  // An rtnetlink socket in the current network namespace (Netlink::open).
  virtual Result<std::unique_ptr<NetlinkIo>> open_netlink() = 0;
  // One nftables transaction (firewall_nft.h).
  virtual Status nft_run(std::string_view script) = 0;
  // Kernel parameters by sysctl(8) name (sysctl.h).
  virtual Result<std::string> sysctl_read(std::string_view key) = 0;
  virtual Status sysctl_write(std::string_view key, std::string_view value) = 0;
};

// The running Linux kernel: the classes and functions of tun.h, udp.h, netlink.h,
// firewall_nft.h and sysctl.h. Lives as long as the process.
Kernel& system_kernel();

}  // namespace waypost::platform
