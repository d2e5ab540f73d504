// waypost doctor: findings from the daemon's `show` JSON (interface, handshakes, in-tunnel MTU)
// and from the server's host state (forwarding, the nftables ruleset as JSON, default route).
#include <gtest/gtest.h>

#include "doctor/interface_checks.h"
#include "doctor/server_checks.h"

namespace waypost::doctor {
namespace {

using nlohmann::json;

const char* kPeerKey = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/ABCD=";

json show_json() {
  return json::parse(R"({
    "ok": true, "interface": "wp0", "pid": 4242, "listen_port": 51820, "fwmark": 51820,
    "mtu": 1420, "addresses": ["10.241.0.1/24"], "dns": ["10.241.0.2"],
    "peers": [{
      "public_key": "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/ABCD=",
      "preshared_key": false, "endpoint": "192.0.2.2:51820",
      "allowed_ips": ["0.0.0.0/0", "::/0"],
      "latest_handshake": 1700000000, "latest_handshake_age_seconds": 42,
      "rx_bytes": 1000, "tx_bytes": 2000, "persistent_keepalive": 25,
      "path_mtu": 1394, "path_mtu_probing": true, "path_mtu_searching": false,
      "path_mtu_probes_sent": 9, "path_mtu_blackholes_suspected": 0
    }],
    "counters": {"rx_datagrams": 10, "mss_clamped": 3, "icmp_too_big_sent": 1, "fragmented": 0,
                 "mtu_dropped": 0, "handshake_responses_rejected": 0}
  })");
}

TEST(DoctorShow, ParsesTheDaemonsView) {
  auto v = parse_show(show_json());
  EXPECT_EQ(v.name, "wp0");
  EXPECT_EQ(v.pid, 4242);
  EXPECT_EQ(v.mtu, 1420u);
  EXPECT_EQ(v.fwmark, 51820u);
  EXPECT_TRUE(v.dns_known);
  ASSERT_EQ(v.dns.size(), 1u);
  ASSERT_EQ(v.peers.size(), 1u);
  const auto& p = v.peers[0];
  EXPECT_EQ(p.public_key, kPeerKey);
  EXPECT_EQ(p.endpoint, "192.0.2.2:51820");
  ASSERT_TRUE(p.handshake_age.has_value());
  EXPECT_EQ(*p.handshake_age, 42);
  EXPECT_TRUE(p.has_path);
  EXPECT_EQ(p.path_mtu, 1394u);
  EXPECT_TRUE(is_full_tunnel(v));
  EXPECT_EQ(counter(v, "mss_clamped"), 3u);
  EXPECT_EQ(counter(v, "no_such_counter"), 0u);
  EXPECT_EQ(short_key(kPeerKey), "AbCdEfGh");
}

TEST(DoctorShow, ToleratesMissingAndMistypedFields) {
  auto v = parse_show(json::parse(R"({"interface": 5, "peers": [{"endpoint": 3,
      "latest_handshake_age_seconds": null, "path_mtu_probing": "yes"}], "counters": []})"));
  EXPECT_EQ(v.name, "");
  EXPECT_FALSE(v.dns_known);
  ASSERT_EQ(v.peers.size(), 1u);
  EXPECT_FALSE(v.peers[0].handshake_age.has_value());
  EXPECT_FALSE(v.peers[0].path_probing);
  EXPECT_FALSE(v.peers[0].has_path);
  EXPECT_TRUE(parse_show(json()).peers.empty());
  EXPECT_TRUE(parse_show(json::array()).peers.empty());
}

TEST(DoctorInterface, RunningInterfaceAndDnsWarning) {
  auto v = parse_show(show_json());
  auto f = interface_findings(v, false);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "interface:wp0");
  EXPECT_EQ(f[0].status, Status::kOk);
  v.dns_warning = "DNS= is set but resolvconf is not installed; DNS servers were not applied: x";
  auto g = interface_findings(v, false);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[1].status, Status::kWarn);
  EXPECT_NE(g[1].fix.find("openresolv"), std::string::npos);
}

TEST(DoctorTunnelMtu, ExplainsANarrowTunnel) {
  auto v = parse_show(show_json());
  auto f = tunnel_mtu_findings(v);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].id, "tunnel_mtu:wp0:AbCdEfGh");
  EXPECT_EQ(f[0].status, Status::kInfo);  // handled by the data plane, nothing lost
  EXPECT_EQ(f[0].data["path_mtu"], 1394);
  EXPECT_NE(f[0].summary.find("1394"), std::string::npos);
  EXPECT_NE(f[0].detail.find("3 SYNs clamped"), std::string::npos) << f[0].detail;
  EXPECT_NE(f[0].fix.find("MTU = 1394"), std::string::npos) << f[0].fix;

  v.peers[0].path_blackholes = 2;
  EXPECT_EQ(tunnel_mtu_findings(v)[0].status, Status::kWarn);

  v.peers[0].path_mtu = 1420;
  auto ok = tunnel_mtu_findings(v);
  EXPECT_EQ(ok[0].status, Status::kOk);
  EXPECT_TRUE(ok[0].fix.empty());

  v.peers[0].path_searching = true;
  EXPECT_NE(tunnel_mtu_findings(v)[0].summary.find("being measured"), std::string::npos);
  v.peers[0].path_probing = false;
  EXPECT_NE(tunnel_mtu_findings(v)[0].summary.find("not measured"), std::string::npos);
  v.peers[0].has_path = false;  // an older daemon
  EXPECT_TRUE(tunnel_mtu_findings(v).empty());
}

HandshakeObservation observation(std::optional<int64_t> age) {
  HandshakeObservation o;
  o.ifname = "wp0";
  o.before = parse_show(show_json()).peers[0];
  o.before.handshake_age = age;
  o.before.latest_handshake = age ? 1700000000 : 0;
  return o;
}

TEST(DoctorHandshake, RecentNeedsNoTest) {
  auto o = observation(42);
  EXPECT_TRUE(handshake_recent(o.before));
  auto f = handshake_finding(o);
  EXPECT_EQ(f.id, "handshake:wp0:AbCdEfGh");
  EXPECT_EQ(f.status, Status::kOk);
  EXPECT_EQ(f.data["state"], "recent");
  EXPECT_FALSE(handshake_recent(observation(181).before));
  EXPECT_FALSE(handshake_recent(observation(std::nullopt).before));
}

TEST(DoctorHandshake, TriggeredAndAnswered) {
  auto o = observation(std::nullopt);
  o.trigger = HandshakeObservation::Trigger::kTriggered;
  o.after = o.before;
  o.after->latest_handshake = 1700000100;
  o.waited_seconds = 0.25;
  auto f = handshake_finding(o);
  EXPECT_EQ(f.status, Status::kOk);
  EXPECT_EQ(f.data["state"], "answered");
  EXPECT_NE(f.summary.find("answered a new handshake"), std::string::npos);
}

TEST(DoctorHandshake, TriggeredWithoutAnswerExplainsCauses) {
  auto o = observation(std::nullopt);
  o.trigger = HandshakeObservation::Trigger::kTriggered;
  o.after = o.before;
  o.waited_seconds = 7;
  auto f = handshake_finding(o);
  EXPECT_EQ(f.status, Status::kFail);
  EXPECT_EQ(f.data["state"], "never");
  EXPECT_NE(f.detail.find("unknown peer"), std::string::npos);
  EXPECT_NE(f.detail.find("wireguard_port"), std::string::npos);
  EXPECT_NE(f.detail.find("clock"), std::string::npos);
  EXPECT_NE(f.fix.find("nc -u -z -v 192.0.2.2 51820"), std::string::npos) << f.fix;

  // A stale one that does not come back.
  auto s = observation(4000);
  s.trigger = HandshakeObservation::Trigger::kTriggered;
  s.after = s.before;
  EXPECT_EQ(handshake_finding(s).data["state"], "stale");

  // A response that failed authentication points at the keys.
  o.responses_rejected = 1;
  auto k = handshake_finding(o);
  EXPECT_EQ(k.status, Status::kFail);
  EXPECT_NE(k.detail.find("PresharedKey"), std::string::npos);
}

TEST(DoctorHandshake, CannotTestWithoutTheCommandOrAnEndpoint) {
  auto o = observation(std::nullopt);
  o.trigger = HandshakeObservation::Trigger::kUnsupported;
  auto f = handshake_finding(o);
  EXPECT_EQ(f.status, Status::kWarn);
  EXPECT_NE(f.summary.find("could not be started"), std::string::npos);

  o.trigger = HandshakeObservation::Trigger::kNoEndpoint;
  EXPECT_EQ(handshake_finding(o).status, Status::kInfo);
}

TEST(DoctorShow, LearnedEndpointsAreNotTargets) {
  auto j = show_json();
  auto v = parse_show(j);
  EXPECT_FALSE(v.peers[0].endpoint_configured.has_value());
  EXPECT_TRUE(has_configured_endpoint(v.peers[0]));  // the daemon does not say: configured
  j["peers"][0]["endpoint_configured"] = false;      // learned from the peer's packets
  EXPECT_FALSE(has_configured_endpoint(parse_show(j).peers[0]));
  j["peers"][0]["endpoint_configured"] = true;
  EXPECT_TRUE(has_configured_endpoint(parse_show(j).peers[0]));
  j["peers"][0].erase("endpoint");
  EXPECT_FALSE(has_configured_endpoint(parse_show(j).peers[0]));
}

TEST(DoctorHandshake, ServerClientsInOneFinding) {
  auto v = parse_show(show_json());
  auto p = v.peers[0];
  p.handshake_age.reset();
  v.peers.push_back(p);
  p.handshake_age = 900;
  v.peers.push_back(p);
  auto f = clients_finding(v);
  EXPECT_EQ(f.status, Status::kInfo);
  EXPECT_NE(f.summary.find("1 of 3 clients"), std::string::npos) << f.summary;
  EXPECT_EQ(f.data["never"].size(), 1u);
  EXPECT_EQ(f.data["stale"].size(), 1u);
}

TEST(DoctorServer, Forwarding) {
  auto on = forwarding_finding("net.ipv4.ip_forward", "1", true);
  EXPECT_EQ(on.id, "server:net.ipv4.ip_forward");
  EXPECT_EQ(on.status, Status::kOk);
  auto off = forwarding_finding("net.ipv4.ip_forward", "0", true);
  EXPECT_EQ(off.status, Status::kFail);
  EXPECT_NE(off.fix.find("sudo sysctl -w net.ipv4.ip_forward=1"), std::string::npos);
  // Not running: `server up` enables it itself.
  EXPECT_EQ(forwarding_finding("net.ipv4.ip_forward", "0", false).status, Status::kInfo);
  EXPECT_EQ(forwarding_finding("net.ipv6.conf.all.forwarding", std::nullopt, true).status,
            Status::kWarn);
  EXPECT_EQ(forwarding_finding("net.ipv4.ip_forward", std::nullopt, true).status, Status::kFail);
}

// A ruleset in the shape `nft -j list ruleset` prints: Waypost's table, plus what Docker
// (through iptables-nft) leaves behind.
json ruleset(bool with_masquerade, bool docker_user_rules) {
  json items = json::array();
  items.push_back({{"metainfo", {{"version", "1.0.6"}, {"json_schema_version", 1}}}});
  items.push_back({{"table", {{"family", "inet"}, {"name", "waypost-wp0"}, {"handle", 1}}}});
  items.push_back({{"chain",
                    {{"family", "inet"},
                     {"table", "waypost-wp0"},
                     {"name", "postrouting"},
                     {"type", "nat"},
                     {"hook", "postrouting"},
                     {"prio", 100},
                     {"policy", "accept"}}}});
  items.push_back({{"chain",
                    {{"family", "inet"},
                     {"table", "waypost-wp0"},
                     {"name", "forward"},
                     {"type", "filter"},
                     {"hook", "forward"},
                     {"prio", 0},
                     {"policy", "accept"}}}});
  if (with_masquerade) {
    items.push_back(json::parse(R"({"rule": {"family": "inet", "table": "waypost-wp0",
        "chain": "postrouting", "handle": 4, "expr": [
          {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                     "right": {"prefix": {"addr": "10.49.0.0", "len": 16}}}},
          {"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": "wp0"}},
          {"masquerade": null}]}})"));
  }
  items.push_back({{"table", {{"family", "ip"}, {"name", "filter"}, {"handle", 2}}}});
  items.push_back({{"chain",
                    {{"family", "ip"},
                     {"table", "filter"},
                     {"name", "FORWARD"},
                     {"type", "filter"},
                     {"hook", "forward"},
                     {"prio", 0},
                     {"policy", "drop"}}}});
  items.push_back({{"chain", {{"family", "ip"}, {"table", "filter"}, {"name", "DOCKER-USER"}}}});
  items.push_back(json::parse(R"({"rule": {"family": "ip", "table": "filter", "chain": "FORWARD",
      "handle": 9, "expr": [{"counter": {"packets": 0, "bytes": 0}},
                            {"jump": {"target": "DOCKER-USER"}}]}})"));
  items.push_back(json::parse(R"({"rule": {"family": "ip", "table": "filter", "chain": "FORWARD",
      "handle": 10, "expr": [
        {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "docker0"}},
        {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}},
        {"accept": null}]}})"));
  if (docker_user_rules) {
    items.push_back(json::parse(R"({"rule": {"family": "ip", "table": "filter",
        "chain": "DOCKER-USER", "handle": 11, "expr": [
          {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "wp0"}},
          {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}})"));
    items.push_back(json::parse(R"({"rule": {"family": "ip", "table": "filter",
        "chain": "DOCKER-USER", "handle": 12, "expr": [
          {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "wp0"}},
          {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}},
          {"accept": null}]}})"));
  }
  return {{"nftables", items}};
}

TEST(DoctorServer, RulesetWithDockerBlockingForwarding) {
  auto a = analyze_ruleset(ruleset(true, false), "waypost-wp0", "wp0");
  EXPECT_TRUE(a.table_present);
  EXPECT_TRUE(a.masquerade);
  ASSERT_EQ(a.blockers.size(), 1u);
  EXPECT_EQ(a.blockers[0].family, "ip");
  EXPECT_EQ(a.blockers[0].table, "filter");
  EXPECT_EQ(a.blockers[0].chain, "FORWARD");
  EXPECT_FALSE(a.blockers[0].allows_from_tunnel);
  auto f = ruleset_findings(a, "waypost-wp0", "wp0", true, "eth0");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].id, "server:nft_table");
  EXPECT_EQ(f[0].status, Status::kOk);
  EXPECT_EQ(f[1].id, "server:forward_policy:ip:filter");
  EXPECT_EQ(f[1].status, Status::kFail);
  EXPECT_NE(f[1].fix.find("iptables -I DOCKER-USER -i wp0 -j ACCEPT"), std::string::npos)
      << f[1].fix;
  EXPECT_NE(f[1].fix.find("ufw route allow in on wp0 out on eth0"), std::string::npos);
}

TEST(DoctorServer, RulesetWithTheTunnelAllowed) {
  auto a = analyze_ruleset(ruleset(true, true), "waypost-wp0", "wp0");
  ASSERT_EQ(a.blockers.size(), 1u);
  EXPECT_TRUE(a.blockers[0].allows_from_tunnel);
  EXPECT_TRUE(a.blockers[0].allows_to_tunnel);
  auto f = ruleset_findings(a, "waypost-wp0", "wp0", true, "eth0");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[1].status, Status::kOk);
}

TEST(DoctorServer, MissingTableOrMasquerade) {
  auto a = analyze_ruleset(ruleset(false, true), "waypost-wp0", "wp0");
  EXPECT_TRUE(a.table_present);
  EXPECT_FALSE(a.masquerade);
  auto f = ruleset_findings(a, "waypost-wp0", "wp0", true, "eth0");
  EXPECT_EQ(f[0].status, Status::kFail);
  EXPECT_NE(f[0].summary.find("no masquerade"), std::string::npos);

  auto none =
      analyze_ruleset(json::parse(R"({"nftables": [{"metainfo": {}}]})"), "waypost-wp0", "wp0");
  EXPECT_FALSE(none.table_present);
  EXPECT_TRUE(none.blockers.empty());
  auto g = ruleset_findings(none, "waypost-wp0", "wp0", true, "eth0");
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].status, Status::kFail);
  EXPECT_NE(g[0].summary.find("missing"), std::string::npos);
  // Not running: the table is expected to be absent.
  EXPECT_TRUE(ruleset_findings(none, "waypost-wp0", "wp0", false, "eth0").empty());
  // Garbage in, nothing out.
  EXPECT_FALSE(analyze_ruleset(json::array(), "waypost-wp0", "wp0").table_present);
}

TEST(DoctorServer, NativeNftTableWithDropPolicy) {
  json rs = {{"nftables",
              {{{"table", {{"family", "inet"}, {"name", "filter"}}}},
               {{"chain",
                 {{"family", "inet"},
                  {"table", "filter"},
                  {"name", "forward"},
                  {"hook", "forward"},
                  {"policy", "drop"}}}},
               // Accepts only from the tunnel: answers would be dropped.
               json::parse(R"({"rule": {"family": "inet", "table": "filter", "chain": "forward",
                   "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}},
                             "right": "wp0"}}, {"accept": null}]}})")}}};
  auto a = analyze_ruleset(rs, "waypost-wp0", "wp0");
  ASSERT_EQ(a.blockers.size(), 1u);
  EXPECT_TRUE(a.blockers[0].allows_from_tunnel);
  EXPECT_FALSE(a.blockers[0].allows_to_tunnel);
  auto f = ruleset_findings(a, "waypost-wp0", "wp0", false, "");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].status, Status::kWarn);
  EXPECT_NE(f[0].fix.find("sudo nft insert rule inet filter forward oifname \"wp0\" ct state "
                          "established,related accept"),
            std::string::npos)
      << f[0].fix;
}

TEST(DoctorServer, DefaultRoute) {
  DefaultRouteView r{true, "203.0.113.1", "eth0"};
  auto f = default_route_finding(false, r);
  EXPECT_EQ(f.status, Status::kOk);
  EXPECT_NE(f.summary.find("via 203.0.113.1 dev eth0"), std::string::npos);
  EXPECT_EQ(default_route_finding(false, {}).status, Status::kFail);
  EXPECT_EQ(default_route_finding(true, {}).status, Status::kWarn);
  EXPECT_EQ(default_route_finding(true, {}).id, "server:default_route_ipv6");
}

}  // namespace
}  // namespace waypost::doctor

namespace waypost::doctor {
namespace {

TEST(DoctorServer, ResolverFindings) {
  auto off = resolver_findings(false, false, nullptr, {});
  ASSERT_EQ(off.size(), 1u);
  EXPECT_EQ(off[0].status, Status::kInfo);
  EXPECT_NE(off[0].summary.find("off"), std::string::npos);

  nlohmann::json dns = {{"running", true},
                        {"listen", {"10.49.0.1:53"}},
                        {"upstreams", {"1.1.1.1@853#cloudflare-dns.com"}},
                        {"encryption", true},
                        {"upstream_ok", true},
                        {"queries", 10u},
                        {"blocked", 3u},
                        {"lists", {{"blocked_domains", 5u}}}};
  auto ok = resolver_findings(true, true, dns, {});
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].status, Status::kOk);
  EXPECT_NE(ok[0].summary.find("10.49.0.1:53"), std::string::npos) << ok[0].summary;
  EXPECT_NE(ok[0].summary.find("over TLS"), std::string::npos) << ok[0].summary;

  dns["upstream_ok"] = false;
  dns["problem"] = "every upstream has failed for 12 s (last error: no answer within 1500 ms)";
  auto down = resolver_findings(true, false, dns, {});
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].status, Status::kFail);
  EXPECT_EQ(down[0].detail, dns["problem"]);
  EXPECT_NE(down[0].fix.find("853"), std::string::npos);

  dns["upstream_ok"] = true;
  dns["lists"]["blocked_domains"] = 0u;
  auto empty = resolver_findings(true, true, dns, {"https://example.com/hosts"});
  ASSERT_EQ(empty.size(), 3u);
  EXPECT_EQ(empty[1].id, "server:dns_blocklists");
  EXPECT_EQ(empty[1].status, Status::kWarn);
  EXPECT_NE(empty[1].fix.find("URLs"), std::string::npos);
  EXPECT_EQ(empty[2].id, "server:dns_url_list");

  auto stopped =
      resolver_findings(true, false, {{"running", false}, {"reason", "port 53 taken"}}, {});
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0].status, Status::kFail);
  EXPECT_NE(stopped[0].summary.find("port 53 taken"), std::string::npos);
  // Garbage from the socket is not a crash.
  auto junk = resolver_findings(true, true, {{"running", "yes"}, {"listen", 5}}, {});
  EXPECT_FALSE(junk.empty());
}

}  // namespace
}  // namespace waypost::doctor

namespace waypost::doctor {
namespace {

// `nft -j list ruleset` (nftables 1.0.6) of a ufw-like input chain: policy drop, established
// traffic, lo, WireGuard's port, IKEv2's ports as a set, DNS for one network only.
constexpr const char* kInputRuleset = R"({"nftables": [
 {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
 {"table": {"family": "inet", "name": "fw", "handle": 1}},
 {"chain": {"family": "inet", "table": "fw", "name": "input", "handle": 1, "type": "filter",
            "hook": "input", "prio": 0, "policy": "drop"}},
 {"rule": {"family": "inet", "table": "fw", "chain": "input", "handle": 2, "expr": [
   {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}},
   {"accept": null}]}},
 {"rule": {"family": "inet", "table": "fw", "chain": "input", "handle": 3, "expr": [
   {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "fw", "chain": "input", "handle": 4, "expr": [
   {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 51820}},
   {"accept": null}]}},
 {"rule": {"family": "inet", "table": "fw", "chain": "input", "handle": 6, "expr": [
   {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}},
              "right": {"set": [500, 4500]}}},
   {"accept": null}]}},
 {"rule": {"family": "inet", "table": "fw", "chain": "input", "handle": 7, "expr": [
   {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
              "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}},
   {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}},
   {"accept": null}]}}]})";

const std::vector<ServerPort> kPorts{{51820, "WireGuard"}, {500, "IKEv2"}, {4500, "IKEv2"}};

TEST(DoctorServerPorts, AnInputChainThatLetsThePortsIn) {
  auto b = input_blockers(nlohmann::json::parse(kInputRuleset), "waypost-wp0");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].table, "fw");
  EXPECT_FALSE(b[0].accepts_all);  // lo and established are not for new clients
  // Port 53 is accepted for one network only: not counted.
  EXPECT_EQ(b[0].udp_accepted, (std::set<uint16_t>{500, 4500, 51820}));
  auto f = port_findings(b, kPorts);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].status, Status::kOk);
  EXPECT_NE(f[0].summary.find("500 (IKEv2)"), std::string::npos) << f[0].summary;
}

TEST(DoctorServerPorts, IkePortsDroppedAreNamedWithTheFix) {
  auto j = nlohmann::json::parse(kInputRuleset);
  j["nftables"].erase(6);  // the IKEv2 rule
  auto f = port_findings(input_blockers(j, "waypost-wp0"), kPorts);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].status, Status::kFail);
  EXPECT_NE(f[0].summary.find("accepts none on UDP 500, 4500: IKEv2 clients"), std::string::npos)
      << f[0].summary;
  EXPECT_NE(f[0].fix.find("ufw allow 500, 4500/udp"), std::string::npos) << f[0].fix;
  EXPECT_NE(f[0].fix.find("nft add rule inet fw input udp dport { 500, 4500 } accept"),
            std::string::npos)
      << f[0].fix;
  // Only WireGuard's port asked for: fine.
  EXPECT_EQ(port_findings(input_blockers(j, "waypost-wp0"), {{51820, "WireGuard"}})[0].status,
            Status::kOk);
}

TEST(DoctorServerPorts, OwnTableAndAcceptAllAreNotBlockers) {
  auto j = nlohmann::json::parse(kInputRuleset);
  // The server's own table (restrict_input) is not another firewall.
  EXPECT_TRUE(input_blockers(j, "fw").empty());
  // A plain "accept" opens everything.
  j["nftables"].push_back(nlohmann::json::parse(
      R"({"rule": {"family": "inet", "table": "fw", "chain": "input", "expr": [{"accept": null}]}})"));
  auto b = input_blockers(j, "waypost-wp0");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_TRUE(b[0].accepts_all);
  EXPECT_EQ(port_findings(b, {{1, "x"}})[0].status, Status::kOk);
  EXPECT_TRUE(input_blockers(nlohmann::json::array(), "t").empty());
}

TEST(DoctorServerPorts, Ikev2Finding) {
  EXPECT_EQ(ikev2_finding(false, nullptr).status, Status::kInfo);
  EXPECT_EQ(ikev2_finding(true, nullptr).status, Status::kInfo);
  auto stale =
      ikev2_finding(true, nlohmann::json{{"ok", true}, {"users", nlohmann::json::array()}});
  EXPECT_EQ(stale.status, Status::kFail);
  EXPECT_NE(stale.fix.find("restart"), std::string::npos);
  auto up = ikev2_finding(true, nlohmann::json::parse(R"({"ok": true, "ipsec_interface": "wp0-ike",
      "users": [{"name": "phone", "ikev2": [{"remote": "192.0.2.1:4500"}]}, {"name": "laptop"}]})"));
  EXPECT_EQ(up.status, Status::kOk);
  EXPECT_NE(up.summary.find("device wp0-ike), 1 session(s)"), std::string::npos) << up.summary;
}

}  // namespace
}  // namespace waypost::doctor
