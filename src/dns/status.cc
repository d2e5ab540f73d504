#include "dns/status.h"

#include <fmt/format.h>

#include <limits>

namespace waypost::dns {

namespace {

// The readers below take JSON that came over a socket: only a field of the right type counts,
// anything else leaves the default. The checked accessors never throw.

const nlohmann::json* field(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

bool get_bool(const nlohmann::json& j, const char* key, bool fallback) {
  const auto* v = field(j, key);
  return v != nullptr && v->is_boolean() ? v->get<bool>() : fallback;
}

// Counters arrive unsigned from a socket; a JSON built in memory from ints holds them signed, so
// a non-negative signed value counts as well.
uint64_t get_u64(const nlohmann::json& j, const char* key) {
  const auto* v = field(j, key);
  if (v == nullptr) return 0;
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer() && v->get<int64_t>() >= 0) return v->get<int64_t>();
  return 0;
}

int64_t get_i64(const nlohmann::json& j, const char* key) {
  const auto* v = field(j, key);
  if (v == nullptr) return 0;
  if (v->is_number_unsigned()) {
    const auto u = v->get<uint64_t>();
    return u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? static_cast<int64_t>(u)
                                                                           : 0;
  }
  return v->is_number_integer() ? v->get<int64_t>() : 0;
}

std::string get_str(const nlohmann::json& j, const char* key) {
  const auto* v = field(j, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

std::vector<std::string> get_strings(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  const auto* v = field(j, key);
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& s : *v) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

const nlohmann::json& get_object(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const auto* v = field(j, key);
  return v != nullptr && v->is_object() ? *v : kEmpty;
}

ClientCounters client_from_json(const nlohmann::json& j) {
  return {get_u64(j, "queries"), get_u64(j, "blocked")};
}

TlsUpstreamStatus tls_upstream_from_json(const nlohmann::json& j) {
  TlsUpstreamStatus u;
  u.upstream = get_str(j, "upstream");
  const uint64_t port = get_u64(j, "relay_port");
  u.relay_port = port <= std::numeric_limits<uint16_t>::max() ? static_cast<uint16_t>(port) : 0;
  u.connections = get_u64(j, "connections");
  u.handshakes = get_u64(j, "handshakes");
  u.failures = get_u64(j, "failures");
  u.consecutive_failures = get_u64(j, "consecutive_failures");
  u.last_error = get_str(j, "last_error");
  u.last_error_time = get_i64(j, "last_error_time");
  return u;
}

QueryCounters counters_from_json(const nlohmann::json& j) {
  QueryCounters c;
  c.queries = get_u64(j, "queries");
  c.tcp_queries = get_u64(j, "tcp_queries");
  c.answered = get_u64(j, "answered");
  c.cache_hits = get_u64(j, "cache_hits");
  c.blocked = get_u64(j, "blocked");
  c.cname_blocked = get_u64(j, "cname_blocked");
  c.servfail = get_u64(j, "servfail");
  c.formerr = get_u64(j, "formerr");
  c.refused = get_u64(j, "refused");
  c.notimp = get_u64(j, "notimp");
  c.badvers = get_u64(j, "badvers");
  c.dropped = get_u64(j, "dropped");
  c.not_allowed = get_u64(j, "not_allowed");
  c.overload = get_u64(j, "overload");
  c.timeouts = get_u64(j, "timeouts");
  c.upstream_failures = get_u64(j, "upstream_failures");
  c.validation_failures = get_u64(j, "validation_failures");
  c.truncated = get_u64(j, "truncated");
  c.send_errors = get_u64(j, "send_errors");
  c.tcp_rejected = get_u64(j, "tcp_rejected");
  c.inflight_peak = get_u64(j, "inflight_peak");
  return c;
}

}  // namespace

void to_json(nlohmann::json& j, const TlsUpstreamStatus& u) {
  j = {{"upstream", u.upstream},       {"relay_port", u.relay_port},
       {"connections", u.connections}, {"handshakes", u.handshakes},
       {"failures", u.failures},       {"consecutive_failures", u.consecutive_failures}};
  if (!u.last_error.empty()) {
    j["last_error"] = u.last_error;
    j["last_error_time"] = u.last_error_time;
  }
}

void to_json(nlohmann::json& j, const ListFileStatus& f) {
  j = {{"path", f.path},
       {"lines", f.lines},
       {"domains", f.domains},
       {"ignored_lines", f.ignored_lines}};
}

void to_json(nlohmann::json& j, const ClientCounters& c) {
  j = {{"queries", c.queries}, {"blocked", c.blocked}};
}

void to_json(nlohmann::json& j, const DnsStatus& s) {
  j = nlohmann::json::object();
  j["running"] = s.running;
  if (!s.running) {
    j["reason"] = s.reason;
    return;
  }
  const QueryCounters& c = s.counters;
  j["listen"] = s.listen;
  j["encryption"] = s.encryption;
  j["dnssec"] = s.dnssec;
  j["adblocking"] = s.adblocking;
  j["upstreams"] = s.upstreams;
  j["queries"] = c.queries;
  j["tcp_queries"] = c.tcp_queries;
  j["answered"] = c.answered;
  j["cache_hits"] = c.cache_hits;
  j["answer_cache"] = {{"entries", s.answer_cache.entries}, {"bytes", s.answer_cache.bytes}};
  j["blocked"] = c.blocked;
  j["cname_blocked"] = c.cname_blocked;
  j["servfail"] = c.servfail;
  j["formerr"] = c.formerr;
  j["refused"] = c.refused;
  j["notimp"] = c.notimp;
  j["badvers"] = c.badvers;
  j["dropped"] = c.dropped;
  j["not_allowed"] = c.not_allowed;
  j["overload"] = c.overload;
  j["timeouts"] = c.timeouts;
  j["upstream_failures"] = c.upstream_failures;
  j["validation_failures"] = c.validation_failures;
  j["truncated"] = c.truncated;
  j["send_errors"] = c.send_errors;
  j["tcp_rejected"] = c.tcp_rejected;
  j["inflight"] = s.inflight;
  j["inflight_peak"] = c.inflight_peak;
  j["tcp_connections"] = s.tcp_connections;
  j["upstream_ok"] = s.upstream_ok;
  j["consecutive_upstream_failures"] = s.consecutive_upstream_failures;
  if (!s.upstream_ok) j["problem"] = s.problem;
  if (s.tls) j["tls"] = *s.tls;
  j["lists"] = {{"blocked_domains", s.lists.blocked_domains},
                {"allowed_domains", s.lists.allowed_domains},
                {"memory_bytes", s.lists.memory_bytes},
                {"loaded_at", s.lists.loaded_at},
                {"files", s.lists.files}};
  nlohmann::json clients = nlohmann::json::object();
  for (const auto& [ip, counters] : s.clients) clients[ip] = counters;
  if (s.other_clients.queries != 0) clients["other"] = s.other_clients;
  j["clients"] = std::move(clients);
}

nlohmann::json to_json(const DnsStatus& status) {
  nlohmann::json j;
  to_json(j, status);
  return j;
}

ListsStatus lists_status_from_json(const nlohmann::json& j) {
  ListsStatus l;
  l.blocked_domains = get_u64(j, "blocked_domains");
  l.allowed_domains = get_u64(j, "allowed_domains");
  l.memory_bytes = get_u64(j, "memory_bytes");
  l.loaded_at = get_i64(j, "loaded_at");
  if (const auto* files = field(j, "files"); files != nullptr && files->is_array()) {
    for (const auto& f : *files) {
      if (!f.is_object()) continue;
      l.files.push_back({get_str(f, "path"), get_u64(f, "lines"), get_u64(f, "domains"),
                         get_u64(f, "ignored_lines")});
    }
  }
  return l;
}

DnsStatus dns_status_from_json(const nlohmann::json& j) {
  DnsStatus s;
  if (!j.is_object()) return s;
  s.running = get_bool(j, "running", false);
  s.reason = get_str(j, "reason");
  s.listen = get_strings(j, "listen");
  s.encryption = get_bool(j, "encryption", false);
  s.dnssec = get_bool(j, "dnssec", false);
  s.adblocking = get_bool(j, "adblocking", false);
  s.upstreams = get_strings(j, "upstreams");
  s.counters = counters_from_json(j);
  const auto& cache = get_object(j, "answer_cache");
  s.answer_cache = {get_u64(cache, "entries"), get_u64(cache, "bytes")};
  s.inflight = get_u64(j, "inflight");
  s.tcp_connections = get_u64(j, "tcp_connections");
  // Unknown health is not reported as a failure.
  s.upstream_ok = get_bool(j, "upstream_ok", true);
  s.consecutive_upstream_failures = get_u64(j, "consecutive_upstream_failures");
  s.problem = get_str(j, "problem");
  if (const auto* tls = field(j, "tls"); tls != nullptr && tls->is_array()) {
    s.tls.emplace();
    for (const auto& u : *tls) {
      if (u.is_object()) s.tls->push_back(tls_upstream_from_json(u));
    }
  }
  s.lists = lists_status_from_json(get_object(j, "lists"));
  for (const auto& [key, value] : get_object(j, "clients").items()) {
    if (!value.is_object()) continue;
    if (key == "other") {
      s.other_clients = client_from_json(value);
    } else {
      s.clients[key] = client_from_json(value);
    }
  }
  return s;
}

std::string render_lists_text(const ListsStatus& lists) {
  std::string out = fmt::format("  {} blocked domain(s), {} allowed\n", lists.blocked_domains,
                                lists.allowed_domains);
  for (const auto& f : lists.files) {
    out += fmt::format("  {}: {} domain(s) from {} line(s), {} line(s) ignored\n", f.path,
                       f.domains, f.lines, f.ignored_lines);
  }
  return out;
}

std::string render_text(const DnsStatus& s) {
  if (!s.running) return fmt::format("DNS resolver: not running ({})\n", s.reason);
  // The addresses as a JSON list, as this line has always shown them.
  // (Replacing invalid UTF-8 instead of throwing; addresses are ASCII.)
  std::string out = fmt::format(
      "DNS resolver: running on {}, upstream {}{}\n",
      nlohmann::json(s.listen).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      s.encryption ? "over TLS" : "in clear", s.dnssec ? ", DNSSEC validated" : "");
  if (!s.upstream_ok) out += fmt::format("  problem: {}\n", s.problem);
  out += fmt::format("  {} queries, {} blocked, {} SERVFAIL\n", s.counters.queries,
                     s.counters.blocked, s.counters.servfail);
  out += render_lists_text(s.lists);
  return out;
}

}  // namespace waypost::dns
