#pragma once
// Everything `waypost doctor` observes of the machine, behind one interface: the running
// daemons (over their control sockets), routes, probes, resolvers, sysctls, the nftables ruleset,
// the clock and the server's configuration. run_doctor() only decides; the real machine is
// make_system() (system.cc, the one doctor file that talks to the kernel, the daemons and
// server/), and unit tests drive run_doctor against a fake with no daemon, server or root.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "doctor/clock_check.h"
#include "doctor/mtu_search.h"
#include "doctor/probes.h"
#include "doctor/server_checks.h"
#include "net/ip.h"

namespace waypost::doctor {

// What the server checks need to know of config.yaml.
struct ServerFacts {
  std::string config_path;
  std::string interface;  // wireguard_interface
  bool ipv6 = false;
  bool runs_resolver = false;
  bool dns_adblocking = false;
  std::vector<std::string> url_blocklists;  // lists given as URLs (skipped by the resolver)
  std::string firewall_table;               // the server's own nftables table
  uint16_t wireguard_port = 0;
  bool ipsec_enabled = false;  // IKEv2 on UDP 500/4500 beside WireGuard
};

struct DefaultRoutes {
  DefaultRouteView v4;
  DefaultRouteView v6;
  std::string uplink;  // the IPv4 default route's device
};

class System {
 public:
  virtual ~System() = default;

  // --- Waypost daemons in this network namespace
  virtual std::vector<std::string> running_interfaces() = 0;
  virtual std::string control_socket(const std::string& ifname) = 0;  // for messages
  virtual Result<nlohmann::json> daemon_request(const std::string& ifname,
                                                const nlohmann::json& request) = 0;
  // Whether the process `pid` shares our network namespace (true when it cannot be told).
  virtual bool same_netns(int pid) = 0;

  // --- the network (packets only to hosts the user configured or named)
  virtual Result<RouteView> route_to(const net::IpAddress& dst, uint32_t fwmark) = 0;
  virtual Result<net::IpAddress> resolve_host(std::string_view host) = 0;
  virtual Result<std::unique_ptr<EchoProber>> open_echo_prober(const net::IpAddress& dst,
                                                               uint32_t fwmark) = 0;
  virtual Result<std::string> dns_exchange(const net::IpAddress& server,
                                           std::string_view query) = 0;
  virtual uint16_t random_id() = 0;

  // --- the host
  virtual std::optional<std::string> read_text_file(const std::string& path) = 0;
  virtual ClockState clock_state() = 0;
  virtual Result<std::string> sysctl(const std::string& name) = 0;
  virtual DefaultRoutes default_routes() = 0;
  virtual Result<nlohmann::json> nft_ruleset() = 0;

  // --- the server: nullopt when `dir` has no config.yaml, an error when it does not load
  virtual std::optional<Result<ServerFacts>> server_facts(const std::string& dir) = 0;
  virtual std::string server_config_path(const std::string& dir) = 0;

  // --- time, for the bounded wait for handshakes
  virtual std::chrono::steady_clock::time_point now() = 0;
  virtual void sleep(std::chrono::milliseconds duration) = 0;
};

std::unique_ptr<System> make_system();

}  // namespace waypost::doctor
