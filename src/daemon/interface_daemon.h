#pragma once
// One running WireGuard interface: the TUN device, the UDP socket, the protocol device, the
// UAPI and control sockets, and the wg-quick style setup around them, driven by one event loop.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/memory.h"
#include "common/result.h"
#include "common/work_pool.h"
#include "control/stream_server.h"
#include "crypto/random.h"
#include "daemon/interface_setup.h"
#include "daemon/status.h"
#include "dataplane/path_prober.h"
#include "dataplane/router.h"
#include "platform/event_loop.h"
#include "platform/kernel.h"
#include "platform/netlink.h"
#include "wireguard/conf.h"
#include "wireguard/device.h"

namespace waypost::daemon {

struct DaemonOptions {
  std::string ifname;
  wireguard::WgQuickConfig config;
  // TUN TSO/checksum offload and UDP GSO/GRO. WAYPOST_OFFLOADS=0 in the environment turns
  // them off whatever this says (for debugging and for comparing).
  bool offloads = true;
  // Where the TUN device, the UDP socket and the setup's netlink requests come from; nullptr =
  // the running system. Must outlive the daemon.
  platform::Kernel* kernel = nullptr;
};

// Whether offloads are on for this process: `configured`, unless WAYPOST_OFFLOADS=0/off.
bool offloads_enabled(bool configured);

class InterfaceDaemon final : public wireguard::DeviceHost {
 public:
  // Brings the interface up completely (the point at which `waypost up` may return), or fails
  // with a message for the user, having undone what it did.
  static Result<std::unique_ptr<InterfaceDaemon>> start(DaemonOptions options);
  ~InterfaceDaemon() override;

  // Runs until a signal or a "down" request; then tears down (PreDown/PostDown hooks, rules).
  Status run();

  // Extension points for the server mode: extra control-socket commands, extra "show" fields,
  // and work to undo before the interface setup is torn down.
  using CommandHandler = std::function<nlohmann::json(const nlohmann::json& request)>;
  void add_command(const std::string& name, CommandHandler handler);
  void add_teardown(std::function<Status()> step);
  // What SIGHUP does (nothing by default).
  void set_reload_handler(std::function<void()> handler) { reload_handler_ = std::move(handler); }
  wireguard::Device& device() { return device_; }
  platform::EventLoop& loop() { return loop_; }
  const std::string& ifname() const { return options_.ifname; }
  // What `show` reports, typed; show_json() is its JSON form (the control socket's `show`).
  InterfaceStatus status() const;
  nlohmann::json show_json() const;

  // DeviceHost
  Result<uint16_t> bind_port(uint16_t port) override;
  Status set_fwmark(uint32_t mark) override;

 private:
  InterfaceDaemon(DaemonOptions options, platform::EventLoop loop,
                  std::unique_ptr<platform::TunIo> tun, std::unique_ptr<platform::UdpIo> udp);
  Status configure_device();
  Status open_sockets();
  void on_tun_readable();
  void on_udp_readable();
  Nanos before_wait();
  void kick_persistent_keepalives();
  void on_route_change();
  // `admin`: the caller is root (daemon/access.h); others may only use read-only commands.
  nlohmann::json handle_control(const nlohmann::json& request, bool admin);
  Status teardown();

  DaemonOptions options_;
  SystemClock clock_;
  platform::EventLoop loop_;
  // Never null and never replaced: the router and the device hold them as their sinks.
  std::unique_ptr<platform::TunIo> tun_;
  std::unique_ptr<platform::UdpIo> udp_;
  dataplane::Router router_;
  dataplane::PathProber prober_;  // the interface MTU's one owner
  WorkPool crypto_pool_;
  wireguard::Device device_;
  std::unique_ptr<control::StreamServer> uapi_server_;
  std::unique_ptr<control::StreamServer> control_server_;
  std::optional<InterfaceSetup> setup_;
  platform::UniqueFd signal_fd_;
  std::optional<platform::RouteMonitor> route_monitor_;
  bool torn_down_ = false;
  std::map<std::string, CommandHandler> commands_;
  std::vector<std::function<Status()>> teardown_steps_;
  std::function<void()> reload_handler_;

  // Batch buffers, allocated once.
  static constexpr size_t kTunBatch = 128;
  PageBuffer tun_slots_;
};

// Whether this process may configure networking (root or CAP_NET_ADMIN).
bool have_net_admin();

}  // namespace waypost::daemon
