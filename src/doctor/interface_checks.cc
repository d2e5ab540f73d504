#include "doctor/interface_checks.h"

#include <fmt/format.h>

#include "doctor/mtu_search.h"

namespace waypost::doctor {

namespace {

std::string age_text(int64_t s) {
  if (s < 0) s = 0;
  if (s < 120) return fmt::format("{} s ago", s);
  if (s < 7200) return fmt::format("{} min ago", s / 60);
  if (s < 172800) return fmt::format("{} h ago", s / 3600);
  return fmt::format("{} days ago", s / 86400);
}

// "203.0.113.1 51820" for nc, from "203.0.113.1:51820" or "[2001:db8::1]:51820".
std::string host_space_port(const std::string& endpoint) {
  size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return endpoint;
  std::string host = endpoint.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return host + " " + endpoint.substr(colon + 1);
}

std::string peer_label(const PeerView& p) {
  return p.endpoint.empty() ? "peer " + short_key(p.public_key)
                            : "peer " + short_key(p.public_key) + " (" + p.endpoint + ")";
}

}  // namespace

std::string short_key(const std::string& public_key) {
  return public_key.substr(0, 8);
}

uint64_t counter(const InterfaceView& iface, const std::string& name) {
  return iface.counter(name);
}

InterfaceView parse_show(const nlohmann::json& j) {
  return daemon::interface_status_from_json(j);
}

bool has_configured_endpoint(const PeerView& peer) {
  return !peer.endpoint.empty() && peer.endpoint_configured.value_or(true);
}

bool is_full_tunnel(const InterfaceView& iface) {
  for (const auto& p : iface.peers) {
    for (const auto& a : p.allowed_ips) {
      if (a == "0.0.0.0/0" || a == "::/0") return true;
    }
  }
  return false;
}

std::vector<Finding> interface_findings(const InterfaceView& iface, bool server_interface) {
  std::vector<Finding> out;
  Finding f;
  f.id = "interface:" + iface.name;
  f.status = Status::kOk;
  f.summary = fmt::format("{} is running{}: MTU {}, UDP port {}, {} peer{}{}.", iface.name,
                          iface.pid != 0 ? fmt::format(" (pid {})", iface.pid) : "", iface.mtu,
                          iface.listen_port, iface.peers.size(), iface.peers.size() == 1 ? "" : "s",
                          server_interface ? " (the Waypost server's interface)" : "");
  f.data = {{"interface", iface.name},
            {"mtu", iface.mtu},
            {"listen_port", iface.listen_port},
            {"peers", iface.peers.size()},
            {"full_tunnel", is_full_tunnel(iface)}};
  if (iface.fwmark != 0) f.data["fwmark"] = iface.fwmark;
  out.push_back(std::move(f));
  if (!iface.dns_warning.empty()) {
    Finding d;
    d.id = "dns_setup:" + iface.name;
    d.status = Status::kWarn;
    d.summary = iface.dns_warning + ".";
    d.detail =
        "The DNS= servers of the config were not installed as the system's resolvers, so names "
        "are still resolved by whatever /etc/resolv.conf lists (possibly outside the tunnel).";
    d.fix = fmt::format(
        "sudo apt install openresolv\nsudo waypost down {0} && sudo waypost up <config of {0}>",
        iface.name);
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<Finding> tunnel_mtu_findings(const InterfaceView& iface) {
  std::vector<Finding> out;
  const uint64_t clamped = counter(iface, "mss_clamped");
  const uint64_t too_big = counter(iface, "icmp_too_big_sent");
  const uint64_t fragmented = counter(iface, "fragmented");
  const uint64_t dropped = counter(iface, "mtu_dropped");
  const std::string handled = fmt::format(
      "Meanwhile Waypost keeps traffic flowing: it lowers the MSS of TCP connections crossing the "
      "tunnel ({} SYNs clamped so far), answers oversized packets with ICMP \"packet too big\" so "
      "that senders shrink them ({} sent), and fragments IPv4 packets that allow it ({}); {} "
      "packets could not be handled and were dropped.",
      clamped, too_big, fragmented, dropped);
  for (const auto& p : iface.peers) {
    if (!p.has_path) continue;
    Finding f;
    f.id = "tunnel_mtu:" + iface.name + ":" + short_key(p.public_key);
    f.data = {{"interface_mtu", iface.mtu},
              {"path_mtu", p.path_mtu},
              {"probing", p.path_probing},
              {"searching", p.path_searching},
              {"probes_sent", p.path_probes_sent},
              {"blackholes_suspected", p.path_blackholes},
              {"mss_clamped", clamped},
              {"icmp_too_big_sent", too_big}};
    if (!p.path_probing) {
      f.status = Status::kInfo;
      f.summary = fmt::format(
          "The MTU inside the tunnel to {} is not measured: it is taken to be the interface MTU "
          "{}.",
          peer_label(p), iface.mtu);
      f.detail =
          "Waypost measures it with pings through the tunnel once a session exists and the peer "
          "has a tunnel address to ping (the first address of one of our Address= subnets that "
          "routes to it). No session yet, or no such address, means no measurement.";
    } else if (p.path_searching) {
      f.status = Status::kInfo;
      f.summary = fmt::format(
          "The MTU inside the tunnel to {} is being measured: {} bytes for now (interface MTU "
          "{}).",
          peer_label(p), p.path_mtu, iface.mtu);
      f.detail = "Probes are still going out (" + std::to_string(p.path_probes_sent) +
                 " so far); run doctor again in a few seconds for the result.";
    } else if (p.path_mtu >= iface.mtu) {
      f.status = Status::kOk;
      f.summary = fmt::format(
          "Packets of the full interface MTU ({} bytes) cross the tunnel to {} (measured with "
          "pings inside the tunnel).",
          iface.mtu, peer_label(p));
    } else {
      f.status = p.path_blackholes > 0 || dropped > 0 ? Status::kWarn : Status::kInfo;
      f.summary = fmt::format(
          "The tunnel to {} carries inner packets of at most about {} bytes, less than the "
          "interface MTU {}: the path between the two ends is narrower than the MTU assumes.",
          peer_label(p), p.path_mtu, iface.mtu);
      f.detail = handled;
      if (p.path_blackholes > 0) {
        f.detail += fmt::format(
            " Large packets went missing {} time(s) before the measurement caught up (a "
            "path-MTU blackhole: a router drops them without telling the sender).",
            p.path_blackholes);
      }
      f.fix = fmt::format(
          "Set MTU = {} in the [Interface] section of {}'s config (or reduce_mtu: {} in a Waypost "
          "or Algo server's config.yaml) so that nothing needs fixing up per packet.",
          p.path_mtu, iface.name, p.path_mtu >= kAlgoBaseMtu ? 0 : kAlgoBaseMtu - p.path_mtu);
    }
    out.push_back(std::move(f));
  }
  return out;
}

bool handshake_recent(const PeerView& peer) {
  return peer.handshake_age && *peer.handshake_age <= kRecentHandshakeSeconds;
}

Finding handshake_finding(const HandshakeObservation& o) {
  using Trigger = HandshakeObservation::Trigger;
  const PeerView& p = o.before;
  Finding f;
  f.id = "handshake:" + o.ifname + ":" + short_key(p.public_key);
  f.data = {{"peer", p.public_key}, {"endpoint", p.endpoint}};
  f.data["age_seconds"] = p.handshake_age ? nlohmann::json(*p.handshake_age) : nlohmann::json();
  const std::string label = peer_label(p);
  const std::string before = p.handshake_age ? "last one " + age_text(*p.handshake_age) : "never";

  if (o.trigger == Trigger::kNotNeeded) {
    f.status = Status::kOk;
    f.data["state"] = "recent";
    f.summary = fmt::format("{} completed a handshake {}: the tunnel is established.", label,
                            age_text(p.handshake_age.value_or(0)));
    return f;
  }
  if (o.trigger == Trigger::kNoEndpoint) {
    f.status = Status::kInfo;
    f.data["state"] = p.handshake_age ? "stale" : "never";
    f.summary =
        fmt::format("{} has no {}endpoint, so only it can start a handshake; handshake: {}.", label,
                    p.endpoint.empty() ? "" : "configured ", before);
    f.detail =
        "Without Endpoint= this side waits for the peer to connect first. If the peer should "
        "connect and does not, run doctor on the peer.";
    return f;
  }
  if (o.trigger == Trigger::kUnsupported || o.trigger == Trigger::kError) {
    f.status = Status::kWarn;
    f.data["state"] = p.handshake_age ? "stale" : "never";
    f.summary =
        fmt::format("{}: handshake {}, and a new one could not be started to test the endpoint{}.",
                    label, before,
                    o.trigger == Trigger::kUnsupported ? " (this daemon has no handshake command)"
                                                       : " (" + o.trigger_error + ")");
    f.detail =
        "A handshake happens when traffic is sent into the tunnel: ping an address behind the "
        "peer, then run doctor again.";
    f.fix = "ping -c 3 <an address in the peer's AllowedIPs>, then run waypost doctor again";
    return f;
  }
  // Triggered: did a new handshake complete while we waited?
  const bool fresh =
      o.after && o.after->latest_handshake != 0 && o.after->latest_handshake != p.latest_handshake;
  if (fresh) {
    f.status = Status::kOk;
    f.data["state"] = "answered";
    f.summary = fmt::format(
        "{} answered a new handshake within {:.1f} s (before this test: {}): the endpoint's UDP "
        "port is reachable and the keys match.",
        label, o.waited_seconds, before);
    return f;
  }
  f.status = Status::kFail;
  f.data["state"] = p.handshake_age ? "stale" : "never";
  f.data["rx_datagrams"] = o.rx_datagrams;
  f.data["responses_rejected"] = o.responses_rejected;
  f.summary =
      fmt::format("{} did not answer a handshake within {:.0f} s (handshake before this test: {}).",
                  label, o.waited_seconds, before);
  std::string d;
  if (o.responses_rejected > 0) {
    d = "A response came back but could not be authenticated: the two sides disagree on a key. "
        "Most often the PresharedKey differs between the two configs, or the peer's private key "
        "does not belong to the PublicKey configured here.";
    f.fix =
        "Compare the [Peer] PublicKey here with `waypost pubkey < its private key` on the peer, "
        "and the PresharedKey lines on both sides; they must match exactly.";
  } else if (o.cookies_received > 0) {
    d = "The peer answered with a cookie (it is under load) instead of a handshake; it should "
        "complete on a later try.";
    f.fix = "Run waypost doctor again in a few seconds.";
  } else {
    d = fmt::format(
        "Nothing usable came back ({} datagrams received on the interface meanwhile). Likely "
        "causes, most common first:\n"
        "1. The UDP port is blocked or nothing listens there: a cloud security group or firewall "
        "in front of the server, a network that filters UDP (hotels, some corporate Wi-Fi), or "
        "the server is not running. Check the server (waypost server status), allow the port, or "
        "try another port (wireguard_port in the server's config.yaml, 443 and 53 often pass).\n"
        "2. Wrong key: if the server does not know this machine's public key it drops the "
        "handshake (its log says \"unknown peer\"); if the PublicKey configured here is not the "
        "server's, the server drops the message as invalid (its handshake_invalid_mac1 counter "
        "grows).\n"
        "3. The clock: if this machine's clock went backwards since the last handshake the peer "
        "accepted, the peer ignores new ones until the clock catches up (see the clock "
        "finding).",
        o.rx_datagrams);
    f.fix = fmt::format(
        "On the server: sudo waypost server status (is it running, is this user listed?) and "
        "sudo wg show (is this public key there?).\n"
        "Try the port: nc -u -z -v {} (a reply proves nothing for UDP; no route or ICMP "
        "unreachable does).\n"
        "Then: change wireguard_port in config.yaml (or the server's ListenPort) and the Endpoint "
        "port here.",
        p.endpoint.empty() ? std::string("<endpoint host> <port>") : host_space_port(p.endpoint));
  }
  f.detail = d;
  return f;
}

Finding clients_finding(const InterfaceView& iface) {
  Finding f;
  f.id = "clients:" + iface.name;
  std::vector<std::string> recent, stale, never;
  for (const auto& p : iface.peers) {
    if (!p.handshake_age) {
      never.push_back(short_key(p.public_key));
    } else if (*p.handshake_age <= kRecentHandshakeSeconds) {
      recent.push_back(short_key(p.public_key));
    } else {
      stale.push_back(short_key(p.public_key));
    }
  }
  f.status = Status::kInfo;
  f.data = {{"recent", recent}, {"stale", stale}, {"never", never}};
  f.summary = fmt::format(
      "{} of {} client{} handshaked in the last 3 minutes; {} earlier; {} never.", recent.size(),
      iface.peers.size(), iface.peers.size() == 1 ? "" : "s", stale.size(), never.size());
  f.detail =
      "Clients connect to the server, not the other way round, so the server cannot test them. A "
      "client that never handshaked has not connected yet, or cannot reach the server's UDP port, "
      "or uses a profile whose keys do not match (run waypost doctor on the client).";
  return f;
}

}  // namespace waypost::doctor
