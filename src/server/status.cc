#include "server/status.h"

#include <fmt/format.h>

namespace waypost::server {

namespace {

std::string get_str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
uint64_t get_uint(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

nlohmann::json user_json(const UserStatus& u) {
  using nlohmann::json;
  json j;
  j["name"] = u.name;
  j["public_key"] = u.public_key;
  j["ipv4"] = u.ipv4;
  if (!u.ipv6.empty()) j["ipv6"] = u.ipv6;
  if (u.session) {
    if (!u.endpoint.empty()) j["endpoint"] = u.endpoint;
    j["latest_handshake"] = u.latest_handshake;
    j["latest_handshake_age_seconds"] = u.handshake_age ? json(*u.handshake_age) : json(nullptr);
    j["rx_bytes"] = u.rx_bytes;
    j["tx_bytes"] = u.tx_bytes;
  }
  if (!u.ike_sessions.empty()) {
    json sessions = json::array();
    for (const auto& ike : u.ike_sessions) {
      json children = json::array();
      for (const auto& c : ike.children) {
        children.push_back(
            {{"spi_in", c.spi_in}, {"rx_bytes", c.rx_bytes}, {"tx_bytes", c.tx_bytes}});
      }
      sessions.push_back({{"remote", ike.remote},
                          {"virtual_ips", ike.virtual_ips},
                          {"established_s", ike.established_s},
                          {"nat", ike.nat},
                          {"rx_bytes", ike.rx_bytes},
                          {"tx_bytes", ike.tx_bytes},
                          {"child_sas", std::move(children)}});
    }
    j["ikev2"] = std::move(sessions);
  }
  if (u.dns_counted) {
    j["dns_queries"] = u.dns_queries;
    j["dns_blocked"] = u.dns_blocked;
  }
  return j;
}

UserStatus user_from_json(const nlohmann::json& j) {
  UserStatus u;
  u.name = get_str(j, "name");
  u.public_key = get_str(j, "public_key");
  u.ipv4 = get_str(j, "ipv4");
  u.ipv6 = get_str(j, "ipv6");
  u.session = j.contains("rx_bytes");
  u.endpoint = get_str(j, "endpoint");
  if (auto it = j.find("latest_handshake"); it != j.end() && it->is_number()) {
    u.latest_handshake = it->get<int64_t>();
  }
  if (auto it = j.find("latest_handshake_age_seconds"); it != j.end() && it->is_number()) {
    u.handshake_age = it->get<int64_t>();
  }
  u.rx_bytes = get_uint(j, "rx_bytes");
  u.tx_bytes = get_uint(j, "tx_bytes");
  if (auto it = j.find("ikev2"); it != j.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (!e.is_object()) continue;
      IkeSession ike;
      ike.remote = get_str(e, "remote");
      if (auto v = e.find("virtual_ips"); v != e.end() && v->is_array()) {
        for (const auto& a : *v) {
          if (a.is_string()) ike.virtual_ips.push_back(a.get<std::string>());
        }
      }
      if (auto v = e.find("established_s"); v != e.end() && v->is_number()) {
        ike.established_s = v->get<int64_t>();
      }
      ike.nat = e.value("nat", false);
      ike.rx_bytes = get_uint(e, "rx_bytes");
      ike.tx_bytes = get_uint(e, "tx_bytes");
      if (auto v = e.find("child_sas"); v != e.end() && v->is_array()) {
        for (const auto& c : *v) {
          if (!c.is_object()) continue;
          ike.children.push_back(
              {get_str(c, "spi_in"), get_uint(c, "rx_bytes"), get_uint(c, "tx_bytes")});
        }
      }
      u.ike_sessions.push_back(std::move(ike));
    }
  }
  u.dns_counted = j.contains("dns_queries");
  u.dns_queries = get_uint(j, "dns_queries");
  u.dns_blocked = get_uint(j, "dns_blocked");
  return u;
}

}  // namespace

nlohmann::json to_json(const ServerStatus& s, bool with_running) {
  nlohmann::json j;
  if (with_running) j["running"] = s.running;
  if (s.dns) j["dns"] = dns::to_json(*s.dns);
  j["interface"] = s.interface;
  j["endpoint"] = s.endpoint;
  j["port"] = s.port;
  j["public_key"] = s.public_key;
  if (!s.ipsec_interface.empty()) j["ipsec_interface"] = s.ipsec_interface;
  nlohmann::json users = nlohmann::json::array();
  for (const auto& u : s.users) users.push_back(user_json(u));
  j["users"] = std::move(users);
  if (s.counters) {
    nlohmann::json counters = nlohmann::json::object();
    for (const auto& [name, value] : *s.counters) counters[name] = value;
    j["counters"] = std::move(counters);
  }
  return j;
}

ServerStatus server_status_from_json(const nlohmann::json& j) {
  ServerStatus s;
  if (!j.is_object()) return s;
  s.running = j.value("running", false);
  s.interface = get_str(j, "interface");
  s.endpoint = get_str(j, "endpoint");
  if (auto it = j.find("port"); it != j.end() && it->is_number_integer()) s.port = it->get<int>();
  s.public_key = get_str(j, "public_key");
  s.ipsec_interface = get_str(j, "ipsec_interface");
  if (auto it = j.find("users"); it != j.end() && it->is_array()) {
    for (const auto& u : *it) {
      if (u.is_object()) s.users.push_back(user_from_json(u));
    }
  }
  if (auto it = j.find("counters"); it != j.end() && it->is_object()) {
    s.counters.emplace();
    for (const auto& [name, value] : it->items()) {
      if (value.is_number_unsigned()) (*s.counters)[name] = value.get<uint64_t>();
    }
  }
  if (auto it = j.find("dns"); it != j.end() && it->is_object()) {
    s.dns = dns::dns_status_from_json(*it);
  }
  return s;
}

std::string render_text(const ServerStatus& s) {
  std::string out = fmt::format("server {}: {}, endpoint {}:{}\n", s.interface,
                                s.running ? "running" : "not running", s.endpoint, s.port);
  out += fmt::format("  public key: {}\n", s.public_key);
  out += fmt::format("\n  {:<14} {:<16} {:<24} {:<22} {}\n", "user", "address", "endpoint",
                     "last handshake", "received / sent");
  for (const auto& u : s.users) {
    const std::string hs =
        u.handshake_age ? fmt::format("{} s ago", *u.handshake_age) : std::string("never");
    out += fmt::format("  {:<14} {:<16} {:<24} {:<22} {} / {}\n", u.name, u.ipv4,
                       u.endpoint.empty() ? "-" : u.endpoint, hs, u.rx_bytes, u.tx_bytes);
    // IKEv2 sessions under the user's WireGuard line: same columns, the address the pool gave.
    for (const auto& ike : u.ike_sessions) {
      out += fmt::format("  {:<14} {:<16} {:<24} {:<22} {} / {}\n", "  (IKEv2)",
                         ike.virtual_ips.empty() ? "-" : ike.virtual_ips.front(), ike.remote,
                         fmt::format("up {} s{}", ike.established_s, ike.nat ? ", NAT" : ""),
                         ike.rx_bytes, ike.tx_bytes);
    }
  }
  if (!s.ipsec_interface.empty()) {
    size_t sessions = 0;
    for (const auto& u : s.users) sessions += u.ike_sessions.size();
    out += fmt::format("\n  IKEv2: device {}, UDP 500/4500, {} session(s)\n", s.ipsec_interface,
                       sessions);
  }
  if (s.dns) {
    const dns::DnsStatus& d = *s.dns;
    if (d.running) {
      out += fmt::format("\n  DNS resolver: {} queries, {} blocked, upstream {}{}\n",
                         d.counters.queries, d.counters.blocked,
                         d.upstream_ok ? "ok" : "FAILING: ", d.upstream_ok ? "" : d.problem);
      for (const auto& u : s.users) {
        if (u.dns_blocked == 0) continue;
        out += fmt::format("    {:<14} {} of {} queries blocked\n", u.name, u.dns_blocked,
                           u.dns_queries);
      }
    } else {
      out += fmt::format("\n  DNS resolver: not running ({})\n", d.reason);
    }
  }
  return out;
}

namespace {

// Prometheus label values escape backslash, double quote and newline.
std::string label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// The metrics of the common WireGuard exporter (prometheus_wireguard_exporter, with friendly
// names): same names, labels and meanings, so the Grafana dashboards people already have work.
// Its "latest handshake seconds" is a UNIX time, 0 when never.
std::string render_exporter_compat(const ServerStatus& s) {
  std::string sent =
      "# HELP wireguard_sent_bytes_total Bytes sent to the peer\n"
      "# TYPE wireguard_sent_bytes_total counter\n";
  std::string received =
      "# HELP wireguard_received_bytes_total Bytes received from the peer\n"
      "# TYPE wireguard_received_bytes_total counter\n";
  std::string handshake =
      "# HELP wireguard_latest_handshake_seconds UNIX time of the last handshake (0: never)\n"
      "# TYPE wireguard_latest_handshake_seconds gauge\n";
  for (const auto& u : s.users) {
    std::string allowed = u.ipv4.empty() ? "" : u.ipv4 + "/32";
    if (!u.ipv6.empty()) allowed += (allowed.empty() ? "" : ",") + u.ipv6 + "/128";
    const std::string labels =
        fmt::format(R"(interface="{}",public_key="{}",allowed_ips="{}",friendly_name="{}")",
                    label_value(s.interface), label_value(u.public_key), label_value(allowed),
                    label_value(u.name));
    sent += fmt::format("wireguard_sent_bytes_total{{{}}} {}\n", labels, u.tx_bytes);
    received += fmt::format("wireguard_received_bytes_total{{{}}} {}\n", labels, u.rx_bytes);
    handshake +=
        fmt::format("wireguard_latest_handshake_seconds{{{}}} {}\n", labels, u.latest_handshake);
  }
  return sent + received + handshake;
}

}  // namespace

std::string render_prometheus(const ServerStatus& s) {
  std::string out;
  out += "# HELP waypost_peers Configured WireGuard peers (users).\n# TYPE waypost_peers gauge\n";
  out += fmt::format("waypost_peers {}\n", s.users.size());
  out +=
      "# HELP waypost_user_rx_bytes Bytes received from the user.\n"
      "# TYPE waypost_user_rx_bytes counter\n";
  std::string tx =
      "# HELP waypost_user_tx_bytes Bytes sent to the user.\n"
      "# TYPE waypost_user_tx_bytes counter\n";
  std::string age =
      "# HELP waypost_user_handshake_age_seconds Seconds since the last handshake "
      "(absent if never).\n# TYPE waypost_user_handshake_age_seconds gauge\n";
  std::string sessions =
      "# HELP waypost_user_sessions Sessions of the user now (WireGuard: 1 with a handshake in "
      "the last 3 minutes; IKEv2: one per IKE SA).\n# TYPE waypost_user_sessions gauge\n";
  for (const auto& u : s.users) {
    out += fmt::format("waypost_user_rx_bytes{{user=\"{}\",protocol=\"wireguard\"}} {}\n", u.name,
                       u.rx_bytes);
    tx += fmt::format("waypost_user_tx_bytes{{user=\"{}\",protocol=\"wireguard\"}} {}\n", u.name,
                      u.tx_bytes);
    sessions += fmt::format("waypost_user_sessions{{user=\"{}\",protocol=\"wireguard\"}} {}\n",
                            u.name, u.handshake_age && *u.handshake_age < 180 ? 1 : 0);
    if (!s.ipsec_interface.empty()) {
      uint64_t rx = 0, txb = 0;
      for (const auto& ike : u.ike_sessions) {
        rx += ike.rx_bytes;
        txb += ike.tx_bytes;
      }
      out +=
          fmt::format("waypost_user_rx_bytes{{user=\"{}\",protocol=\"ikev2\"}} {}\n", u.name, rx);
      tx +=
          fmt::format("waypost_user_tx_bytes{{user=\"{}\",protocol=\"ikev2\"}} {}\n", u.name, txb);
      sessions += fmt::format("waypost_user_sessions{{user=\"{}\",protocol=\"ikev2\"}} {}\n",
                              u.name, u.ike_sessions.size());
    }
    if (u.handshake_age) {
      age += fmt::format("waypost_user_handshake_age_seconds{{user=\"{}\"}} {}\n", u.name,
                         *u.handshake_age);
    }
  }
  out += tx + age + sessions;
  out += render_exporter_compat(s);
  if (s.dns && s.dns->running) {
    const dns::DnsStatus& d = *s.dns;
    out +=
        "# HELP waypost_user_dns_queries_total DNS queries from the user to the built-in "
        "resolver.\n# TYPE waypost_user_dns_queries_total counter\n";
    std::string blocked =
        "# HELP waypost_user_dns_blocked_total DNS queries from the user "
        "answered as blocked.\n# TYPE waypost_user_dns_blocked_total counter\n";
    for (const auto& u : s.users) {
      out +=
          fmt::format("waypost_user_dns_queries_total{{user=\"{}\"}} {}\n", u.name, u.dns_queries);
      blocked +=
          fmt::format("waypost_user_dns_blocked_total{{user=\"{}\"}} {}\n", u.name, u.dns_blocked);
    }
    out += blocked;
    auto counter = [&](const char* metric, const char* help, uint64_t value) {
      out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", metric, help, value);
    };
    counter("waypost_dns_queries_total", "DNS queries answered or dropped.", d.counters.queries);
    counter("waypost_dns_blocked_total", "DNS queries answered as blocked.", d.counters.blocked);
    counter("waypost_dns_servfail_total", "DNS queries answered SERVFAIL.", d.counters.servfail);
    counter("waypost_dns_upstream_failures_total", "Upstream lookups that failed.",
            d.counters.upstream_failures);
    out += fmt::format(
        "# HELP waypost_dns_upstream_up Whether the upstream resolvers answer (0 when every one "
        "has been failing).\n# TYPE waypost_dns_upstream_up gauge\nwaypost_dns_upstream_up {}\n",
        d.upstream_ok ? 1 : 0);
    out += fmt::format(
        "# HELP waypost_dns_blocklist_domains Domains on the block lists.\n"
        "# TYPE waypost_dns_blocklist_domains gauge\nwaypost_dns_blocklist_domains {}\n",
        d.lists.blocked_domains);
  }
  return out;
}

}  // namespace waypost::server
