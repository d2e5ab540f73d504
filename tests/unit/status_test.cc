// Typed status: one struct per thing (interface, peer, server, user), rendered to JSON, text and
// Prometheus from the same data, and read back from JSON without ever throwing.
#include <gtest/gtest.h>

#include "daemon/status.h"
#include "server/status.h"

namespace waypost {
namespace {

daemon::InterfaceStatus sample_interface() {
  daemon::InterfaceStatus s;
  s.name = "wp0";
  s.pid = 42;
  s.public_key = "pubkey=";
  s.listen_port = 51820;
  s.fwmark = 0x1234;
  s.mtu = 1420;
  s.offloads = {true, true, false};
  s.addresses = {"10.0.0.1/24"};
  s.dns_known = true;
  s.dns = {"10.0.0.1"};
  daemon::PeerStatus p;
  p.public_key = "peerkey=";
  p.preshared_key = true;
  p.endpoint = "192.0.2.2:51820";
  p.endpoint_configured = true;
  p.allowed_ips = {"10.0.0.2/32", "fd00::2/128"};
  p.latest_handshake = 1700000000;
  p.handshake_age = 3725;
  p.rx_bytes = 1536;
  p.tx_bytes = 100;
  p.persistent_keepalive = 25;
  p.has_path = true;
  p.path_mtu = 1380;
  p.path_probing = true;
  p.path_probes_sent = 7;
  s.peers.push_back(p);
  daemon::PeerStatus idle;
  idle.public_key = "idle=";
  s.peers.push_back(idle);
  s.counters = {{"rx_datagrams", 10}, {"mss_clamped", 3}};
  s.under_load = false;
  s.capabilities = "0x3000";
  return s;
}

TEST(InterfaceStatus, JsonRoundTrip) {
  const auto s = sample_interface();
  const auto j = daemon::to_json(s);
  EXPECT_EQ(j["interface"], "wp0");
  EXPECT_EQ(j["peers"][0]["latest_handshake_age_seconds"], 3725);
  EXPECT_TRUE(j["peers"][1]["latest_handshake_age_seconds"].is_null());
  EXPECT_FALSE(j["peers"][1].contains("endpoint"));
  EXPECT_FALSE(j["peers"][1].contains("path_mtu"));
  EXPECT_EQ(j["counters"]["mss_clamped"], 3u);
  EXPECT_EQ(j["offloads"]["udp_gso"], true);

  const auto back = daemon::interface_status_from_json(j);
  EXPECT_EQ(daemon::to_json(back), j);
  EXPECT_EQ(back.counter("mss_clamped"), 3u);
  EXPECT_EQ(back.counter("no_such_counter"), 0u);
  ASSERT_EQ(back.peers.size(), 2u);
  EXPECT_EQ(back.peers[0].endpoint_configured, std::optional<bool>(true));
  EXPECT_FALSE(back.peers[1].handshake_age.has_value());
}

TEST(InterfaceStatus, MistypedJsonGivesDefaultsNotExceptions) {
  auto j = nlohmann::json::parse(R"json({"interface": 5, "mtu": "big", "peers": [3, {"rx_bytes": -1,
      "allowed_ips": [1, "10.0.0.0/8"], "endpoint": "(none)"}], "counters": {"x": "y"}})json");
  auto s = daemon::interface_status_from_json(j);
  EXPECT_EQ(s.name, "");
  EXPECT_EQ(s.mtu, 0u);
  ASSERT_EQ(s.peers.size(), 1u);
  EXPECT_EQ(s.peers[0].rx_bytes, 0u);
  EXPECT_EQ(s.peers[0].endpoint, "");
  EXPECT_EQ(s.peers[0].allowed_ips, std::vector<std::string>{"10.0.0.0/8"});
  EXPECT_TRUE(s.counters.empty());
  EXPECT_TRUE(daemon::interface_status_from_json(nlohmann::json::array()).peers.empty());
}

TEST(InterfaceStatus, TextLooksLikeWgShow) {
  const std::string text = daemon::render_text(sample_interface());
  EXPECT_NE(text.find("interface: wp0\n  public key: pubkey=\n  private key: (hidden)\n"
                      "  listening port: 51820\n  fwmark: 0x1234\n  mtu: 1420\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  allowed ips: 10.0.0.2/32, fd00::2/128\n"), std::string::npos);
  EXPECT_NE(text.find("  latest handshake: 1 hour, 2 minutes, 5 seconds ago\n"), std::string::npos);
  EXPECT_NE(text.find("  transfer: 1.50 KiB received, 100 B sent\n"), std::string::npos);
  EXPECT_NE(text.find("  path mtu: 1380 (probed)\n"), std::string::npos);
  EXPECT_NE(text.find("  persistent keepalive: every 25 seconds\n"), std::string::npos);
  EXPECT_NE(text.find("peer: idle=\n  allowed ips: (none)\n"), std::string::npos);
}

server::ServerStatus sample_server() {
  server::ServerStatus s;
  s.running = true;
  s.interface = "wg0";
  s.endpoint = "vpn.example.com";
  s.port = 51820;
  s.public_key = "serverkey=";
  server::UserStatus phone;
  phone.name = "phone";
  phone.public_key = "phonekey=";
  phone.ipv4 = "10.49.0.2";
  phone.session = true;
  phone.endpoint = "198.51.100.1:4000";
  phone.handshake_age = 12;
  phone.latest_handshake = 1700000000;
  phone.rx_bytes = 1000;
  phone.tx_bytes = 2000;
  phone.dns_counted = true;
  phone.dns_queries = 9;
  phone.dns_blocked = 2;
  server::UserStatus laptop;
  laptop.name = "laptop";
  laptop.public_key = "laptopkey=";
  laptop.ipv4 = "10.49.0.3";
  laptop.ipv6 = "fd00::3";
  laptop.session = true;
  laptop.dns_counted = true;
  s.users = {phone, laptop};
  s.counters = std::map<std::string, uint64_t>{{"rx_datagrams", 5}};
  s.dns = dns::dns_status_from_json({{"running", true},
                                     {"queries", 9},
                                     {"blocked", 2},
                                     {"upstream_ok", true},
                                     {"lists", {{"blocked_domains", 1234}}}});
  return s;
}

TEST(ServerStatus, JsonRoundTripAndShape) {
  const auto s = sample_server();
  const auto j = server::to_json(s, true);
  EXPECT_EQ(j["running"], true);
  EXPECT_EQ(j["users"][0]["latest_handshake_age_seconds"], 12);
  EXPECT_TRUE(j["users"][1]["latest_handshake_age_seconds"].is_null());
  EXPECT_FALSE(j["users"][1].contains("endpoint"));
  EXPECT_EQ(j["users"][1]["ipv6"], "fd00::3");
  EXPECT_EQ(j["counters"]["rx_datagrams"], 5u);
  EXPECT_FALSE(server::to_json(s, false).contains("running"));
  EXPECT_EQ(server::to_json(server::server_status_from_json(j), true), j);

  // Not running: no sessions, no counters, no DNS.
  server::ServerStatus offline;
  offline.interface = "wg0";
  server::UserStatus u;
  u.name = "phone";
  u.ipv4 = "10.49.0.2";
  offline.users = {u};
  const auto oj = server::to_json(offline, true);
  EXPECT_FALSE(oj.contains("counters"));
  EXPECT_FALSE(oj.contains("dns"));
  EXPECT_FALSE(oj["users"][0].contains("rx_bytes"));
}

TEST(ServerStatus, TextAndPrometheusFromTheSameData) {
  const auto s = sample_server();
  const std::string text = server::render_text(s);
  EXPECT_NE(text.find("server wg0: running, endpoint vpn.example.com:51820\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("  phone          10.49.0.2        198.51.100.1:4000        12 s ago"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  laptop         10.49.0.3        -                        never"),
            std::string::npos);
  EXPECT_NE(text.find("  DNS resolver: 9 queries, 2 blocked, upstream ok\n"), std::string::npos);
  EXPECT_NE(text.find("    phone          2 of 9 queries blocked\n"), std::string::npos);

  const std::string prom = server::render_prometheus(s);
  EXPECT_NE(prom.find("waypost_peers 2\n"), std::string::npos) << prom;
  EXPECT_NE(prom.find("waypost_user_rx_bytes{user=\"phone\",protocol=\"wireguard\"} 1000\n"),
            std::string::npos);
  EXPECT_NE(prom.find("waypost_user_tx_bytes{user=\"laptop\",protocol=\"wireguard\"} 0\n"),
            std::string::npos);
  EXPECT_NE(prom.find("waypost_user_handshake_age_seconds{user=\"phone\"} 12\n"),
            std::string::npos);
  EXPECT_EQ(prom.find("waypost_user_handshake_age_seconds{user=\"laptop\"}"), std::string::npos);
  EXPECT_NE(prom.find("waypost_user_dns_blocked_total{user=\"phone\"} 2\n"), std::string::npos);
  EXPECT_NE(prom.find("waypost_dns_upstream_up 1\n"), std::string::npos);
  EXPECT_NE(prom.find("waypost_dns_blocklist_domains 1234\n"), std::string::npos);
  // The common exporter's names and labels (prometheus_wireguard_exporter with friendly names).
  EXPECT_NE(prom.find("wireguard_received_bytes_total{interface=\"wg0\",public_key=\"phonekey=\","
                      "allowed_ips=\"10.49.0.2/32\",friendly_name=\"phone\"} 1000\n"),
            std::string::npos)
      << prom;
  EXPECT_NE(prom.find("wireguard_sent_bytes_total{interface=\"wg0\",public_key=\"laptopkey=\","
                      "allowed_ips=\"10.49.0.3/32,fd00::3/128\",friendly_name=\"laptop\"} 0\n"),
            std::string::npos);
  EXPECT_NE(prom.find("wireguard_latest_handshake_seconds{interface=\"wg0\",public_key="
                      "\"phonekey=\",allowed_ips=\"10.49.0.2/32\",friendly_name=\"phone\"} "
                      "1700000000\n"),
            std::string::npos);
  EXPECT_NE(prom.find("friendly_name=\"laptop\"} 0\n# HELP"), std::string::npos);  // never: 0
  EXPECT_NE(prom.find("# TYPE wireguard_latest_handshake_seconds gauge\n"), std::string::npos);
}

}  // namespace
}  // namespace waypost

namespace waypost {
namespace {

TEST(ServerStatus, Ikev2SessionsBesideWireGuard) {
  server::ServerStatus s = sample_server();
  s.ipsec_interface = "wg0-ike";
  server::IkeSession ike;
  ike.remote = "198.51.100.9:4500";
  ike.virtual_ips = {"10.48.0.2", "fd00:48::2"};
  ike.established_s = 42;
  ike.nat = true;
  ike.rx_bytes = 300;
  ike.tx_bytes = 400;
  ike.children = {{"c0000101", 100, 150}, {"c0000102", 200, 250}};
  s.users[0].ike_sessions = {ike, ike};
  // JSON: the sessions under "ikev2", and back.
  const auto j = server::to_json(s, true);
  ASSERT_TRUE(j["users"][0].contains("ikev2"));
  EXPECT_EQ(j["users"][0]["ikev2"][0]["virtual_ips"][0], "10.48.0.2");
  EXPECT_EQ(j["ipsec_interface"], "wg0-ike");
  // Per CHILD SA too, for the traffic history (each starts from zero).
  EXPECT_EQ(j["users"][0]["ikev2"][0]["child_sas"][1]["spi_in"], "c0000102");
  EXPECT_EQ(j["users"][0]["ikev2"][0]["child_sas"][1]["tx_bytes"], 250);
  EXPECT_FALSE(j["users"][1].contains("ikev2"));
  EXPECT_EQ(server::to_json(server::server_status_from_json(j), true), j);
  // Text: a line per session under the user's, and the IKEv2 summary.
  const std::string text = server::render_text(s);
  EXPECT_NE(text.find("    (IKEv2)      10.48.0.2        198.51.100.9:4500        up 42 s, NAT"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("IKEv2: device wg0-ike, UDP 500/4500, 2 session(s)"), std::string::npos);
  // Prometheus: the same metrics with protocol="ikev2", summed over the user's sessions.
  const std::string prom = server::render_prometheus(s);
  EXPECT_NE(prom.find("waypost_user_rx_bytes{user=\"phone\",protocol=\"ikev2\"} 600\n"),
            std::string::npos)
      << prom;
  EXPECT_NE(prom.find("waypost_user_tx_bytes{user=\"phone\",protocol=\"ikev2\"} 800\n"),
            std::string::npos);
  EXPECT_NE(prom.find("waypost_user_sessions{user=\"phone\",protocol=\"ikev2\"} 2\n"),
            std::string::npos);
  EXPECT_NE(prom.find("waypost_user_sessions{user=\"laptop\",protocol=\"ikev2\"} 0\n"),
            std::string::npos);
}

}  // namespace
}  // namespace waypost
