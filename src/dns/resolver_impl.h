#pragma once
// The resolver's private parts, shared by resolver.cc (queries, libunbound, timers, status) and
// resolver_io.cc (UDP and TCP sockets, TCP framing). Nothing outside src/dns/resolver*.cc
// includes this.

#include "dns/resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unbound.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <unordered_map>

#include <fmt/ranges.h>

#include "common/bytes.h"
#include "common/log.h"
#include "dns/answer_cache.h"
#include "dns/blocklist.h"
#include "dns/message.h"
#include "dns/status.h"
#include "dns/tls_relay.h"
#include "dns/unbound_context.h"
#include "platform/fd.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

namespace waypost::dns {

constexpr uint32_t kNil = UINT32_MAX;
constexpr size_t kMaxUdpQuery = 4096;         // larger datagrams are no queries of ours: dropped
constexpr size_t kUdpBudget = 64;             // datagrams per wake-up before others get a turn
constexpr size_t kMaxTcpQuery = 4096;         // a longer TCP message closes the connection
constexpr size_t kMaxTcpBacklog = 256 << 10;  // unsent answers to a client that does not read
constexpr size_t kMaxClientsTracked = 4096;
constexpr uint64_t kFailuresForProblem = 3;
// The Firefox canary domain (https://support.mozilla.org/kb/canary-domain-use-application-dnsnet):
// NXDOMAIN for it keeps Firefox from switching to its own DNS-over-HTTPS resolver, which would
// bypass the block lists.
constexpr std::string_view kDohCanary = "use-application-dns.net";

// The token handed to libunbound with each query: slot index and generation, so that an answer
// for a slot that was since reused is recognized and dropped.
constexpr unsigned kGenBits = sizeof(uintptr_t) == 8 ? 32 : 12;
constexpr uintptr_t kGenMask = (uintptr_t(1) << kGenBits) - 1;

inline Nanos monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * kNanosPerSecond + ts.tv_nsec;
}

// The front answer cache takes an eighth of the configured cache size (libunbound's caches
// keep their own share; see unbound_context.cc), at least 64 KiB.
inline size_t answer_cache_bytes(const ResolverConfig& c) {
  return std::max<size_t>(c.cache_bytes / 8, 64 << 10);
}

struct IpHash {
  size_t operator()(const net::IpAddress& a) const {
    return std::hash<std::string_view>{}(
        std::string_view(reinterpret_cast<const char*>(a.bytes.data()), a.byte_length()));
  }
};

inline std::optional<net::IpAddress> ip_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    return net::IpAddress::v4_bytes(reinterpret_cast<const uint8_t*>(&in->sin_addr));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    return net::IpAddress::v6_bytes(in6->sin6_addr.s6_addr);
  }
  return std::nullopt;
}

inline std::string listen_label(const net::IpAddress& a, uint16_t port) {
  return a.is_v4() ? fmt::format("{}:{}", a.to_string(), port)
                   : fmt::format("[{}]:{}", a.to_string(), port);
}

struct ClientStats {
  uint64_t queries = 0;
  uint64_t blocked = 0;
};

// One libunbound context (and, with encryption, the relay its forwarders point at). After a
// reload changed upstreams, the old one keeps running until its queries are answered.
struct UbContext {
  ub_ctx* ctx = nullptr;
  int fd = -1;
  size_t inflight = 0;
  std::unique_ptr<TlsRelay> relay;
  ~UbContext() {
    // libunbound's thread goes first (it holds connections to the relay), then the relay.
    if (ctx) ub_ctx_delete(ctx);
    relay.reset();
  }
};

struct ReplyTo {
  bool tcp = false;
  int udp_fd = -1;
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  uint64_t conn = 0;
};

struct Pending {
  uint32_t generation = 0;
  bool used = false;
  int async_id = 0;
  UbContext* ub = nullptr;
  Nanos started = 0;
  uint32_t prev = kNil;
  uint32_t next = kNil;
  ReplyTo to;
  ClientStats* client = nullptr;
  Query query;
};

struct TcpConn {
  uint64_t id = 0;
  platform::UniqueFd fd;
  ClientStats* client = nullptr;
  std::array<uint8_t, 2 + kMaxTcpQuery> in;
  size_t in_len = 0;
  std::vector<uint8_t> out;
  size_t out_off = 0;
  Nanos last_activity = 0;
  size_t pending = 0;
  uint32_t events = EPOLLIN;
  bool eof = false;   // the client closed its side; we finish the answers it is owed
  bool dead = false;  // close at the next safe point
};

// The counters are the status's own struct (dns/status.h): status() copies them as they are.
using Counters = QueryCounters;

struct Resolver::Impl {
  platform::EventLoop& loop;
  ResolverConfig config;
  std::shared_ptr<const Blocklist> lists;
  int64_t lists_loaded_unix = 0;

  std::vector<platform::UniqueFd> udp;
  std::vector<platform::UniqueFd> listeners;
  std::vector<std::string> labels;

  std::unique_ptr<UbContext> ub;
  std::vector<std::unique_ptr<UbContext>> retiring;

  std::vector<Pending> slots;
  std::vector<uint32_t> free_slots;
  uint32_t head = kNil;  // oldest in-flight query: the next to time out
  uint32_t tail = kNil;
  size_t inflight = 0;

  std::unordered_map<uint64_t, std::unique_ptr<TcpConn>> conns;
  uint64_t next_conn = 1;

  platform::UniqueFd timer;
  Nanos armed = kNever;

  std::unordered_map<net::IpAddress, ClientStats, IpHash> clients;
  ClientStats other_clients;  // once kMaxClientsTracked addresses have been seen

  Counters c;
  uint64_t consecutive_failures = 0;
  Nanos failing_since = 0;
  std::string last_failure;

  AnswerCache answers;  // answers asked again within their TTL skip libunbound's thread

  Query query;  // the query being parsed (kept here: it is ~300 bytes)
  std::array<uint8_t, kMaxUdpQuery> rx;
  std::array<uint8_t, 2 + kMaxTcpMessage> tx;  // answers are built at tx + 2 (TCP length)

  Impl(platform::EventLoop& l, ResolverConfig cfg)
      : loop(l), config(std::move(cfg)), answers(answer_cache_bytes(config)) {}

  ~Impl() {
    for (auto& [id, conn] : conns) loop.remove(conn->fd.get());
    conns.clear();
    for (auto& fd : udp) loop.remove(fd.get());
    for (auto& fd : listeners) loop.remove(fd.get());
    if (timer.valid()) loop.remove(timer.get());
    for (auto& r : retiring) loop.remove(r->fd);
    if (ub) loop.remove(ub->fd);
  }

  // --- setup ---------------------------------------------------------------------------------

  Result<std::shared_ptr<const Blocklist>> load_lists(const ResolverConfig& cfg);

  Result<std::unique_ptr<UbContext>> make_unbound(const ResolverConfig& cfg);

  Status open_sockets();

  // --- clients -------------------------------------------------------------------------------

  bool allowed(const net::IpAddress& ip) const;

  ClientStats* client_for(const net::IpAddress& ip);

  // --- answering -----------------------------------------------------------------------------

  MutableByteSpan answer_buffer() { return {tx.data() + 2, kMaxTcpMessage}; }

  void send_answer(const ReplyTo& to, size_t len);

  size_t error_answer(const Query& q, uint16_t rcode);

  size_t blocked_answer(const Query& q, ClientStats* client, bool nxdomain);

  void upstream_failed(std::string reason);

  void upstream_ok() { consecutive_failures = 0; }

  void handle_query(ByteSpan packet, const ReplyTo& to, ClientStats* client);

  bool answer_from_cache(const Query& q, const ReplyTo& to);

  static void unbound_callback(void* data, int err, ub_result* result);

  void on_result(uintptr_t token, int err, ub_result* result);

  // --- in-flight table -----------------------------------------------------------------------

  uint32_t allocate_slot();

  void link_tail(uint32_t idx);

  void release_slot(uint32_t idx);

  // --- events --------------------------------------------------------------------------------

  void on_unbound(UbContext* u);

  void reap_retired();

  void on_udp(int fd);

  void on_accept(int listener);

  void set_events(TcpConn& conn, uint32_t events);

  void tcp_write(TcpConn& conn, const uint8_t* data, size_t len);

  void tcp_flush(TcpConn& conn);

  void on_tcp(uint64_t id, uint32_t events);

  void maybe_close(uint64_t id);

  void schedule(Nanos deadline);

  void on_timer();

  // --- status --------------------------------------------------------------------------------

  std::string problem() const;
};

}  // namespace waypost::dns
