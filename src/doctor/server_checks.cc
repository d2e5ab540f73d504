#include "doctor/server_checks.h"

#include <nftables/libnftables.h>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

namespace waypost::doctor {

namespace {

std::string str_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The "right" side of a match as a list of strings ("wp0", ["established", "related"],
// {"set": [...]}).
std::vector<std::string> right_values(const nlohmann::json& right) {
  std::vector<std::string> out;
  if (right.is_string()) {
    out.push_back(right.get<std::string>());
  } else if (right.is_array()) {
    for (const auto& x : right) {
      if (x.is_string()) out.push_back(x.get<std::string>());
    }
  } else if (right.is_object() && right.contains("set")) {
    return right_values(right["set"]);
  }
  return out;
}

struct RuleFacts {
  bool accept = false;
  std::set<std::string> iif, oif;  // interface names matched with == / in
  bool established = false;        // ct state established matched
  bool other_match = false;        // any other match (ports, addresses...)
};

RuleFacts rule_facts(const nlohmann::json& expr) {
  RuleFacts f;
  if (!expr.is_array()) return f;
  for (const auto& e : expr) {
    if (!e.is_object()) continue;
    if (e.contains("accept")) f.accept = true;
    auto m = e.find("match");
    if (m == e.end() || !m->is_object()) continue;
    const std::string op = str_field(*m, "op");
    const auto& left = m->value("left", nlohmann::json());
    const auto& right = m->value("right", nlohmann::json());
    const bool positive = op == "==" || op == "in" || op.empty();
    std::string meta_key, ct_key;
    if (left.is_object() && left.contains("meta") && left["meta"].is_object()) {
      meta_key = str_field(left["meta"], "key");
    }
    if (left.is_object() && left.contains("ct") && left["ct"].is_object()) {
      ct_key = str_field(left["ct"], "key");
    }
    if (positive && (meta_key == "iifname" || meta_key == "oifname")) {
      for (const auto& v : right_values(right)) (meta_key == "iifname" ? f.iif : f.oif).insert(v);
    } else if (positive && ct_key == "state") {
      for (const auto& v : right_values(right)) {
        if (v == "established") f.established = true;
      }
    } else {
      f.other_match = true;
    }
  }
  return f;
}

// Ports matched by "udp dport X" / "th dport X" in a rule (a number, a set of numbers, a
// range); `only_ports`: the rule matches nothing else (but the protocol and ct state).
struct PortMatch {
  std::set<uint16_t> ports;
  bool any_port_match = false;
  bool other_match = false;
};

void add_port_values(const nlohmann::json& right, std::set<uint16_t>& out) {
  if (right.is_number_unsigned() && right.get<uint64_t>() <= 65535) {
    out.insert(uint16_t(right.get<uint64_t>()));
  } else if (right.is_object() && right.contains("set")) {
    add_port_values(right["set"], out);
  } else if (right.is_object() && right.contains("range") && right["range"].is_array() &&
             right["range"].size() == 2 && right["range"][0].is_number_unsigned() &&
             right["range"][1].is_number_unsigned()) {
    const uint64_t lo = right["range"][0].get<uint64_t>();
    const uint64_t hi = std::min<uint64_t>(right["range"][1].get<uint64_t>(), 65535);
    for (uint64_t p = lo; p <= hi; ++p) out.insert(uint16_t(p));
  } else if (right.is_array()) {
    for (const auto& x : right) add_port_values(x, out);
  }
}

PortMatch port_match(const nlohmann::json& expr) {
  PortMatch pm;
  if (!expr.is_array()) return pm;
  for (const auto& e : expr) {
    if (!e.is_object()) continue;
    auto m = e.find("match");
    if (m == e.end() || !m->is_object()) continue;
    const std::string op = str_field(*m, "op");
    const auto& left = m->value("left", nlohmann::json());
    const auto& right = m->value("right", nlohmann::json());
    const bool positive = op == "==" || op == "in" || op.empty();
    if (left.is_object() && left.contains("payload") && left["payload"].is_object()) {
      const std::string proto = str_field(left["payload"], "protocol");
      if (positive && (proto == "udp" || proto == "th") &&
          str_field(left["payload"], "field") == "dport") {
        pm.any_port_match = true;
        add_port_values(right, pm.ports);
        continue;
      }
    }
    // "meta l4proto udp" and "ct state new" narrow nothing that matters here.
    if (left.is_object() && left.contains("meta") && left["meta"].is_object() &&
        str_field(left["meta"], "key") == "l4proto") {
      continue;
    }
    if (left.is_object() && left.contains("ct")) continue;
    pm.other_match = true;
  }
  return pm;
}

}  // namespace

std::vector<InputBlocker> input_blockers(const nlohmann::json& ruleset, const std::string& table) {
  std::vector<InputBlocker> out;
  if (!ruleset.is_object() || !ruleset.contains("nftables") || !ruleset["nftables"].is_array()) {
    return out;
  }
  using TableKey = std::pair<std::string, std::string>;
  std::vector<std::pair<TableKey, std::string>> drop_chains;
  std::map<TableKey, std::vector<const nlohmann::json*>> rules;
  for (const auto& item : ruleset["nftables"]) {
    if (!item.is_object()) continue;
    if (auto c = item.find("chain"); c != item.end() && c->is_object()) {
      TableKey key{str_field(*c, "family"), str_field(*c, "table")};
      if (str_field(*c, "hook") == "input" && str_field(*c, "policy") == "drop" &&
          !(key.first == "inet" && key.second == table)) {
        drop_chains.emplace_back(key, str_field(*c, "name"));
      }
    } else if (auto r = item.find("rule"); r != item.end() && r->is_object()) {
      rules[{str_field(*r, "family"), str_field(*r, "table")}].push_back(&*r);
    }
  }
  for (const auto& [key, chain] : drop_chains) {
    InputBlocker b{key.first, key.second, chain, false, {}};
    // Any rule of that table counts (ufw's input chain jumps to ufw-user-input).
    for (const auto* r : rules[key]) {
      const auto& expr = r->value("expr", nlohmann::json::array());
      if (!rule_facts(expr).accept) continue;
      const PortMatch pm = port_match(expr);
      if (pm.other_match) continue;  // an address or interface: not for everyone
      if (!pm.any_port_match) {
        // Plain "accept" (or "ct state established accept", which new clients do not match).
        bool ct_only = false;
        for (const auto& e : expr) {
          if (e.is_object() && e.contains("match") && e["match"].is_object() &&
              e["match"].value("left", nlohmann::json()).contains("ct")) {
            ct_only = true;
          }
        }
        if (!ct_only) b.accepts_all = true;
        continue;
      }
      b.udp_accepted.insert(pm.ports.begin(), pm.ports.end());
    }
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<Finding> port_findings(const std::vector<InputBlocker>& blockers,
                                   const std::vector<ServerPort>& ports) {
  std::vector<Finding> out;
  for (const auto& b : blockers) {
    if (b.accepts_all) continue;
    std::vector<std::string> dropped;
    std::string what;
    for (const auto& p : ports) {
      if (b.udp_accepted.count(p.port) != 0) continue;
      dropped.push_back(std::to_string(p.port));
      if (what.find(p.what) == std::string::npos) what += (what.empty() ? "" : " and ") + p.what;
    }
    if (dropped.empty()) continue;
    std::string list;
    for (const auto& d : dropped) list += (list.empty() ? "" : ", ") + d;
    Finding f;
    f.id = "server:input:" + b.family + "-" + b.table;
    f.status = Status::kFail;
    f.summary = fmt::format(
        "The firewall table {} {} drops incoming packets by default (chain {}) and accepts none "
        "on UDP {}: {} clients cannot reach the server.",
        b.family, b.table, b.chain, list, what);
    f.detail =
        "ufw and firewalld install such a table; Waypost's own table (restrict_input) lets its "
        "ports in, but every table's input hook must accept a packet for it to arrive.";
    f.fix = fmt::format(
        "Allow the ports in that firewall: sudo ufw allow {0}/udp (one per port), or sudo nft "
        "add rule {1} {2} {3} udp dport {{ {0} }} accept",
        list, b.family, b.table, b.chain);
    f.data = {{"table", b.family + " " + b.table}, {"chain", b.chain}, {"ports", dropped}};
    out.push_back(std::move(f));
  }
  if (out.empty()) {
    Finding f;
    f.id = "server:input";
    f.status = Status::kOk;
    std::string list;
    for (const auto& p : ports) {
      list += fmt::format("{}{} ({})", list.empty() ? "" : ", ", p.port, p.what);
    }
    f.summary =
        fmt::format("No firewall table on this host drops the server's UDP ports: {}.", list);
    out.push_back(std::move(f));
  }
  return out;
}

Finding ikev2_finding(bool enabled, const nlohmann::json& status) {
  Finding f;
  f.id = "server:ikev2";
  const bool running = status.is_object() && status.value("ok", false);
  if (!enabled) {
    f.status = Status::kInfo;
    f.summary = "IKEv2 is off (ipsec_enabled: false): WireGuard only.";
    return f;
  }
  if (!running) {
    f.status = Status::kInfo;
    f.summary = "IKEv2 is on in config.yaml; it runs on UDP 500/4500 once the server is up.";
    return f;
  }
  const std::string dev = status.value("ipsec_interface", std::string());
  if (dev.empty()) {
    f.status = Status::kFail;
    f.summary =
        "config.yaml has ipsec_enabled: true, but the running server serves no IKEv2: it was "
        "started before the change.";
    f.fix = "sudo systemctl restart waypost-server (or stop and run sudo waypost server up)";
    return f;
  }
  size_t sessions = 0;
  for (const auto& u : status.value("users", nlohmann::json::array())) {
    sessions += u.value("ikev2", nlohmann::json::array()).size();
  }
  f.status = Status::kOk;
  f.summary = fmt::format("IKEv2 is served on UDP 500 and 4500 (device {}), {} session(s) now.",
                          dev, sessions);
  f.data = {{"interface", dev}, {"sessions", sessions}};
  return f;
}

Finding forwarding_finding(const std::string& key, const std::optional<std::string>& value,
                           bool server_running) {
  Finding f;
  f.id = "server:" + key;
  const bool v6 = key.find("ipv6") != std::string::npos;
  f.data = {{"key", key}, {"value", value ? nlohmann::json(*value) : nlohmann::json()}};
  if (!value) {
    f.status = v6 ? Status::kWarn : Status::kFail;
    f.summary =
        fmt::format("{} cannot be read{}.", key, v6 ? " (IPv6 may be disabled on this host)" : "");
    f.fix = v6 ? "Set ipv6: false in config.yaml if this host has no IPv6."
               : "Check that /proc/sys is mounted and readable (run as root).";
    return f;
  }
  if (*value == "1") {
    f.status = Status::kOk;
    f.summary = fmt::format("{} = 1: the kernel forwards the clients' {} packets.", key,
                            v6 ? "IPv6" : "IPv4");
    return f;
  }
  if (!server_running) {
    f.status = Status::kInfo;
    f.summary = fmt::format(
        "{} = {}: forwarding is off now; `waypost server up` turns it on while it runs.", key,
        *value);
    return f;
  }
  f.status = Status::kFail;
  f.summary = fmt::format(
      "{} = {} although the server is running: the kernel drops every packet the clients send "
      "toward the internet.",
      key, *value);
  f.detail =
      "`waypost server up` enables forwarding when it starts, so something changed it since: "
      "another service, a `sysctl --system` run with a file that sets it to 0, or a manual "
      "command.";
  f.fix = fmt::format(
      "sudo sysctl -w {0}=1\n"
      "and find what turned it off (grep -r {1} /etc/sysctl.conf /etc/sysctl.d), or make it "
      "permanent: echo '{0} = 1' | sudo tee /etc/sysctl.d/99-waypost.conf",
      key, key.substr(key.rfind('.') + 1));
  return f;
}

RulesetAnalysis analyze_ruleset(const nlohmann::json& ruleset, const std::string& table,
                                const std::string& ifname) {
  RulesetAnalysis a;
  if (!ruleset.is_object() || !ruleset.contains("nftables") || !ruleset["nftables"].is_array()) {
    return a;
  }
  using TableKey = std::pair<std::string, std::string>;  // family, table
  std::map<TableKey, std::vector<RuleFacts>> rules;
  std::vector<std::pair<TableKey, std::string>> drop_chains;
  for (const auto& item : ruleset["nftables"]) {
    if (!item.is_object()) continue;
    if (auto t = item.find("table"); t != item.end() && t->is_object()) {
      if (str_field(*t, "family") == "inet" && str_field(*t, "name") == table) {
        a.table_present = true;
      }
    } else if (auto c = item.find("chain"); c != item.end() && c->is_object()) {
      TableKey key{str_field(*c, "family"), str_field(*c, "table")};
      if (str_field(*c, "hook") == "forward" && str_field(*c, "policy") == "drop" &&
          !(key.first == "inet" && key.second == table)) {
        drop_chains.emplace_back(key, str_field(*c, "name"));
      }
    } else if (auto r = item.find("rule"); r != item.end() && r->is_object()) {
      TableKey key{str_field(*r, "family"), str_field(*r, "table")};
      const auto& expr = r->value("expr", nlohmann::json::array());
      if (key.first == "inet" && key.second == table) {
        for (const auto& e : expr) {
          if (e.is_object() && e.contains("masquerade")) a.masquerade = true;
        }
      }
      rules[key].push_back(rule_facts(expr));
    }
  }
  for (const auto& [key, chain] : drop_chains) {
    ForwardBlocker b;
    b.family = key.first;
    b.table = key.second;
    b.chain = chain;
    // Any rule of that table counts (Docker's FORWARD jumps to DOCKER-USER and friends).
    for (const auto& f : rules[key]) {
      if (!f.accept) continue;
      if (f.iif.count(ifname) != 0) b.allows_from_tunnel = true;
      if (f.oif.count(ifname) != 0) b.allows_to_tunnel = true;
      if (f.established && f.iif.empty() && f.oif.empty() && !f.other_match) {
        b.allows_to_tunnel = true;  // "ct state established,related accept" for everyone
      }
    }
    a.blockers.push_back(std::move(b));
  }
  return a;
}

std::vector<Finding> ruleset_findings(const RulesetAnalysis& a, const std::string& table,
                                      const std::string& ifname, bool server_running,
                                      const std::string& uplink) {
  std::vector<Finding> out;
  if (server_running) {
    Finding t;
    t.id = "server:nft_table";
    if (a.table_present && a.masquerade) {
      t.status = Status::kOk;
      t.summary = fmt::format(
          "The nftables table inet {} is installed, with the masquerade rule that NATs the "
          "clients' traffic.",
          table);
    } else if (a.table_present) {
      t.status = Status::kFail;
      t.summary = fmt::format(
          "The nftables table inet {} exists but has no masquerade rule: the clients' packets "
          "leave with their private tunnel addresses and no answer comes back.",
          table);
      t.fix =
          "Restart the server so that it installs its table again: sudo systemctl restart "
          "waypost-server (or stop and run sudo waypost server up).";
    } else {
      t.status = Status::kFail;
      t.summary = fmt::format(
          "The server is running but its nftables table inet {} is missing: no NAT, so the "
          "clients reach nothing beyond the server.",
          table);
      t.detail =
          "Something removed it after the server started: most often `nft flush ruleset` (the "
          "first line of Debian's /etc/nftables.conf) when the nftables service is restarted or "
          "reloaded, or a firewall tool that replaces the whole ruleset.";
      t.fix =
          "Restart the server to reinstall it: sudo systemctl restart waypost-server (or "
          "stop and run sudo waypost server up); if /etc/nftables.conf starts with `flush "
          "ruleset`, restart the server after the nftables service.";
    }
    t.data = {
        {"table", "inet " + table}, {"present", a.table_present}, {"masquerade", a.masquerade}};
    out.push_back(std::move(t));
  }
  for (const auto& b : a.blockers) {
    if (b.allows_from_tunnel && b.allows_to_tunnel) {
      Finding f;
      f.id = fmt::format("server:forward_policy:{}:{}", b.family, b.table);
      f.status = Status::kOk;
      f.summary = fmt::format(
          "Table {} {} drops forwarded packets by default (chain {}), but it has rules that "
          "accept the tunnel's traffic both ways.",
          b.family, b.table, b.chain);
      out.push_back(std::move(f));
      continue;
    }
    // iptables-nft (Docker, ufw, plain iptables) names its chain FORWARD in table filter.
    const bool iptables = b.table == "filter" && b.chain == "FORWARD";
    Finding f;
    f.id = fmt::format("server:forward_policy:{}:{}", b.family, b.table);
    f.status = b.allows_from_tunnel ? Status::kWarn : Status::kFail;
    f.data = {{"family", b.family},
              {"table", b.table},
              {"chain", b.chain},
              {"allows_from_tunnel", b.allows_from_tunnel},
              {"allows_to_tunnel", b.allows_to_tunnel}};
    f.summary = fmt::format(
        "Table {} {} has a forward chain ({}) whose policy is drop{}: {}.", b.family, b.table,
        b.chain, b.allows_from_tunnel ? " and accepts packets from the tunnel" : "",
        b.allows_from_tunnel
            ? "answers going back to the clients may be dropped (no rule for them was found)"
            : "it drops the VPN clients' traffic, whatever Waypost's own table allows");
    f.detail =
        "Every table's forward chain sees every forwarded packet, and a packet is dropped if any "
        "of them drops it: accepting it in Waypost's table is not enough. Docker (iptables "
        "FORWARD policy DROP), ufw (default routed policy deny) and firewalld install such "
        "chains.";
    const std::string fam = b.family == "ip6" ? "ip6tables" : "iptables";
    const std::string up = uplink.empty() ? "<uplink>" : uplink;
    std::string fix;
    // Rules for the table's own tool, so that the tool does not remove them again.
    if (iptables) {
      fix = fmt::format(
          "If this is Docker: sudo {0} -I DOCKER-USER -i {1} -j ACCEPT\n"
          "                   sudo {0} -I DOCKER-USER -o {1} -m conntrack --ctstate "
          "RELATED,ESTABLISHED -j ACCEPT\n"
          "If this is ufw:    sudo ufw route allow in on {1} out on {2}\n"
          "Otherwise:         sudo {0} -I FORWARD -i {1} -j ACCEPT\n"
          "                   sudo {0} -I FORWARD -o {1} -m conntrack --ctstate "
          "RELATED,ESTABLISHED -j ACCEPT\n"
          "(iptables rules are lost at reboot: save them with the tool that manages them.)",
          fam, ifname, up);
    } else {
      fix = fmt::format(
          "sudo nft insert rule {0} {1} {2} iifname \"{3}\" accept\n"
          "sudo nft insert rule {0} {1} {2} oifname \"{3}\" ct state established,related "
          "accept\n"
          "and add the same two rules to the file that defines table {0} {1} (e.g. "
          "/etc/nftables.conf) so that they survive a reload.",
          b.family, b.table, b.chain, ifname);
    }
    f.fix = fix;
    out.push_back(std::move(f));
  }
  return out;
}

Finding default_route_finding(bool ipv6, const DefaultRouteView& route) {
  Finding f;
  f.id = ipv6 ? "server:default_route_ipv6" : "server:default_route";
  const char* fam = ipv6 ? "IPv6" : "IPv4";
  f.data = {{"present", route.present}, {"gateway", route.gateway}, {"dev", route.dev}};
  if (route.present) {
    f.status = Status::kOk;
    f.summary = fmt::format("There is an {} default route{}{}: the clients' traffic has a way out.",
                            fam, route.gateway.empty() ? "" : " via " + route.gateway,
                            route.dev.empty() ? "" : " dev " + route.dev);
    return f;
  }
  f.status = ipv6 ? Status::kWarn : Status::kFail;
  f.summary = fmt::format(
      "There is no {} default route: the server cannot forward its clients' {} traffic "
      "anywhere.",
      fam, fam);
  f.fix = ipv6 ? "Add an IPv6 default route (sudo ip -6 route add default via <gateway> dev "
                 "<uplink>), or set ipv6: false in config.yaml."
               : "Add one: sudo ip route add default via <gateway> dev <uplink> (normally DHCP or "
                 "/etc/network/interfaces provides it).";
  return f;
}

Result<nlohmann::json> read_ruleset_json() {
  struct Deleter {
    void operator()(nft_ctx* c) const { nft_ctx_free(c); }
  };
  std::unique_ptr<nft_ctx, Deleter> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return make_error("nftables: cannot create a context");
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return make_error("nftables: cannot buffer output");
  }
  nft_ctx_output_set_flags(ctx.get(), nft_ctx_output_get_flags(ctx.get()) | NFT_CTX_OUTPUT_JSON);
  if (nft_run_cmd_from_buffer(ctx.get(), "list ruleset") != 0) {
    const char* err = nft_ctx_get_error_buffer(ctx.get());
    return make_error("nftables: {}", err != nullptr && *err != 0 ? err : "list ruleset failed");
  }
  const char* out = nft_ctx_get_output_buffer(ctx.get());
  auto j = nlohmann::json::parse(out != nullptr ? out : "", nullptr, false);
  if (j.is_discarded()) return make_error("nftables: the ruleset listing is not JSON");
  return j;
}

namespace {
std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}
}  // namespace

std::vector<Finding> resolver_findings(bool wanted, bool adblocking, const nlohmann::json& dns,
                                       const std::vector<std::string>& url_lists) {
  return resolver_findings(wanted, adblocking,
                           dns.is_object()
                               ? std::optional<dns::DnsStatus>(dns::dns_status_from_json(dns))
                               : std::nullopt,
                           url_lists);
}

std::vector<Finding> resolver_findings(bool wanted, bool adblocking,
                                       const std::optional<dns::DnsStatus>& dns,
                                       const std::vector<std::string>& url_lists) {
  std::vector<Finding> out;
  Finding f;
  f.id = "server:dns";
  if (!wanted) {
    f.status = Status::kInfo;
    f.summary =
        "The built-in DNS resolver is off (dns_adblocking and dns_encryption are false): client "
        "profiles name the dns_servers of config.yaml, which see the clients' queries in clear.";
    out.push_back(std::move(f));
    return out;
  }
  if (!dns) {
    f.status = Status::kInfo;
    f.summary = "The built-in DNS resolver starts with the server; it is not running now.";
    out.push_back(std::move(f));
    return out;
  }
  const dns::QueryCounters& c = dns->counters;
  const std::string listen = joined(dns->listen);
  const std::string upstreams = joined(dns->upstreams);
  f.data = {{"queries", c.queries}, {"blocked", c.blocked}, {"servfail", c.servfail}};
  if (!dns->running) {
    f.status = Status::kFail;
    f.summary = fmt::format("The built-in DNS resolver is not running: {}.",
                            dns->reason.empty() ? "no reason given" : dns->reason);
    f.fix = "Fix the cause above, then: sudo waypost dns reload";
  } else if (!dns->upstream_ok) {
    f.status = Status::kFail;
    f.summary = fmt::format(
        "The built-in DNS resolver on {} cannot reach its upstreams ({}): clients get SERVFAIL "
        "for every name not in the cache.",
        listen, upstreams);
    f.detail = dns->problem;
    f.fix = dns->encryption
                ? "Check that this server reaches the upstreams on TCP port 853 (some networks "
                  "block it) and that each dns_servers entry has the right #tls-name; or choose "
                  "other dns_servers in config.yaml (applied live)."
                : "Check that this server reaches the upstreams on port 53, or choose other "
                  "dns_servers in config.yaml (applied live).";
  } else {
    f.status = Status::kOk;
    f.summary = fmt::format(
        "The built-in DNS resolver answers on {} ({} queries, {} blocked), asking {}{}.", listen,
        c.queries, c.blocked, upstreams, dns->encryption ? " over TLS" : " in clear");
  }
  out.push_back(std::move(f));
  if (adblocking) {
    if (dns->running && dns->lists.blocked_domains == 0) {
      Finding w;
      w.id = "server:dns_blocklists";
      w.status = Status::kWarn;
      w.summary = "dns_adblocking is on but the block lists hold no domains: nothing is blocked.";
      w.fix = url_lists.empty()
                  ? "List block list files in adblock_lists (config.yaml), e.g. a copy of the "
                    "StevenBlack hosts file."
                  : "adblock_lists has URLs, which Waypost does not download: fetch them to "
                    "files (e.g. a daily cron job with curl) and list the files instead.";
      out.push_back(std::move(w));
    }
  }
  for (const auto& url : url_lists) {
    Finding w;
    w.id = "server:dns_url_list";
    w.status = Status::kWarn;
    w.summary = fmt::format("adblock_lists entry {} is a URL and is skipped.", url);
    w.fix = fmt::format(
        "Download it to a file (e.g. curl -o /etc/waypost/blocklist.txt {}) and "
        "list the file; Waypost reloads it when it changes.",
        url);
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace waypost::doctor
