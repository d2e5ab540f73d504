#include "daemon/status.h"

#include <fmt/format.h>

namespace waypost::daemon {

namespace {

// Typed field access that never throws: a missing or mistyped field gives the fallback.
std::string get_str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int64_t get_int(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
}
uint64_t get_uint(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}
bool get_bool(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}
std::vector<std::string> get_strings(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& x : *it) {
    if (x.is_string()) out.push_back(x.get<std::string>());
  }
  return out;
}

PeerStatus peer_from_json(const nlohmann::json& pj) {
  PeerStatus p;
  p.public_key = get_str(pj, "public_key");
  p.preshared_key = get_bool(pj, "preshared_key");
  p.endpoint = get_str(pj, "endpoint");
  if (p.endpoint == "(none)") p.endpoint.clear();
  if (auto e = pj.find("endpoint_configured"); e != pj.end() && e->is_boolean()) {
    p.endpoint_configured = e->get<bool>();
  }
  p.allowed_ips = get_strings(pj, "allowed_ips");
  p.latest_handshake = get_int(pj, "latest_handshake");
  if (auto a = pj.find("latest_handshake_age_seconds"); a != pj.end() && a->is_number()) {
    p.handshake_age = a->get<int64_t>();
  }
  p.rx_bytes = get_uint(pj, "rx_bytes");
  p.tx_bytes = get_uint(pj, "tx_bytes");
  p.persistent_keepalive = int(get_int(pj, "persistent_keepalive"));
  p.has_path = pj.contains("path_mtu");
  p.path_mtu = uint32_t(get_int(pj, "path_mtu"));
  p.path_mtu_confirmed = uint32_t(get_int(pj, "path_mtu_confirmed"));
  p.path_probing = get_bool(pj, "path_mtu_probing");
  p.path_searching = get_bool(pj, "path_mtu_searching");
  p.path_probes_sent = get_uint(pj, "path_mtu_probes_sent");
  p.path_blackholes = get_uint(pj, "path_mtu_blackholes_suspected");
  return p;
}

}  // namespace

uint64_t InterfaceStatus::counter(const std::string& counter_name) const {
  auto it = counters.find(counter_name);
  return it == counters.end() ? 0 : it->second;
}

nlohmann::json to_json(const PeerStatus& p) {
  using nlohmann::json;
  json pj;
  pj["public_key"] = p.public_key;
  pj["preshared_key"] = p.preshared_key;
  if (!p.endpoint.empty()) pj["endpoint"] = p.endpoint;
  pj["allowed_ips"] = p.allowed_ips;
  pj["latest_handshake"] = p.latest_handshake;
  pj["latest_handshake_age_seconds"] = p.handshake_age ? json(*p.handshake_age) : json(nullptr);
  pj["rx_bytes"] = p.rx_bytes;
  pj["tx_bytes"] = p.tx_bytes;
  pj["persistent_keepalive"] = p.persistent_keepalive;
  if (p.endpoint_configured) pj["endpoint_configured"] = *p.endpoint_configured;
  if (p.has_path) {
    pj["path_mtu"] = p.path_mtu;
    pj["path_mtu_confirmed"] = p.path_mtu_confirmed;
    pj["path_mtu_probing"] = p.path_probing;
    pj["path_mtu_searching"] = p.path_searching;
    pj["path_mtu_probes_sent"] = p.path_probes_sent;
    pj["path_mtu_blackholes_suspected"] = p.path_blackholes;
  }
  return pj;
}

nlohmann::json to_json(const InterfaceStatus& s) {
  using nlohmann::json;
  json j;
  j["interface"] = s.name;
  j["pid"] = s.pid;
  if (!s.public_key.empty()) j["public_key"] = s.public_key;
  j["listen_port"] = s.listen_port;
  j["fwmark"] = s.fwmark;
  j["mtu"] = s.mtu;
  j["offloads"] = {
      {"tun", s.offloads.tun}, {"udp_gso", s.offloads.udp_gso}, {"udp_gro", s.offloads.udp_gro}};
  j["addresses"] = s.addresses;
  j["dns"] = s.dns;
  if (!s.dns_warning.empty()) j["dns_warning"] = s.dns_warning;
  json peers = json::array();
  for (const auto& p : s.peers) peers.push_back(to_json(p));
  j["peers"] = std::move(peers);
  json counters = json::object();
  for (const auto& [name, value] : s.counters) counters[name] = value;
  j["counters"] = std::move(counters);
  j["under_load"] = s.under_load;
  j["capabilities"] = s.capabilities;
  return j;
}

InterfaceStatus interface_status_from_json(const nlohmann::json& j) {
  InterfaceStatus s;
  if (!j.is_object()) return s;
  s.name = get_str(j, "interface");
  s.pid = int(get_int(j, "pid"));
  s.public_key = get_str(j, "public_key");
  s.listen_port = int(get_int(j, "listen_port"));
  s.fwmark = uint32_t(get_int(j, "fwmark"));
  s.mtu = uint32_t(get_int(j, "mtu"));
  if (auto it = j.find("offloads"); it != j.end() && it->is_object()) {
    s.offloads = {get_bool(*it, "tun"), get_bool(*it, "udp_gso"), get_bool(*it, "udp_gro")};
  }
  s.addresses = get_strings(j, "addresses");
  if (auto it = j.find("dns"); it != j.end() && it->is_array()) {
    s.dns_known = true;
    s.dns = get_strings(j, "dns");
  }
  s.dns_warning = get_str(j, "dns_warning");
  if (auto it = j.find("counters"); it != j.end() && it->is_object()) {
    for (const auto& [name, value] : it->items()) {
      if (value.is_number_unsigned()) s.counters[name] = value.get<uint64_t>();
    }
  }
  if (auto it = j.find("peers"); it != j.end() && it->is_array()) {
    for (const auto& pj : *it) {
      if (pj.is_object()) s.peers.push_back(peer_from_json(pj));
    }
  }
  s.under_load = get_bool(j, "under_load");
  s.capabilities = get_str(j, "capabilities");
  return s;
}

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  auto v = double(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", v, units[u]) : fmt::format("{:.2f} {}", v, units[u]);
}

std::string human_age(int64_t s) {
  if (s < 0) s = 0;
  std::string out;
  auto part = [&](int64_t n, const char* unit) {
    if (n == 0) return;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}{}", n, unit, n == 1 ? "" : "s");
  };
  part(s / 86400, "day");
  part(s / 3600 % 24, "hour");
  part(s / 60 % 60, "minute");
  part(s % 60, "second");
  return out.empty() ? "now" : out + " ago";
}

std::string render_text(const InterfaceStatus& s) {
  std::string out = fmt::format("interface: {}\n", s.name);
  if (!s.public_key.empty()) out += fmt::format("  public key: {}\n", s.public_key);
  out += "  private key: (hidden)\n";
  out += fmt::format("  listening port: {}\n", s.listen_port);
  if (s.fwmark != 0) out += fmt::format("  fwmark: {:#x}\n", s.fwmark);
  out += fmt::format("  mtu: {}\n", s.mtu);
  if (!s.dns_warning.empty()) out += fmt::format("  warning: {}\n", s.dns_warning);
  for (const auto& p : s.peers) {
    out += fmt::format("\npeer: {}\n", p.public_key);
    if (p.preshared_key) out += "  preshared key: (hidden)\n";
    if (!p.endpoint.empty()) out += fmt::format("  endpoint: {}\n", p.endpoint);
    std::string allowed;
    for (const auto& a : p.allowed_ips) allowed += (allowed.empty() ? "" : ", ") + a;
    out += fmt::format("  allowed ips: {}\n", allowed.empty() ? "(none)" : allowed);
    if (p.handshake_age) {
      out += fmt::format("  latest handshake: {}\n", human_age(*p.handshake_age));
    }
    if (p.rx_bytes != 0 || p.tx_bytes != 0) {
      out += fmt::format("  transfer: {} received, {} sent\n", human_bytes(p.rx_bytes),
                         human_bytes(p.tx_bytes));
    }
    if (p.has_path) {
      out += fmt::format("  path mtu: {}{}\n", p.path_mtu,
                         p.path_searching ? " (probing)"
                         : p.path_probing ? " (probed)"
                                          : "");
    }
    if (p.persistent_keepalive != 0) {
      out += fmt::format("  persistent keepalive: every {} seconds\n", p.persistent_keepalive);
    }
  }
  return out;
}

}  // namespace waypost::daemon
