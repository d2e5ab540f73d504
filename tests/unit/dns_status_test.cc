// Typed DNS status (dns/status.h) and the server's renderings of it. The golden strings below
// were captured from the renderings before the resolver's status became a struct (when it was a
// free-form JSON object), so they pin the text, the Prometheus page and the JSON the control
// socket carries to what they were.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

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
waypost_user_rx_bytes{user="phone"} 1000
waypost_user_rx_bytes{user="laptop"} 0
waypost_user_rx_bytes{user="tablet"} 0
# HELP waypost_user_tx_bytes Bytes sent to the user.
# TYPE waypost_user_tx_bytes counter
waypost_user_tx_bytes{user="phone"} 2000
waypost_user_tx_bytes{user="laptop"} 0
waypost_user_tx_bytes{user="tablet"} 0
# HELP waypost_user_handshake_age_seconds Seconds since the last handshake (absent if never).
# TYPE waypost_user_handshake_age_seconds gauge
waypost_user_handshake_age_seconds{user="phone"} 12
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

}  // namespace
}  // namespace waypost
