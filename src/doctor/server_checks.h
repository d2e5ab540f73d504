#pragma once
// Server sanity: what a Waypost (or Algo-style) server needs from the host to forward its
// clients' traffic: IP forwarding, its own nftables table with the masquerade rule, a default
// route, and no other firewall table whose forward hook drops the tunnel's packets (Docker and
// ufw install such tables). The analysis is pure over values read by the caller (sysctls, the
// ruleset as `nft -j list ruleset` JSON, the default route) and unit-tested.

#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "dns/status.h"
#include "doctor/findings.h"

namespace waypost::doctor {

// A forwarding sysctl: `value` is what /proc/sys holds (nullopt if unreadable, e.g. IPv6 off).
Finding forwarding_finding(const std::string& key, const std::optional<std::string>& value,
                           bool server_running);

struct ForwardBlocker {
  std::string family;  // "ip", "inet", ...
  std::string table;
  std::string chain;
  bool allows_from_tunnel = false;  // a rule accepts iifname <tunnel>
  bool allows_to_tunnel = false;    // a rule accepts oifname <tunnel>, or established traffic
};

struct RulesetAnalysis {
  bool table_present = false;            // inet waypost-<if>
  bool masquerade = false;               // a masquerade rule in it
  std::vector<ForwardBlocker> blockers;  // other tables: forward hook with policy drop
};

// `ruleset` is the JSON of `nft -j list ruleset`; `table` the server's table name (without the
// family); `ifname` its tunnel interface.
RulesetAnalysis analyze_ruleset(const nlohmann::json& ruleset, const std::string& table,
                                const std::string& ifname);

std::vector<Finding> ruleset_findings(const RulesetAnalysis& a, const std::string& table,
                                      const std::string& ifname, bool server_running,
                                      const std::string& uplink);

// Another table's input hook that drops by default (ufw, firewalld, a hand-made firewall): which
// of the server's UDP ports its accept rules let in.
struct InputBlocker {
  std::string family;
  std::string table;
  std::string chain;
  bool accepts_all = false;         // an accept rule without conditions
  std::set<uint16_t> udp_accepted;  // "udp dport 51820 accept", "th dport { 500, 4500 } accept"
};
std::vector<InputBlocker> input_blockers(const nlohmann::json& ruleset, const std::string& table);

// The server's UDP ports (WireGuard's; 500 and 4500 with IKEv2), each with what it is for.
struct ServerPort {
  uint16_t port = 0;
  std::string what;  // "WireGuard", "IKEv2"
};
// One finding per port that an input blocker drops; one "reachable" finding when none does.
std::vector<Finding> port_findings(const std::vector<InputBlocker>& blockers,
                                   const std::vector<ServerPort>& ports);

// IKEv2 beside WireGuard: `enabled` is config.yaml's ipsec_enabled; `status` the running server's
// status reply (null when it is not running), whose "ipsec_interface" says IKEv2 is up.
Finding ikev2_finding(bool enabled, const nlohmann::json& status);

// The main table's default route for one family ("" gateway/dev when there is none).
struct DefaultRouteView {
  bool present = false;
  std::string gateway;
  std::string dev;
};
Finding default_route_finding(bool ipv6, const DefaultRouteView& route);

// The built-in DNS resolver. `wanted`: config.yaml asks for it (dns_adblocking or
// dns_encryption); `dns`: the resolver's status as the running server reports it (nullopt when
// the server is not running or did not answer); `url_lists`: adblock_lists entries that are URLs
// (skipped).
std::vector<Finding> resolver_findings(bool wanted, bool adblocking,
                                       const std::optional<dns::DnsStatus>& dns,
                                       const std::vector<std::string>& url_lists);
// The same from the "dns" object of the server's `status` reply (anything but an object: not
// running), read with dns::dns_status_from_json.
std::vector<Finding> resolver_findings(bool wanted, bool adblocking, const nlohmann::json& dns,
                                       const std::vector<std::string>& url_lists);

// The ruleset as JSON through libnftables (the caller's network namespace).
Result<nlohmann::json> read_ruleset_json();

}  // namespace waypost::doctor
