#pragma once
// `waypost server up`: the WireGuard interface built from config.yaml and state.json, plus the
// server's networking (forwarding, NAT, filters), the built-in DNS resolver, live changes over
// the control socket ("sync", "dns_reload") or by editing config.yaml and the block lists
// (noticed within seconds), status, and an optional Prometheus endpoint.

#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "daemon/interface_daemon.h"
#include "dns/resolver.h"
#include "platform/fd.h"
#include "server/config.h"
#include "server/firewall.h"
#include "server/ipsec_pki.h"
#include "server/server_ipsec.h"
#include "server/server_web.h"
#include "server/state.h"
#include "server/status.h"

namespace waypost::server {

// The wg-quick style config of the server interface for this config and state.
// Each user as the WireGuard peer the device should have (its keys and tunnel addresses), but
// for the disabled ones (config.disabled_users).
std::vector<wireguard::PeerSpec> user_peers(const ServerState& state, bool ipv6,
                                            const std::vector<std::string>& disabled = {});
wireguard::WgQuickConfig server_interface_config(const ServerConfig& config,
                                                 const ServerState& state);

// Loads config and state, creating keys and addresses for new users (and their bundles), and
// saves the state if it changed. Used by `server up`, `users add/remove` and `sync`.
struct Loaded {
  ServerConfig config;
  ServerState state;
  ReconcileResult changes;
  PkiChanges pki;  // IKEv2 certificates (when ipsec_enabled)
};
Result<Loaded> load_and_reconcile(const std::string& dir);

class ServerDaemon {
 public:
  static Result<std::unique_ptr<ServerDaemon>> start(const std::string& dir);
  Status run() { return iface_->run(); }

 private:
  ServerDaemon() = default;
  nlohmann::json sync();
  ServerStatus status() const;
  void add_ike_sessions(ServerStatus& s) const;
  std::string metrics() const;
  Status start_metrics();
  // Starts, reconfigures or stops the resolver to match `config` (the DNS keys only; others
  // need a restart). Returns what changed, or the error, for the control socket.
  nlohmann::json apply_dns(const ServerConfig& config);
  nlohmann::json dns_reload();
  dns::DnsStatus dns_status() const;
  // Watches config.yaml and the block lists (a cheap stat every few seconds, which also sees
  // editors that replace files) and applies changes as `sync` would.
  Status start_change_watch();
  void check_for_changes();
  std::vector<std::pair<std::string, std::string>> watched_stamps() const;

  std::string dir_;
  ServerConfig config_;
  ServerState state_;
  std::vector<std::string> disabled_;  // config.disabled_users as last applied
  std::unique_ptr<daemon::InterfaceDaemon> iface_;
  std::optional<ServerNetworking> networking_;
  // IKEv2 (ipsec_enabled); before the resolver, which answers on its device's addresses.
  std::unique_ptr<ServerIpsec> ipsec_;
  // Peer keys and IKE identities -> user names, for the journal's WAYPOST_USER field.
  void register_log_names() const;
  int metrics_fd_ = -1;
  // After iface_: destroyed first, while the event loop it registered with still exists.
  std::unique_ptr<dns::Resolver> resolver_;
  std::string dns_problem_;  // why the resolver is not running when it should
  platform::UniqueFd watch_timer_;
  std::vector<std::pair<std::string, std::string>> stamps_;
  // The web admin; last, so it stops first (its thread asks the control socket, not members).
  std::unique_ptr<ServerWeb> web_;
};

}  // namespace waypost::server
