// Typed DNS status (dns/status.h) and the server's renderings of it. The golden strings below
// were captured from the renderings before the resolver's status became a struct (when it was a
// free-form JSON object), so they pin the text, the Prometheus page and the JSON the control
// socket carries to what they were.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "dns/status.h"
#include "server/status.h"

namespace waypost {
namespace {

// A server status as the control socket sends it, with every DNS field set: one upstream failing
// over TLS, two list files, three clients and the "other" bucket.
const char* const kServerStatus = R"json({
 "running": true,
 "interface": "wg0",
 "endpoint": "vpn.example.com",
 "port": 51820,
 "public_key": "serverkey=",
 "users": [
  {
   "name": "phone",
   "public_key": "phonekey=",
   "ipv4": "10.49.0.2",
   "endpoint": "198.51.100.1:4000",
   "latest_handshake": 1700000000,
   "latest_handshake_age_seconds": 12,
   "rx_bytes": 1000,
   "tx_bytes": 2000,
   "dns_queries": 90,
   "dns_blocked": 12
  },
  {
   "name": "laptop",
   "public_key": "laptopkey=",
   "ipv4": "10.49.0.3",
   "ipv6": "fd00::3",
   "latest_handshake": 0,
   "latest_handshake_age_seconds": null,
   "rx_bytes": 0,
   "tx_bytes": 0,
   "dns_queries": 20,
   "dns_blocked": 3
  },
  {
   "name": "tablet",
   "public_key": "tabletkey=",
   "ipv4": "10.49.0.4",
   "dns_queries": 0,
   "dns_blocked": 0
  }
 ],
 "counters": {
  "rx_datagrams": 5
 },
 "dns": {
  "running": true,
  "listen": [
   "10.49.0.1:53",
   "[fd00::1]:53"
  ],
  "encryption": true,
  "dnssec": true,
  "adblocking": true,
  "upstreams": [
   "1.1.1.1@853#cloudflare-dns.com",
   "9.9.9.9@853#dns.quad9.net"
  ],
  "queries": 120,
  "tcp_queries": 4,
  "answered": 100,
  "cache_hits": 30,
  "answer_cache": {
   "entries": 12,
   "bytes": 3456
  },
  "blocked": 15,
  "cname_blocked": 2,
  "servfail": 3,
  "formerr": 1,
  "refused": 5,
  "notimp": 1,
  "badvers": 6,
  "dropped": 2,
  "not_allowed": 7,
  "overload": 8,
  "timeouts": 9,
  "upstream_failures": 4,
  "validation_failures": 10,
  "truncated": 11,
  "send_errors": 13,
  "tcp_rejected": 14,
  "inflight": 2,
  "inflight_peak": 16,
  "tcp_connections": 1,
  "upstream_ok": false,
  "consecutive_upstream_failures": 3,
  "problem": "every upstream has failed for 12 s (last error: 9.9.9.9@853#dns.quad9.net: connection refused)",
  "tls": [
   {
    "upstream": "1.1.1.1@853#cloudflare-dns.com",
    "relay_port": 40001,
    "connections": 5,
    "handshakes": 4,
    "failures": 1,
    "consecutive_failures": 1,
    "last_error": "connection refused",
    "last_error_time": 1700000100
   },
   {
    "upstream": "9.9.9.9@853#dns.quad9.net",
    "relay_port": 40002,
    "connections": 0,
    "handshakes": 0,
    "failures": 0,
    "consecutive_failures": 0
   }
  ],
  "lists": {
   "blocked_domains": 1234,
   "allowed_domains": 2,
   "memory_bytes": 65536,
   "loaded_at": 1700000000,
   "files": [
    {
     "path": "/etc/waypost/blocklist.txt",
     "lines": 1300,
     "domains": 1234,
     "ignored_lines": 3
    },
    {
     "path": "/etc/waypost/extra.hosts",
     "lines": 10,
     "domains": 0,
     "ignored_lines": 0
    }
   ]
  },
  "clients": {
   "10.49.0.2": {
    "queries": 90,
    "blocked": 12
   },
   "fd00::3": {
    "queries": 20,
    "blocked": 3
   },
   "other": {
    "queries": 10,
    "blocked": 0
   }
  }
 }
})json";

const char* const kTextHead = R"txt(server wg0: running, endpoint vpn.example.com:51820
  public key: serverkey=

  user           address          endpoint                 last handshake         received / sent
  phone          10.49.0.2        198.51.100.1:4000        12 s ago               1000 / 2000
  laptop         10.49.0.3        -                        never                  0 / 0
  tablet         10.49.0.4        -                        never                  0 / 0
)txt";

const char* const kPromUsers = R"txt(# HELP waypost_peers Configured WireGuard peers (users).
# TYPE waypost_peers gauge
waypost_peers 3
# HELP waypost_user_rx_bytes Bytes received from the user.
# TYPE waypost_user_rx_bytes counter
waypost_user_rx_bytes{user="phone",protocol="wireguard"} 1000
waypost_user_rx_bytes{user="laptop",protocol="wireguard"} 0
waypost_user_rx_bytes{user="tablet",protocol="wireguard"} 0
# HELP waypost_user_tx_bytes Bytes sent to the user.
# TYPE waypost_user_tx_bytes counter
waypost_user_tx_bytes{user="phone",protocol="wireguard"} 2000
waypost_user_tx_bytes{user="laptop",protocol="wireguard"} 0
waypost_user_tx_bytes{user="tablet",protocol="wireguard"} 0
# HELP waypost_user_handshake_age_seconds Seconds since the last handshake (absent if never).
# TYPE waypost_user_handshake_age_seconds gauge
waypost_user_handshake_age_seconds{user="phone"} 12
# HELP waypost_user_sessions Sessions of the user now (WireGuard: 1 with a handshake in the last 3 minutes; IKEv2: one per IKE SA).
# TYPE waypost_user_sessions gauge
waypost_user_sessions{user="phone",protocol="wireguard"} 1
waypost_user_sessions{user="laptop",protocol="wireguard"} 0
waypost_user_sessions{user="tablet",protocol="wireguard"} 0
# HELP wireguard_sent_bytes_total Bytes sent to the peer
# TYPE wireguard_sent_bytes_total counter
wireguard_sent_bytes_total{interface="wg0",public_key="phonekey=",allowed_ips="10.49.0.2/32",friendly_name="phone"} 2000
wireguard_sent_bytes_total{interface="wg0",public_key="laptopkey=",allowed_ips="10.49.0.3/32,fd00::3/128",friendly_name="laptop"} 0
wireguard_sent_bytes_total{interface="wg0",public_key="tabletkey=",allowed_ips="10.49.0.4/32",friendly_name="tablet"} 0
# HELP wireguard_received_bytes_total Bytes received from the peer
# TYPE wireguard_received_bytes_total counter
wireguard_received_bytes_total{interface="wg0",public_key="phonekey=",allowed_ips="10.49.0.2/32",friendly_name="phone"} 1000
wireguard_received_bytes_total{interface="wg0",public_key="laptopkey=",allowed_ips="10.49.0.3/32,fd00::3/128",friendly_name="laptop"} 0
wireguard_received_bytes_total{interface="wg0",public_key="tabletkey=",allowed_ips="10.49.0.4/32",friendly_name="tablet"} 0
# HELP wireguard_latest_handshake_seconds UNIX time of the last handshake (0: never)
# TYPE wireguard_latest_handshake_seconds gauge
wireguard_latest_handshake_seconds{interface="wg0",public_key="phonekey=",allowed_ips="10.49.0.2/32",friendly_name="phone"} 1700000000
wireguard_latest_handshake_seconds{interface="wg0",public_key="laptopkey=",allowed_ips="10.49.0.3/32,fd00::3/128",friendly_name="laptop"} 0
wireguard_latest_handshake_seconds{interface="wg0",public_key="tabletkey=",allowed_ips="10.49.0.4/32",friendly_name="tablet"} 0
)txt";

const char* const kPromDns =
    R"txt(# HELP waypost_user_dns_queries_total DNS queries from the user to the built-in resolver.
# TYPE waypost_user_dns_queries_total counter
waypost_user_dns_queries_total{user="phone"} 90
waypost_user_dns_queries_total{user="laptop"} 20
waypost_user_dns_queries_total{user="tablet"} 0
# HELP waypost_user_dns_blocked_total DNS queries from the user answered as blocked.
# TYPE waypost_user_dns_blocked_total counter
waypost_user_dns_blocked_total{user="phone"} 12
waypost_user_dns_blocked_total{user="laptop"} 3
waypost_user_dns_blocked_total{user="tablet"} 0
# HELP waypost_dns_queries_total DNS queries answered or dropped.
# TYPE waypost_dns_queries_total counter
waypost_dns_queries_total 120
# HELP waypost_dns_blocked_total DNS queries answered as blocked.
# TYPE waypost_dns_blocked_total counter
waypost_dns_blocked_total 15
# HELP waypost_dns_servfail_total DNS queries answered SERVFAIL.
# TYPE waypost_dns_servfail_total counter
waypost_dns_servfail_total 3
# HELP waypost_dns_upstream_failures_total Upstream lookups that failed.
# TYPE waypost_dns_upstream_failures_total counter
waypost_dns_upstream_failures_total 4
# HELP waypost_dns_upstream_up Whether the upstream resolvers answer (0 when every one has been failing).
# TYPE waypost_dns_upstream_up gauge
waypost_dns_upstream_up 0
# HELP waypost_dns_blocklist_domains Domains on the block lists.
# TYPE waypost_dns_blocklist_domains gauge
waypost_dns_blocklist_domains 1234
)txt";

server::ServerStatus sample() {
  return server::server_status_from_json(nlohmann::json::parse(kServerStatus));
}

TEST(ServerStatusWithDns, JsonRoundTripKeepsTheDnsObject) {
  const auto j = nlohmann::json::parse(kServerStatus);
  EXPECT_EQ(server::to_json(server::server_status_from_json(j), true).dump(), j.dump());
}

TEST(ServerStatusWithDns, TextIsUnchanged) {
  auto s = sample();
  EXPECT_EQ(server::render_text(s),
            std::string(kTextHead) +
                "\n  DNS resolver: 120 queries, 15 blocked, upstream FAILING: every upstream has "
                "failed for 12 s (last error: 9.9.9.9@853#dns.quad9.net: connection refused)\n"
                "    phone          12 of 90 queries blocked\n"
                "    laptop         3 of 20 queries blocked\n");

  auto j = nlohmann::json::parse(kServerStatus);
  j["dns"]["upstream_ok"] = true;
  j["dns"].erase("problem");
  EXPECT_EQ(server::render_text(server::server_status_from_json(j)),
            std::string(kTextHead) +
                "\n  DNS resolver: 120 queries, 15 blocked, upstream ok\n"
                "    phone          12 of 90 queries blocked\n"
                "    laptop         3 of 20 queries blocked\n");

  j["dns"] = {{"running", false}, {"reason", "port 53 taken"}};
  EXPECT_EQ(server::render_text(server::server_status_from_json(j)),
            std::string(kTextHead) + "\n  DNS resolver: not running (port 53 taken)\n");

  j.erase("dns");
  EXPECT_EQ(server::render_text(server::server_status_from_json(j)), kTextHead);
}

// The per-user traffic series carry protocol="wireguard" (IKEv2 sessions add protocol="ikev2").
TEST(ServerStatusWithDns, PrometheusIsUnchanged) {
  EXPECT_EQ(server::render_prometheus(sample()), std::string(kPromUsers) + kPromDns);

  auto j = nlohmann::json::parse(kServerStatus);
  j["dns"]["upstream_ok"] = true;
  j["dns"].erase("problem");
  std::string ok = std::string(kPromUsers) + kPromDns;
  ok.replace(ok.find("waypost_dns_upstream_up 0"), 25, "waypost_dns_upstream_up 1");
  EXPECT_EQ(server::render_prometheus(server::server_status_from_json(j)), ok);

  // A resolver that is not running, or a server that does not say: no DNS metrics at all.
  j["dns"] = {{"running", false}, {"reason", "port 53 taken"}};
  EXPECT_EQ(server::render_prometheus(server::server_status_from_json(j)), kPromUsers);
  j.erase("dns");
  EXPECT_EQ(server::render_prometheus(server::server_status_from_json(j)), kPromUsers);
}

// --- dns::DnsStatus on its own -----------------------------------------------------------

// Every field set, to values that differ from each other and from the defaults.
dns::DnsStatus full_status() {
  dns::DnsStatus s;
  s.running = true;
  s.listen = {"10.49.0.1:53", "[fd00::1]:53"};
  s.encryption = true;
  s.dnssec = true;
  s.adblocking = true;
  s.upstreams = {"1.1.1.1@853#cloudflare-dns.com", "9.9.9.9@853#dns.quad9.net"};
  uint64_t n = 100;
  for (uint64_t* c : {&s.counters.queries,
                      &s.counters.tcp_queries,
                      &s.counters.answered,
                      &s.counters.cache_hits,
                      &s.counters.blocked,
                      &s.counters.cname_blocked,
                      &s.counters.servfail,
                      &s.counters.formerr,
                      &s.counters.refused,
                      &s.counters.notimp,
                      &s.counters.badvers,
                      &s.counters.dropped,
                      &s.counters.not_allowed,
                      &s.counters.overload,
                      &s.counters.timeouts,
                      &s.counters.upstream_failures,
                      &s.counters.validation_failures,
                      &s.counters.truncated,
                      &s.counters.send_errors,
                      &s.counters.tcp_rejected}) {
    *c = n++;
  }
  s.counters.inflight_peak = 77;
  s.answer_cache = {12, 3456};
  s.inflight = 3;
  s.tcp_connections = 2;
  s.upstream_ok = false;
  s.consecutive_upstream_failures = 4;
  s.problem = "every upstream has failed for 12 s";
  s.tls = std::vector<dns::TlsUpstreamStatus>{
      {"1.1.1.1@853#cloudflare-dns.com", 40001, 5, 4, 1, 1, "connection refused", 1700000100},
      {"9.9.9.9@853#dns.quad9.net", 40002, 6, 6, 0, 0, "", 0}};
  s.lists = {1234, 2, 65536, 1700000000, {{"/etc/waypost/blocklist.txt", 1300, 1234, 3}}};
  s.clients = {{"10.49.0.2", {90, 12}}, {"fd00::3", {20, 3}}};
  s.other_clients = {10, 1};
  return s;
}

TEST(DnsStatus, JsonRoundTripWithEveryFieldSet) {
  const dns::DnsStatus s = full_status();
  const nlohmann::json j = dns::to_json(s);
  EXPECT_EQ(dns::dns_status_from_json(j), s) << j.dump(2);
  // Through text, as it crosses the control socket.
  EXPECT_EQ(dns::dns_status_from_json(nlohmann::json::parse(j.dump())), s);
  // The conversion hook writes the same JSON.
  const nlohmann::json hooked = s;
  EXPECT_EQ(hooked, j);

  dns::DnsStatus stopped;
  stopped.reason = "port 53 taken";
  EXPECT_EQ(dns::dns_status_from_json(dns::to_json(stopped)), stopped);
}

std::map<std::string, std::string> shape(const nlohmann::json& j) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : j.items()) {
    std::string type = value.type_name();
    if (value.is_number_unsigned()) {
      type = "unsigned";
    } else if (value.is_number_integer()) {
      type = "integer";
    }
    out[key] = type;
  }
  return out;
}

// The keys and JSON types of the resolver's status as it was written before the status was
// typed (Resolver::status() building a JSON object, plus the server's "running").
const std::map<std::string, std::string> kTopKeys{{"running", "boolean"},
                                                  {"listen", "array"},
                                                  {"encryption", "boolean"},
                                                  {"dnssec", "boolean"},
                                                  {"adblocking", "boolean"},
                                                  {"upstreams", "array"},
                                                  {"queries", "unsigned"},
                                                  {"tcp_queries", "unsigned"},
                                                  {"answered", "unsigned"},
                                                  {"cache_hits", "unsigned"},
                                                  {"answer_cache", "object"},
                                                  {"blocked", "unsigned"},
                                                  {"cname_blocked", "unsigned"},
                                                  {"servfail", "unsigned"},
                                                  {"formerr", "unsigned"},
                                                  {"refused", "unsigned"},
                                                  {"notimp", "unsigned"},
                                                  {"badvers", "unsigned"},
                                                  {"dropped", "unsigned"},
                                                  {"not_allowed", "unsigned"},
                                                  {"overload", "unsigned"},
                                                  {"timeouts", "unsigned"},
                                                  {"upstream_failures", "unsigned"},
                                                  {"validation_failures", "unsigned"},
                                                  {"truncated", "unsigned"},
                                                  {"send_errors", "unsigned"},
                                                  {"tcp_rejected", "unsigned"},
                                                  {"inflight", "unsigned"},
                                                  {"inflight_peak", "unsigned"},
                                                  {"tcp_connections", "unsigned"},
                                                  {"upstream_ok", "boolean"},
                                                  {"consecutive_upstream_failures", "unsigned"},
                                                  {"lists", "object"},
                                                  {"clients", "object"}};

TEST(DnsStatus, GoldenKeysAsTheResolverBuildsThem) {
  // A healthy resolver without encryption: no "problem", no "tls", no "other" client.
  dns::DnsStatus s;
  s.running = true;
  s.listen = {"10.49.0.1:53"};
  s.upstreams = {"192.0.2.53@53"};
  s.counters.queries = 2;
  s.upstream_ok = true;
  s.lists.loaded_at = 1700000000;
  s.lists.files.push_back({"/etc/waypost/blocklist.txt", 10, 8, 1});
  s.clients["10.49.0.2"] = {2, 1};
  nlohmann::json j = dns::to_json(s);
  EXPECT_EQ(shape(j), kTopKeys) << j.dump(2);
  EXPECT_EQ(shape(j["answer_cache"]),
            (std::map<std::string, std::string>{{"entries", "unsigned"}, {"bytes", "unsigned"}}));
  EXPECT_EQ(shape(j["lists"]), (std::map<std::string, std::string>{{"blocked_domains", "unsigned"},
                                                                   {"allowed_domains", "unsigned"},
                                                                   {"memory_bytes", "unsigned"},
                                                                   {"loaded_at", "integer"},
                                                                   {"files", "array"}}));
  EXPECT_EQ(shape(j["lists"]["files"][0]),
            (std::map<std::string, std::string>{{"path", "string"},
                                                {"lines", "unsigned"},
                                                {"domains", "unsigned"},
                                                {"ignored_lines", "unsigned"}}));
  EXPECT_EQ(shape(j["clients"]), (std::map<std::string, std::string>{{"10.49.0.2", "object"}}));
  EXPECT_EQ(shape(j["clients"]["10.49.0.2"]),
            (std::map<std::string, std::string>{{"queries", "unsigned"}, {"blocked", "unsigned"}}));
  EXPECT_EQ(j["listen"], nlohmann::json::array({"10.49.0.1:53"}));

  // Failing upstreams over TLS, clients past the tracking limit.
  s.upstream_ok = false;
  s.problem = "every upstream has failed for 3 s";
  s.tls = std::vector<dns::TlsUpstreamStatus>{
      {"192.0.2.53@853#dns.example", 40001, 1, 0, 1, 1, "connection refused", 1700000100},
      {"192.0.2.54@853#dns.example", 40002, 0, 0, 0, 0, "", 0}};
  s.other_clients = {5, 0};
  j = dns::to_json(s);
  auto keys = kTopKeys;
  keys["problem"] = "string";
  keys["tls"] = "array";
  EXPECT_EQ(shape(j), keys) << j.dump(2);
  const std::map<std::string, std::string> tls_keys{
      {"upstream", "string"},     {"relay_port", "unsigned"}, {"connections", "unsigned"},
      {"handshakes", "unsigned"}, {"failures", "unsigned"},   {"consecutive_failures", "unsigned"}};
  auto failed_keys = tls_keys;
  failed_keys["last_error"] = "string";
  failed_keys["last_error_time"] = "integer";
  EXPECT_EQ(shape(j["tls"][0]), failed_keys);
  EXPECT_EQ(shape(j["tls"][1]), tls_keys);
  EXPECT_EQ(j["clients"]["other"], (nlohmann::json{{"queries", 5u}, {"blocked", 0u}}));

  // A relay with no upstream still says "tls" (an empty list); no relay says nothing.
  s.tls.emplace();
  EXPECT_EQ(dns::to_json(s)["tls"], nlohmann::json::array());

  // Not running: the reason and nothing else.
  dns::DnsStatus stopped;
  stopped.reason = "not started";
  EXPECT_EQ(dns::to_json(stopped), (nlohmann::json{{"running", false}, {"reason", "not started"}}));
}

TEST(DnsStatus, GarbageGivesDefaultsNotExceptions) {
  const dns::DnsStatus defaults;
  for (const auto& junk :
       {nlohmann::json(), nlohmann::json(5), nlohmann::json("dns"), nlohmann::json::array({1, 2}),
        nlohmann::json(true), nlohmann::json::object()}) {
    EXPECT_NO_THROW(EXPECT_EQ(dns::dns_status_from_json(junk), defaults)) << junk.dump();
    EXPECT_NO_THROW(EXPECT_EQ(dns::lists_status_from_json(junk), dns::ListsStatus{}));
  }
  // Every key present with a wrong type.
  nlohmann::json wrong = nlohmann::json::object();
  for (const auto& [key, type] : kTopKeys) wrong[key] = type == "boolean" ? "yes" : "5";
  wrong["problem"] = 7;
  wrong["reason"] = nlohmann::json::array();
  wrong["tls"] = "none";
  wrong["listen"] = 5;
  dns::DnsStatus parsed;
  ASSERT_NO_THROW(parsed = dns::dns_status_from_json(wrong));
  EXPECT_EQ(parsed, defaults);

  // Wrong types one level down, negative, fractional and out-of-range numbers.
  const auto nested = nlohmann::json::parse(R"json({
    "running": true, "queries": -3, "blocked": 2.5, "servfail": 18446744073709551615,
    "listen": ["10.49.0.1:53", 5, null], "upstreams": {"a": 1},
    "answer_cache": [1, 2],
    "lists": {"blocked_domains": "many", "loaded_at": 18446744073709551615,
              "files": [1, "x", {"path": 3, "lines": -1, "domains": 4}]},
    "clients": {"10.49.0.2": 5, "10.49.0.3": {"queries": "x", "blocked": 2}, "other": []},
    "tls": [5, {"upstream": "u", "relay_port": 70000, "last_error_time": -5}]
  })json");
  ASSERT_NO_THROW(parsed = dns::dns_status_from_json(nested));
  EXPECT_TRUE(parsed.running);
  EXPECT_EQ(parsed.counters.queries, 0u);
  EXPECT_EQ(parsed.counters.blocked, 0u);
  EXPECT_EQ(parsed.counters.servfail, 18446744073709551615u);
  EXPECT_EQ(parsed.listen, std::vector<std::string>{"10.49.0.1:53"});
  EXPECT_TRUE(parsed.upstreams.empty());
  EXPECT_EQ(parsed.answer_cache, dns::AnswerCacheStatus{});
  EXPECT_EQ(parsed.lists.blocked_domains, 0u);
  EXPECT_EQ(parsed.lists.loaded_at, 0);
  ASSERT_EQ(parsed.lists.files.size(), 1u);
  EXPECT_EQ(parsed.lists.files[0], (dns::ListFileStatus{"", 0, 4, 0}));
  EXPECT_EQ(parsed.clients, (std::map<std::string, dns::ClientCounters>{{"10.49.0.3", {0, 2}}}));
  EXPECT_EQ(parsed.other_clients, dns::ClientCounters{});
  ASSERT_TRUE(parsed.tls);
  ASSERT_EQ(parsed.tls->size(), 1u);
  EXPECT_EQ((*parsed.tls)[0].upstream, "u");
  EXPECT_EQ((*parsed.tls)[0].relay_port, 0);
  EXPECT_EQ((*parsed.tls)[0].last_error_time, -5);
  // Whatever was read renders without throwing.
  EXPECT_NO_THROW((void)dns::to_json(parsed).dump());
  EXPECT_NO_THROW((void)dns::render_text(parsed));
}

// `waypost dns status` (without the per-user lines, which the CLI adds from the server's users):
// captured from the command's output before its rendering moved into dns/status.cc.
TEST(DnsStatus, TextForTheDnsStatusCommandIsUnchanged) {
  const auto all = nlohmann::json::parse(kServerStatus);
  dns::DnsStatus s = dns::dns_status_from_json(all["dns"]);
  EXPECT_EQ(dns::render_text(s),
            "DNS resolver: running on [\"10.49.0.1:53\",\"[fd00::1]:53\"], upstream over TLS, "
            "DNSSEC validated\n"
            "  problem: every upstream has failed for 12 s (last error: "
            "9.9.9.9@853#dns.quad9.net: connection refused)\n"
            "  120 queries, 15 blocked, 3 SERVFAIL\n"
            "  1234 blocked domain(s), 2 allowed\n"
            "  /etc/waypost/blocklist.txt: 1234 domain(s) from 1300 line(s), 3 line(s) ignored\n"
            "  /etc/waypost/extra.hosts: 0 domain(s) from 10 line(s), 0 line(s) ignored\n");
  s.upstream_ok = true;
  s.encryption = false;
  s.dnssec = false;
  EXPECT_EQ(dns::render_text(s),
            "DNS resolver: running on [\"10.49.0.1:53\",\"[fd00::1]:53\"], upstream in clear\n"
            "  120 queries, 15 blocked, 3 SERVFAIL\n"
            "  1234 blocked domain(s), 2 allowed\n"
            "  /etc/waypost/blocklist.txt: 1234 domain(s) from 1300 line(s), 3 line(s) ignored\n"
            "  /etc/waypost/extra.hosts: 0 domain(s) from 10 line(s), 0 line(s) ignored\n");
  EXPECT_EQ(dns::render_text(
                dns::dns_status_from_json({{"running", false}, {"reason", "port 53 taken"}})),
            "DNS resolver: not running (port 53 taken)\n");
  // A server whose reply has no "dns" object.
  EXPECT_EQ(dns::render_text(dns::dns_status_from_json(nlohmann::json::object())),
            "DNS resolver: not running ()\n");
}

}  // namespace
}  // namespace waypost
