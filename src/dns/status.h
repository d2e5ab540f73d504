#pragma once
// Typed status of the server's DNS resolver: produced once by Resolver::status() from its
// counters, carried by server::ServerStatus, rendered to the control socket's JSON (the "dns"
// object of `status`), to `waypost server status` / Prometheus (server/status.cc) and to
// `waypost dns status` text (here), and read back from the socket's JSON by the CLI and `doctor`.
//
// The JSON keys are a wire format that scripts read: to_json writes exactly the keys the resolver
// has always written, and dns_status_from_json reads them back without ever throwing (a missing
// or mistyped field gives the default).

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace waypost::dns {

// The resolver's query counters (it counts into this struct directly).
struct QueryCounters {
  uint64_t queries = 0;
  uint64_t tcp_queries = 0;
  uint64_t answered = 0;    // upstream answers relayed (any rcode but SERVFAIL), cached ones too
  uint64_t cache_hits = 0;  // of those, answered from the front answer cache
  uint64_t blocked = 0;
  uint64_t cname_blocked = 0;  // of those, blocked because of a CNAME target in the answer
  uint64_t servfail = 0;
  uint64_t formerr = 0;
  uint64_t refused = 0;
  uint64_t notimp = 0;
  uint64_t badvers = 0;
  uint64_t dropped = 0;
  uint64_t not_allowed = 0;  // from outside allowed_clients: dropped without an answer
  uint64_t overload = 0;     // REFUSED because max_inflight queries were waiting
  uint64_t timeouts = 0;
  uint64_t upstream_failures = 0;
  uint64_t validation_failures = 0;
  uint64_t truncated = 0;
  uint64_t send_errors = 0;
  uint64_t tcp_rejected = 0;
  size_t inflight_peak = 0;

  bool operator==(const QueryCounters&) const = default;
};

// One upstream of the DNS-over-TLS relay (tls_relay.h).
struct TlsUpstreamStatus {
  std::string upstream;  // "1.1.1.1@853#cloudflare-dns.com"
  uint16_t relay_port = 0;
  uint64_t connections = 0;
  uint64_t handshakes = 0;
  uint64_t failures = 0;
  uint64_t consecutive_failures = 0;
  std::string last_error;       // "" when the upstream never failed
  int64_t last_error_time = 0;  // unix seconds; on the wire only with last_error

  bool operator==(const TlsUpstreamStatus&) const = default;
};

struct AnswerCacheStatus {
  uint64_t entries = 0;
  uint64_t bytes = 0;

  bool operator==(const AnswerCacheStatus&) const = default;
};

struct ListFileStatus {
  std::string path;
  uint64_t lines = 0;
  uint64_t domains = 0;
  uint64_t ignored_lines = 0;

  bool operator==(const ListFileStatus&) const = default;
};

struct ListsStatus {
  uint64_t blocked_domains = 0;
  uint64_t allowed_domains = 0;
  uint64_t memory_bytes = 0;
  int64_t loaded_at = 0;  // unix seconds
  std::vector<ListFileStatus> files;

  bool operator==(const ListsStatus&) const = default;
};

struct ClientCounters {
  uint64_t queries = 0;
  uint64_t blocked = 0;

  bool operator==(const ClientCounters&) const = default;
};

struct DnsStatus {
  bool running = false;
  std::string reason;  // why not, when !running; then it is the only other field on the wire

  std::vector<std::string> listen;  // "10.49.0.1:53", "[fd00::1]:53"
  bool encryption = false;
  bool dnssec = false;
  bool adblocking = false;
  std::vector<std::string> upstreams;
  QueryCounters counters;
  AnswerCacheStatus answer_cache;
  uint64_t inflight = 0;
  uint64_t tcp_connections = 0;
  bool upstream_ok = true;
  uint64_t consecutive_upstream_failures = 0;
  std::string problem;  // on the wire only when !upstream_ok
  // With encryption, the relay's upstreams; nullopt (no "tls" key) when there is no relay.
  std::optional<std::vector<TlsUpstreamStatus>> tls;
  ListsStatus lists;
  std::map<std::string, ClientCounters> clients;  // by client address
  // Clients seen after the per-address limit; on the wire (as "other") only when it has queries.
  ClientCounters other_clients;

  bool operator==(const DnsStatus&) const = default;
};

nlohmann::json to_json(const DnsStatus& status);
DnsStatus dns_status_from_json(const nlohmann::json& j);
ListsStatus lists_status_from_json(const nlohmann::json& j);

// nlohmann's conversion hooks (found by argument-dependent lookup), so that `json x = status` and
// `j["lists"] = lists.files` write the same keys as to_json.
void to_json(nlohmann::json& j, const DnsStatus& status);
void to_json(nlohmann::json& j, const TlsUpstreamStatus& upstream);
void to_json(nlohmann::json& j, const ListFileStatus& file);
void to_json(nlohmann::json& j, const ClientCounters& client);

// `waypost dns status` without --json: the resolver's part (the per-user lines are the server's).
std::string render_text(const DnsStatus& status);
// The block lists' lines of it, which `waypost dns reload` prints too.
std::string render_lists_text(const ListsStatus& lists);

}  // namespace waypost::dns
