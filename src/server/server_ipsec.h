#pragma once
// The IKEv2 side of `waypost server`: Algo's road-warrior connection (certificates from the
// server's CA, ipsec_pki.h) served by the IPsec engine of `waypost ipsec` (ipsec::Instance) on a
// thread of its own, with its own TUN device (<wireguard_interface>-ike) holding the server's
// address in each IKEv2 pool. The server's firewall, NAT and resolver cover that device as they
// cover WireGuard's (firewall.cc, dns_settings.cc).
//
// The server talks to the engine through the engine's own control socket, as `waypost ipsec`
// does: the two threads share nothing else, so there is nothing to lock.

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "server/config.h"

namespace waypost::ipsec {
class Instance;
}

namespace waypost::server {

// The swanctl.conf the server runs (also written to <dir>/ipsec/swanctl.conf for reference):
// one connection with Algo's settings (IKE aes256gcm16-prfsha512-ecp384, ESP aes256gcm16-ecp384,
// DPD every 35 s with clear, no rekeying from the server: clients rekey; child SAs last 3 h at
// most; unique = never: a user may connect several devices), pools from strongswan_network*
// with the server's resolver (or dns_servers) as DNS.
std::string server_swanctl_conf(const ServerConfig& config);

// A route on this machine into the IKEv2 pools (a LAN, a container bridge, another VPN) would
// take the clients' return traffic elsewhere: an error with a hint, at init and at up.
Status check_pool_routes(const ServerConfig& config);

class ServerIpsec {
 public:
  // Checks the PKI files (errors name the file), writes the swanctl.conf above and starts the
  // engine. Needs root.
  static Result<std::unique_ptr<ServerIpsec>> start(const std::string& dir,
                                                    const ServerConfig& config);
  ~ServerIpsec();
  ServerIpsec(const ServerIpsec&) = delete;
  ServerIpsec& operator=(const ServerIpsec&) = delete;

  const std::string& interface() const { return name_; }
  // After `users add/remove/disable/enable`: the new CRL is loaded (a revoked or held user
  // cannot authenticate again) and the IKE SAs of `removed` (removed or disabled users) end now.
  Status apply_user_changes(const std::vector<std::string>& removed);
  // The engine's `status --json` (ike_sas with remote_id, child_sas with virtual IPs, counters).
  Result<nlohmann::json> status() const;
  // The user an IKE SA's remote identity belongs to, "" for none.
  std::string user_of(const std::string& remote_id) const;
  // The identities a user's IKEv2 clients present (for the log's user field).
  std::vector<std::string> identities_of(const std::string& user) const;
  // Stops the engine (deleting every IKE SA) and waits for its thread.
  void stop();

 private:
  ServerIpsec() = default;
  Result<nlohmann::json> ask(const nlohmann::json& request) const;

  std::string name_;
  std::string email_domain_;
  std::unique_ptr<ipsec::Instance> instance_;
  std::thread thread_;
};

}  // namespace waypost::server
