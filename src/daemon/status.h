#pragma once
// Typed status of a running interface: produced once by the daemon (InterfaceDaemon::status),
// rendered from the same data to the JSON of the control socket's `show`, to `waypost show`'s text,
// and (by the server) to `server status` and Prometheus metrics; `waypost doctor` reads it back
// with interface_status_from_json. The JSON crosses a process boundary, so reading it is tolerant:
// a missing or mistyped field gives the field's default, never an exception.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace waypost::daemon {

struct PeerStatus {
  std::string public_key;  // base64
  bool preshared_key = false;
  std::string endpoint;  // "" if none
  // Whether the endpoint comes from the config (Endpoint=, UAPI) rather than being learned from
  // the peer's packets; nullopt when the daemon did not say.
  std::optional<bool> endpoint_configured;
  std::vector<std::string> allowed_ips;
  int64_t latest_handshake = 0;          // unix seconds, 0 = never
  std::optional<int64_t> handshake_age;  // seconds, never negative
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  int persistent_keepalive = 0;  // seconds, 0 = off
  bool has_path = false;         // path MTU state is reported
  uint32_t path_mtu = 0;
  uint32_t path_mtu_confirmed = 0;  // the largest size probed this round: new TCP flows' MSS
  bool path_probing = false;
  bool path_searching = false;
  uint64_t path_probes_sent = 0;
  uint64_t path_blackholes = 0;
};

struct OffloadStatus {
  bool tun = false;
  bool udp_gso = false;
  bool udp_gro = false;
};

struct InterfaceStatus {
  std::string name;
  int pid = 0;
  std::string public_key;  // base64, "" when no private key is set
  int listen_port = 0;
  uint32_t fwmark = 0;
  uint32_t mtu = 0;
  OffloadStatus offloads;
  std::vector<std::string> addresses;
  std::vector<std::string> dns;  // the DNS= servers
  bool dns_known = false;        // the daemon reported a "dns" field at all
  std::string dns_warning;
  std::vector<PeerStatus> peers;
  std::map<std::string, uint64_t> counters;  // drop and event counters by name
  bool under_load = false;
  std::string capabilities;  // effective capability set, hex

  uint64_t counter(const std::string& counter_name) const;
};

nlohmann::json to_json(const PeerStatus& peer);
nlohmann::json to_json(const InterfaceStatus& status);
InterfaceStatus interface_status_from_json(const nlohmann::json& j);

// `waypost show` for one interface, as wg(8) prints it.
std::string render_text(const InterfaceStatus& status);

// "1.50 MiB", "3 days, 2 hours ago": the units of `waypost show`.
std::string human_bytes(uint64_t bytes);
std::string human_age(int64_t seconds);

}  // namespace waypost::daemon
