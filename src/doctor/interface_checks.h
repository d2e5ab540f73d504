#pragma once
// What the running daemon knows, turned into findings: the interface itself, each peer's
// handshake (and whether its endpoint answers a fresh one), and the MTU inside the tunnel.
// Everything here is pure over the daemon's `show` JSON and observations made by the caller,
// so it is unit-tested without a daemon.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/status.h"
#include "doctor/findings.h"

namespace waypost::doctor {

// The daemon's typed status (daemon/status.h) is what the checks look at.
using PeerView = daemon::PeerStatus;
using InterfaceView = daemon::InterfaceStatus;

// The control socket's `show` reply, read tolerantly (daemon::interface_status_from_json).
InterfaceView parse_show(const nlohmann::json& show);

// The peer has an endpoint the user configured (taken as configured when the daemon does not
// say): the only kind the doctor sends to or asks the daemon to contact.
bool has_configured_endpoint(const PeerView& peer);

// Any peer routes 0.0.0.0/0 or ::/0 through the tunnel.
bool is_full_tunnel(const InterfaceView& iface);

// The first 8 characters of a base64 key, as used in finding ids.
std::string short_key(const std::string& public_key);

// "wp0 is running: ..." (and the daemon's DNS warning, if any).
std::vector<Finding> interface_findings(const InterfaceView& iface, bool server_interface);

// The in-tunnel path MTU of each peer, with what the data plane does about a small one.
std::vector<Finding> tunnel_mtu_findings(const InterfaceView& iface);

// A handshake this recent needs no test (sessions live for 180 s without one).
constexpr int64_t kRecentHandshakeSeconds = 180;
bool handshake_recent(const PeerView& peer);

struct HandshakeObservation {
  std::string ifname;
  PeerView before;
  enum class Trigger {
    kNotNeeded,    // recent enough
    kTriggered,    // the daemon was asked to start one now
    kUnsupported,  // the daemon has no "handshake" command
    kError,        // the daemon refused (trigger_error)
    kNoEndpoint,   // the peer has no endpoint: only it can start a handshake
  } trigger = Trigger::kNotNeeded;
  std::string trigger_error;
  std::optional<PeerView> after;  // the peer once the wait was over
  double waited_seconds = 0;
  // Device counter changes over the wait (the daemon's counters are per interface).
  uint64_t rx_datagrams = 0;
  uint64_t responses_rejected = 0;
  uint64_t invalid_mac1 = 0;
  uint64_t cookies_received = 0;
};

Finding handshake_finding(const HandshakeObservation& o);

// The server's clients, in one finding: who handshaked recently, who never did.
Finding clients_finding(const InterfaceView& iface);

// Counter value by name (0 if missing).
uint64_t counter(const InterfaceView& iface, const std::string& name);

}  // namespace waypost::doctor
