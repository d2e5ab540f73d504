#include "platform/kernel.h"

#include "platform/firewall_nft.h"
#include "platform/netlink.h"
#include "platform/sysctl.h"
#include "platform/tun.h"
#include "platform/udp.h"

namespace waypost::platform {

namespace {

// Forwards to the real implementations. Opening is rare (start-up, a UAPI port change), so the
// heap allocation of each object costs nothing that matters.
class LinuxKernel final : public Kernel {
 public:
  Result<std::unique_ptr<TunIo>> create_tun(std::string_view name, bool offloads) override {
    auto tun = TunDevice::create(name, offloads);
    if (!tun) return tun.take_error();
    return std::unique_ptr<TunIo>(std::make_unique<TunDevice>(std::move(*tun)));
  }

  Result<std::unique_ptr<UdpIo>> bind_udp(uint16_t port, uint32_t fwmark, bool offloads) override {
    auto udp = UdpSocket::bind(port, fwmark, offloads);
    if (!udp) return udp.take_error();
    return std::unique_ptr<UdpIo>(std::make_unique<UdpSocket>(std::move(*udp)));
  }

  Result<std::unique_ptr<NetlinkIo>> open_netlink() override {
    auto nl = Netlink::open();
    if (!nl) return nl.take_error();
    return std::unique_ptr<NetlinkIo>(std::make_unique<Netlink>(std::move(*nl)));
  }

  Status nft_run(std::string_view script) override { return platform::nft_run(script); }

  Result<std::string> sysctl_read(std::string_view key) override {
    return platform::sysctl_read(key);
  }

  Status sysctl_write(std::string_view key, std::string_view value) override {
    return platform::sysctl_write(key, value);
  }
};

}  // namespace

Kernel& system_kernel() {
  static LinuxKernel kernel;
  return kernel;
}

}  // namespace waypost::platform
