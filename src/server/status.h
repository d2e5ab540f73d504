#pragma once
// Typed status of the server: its users with their WireGuard sessions and DNS numbers. Produced
// once by the running server (ServerDaemon::status, from the interface's typed status) or, when
// no server runs, from state.json; rendered from the same data to the control socket's JSON, to
// `waypost server status` text and to the Prometheus metrics page. The resolver's own status
// (`dns`) is its typed status (dns/status.h), under the "dns" key of the JSON.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dns/status.h"

namespace waypost::server {

// One IKEv2 session (IKE SA) of a user; a user may have several (one per device).
struct IkeSession {
  std::string remote;  // the client's address and port, as the server sees it
  std::vector<std::string> virtual_ips;
  int64_t established_s = 0;  // seconds since it came up
  bool nat = false;           // UDP-encapsulated (a NAT on the way)
  uint64_t rx_bytes = 0;      // from the client
  uint64_t tx_bytes = 0;      // to the client
  // The same by CHILD SA: each starts from zero (a rekey makes a new one), so the traffic
  // history counts them one by one (web/accountant.h).
  struct Child {
    std::string spi_in;  // 8 hex digits, our inbound SPI
    uint64_t rx_bytes = 0;
    uint64_t tx_bytes = 0;
  };
  std::vector<Child> children;
};

struct UserStatus {
  std::string name;
  std::string public_key;  // base64
  std::string ipv4;
  std::string ipv6;      // "" when the server has no IPv6
  bool session = false;  // the running server has this user as a peer (the fields below are set)
  std::string endpoint;  // "" if none
  int64_t latest_handshake = 0;
  std::optional<int64_t> handshake_age;
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  std::vector<IkeSession> ike_sessions;  // IKEv2, when the server runs it
  bool dns_counted = false;              // the resolver runs: dns_queries / dns_blocked are set
  uint64_t dns_queries = 0;
  uint64_t dns_blocked = 0;
};

struct ServerStatus {
  bool running = false;
  std::string interface;
  std::string endpoint;
  int port = 0;
  std::string public_key;
  std::string ipsec_interface;  // "" when IKEv2 is off or not running
  std::vector<UserStatus> users;
  std::optional<std::map<std::string, uint64_t>> counters;  // the interface's, when running
  std::optional<dns::DnsStatus> dns;                        // nullopt when unknown
};

// The control socket's `status` reply (without "ok") and `server status --json` (with
// "running").
nlohmann::json to_json(const ServerStatus& status, bool with_running);
ServerStatus server_status_from_json(const nlohmann::json& j);
std::string render_text(const ServerStatus& status);
std::string render_prometheus(const ServerStatus& status);

}  // namespace waypost::server
