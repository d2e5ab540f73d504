#include "doctor/doctor.h"

#include <chrono>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "dns/status.h"
#include "doctor/clock_check.h"
#include "doctor/dns.h"
#include "doctor/interface_checks.h"
#include "doctor/mtu_search.h"
#include "doctor/path_mtu_check.h"
#include "doctor/server_checks.h"
#include "doctor/system.h"

namespace waypost::doctor {

namespace {

// How long to wait for a handshake the daemon was asked to start: one try and one
// retransmission (REKEY_TIMEOUT is 5 s), plus a round trip.
constexpr auto kHandshakeWait = std::chrono::milliseconds(7000);
constexpr auto kHandshakePoll = std::chrono::milliseconds(250);
constexpr size_t kMaxResolvConfServers = 3;
constexpr size_t kMaxDnsServers = 6;

struct Examined {
  InterfaceView view;
  bool server = false;
};

void say(const Options& o, const std::string& message) {
  if (o.progress) o.progress(message);
}

Result<InterfaceView> show(System& sys, const std::string& ifname) {
  auto r = sys.daemon_request(ifname, {{"cmd", "show"}});
  if (!r) return r.take_error();
  if (!r->value("ok", false)) {
    return make_error(ErrorKind::kProtocol, "{}",
                      r->value("error", std::string("the daemon refused 'show'")));
  }
  return parse_show(*r);
}

bool permission_problem(const Error& e) {
  return e.is(ErrorKind::kPermission);
}

std::optional<net::IpAddress> endpoint_ip(const std::string& endpoint) {
  auto ep = net::Endpoint::parse(endpoint);
  if (!ep) return std::nullopt;
  return ep->ip();
}

// --- interfaces --------------------------------------------------------------------------

std::vector<Examined> examine_interfaces(const Options& o, System& sys,
                                         const std::string& server_ifname,
                                         std::vector<Finding>& out) {
  std::vector<Examined> list;
  const bool explicit_if = !o.ifname.empty();
  std::vector<std::string> names =
      explicit_if ? std::vector<std::string>{o.ifname} : sys.running_interfaces();
  bool reported_permission = false;
  for (const auto& name : names) {
    auto v = show(sys, name);
    if (!v) {
      const std::string sock = sys.control_socket(name);
      if (permission_problem(v.error())) {
        if (reported_permission) continue;
        reported_permission = true;
        Finding f;
        f.id = "permission";
        // Fatal only when the user asked about that interface.
        f.status = explicit_if ? Status::kFail : Status::kWarn;
        f.summary = "Cannot talk to the Waypost daemon (" + sock +
                    " is for root only): the interface checks need root.";
        f.fix = "sudo waypost doctor" + (explicit_if ? " " + name : std::string());
        out.push_back(std::move(f));
        continue;
      }
      if (!explicit_if) continue;  // a stale socket of an interface that is gone
      Finding f;
      f.id = "interface:" + name;
      f.status = Status::kFail;
      f.summary =
          fmt::format("Interface {} is not running under Waypost ({}).", name, v.error().message);
      f.fix = name == server_ifname
                  ? "sudo systemctl start waypost-server (or: sudo waypost server up)"
                  : "sudo waypost up /etc/wireguard/" + name + ".conf (or the config you use)";
      out.push_back(std::move(f));
      continue;
    }
    if (!sys.same_netns(v->pid)) {
      if (!explicit_if) continue;  // another namespace's daemon: not ours to test
      Finding f;
      f.id = "interface:" + name;
      f.status = Status::kWarn;
      f.summary = fmt::format(
          "Interface {} runs in another network namespace (daemon pid {}): its routes and "
          "endpoints cannot be tested from here.",
          name, v->pid);
      f.fix = fmt::format("sudo ip netns exec <its namespace> waypost doctor {}", name);
      out.push_back(std::move(f));
      continue;
    }
    if (v->name.empty()) v->name = name;
    Examined e{std::move(*v), name == server_ifname};
    for (auto& f : interface_findings(e.view, e.server)) out.push_back(std::move(f));
    list.push_back(std::move(e));
  }
  if (list.empty() && !explicit_if && out.empty()) {
    Finding f;
    f.id = "interface";
    f.status = Status::kInfo;
    f.summary =
        "No Waypost interface is running in this network namespace: only the host checks "
        "were made.";
    f.fix = "sudo waypost up <config>, then run waypost doctor again";
    out.push_back(std::move(f));
  }
  return list;
}

// --- handshakes --------------------------------------------------------------------------

void check_handshakes(const Options& o, System& sys, std::vector<Examined>& ifaces,
                      std::vector<Finding>& out) {
  using Trigger = HandshakeObservation::Trigger;
  struct Pending {
    size_t iface;
    HandshakeObservation obs;
  };
  std::vector<Pending> all;
  for (size_t i = 0; i < ifaces.size(); ++i) {
    if (ifaces[i].server) continue;
    for (const auto& p : ifaces[i].view.peers) {
      HandshakeObservation h;
      h.ifname = ifaces[i].view.name;
      h.before = p;
      if (handshake_recent(p)) {
        h.trigger = Trigger::kNotNeeded;
      } else if (!has_configured_endpoint(p)) {
        h.trigger = Trigger::kNoEndpoint;
      } else {
        auto r = sys.daemon_request(h.ifname, {{"cmd", "handshake"}, {"peer", p.public_key}});
        if (!r) {
          h.trigger = Trigger::kError;
          h.trigger_error = r.error().message;
        } else if (r->value("ok", false)) {
          h.trigger = Trigger::kTriggered;
        } else {
          std::string err = r->value("error", std::string());
          h.trigger = err.find("unknown command") != std::string::npos ? Trigger::kUnsupported
                                                                       : Trigger::kError;
          h.trigger_error = err;
        }
      }
      all.push_back({i, std::move(h)});
    }
  }
  // Wait (bounded) for the triggered ones.
  size_t waiting = 0;
  for (const auto& p : all) waiting += p.obs.trigger == Trigger::kTriggered;
  if (waiting > 0) {
    say(o, fmt::format("waiting up to {} s for {} handshake{}...", kHandshakeWait.count() / 1000,
                       waiting, waiting == 1 ? "" : "s"));
    std::vector<InterfaceView> before;
    before.reserve(ifaces.size());
    for (const auto& e : ifaces) before.push_back(e.view);
    const auto start = sys.now();
    const auto deadline = start + kHandshakeWait;
    std::vector<std::optional<InterfaceView>> latest(ifaces.size());
    for (int guard = 0; guard < 1000; ++guard) {
      sys.sleep(kHandshakePoll);
      const auto now = sys.now();
      for (size_t i = 0; i < ifaces.size(); ++i) {
        if (ifaces[i].server) continue;
        if (auto v = show(sys, ifaces[i].view.name)) latest[i] = std::move(*v);
      }
      size_t done = 0;
      for (auto& p : all) {
        if (p.obs.trigger != Trigger::kTriggered) continue;
        if (p.obs.after && p.obs.after->latest_handshake != p.obs.before.latest_handshake &&
            p.obs.after->latest_handshake != 0) {
          ++done;
          continue;
        }
        if (!latest[p.iface]) continue;
        for (const auto& q : latest[p.iface]->peers) {
          if (q.public_key != p.obs.before.public_key) continue;
          p.obs.after = q;
          p.obs.waited_seconds = std::chrono::duration<double>(now - start).count();
          if (q.latest_handshake != 0 && q.latest_handshake != p.obs.before.latest_handshake) {
            ++done;
          }
        }
      }
      if (done == waiting || now >= deadline) break;
    }
    for (auto& p : all) {
      if (p.obs.trigger != Trigger::kTriggered || !latest[p.iface]) continue;
      const InterfaceView& b = ifaces[p.iface].view;
      const InterfaceView& a = *latest[p.iface];
      auto delta = [&](const char* name) {
        uint64_t x = counter(b, name), y = counter(a, name);
        return y >= x ? y - x : 0;
      };
      p.obs.rx_datagrams = delta("rx_datagrams");
      p.obs.responses_rejected = delta("handshake_responses_rejected");
      p.obs.invalid_mac1 = delta("handshake_invalid_mac1");
      p.obs.cookies_received = delta("handshake_cookies_received");
    }
    // Later checks see the state after the handshakes.
    for (size_t i = 0; i < ifaces.size(); ++i) {
      if (latest[i]) ifaces[i].view = std::move(*latest[i]);
    }
  }
  for (const auto& p : all) out.push_back(handshake_finding(p.obs));
  for (const auto& e : ifaces) {
    if (e.server) out.push_back(clients_finding(e.view));
  }
}

// --- path MTU ----------------------------------------------------------------------------

void check_path_mtu(const Options& o, System& sys, const std::vector<Examined>& ifaces,
                    std::vector<Finding>& out) {
  std::string host = o.host;
  std::optional<net::IpAddress> address;
  std::vector<std::string> others;
  if (host.empty()) {
    for (const auto& e : ifaces) {
      if (e.server) continue;
      for (const auto& p : e.view.peers) {
        if (!has_configured_endpoint(p)) continue;
        auto ip = endpoint_ip(p.endpoint);
        if (!ip) continue;
        if (!address) {
          address = ip;
          host = ip->to_string();
        } else if (!(*ip == *address) &&
                   std::find(others.begin(), others.end(), ip->to_string()) == others.end()) {
          others.push_back(ip->to_string());
        }
      }
    }
    if (!address) {
      if (!ifaces.empty()) {
        Finding f;
        f.id = "path_mtu";
        f.status = Status::kInfo;
        f.summary = "No peer has an endpoint to measure the path MTU to.";
        f.fix = "Name the host: waypost doctor --host <server address>";
        out.push_back(std::move(f));
      }
      return;
    }
  } else {
    auto a = sys.resolve_host(host);
    if (!a) {
      Finding f;
      f.id = "path_mtu";
      f.status = Status::kFail;
      f.summary = a.error().message + ".";
      f.fix = "Check the name, or give an IP address: waypost doctor --host <address>";
      out.push_back(std::move(f));
      return;
    }
    address = *a;
  }
  // If the host is a peer's endpoint, mark the probes like the tunnel's own packets so that
  // they take the same route (around a full-tunnel policy route).
  PathMtuContext ctx;
  ctx.host = host;
  ctx.address = *address;
  for (const auto& e : ifaces) {
    for (const auto& p : e.view.peers) {
      auto ip = endpoint_ip(p.endpoint);
      if (ip && *ip == *address && e.view.fwmark != 0) ctx.fwmark = e.view.fwmark;
    }
  }
  auto route = sys.route_to(*address, ctx.fwmark);
  if (!route) {
    Finding f;
    f.id = "path_mtu";
    f.status = Status::kFail;
    f.summary = fmt::format("There is no route to {}: {}.", host, route.error().message);
    f.fix = "Check the network connection and the default route (ip route).";
    out.push_back(std::move(f));
    return;
  }
  ctx.via = route->ifname;
  ctx.link_mtu = route->link_mtu;
  ctx.route_mtu = route->route_mtu;
  for (const auto& e : ifaces) {
    if (e.view.name == route->ifname) ctx.tunnel = e.view.name;
  }
  MtuSearchResult result;
  auto prober = sys.open_echo_prober(*address, ctx.fwmark);
  if (!prober) {
    result.kind = MtuSearchResult::Kind::kError;
    result.message = prober.error().message;
  } else {
    MtuSearchParams params;
    params.header = echo_header(address->family);
    params.max_payload = max_echo_payload(ctx);
    say(o,
        fmt::format("measuring the path MTU to {} (at most {} pings)...", host, params.max_probes));
    result = search_path_mtu(**prober, params);
  }
  out.push_back(path_mtu_finding(ctx, result));
  if (!others.empty()) {
    Finding f;
    f.id = "path_mtu_others";
    f.status = Status::kInfo;
    std::string list;
    for (const auto& x : others) list += (list.empty() ? "" : ", ") + x;
    f.summary = "Only the first endpoint was measured; other endpoints: " + list + ".";
    f.fix = "waypost doctor --host <endpoint>";
    f.data = {{"others", others}};
    out.push_back(std::move(f));
  }
}

// --- DNS ---------------------------------------------------------------------------------

void check_dns(const Options& o, System& sys, const std::vector<Examined>& ifaces,
               std::vector<Finding>& out) {
  struct Target {
    net::IpAddress ip;
    std::string source;
    bool expect_tunnel;
  };
  std::vector<Target> targets;
  auto add = [&](const net::IpAddress& ip, const std::string& source, bool expect) {
    for (const auto& t : targets) {
      if (t.ip == ip) return;
    }
    if (targets.size() < kMaxDnsServers) targets.push_back({ip, source, expect});
  };
  bool full_tunnel = false;
  for (const auto& e : ifaces) full_tunnel = full_tunnel || (!e.server && is_full_tunnel(e.view));
  for (const auto& d : o.dns) {
    auto ip = net::IpAddress::parse(d);
    if (!ip) {
      Finding f;
      f.id = "dns:" + d;
      f.status = Status::kFail;
      f.summary = fmt::format("--dns {}: {}.", d, ip.error().message);
      f.fix = "Give the resolver's IP address: --dns 192.0.2.53";
      out.push_back(std::move(f));
      continue;
    }
    add(*ip, "--dns", full_tunnel);
  }
  for (const auto& e : ifaces) {
    if (e.server) continue;
    for (const auto& d : e.view.dns) {
      if (auto ip = net::IpAddress::parse(d)) add(*ip, "DNS= of " + e.view.name, true);
    }
  }
  if (auto text = sys.read_text_file(o.resolv_conf)) {
    auto servers = parse_resolv_conf(*text);
    for (size_t i = 0; i < servers.size() && i < kMaxResolvConfServers; ++i) {
      add(servers[i], o.resolv_conf, full_tunnel);
    }
  }
  if (targets.empty()) {
    Finding f;
    f.id = "dns";
    f.status = Status::kWarn;
    f.summary = fmt::format("No DNS resolver to test: {} lists none and no --dns was given.",
                            o.resolv_conf);
    f.fix = "Configure a resolver (DNS= in the interface config, or /etc/resolv.conf).";
    out.push_back(std::move(f));
    return;
  }
  std::vector<std::string> tunnels;
  tunnels.reserve(ifaces.size());
  for (const auto& e : ifaces) tunnels.push_back(e.view.name);
  say(o, fmt::format("asking {} DNS server{} for {}...", targets.size(),
                     targets.size() == 1 ? "" : "s", o.dns_name));
  for (const auto& t : targets) {
    DnsObservation obs;
    obs.server = t.ip;
    obs.source = t.source;
    obs.name = o.dns_name;
    obs.tunnels = tunnels;
    obs.expect_tunnel = t.expect_tunnel;
    for (const auto& e : ifaces) {
      for (const auto& p : e.view.peers) {
        for (const auto& a : p.allowed_ips) {
          auto prefix = net::Prefix::parse(a);
          if (prefix && prefix->length > 0 && prefix->contains(t.ip)) obs.in_tunnel_subnet = true;
        }
      }
    }
    if (auto r = sys.route_to(t.ip, 0)) {
      obs.route_dev = r->ifname;
    } else {
      obs.route_error = r.error().message;
    }
    const uint16_t id = sys.random_id();
    auto query = build_dns_query(id, o.dns_name);
    if (!query) {
      obs.error = query.error().message;
    } else if (obs.route_dev.empty() && !obs.route_error.empty()) {
      obs.error = "no route";
    } else {
      auto reply = sys.dns_exchange(t.ip, *query);
      if (!reply) {
        obs.error = reply.error().message;
      } else if (auto parsed = parse_dns_reply(*reply, id)) {
        obs.answered = true;
        obs.reply = *parsed;
      } else {
        obs.error = "malformed answer: " + parsed.error().message;
      }
    }
    out.push_back(dns_finding(obs));
  }
}

// --- server ------------------------------------------------------------------------------

void check_resolver(const ServerFacts& server, System& sys, bool running,
                    std::vector<Finding>& out) {
  std::optional<dns::DnsStatus> dns;  // unknown unless the running server tells
  if (running) {
    auto r = sys.daemon_request(server.interface, {{"cmd", "status"}});
    if (r && r->is_object()) {
      if (auto it = r->find("dns"); it != r->end() && it->is_object()) {
        dns = dns::dns_status_from_json(*it);
      }
    }
  }
  for (auto& f :
       resolver_findings(server.runs_resolver, server.dns_adblocking, dns, server.url_blocklists)) {
    out.push_back(std::move(f));
  }
}

void check_server(const ServerFacts& server, System& sys, const std::vector<Examined>& ifaces,
                  std::vector<Finding>& out) {
  const std::string ifname = server.interface;
  bool running = false;
  for (const auto& e : ifaces) running = running || e.view.name == ifname;
  if (!running) {
    auto v = show(sys, ifname);
    running = v && sys.same_netns(v->pid);
  }
  if (!running) {
    Finding f;
    f.id = "server:running";
    f.status = Status::kInfo;
    f.summary = fmt::format(
        "A Waypost server is configured (interface {}) but not running here: the forwarding and "
        "NAT checks below describe what it will find when it starts.",
        ifname);
    f.fix = "sudo systemctl start waypost-server (or: sudo waypost server up)";
    out.push_back(std::move(f));
  }
  auto v4 = sys.sysctl("net.ipv4.ip_forward");
  out.push_back(forwarding_finding("net.ipv4.ip_forward",
                                   v4 ? std::optional<std::string>(*v4) : std::nullopt, running));
  if (server.ipv6) {
    auto v6 = sys.sysctl("net.ipv6.conf.all.forwarding");
    out.push_back(forwarding_finding("net.ipv6.conf.all.forwarding",
                                     v6 ? std::optional<std::string>(*v6) : std::nullopt, running));
  }
  const DefaultRoutes routes = sys.default_routes();
  const std::string& uplink = routes.uplink;
  const DefaultRouteView& route4 = routes.v4;
  const DefaultRouteView& route6 = routes.v6;
  out.push_back(default_route_finding(false, route4));
  if (server.ipv6) out.push_back(default_route_finding(true, route6));
  const std::string& table = server.firewall_table;
  auto ruleset = sys.nft_ruleset();
  if (!ruleset) {
    Finding f;
    f.id = "server:nft_table";
    f.status = Status::kWarn;
    f.summary = "Could not read the nftables ruleset: " + ruleset.error().message + ".";
    f.fix = "Run as root: sudo waypost doctor";
    out.push_back(std::move(f));
    return;
  }
  auto analysis = analyze_ruleset(*ruleset, table, ifname);
  for (auto& f : ruleset_findings(analysis, table, ifname, running, uplink)) {
    out.push_back(std::move(f));
  }
  // The ports clients connect to: a default-drop input chain elsewhere (ufw, firewalld) must
  // let them in.
  std::vector<ServerPort> ports{{server.wireguard_port, "WireGuard"}};
  if (server.ipsec_enabled) {
    ports.push_back({500, "IKEv2"});
    ports.push_back({4500, "IKEv2"});
  }
  for (auto& f : port_findings(input_blockers(*ruleset, table), ports)) out.push_back(std::move(f));
  nlohmann::json status;
  if (running) {
    auto r = sys.daemon_request(server.interface, {{"cmd", "status"}});
    if (r) status = std::move(*r);
  }
  out.push_back(ikev2_finding(server.ipsec_enabled, status));
  check_resolver(server, sys, running, out);
}

}  // namespace

std::vector<Finding> run_doctor(const Options& o, System& sys) {
  std::vector<Finding> out;
  std::optional<ServerFacts> server;
  std::optional<Finding> server_problem;
  if (auto facts = sys.server_facts(o.dir)) {
    if (*facts) {
      server = std::move(facts->value());
    } else {
      Finding f;
      f.id = "server:config";
      f.status = Status::kFail;
      f.summary = facts->error().message + ".";
      f.fix = "Fix config.yaml (docs/SERVER-CONFIG.md lists every key), then restart the server.";
      server_problem = std::move(f);
    }
  } else if (o.dir_given) {
    Finding f;
    f.id = "server:config";
    f.status = Status::kWarn;
    f.summary = fmt::format("There is no {}: the server checks were skipped.",
                            sys.server_config_path(o.dir));
    f.fix = "waypost server init --dir " + o.dir + " (or give the right --dir)";
    server_problem = std::move(f);
  }

  std::vector<Examined> ifaces = examine_interfaces(o, sys, server ? server->interface : "", out);
  check_handshakes(o, sys, ifaces, out);
  for (const auto& e : ifaces) {
    for (auto& f : tunnel_mtu_findings(e.view)) out.push_back(std::move(f));
  }
  check_path_mtu(o, sys, ifaces, out);
  out.push_back(clock_finding(sys.clock_state()));
  check_dns(o, sys, ifaces, out);
  if (server_problem) out.push_back(std::move(*server_problem));
  if (server) check_server(*server, sys, ifaces, out);
  return out;
}

std::vector<Finding> run_doctor(const Options& o) {
  auto sys = make_system();
  return run_doctor(o, *sys);
}

}  // namespace waypost::doctor
