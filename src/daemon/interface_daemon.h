#pragma once
// One running WireGuard interface: the TUN device, the UDP socket, the protocol device, the
// UAPI and control sockets, and the wg-quick style setup around them, driven by one event loop.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/result.h"
#include "control/stream_server.h"
#include "crypto/random.h"
#include "daemon/interface_setup.h"
#include "dataplane/router.h"
#include "platform/event_loop.h"
#include "platform/tun.h"
#include "platform/udp.h"
#include "wireguard/conf.h"
#include "wireguard/device.h"

namespace waypost::daemon {

struct DaemonOptions {
  std::string ifname;
  wireguard::WgQuickConfig config;
};

class InterfaceDaemon final : public wireguard::DeviceHost {
 public:
  // Brings the interface up completely (the point at which `waypost up` may return), or fails
  // with a message for the user, having undone what it did.
  static Result<std::unique_ptr<InterfaceDaemon>> start(DaemonOptions options);
  ~InterfaceDaemon() override;

  // Runs until a signal or a "down" request; then tears down (PreDown/PostDown hooks, rules).
  Status run();

  // DeviceHost
  Result<uint16_t> bind_port(uint16_t port) override;
  Status set_fwmark(uint32_t mark) override;

 private:
  InterfaceDaemon(DaemonOptions options, platform::EventLoop loop, platform::TunDevice tun,
                  platform::UdpSocket udp);
  Status configure_device();
  Status open_sockets();
  void on_tun_readable();
  void on_udp_readable();
  Nanos before_wait();
  void kick_persistent_keepalives();
  nlohmann::json show_json() const;
  nlohmann::json handle_control(const nlohmann::json& request);
  Status teardown();

  DaemonOptions options_;
  SystemClock clock_;
  platform::EventLoop loop_;
  platform::TunDevice tun_;
  platform::UdpSocket udp_;
  dataplane::Router router_;
  wireguard::Device device_;
  std::unique_ptr<control::StreamServer> uapi_server_;
  std::unique_ptr<control::StreamServer> control_server_;
  std::optional<InterfaceSetup> setup_;
  platform::UniqueFd signal_fd_;
  bool torn_down_ = false;

  // Batch buffers, allocated once.
  static constexpr size_t kBatch = platform::UdpSocket::kBatch;
  std::vector<uint8_t> tun_slots_;
  std::vector<uint8_t> udp_slots_;
  std::vector<dataplane::Packet> tun_packets_;
  std::vector<dataplane::Datagram> udp_datagrams_;
};

// Whether this process may configure networking (root or CAP_NET_ADMIN).
bool have_net_admin();

}  // namespace waypost::daemon
