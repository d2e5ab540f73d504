#pragma once
// `waypost server up`: the WireGuard interface built from config.yaml and state.json, plus the
// server's networking (forwarding, NAT, filters), live user changes over the control socket
// ("sync"), status, and an optional Prometheus endpoint.

#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "daemon/interface_daemon.h"
#include "server/config.h"
#include "server/firewall.h"
#include "server/state.h"

namespace waypost::server {

// The wg-quick style config of the server interface for this config and state.
wireguard::WgQuickConfig server_interface_config(const ServerConfig& config,
                                                 const ServerState& state);

// Loads config and state, creating keys and addresses for new users (and their bundles), and
// saves the state if it changed. Used by `server up`, `users add/remove` and `sync`.
struct Loaded {
  ServerConfig config;
  ServerState state;
  ReconcileResult changes;
};
Result<Loaded> load_and_reconcile(const std::string& dir);

class ServerDaemon {
 public:
  static Result<std::unique_ptr<ServerDaemon>> start(const std::string& dir);
  Status run() { return iface_->run(); }

 private:
  ServerDaemon() = default;
  nlohmann::json sync();
  nlohmann::json status() const;
  std::string metrics() const;
  Status start_metrics();

  std::string dir_;
  ServerConfig config_;
  ServerState state_;
  std::unique_ptr<daemon::InterfaceDaemon> iface_;
  std::optional<ServerNetworking> networking_;
  int metrics_fd_ = -1;
};

}  // namespace waypost::server
