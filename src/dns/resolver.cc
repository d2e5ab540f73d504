#include "dns/resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unbound.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <unordered_map>

#include <fmt/ranges.h>

#include "common/bytes.h"
#include "common/log.h"
#include "dns/answer_cache.h"
#include "dns/blocklist.h"
#include "dns/message.h"
#include "dns/tls_relay.h"
#include "dns/unbound_context.h"
#include "platform/fd.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

namespace waypost::dns {

namespace {

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

Nanos monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * kNanosPerSecond + ts.tv_nsec;
}

// The front answer cache takes an eighth of the configured cache size (libunbound's caches
// keep their own share; see unbound_context.cc), at least 64 KiB.
size_t answer_cache_bytes(const ResolverConfig& c) { return std::max<size_t>(c.cache_bytes / 8, 64 << 10); }

struct IpHash {
  size_t operator()(const net::IpAddress& a) const {
    return std::hash<std::string_view>{}(
        std::string_view(reinterpret_cast<const char*>(a.bytes.data()), a.byte_length()));
  }
};

std::optional<net::IpAddress> ip_of(const sockaddr_storage& ss) {
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

std::string listen_label(const net::IpAddress& a, uint16_t port) {
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

struct Counters {
  uint64_t queries = 0;
  uint64_t tcp_queries = 0;
  uint64_t answered = 0;  // upstream answers relayed (any rcode but SERVFAIL), cached ones too
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
};

}  // namespace

thread_local Resolver::Impl* t_processing = nullptr;

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

  Result<std::shared_ptr<const Blocklist>> load_lists(const ResolverConfig& cfg) {
    if (!cfg.adblocking) return Blocklist::from_texts({}, {});
    const Nanos t0 = monotonic_now();
    auto l = Blocklist::load(cfg.blocklists, cfg.allowlist);
    if (!l) return l;
    for (const auto& s : (*l)->stats()) {
      if (s.ignored) {
        spdlog::warn("block list {}: {} of {} lines not understood, e.g. '{}'", s.path, s.ignored,
                     s.lines, s.first_ignored);
      }
    }
    spdlog::info("DNS block lists: {} domains blocked, {} allowed ({} files, {} ms, {} KiB)",
                 (*l)->blocked_domains(), (*l)->allowed_domains(), cfg.blocklists.size(),
                 (monotonic_now() - t0) / kNanosPerMilli, (*l)->memory_bytes() >> 10);
    return l;
  }

  Result<std::unique_ptr<UbContext>> make_unbound(const ResolverConfig& cfg) {
    auto u = std::make_unique<UbContext>();
    std::vector<std::string> forward;
    if (cfg.encryption) {
      if (::access(cfg.ca_bundle.c_str(), R_OK) != 0) {
        return make_error("DNS encryption is on but the CA bundle {} cannot be read ({})",
                          cfg.ca_bundle, std::strerror(errno));
      }
      auto relay = TlsRelay::start({cfg.upstreams, cfg.ca_bundle}, loop);
      if (!relay) return relay.take_error();
      u->relay = std::move(*relay);
      for (size_t i = 0; i < u->relay->upstream_count(); ++i) {
        forward.push_back(u->relay->forward_addr(i));
      }
    } else {
      for (const auto& up : cfg.upstreams) {
        forward.push_back(fmt::format("{}@{}", up.address.to_string(), up.port));
      }
    }
    const std::string text = unbound_config_text(cfg, forward, cfg.encryption);
    spdlog::debug("libunbound config:\n{}", text);
    auto ctx = create_unbound_context(cfg, text);
    if (!ctx) return ctx.take_error();
    u->ctx = *ctx;
    u->fd = ub_fd(u->ctx);
    if (u->fd < 0) return make_error("libunbound: no result descriptor");
    UbContext* raw = u.get();
    if (auto st = loop.add(u->fd, EPOLLIN, [this, raw](uint32_t) { on_unbound(raw); }); !st) {
      u->fd = -1;
      return st.take_error();
    }
    return u;
  }

  Status open_sockets() {
    for (const auto& addr : config.listen) {
      const bool v4 = addr.is_v4();
      const std::string label = listen_label(addr, config.port);
      sockaddr_storage ss{};
      const socklen_t sl = net::Endpoint::from(addr, config.port).to_sockaddr(ss, v4);
      for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
        int fd = ::socket(v4 ? AF_INET : AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return make_error("DNS socket: {}", std::strerror(errno));
        platform::UniqueFd owned(fd);
        const int one = 1;
        // Free-bind: the tunnel address may be configured a moment after we start; V6ONLY: a v6
        // socket must not also claim the v4 port.
        if (v4) {
          setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
        } else {
          setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
          setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
        }
        if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (type == SOCK_DGRAM) {
          // Bursts (a phone waking up, a page with 80 hosts) outrun the default ~208 KiB queue;
          // FORCE needs CAP_NET_ADMIN, which the daemon keeps, and is capped at 1 MiB here.
          const int bytes = 1 << 20;
          if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
          }
        }
        if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), sl) < 0) {
          int e = errno;
          return make_error("cannot listen for DNS on {} ({}): {}{}", label,
                            type == SOCK_DGRAM ? "UDP" : "TCP", std::strerror(e),
                            e == EADDRINUSE
                                ? " (is another DNS server, such as dnsmasq or systemd-resolved, "
                                  "listening on it or on all addresses?)"
                                : "");
        }
        if (type == SOCK_STREAM && ::listen(fd, 128) < 0) {
          return make_error("cannot listen for DNS on {} (TCP): {}", label, std::strerror(errno));
        }
        Status st = type == SOCK_DGRAM
                        ? loop.add(fd, EPOLLIN, [this, fd](uint32_t) { on_udp(fd); })
                        : loop.add(fd, EPOLLIN, [this, fd](uint32_t) { on_accept(fd); });
        if (!st) return st;
        (type == SOCK_DGRAM ? udp : listeners).push_back(std::move(owned));
      }
      labels.push_back(label);
    }
    timer.reset(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!timer.valid()) return make_error("timerfd: {}", std::strerror(errno));
    return loop.add(timer.get(), EPOLLIN, [this](uint32_t) { on_timer(); });
  }

  // --- clients -------------------------------------------------------------------------------

  bool allowed(const net::IpAddress& ip) const {
    for (const auto& p : config.allowed_clients) {
      if (p.contains(ip)) return true;
    }
    return false;
  }

  ClientStats* client_for(const net::IpAddress& ip) {
    auto it = clients.find(ip);
    if (it != clients.end()) return &it->second;
    if (clients.size() >= kMaxClientsTracked) return &other_clients;
    return &clients.emplace(ip, ClientStats{}).first->second;
  }

  // --- answering -----------------------------------------------------------------------------

  MutableByteSpan answer_buffer() { return MutableByteSpan(tx.data() + 2, kMaxTcpMessage); }

  void send_answer(const ReplyTo& to, size_t len) {
    if (len == 0) return;
    if (!to.tcp) {
      ssize_t n = ::sendto(to.udp_fd, tx.data() + 2, len, MSG_DONTWAIT,
                           reinterpret_cast<const sockaddr*>(&to.peer), to.peer_len);
      if (n < 0) {
        ++c.send_errors;
        WP_LOG_RATELIMITED(debug, "DNS answer not sent: {}", std::strerror(errno));
      }
      return;
    }
    auto it = conns.find(to.conn);
    if (it == conns.end()) return;  // the client went away meanwhile
    store_be16(tx.data(), uint16_t(len));
    tcp_write(*it->second, tx.data(), len + 2);
  }

  size_t error_answer(const Query& q, uint16_t rcode) {
    switch (rcode) {
      case kServFail:
        ++c.servfail;
        break;
      case kFormErr:
        ++c.formerr;
        break;
      case kRefused:
        ++c.refused;
        break;
      case kNotImp:
        ++c.notimp;
        break;
      case kBadVers:
        ++c.badvers;
        break;
      default:
        break;
    }
    return build_error(q, rcode, answer_buffer());
  }

  size_t blocked_answer(const Query& q, ClientStats* client, bool nxdomain) {
    ++c.blocked;
    ++client->blocked;
    const BlockMode mode = nxdomain || config.block_response == BlockResponse::kNxdomain
                               ? BlockMode::kNxdomain
                               : BlockMode::kZeroAddress;
    return build_blocked(q, mode, answer_buffer());
  }

  void upstream_failed(std::string reason) {
    ++c.upstream_failures;
    if (consecutive_failures++ == 0) failing_since = monotonic_now();
    last_failure = std::move(reason);
  }

  void upstream_ok() { consecutive_failures = 0; }

  void handle_query(ByteSpan packet, const ReplyTo& to, ClientStats* client) {
    ++c.queries;
    ++client->queries;
    if (to.tcp) ++c.tcp_queries;
    Query& q = query;
    switch (parse_query(packet, q)) {
      case ParseStatus::kDrop:
        ++c.dropped;
        return;
      case ParseStatus::kFormErr:
        return send_answer(to, error_answer(q, kFormErr));
      case ParseStatus::kNotImp:
        return send_answer(to, error_answer(q, kNotImp));
      case ParseStatus::kRefused:
        return send_answer(to, error_answer(q, kRefused));
      case ParseStatus::kBadVers:
        return send_answer(to, error_answer(q, kBadVers));
      case ParseStatus::kOk:
        break;
    }

    if (config.adblocking) {
      std::array<char, 254> key;
      const size_t klen = name_to_lookup_key(q.qname(), key);
      const std::string_view name(key.data(), klen);
      if (klen && (name == kDohCanary || name.ends_with(".use-application-dns.net"))) {
        return send_answer(to, blocked_answer(q, client, true));
      }
      if (klen && lists->blocked(name)) return send_answer(to, blocked_answer(q, client, false));
    }
    if (answer_from_cache(q, to)) return;
    if (inflight >= config.max_inflight) {
      ++c.overload;
      WP_LOG_RATELIMITED(warn, "DNS: {} queries waiting for upstreams; refusing more", inflight);
      return send_answer(to, error_answer(q, kRefused));
    }

    std::array<char, kMaxNameText> name;
    if (name_to_text(q.qname(), name) == 0) return send_answer(to, error_answer(q, kFormErr));
    const uint32_t idx = allocate_slot();
    Pending& p = slots[idx];
    const uintptr_t token = uintptr_t(idx) << kGenBits | (p.generation & kGenMask);
    int async_id = 0;
    const int r =
        ub_resolve_async(ub->ctx, name.data(), q.qtype, q.qclass, reinterpret_cast<void*>(token),
                         &Impl::unbound_callback, &async_id);
    if (r != 0) {
      free_slots.push_back(idx);
      upstream_failed(fmt::format("libunbound: {}", ub_strerror(r)));
      return send_answer(to, error_answer(q, kServFail));
    }
    p.used = true;
    p.async_id = async_id;
    p.ub = ub.get();
    p.started = monotonic_now();
    p.to = to;
    p.client = client;
    p.query = q;
    link_tail(idx);
    ++ub->inflight;
    ++inflight;
    c.inflight_peak = std::max(c.inflight_peak, inflight);
    if (to.tcp) {
      if (auto it = conns.find(to.conn); it != conns.end()) ++it->second->pending;
    }
    schedule(p.started + config.upstream_timeout);
  }

  bool answer_from_cache(const Query& q, const ReplyTo& to) {
    uint32_t age = 0;
    const CachedAnswer* hit = answers.find(q.qname(), q.qtype, q.qclass, monotonic_now(), &age);
    if (hit == nullptr) return false;
    const ByteSpan packet(hit->packet);
    const UpstreamScan scan = scan_upstream(packet, q);
    if (!scan.ok) return false;
    const size_t limit = to.tcp ? kMaxTcpMessage : q.udp_limit();
    MutableByteSpan out = answer_buffer();
    const size_t n = build_from_upstream(q, packet, scan, hit->secure, limit, out);
    if (n < kHeaderSize) return false;
    const size_t records = size_t(load_be16(&out[6])) + load_be16(&out[8]) + load_be16(&out[10]);
    age_record_ttls(out.first(n), scan.records_begin, n, records, age);
    ++c.answered;
    ++c.cache_hits;
    if (load_be16(&out[2]) & kFlagTc) ++c.truncated;
    send_answer(to, n);
    return true;
  }

  static void unbound_callback(void* data, int err, ub_result* result) {
    if (t_processing) {
      t_processing->on_result(reinterpret_cast<uintptr_t>(data), err, result);
    } else if (result) {
      ub_resolve_free(result);
    }
  }

  void on_result(uintptr_t token, int err, ub_result* result) {
    const uint32_t idx = uint32_t(token >> kGenBits);
    if (idx >= slots.size() || !slots[idx].used ||
        (slots[idx].generation & kGenMask) != (token & kGenMask)) {
      if (result) ub_resolve_free(result);
      return;
    }
    Pending& p = slots[idx];
    const Query& q = p.query;
    size_t n = 0;
    if (err != 0 || result == nullptr) {
      upstream_failed(fmt::format("libunbound: {}", ub_strerror(err)));
      n = error_answer(q, kServFail);
    } else if (result->bogus) {
      ++c.validation_failures;
      WP_LOG_RATELIMITED(info, "DNSSEC validation failed for {}: {}", result->qname,
                         result->why_bogus ? result->why_bogus : "bogus");
      n = error_answer(q, kServFail);
    } else {
      const ByteSpan packet(static_cast<const uint8_t*>(result->answer_packet),
                            size_t(std::max(result->answer_len, 0)));
      const UpstreamScan scan = scan_upstream(packet, q);
      bool cname_blocked = false;
      if (scan.ok && config.adblocking) {
        for (size_t i = 0; i < scan.cname_count && !cname_blocked; ++i) {
          std::array<char, 254> key;
          size_t klen = packet_name_to_lookup_key(packet, scan.cname_targets[i], key);
          cname_blocked = klen && lists->blocked(std::string_view(key.data(), klen));
        }
      }
      if (!scan.ok) {
        WP_LOG_RATELIMITED(warn, "DNS: malformed answer from libunbound for {}", result->qname);
        n = error_answer(q, kServFail);
      } else if (cname_blocked) {
        ++c.cname_blocked;
        n = blocked_answer(q, p.client, false);
      } else {
        const size_t limit = p.to.tcp ? kMaxTcpMessage : q.udp_limit();
        n = build_from_upstream(q, packet, scan, result->secure != 0, limit, answer_buffer());
        if (n == 0) {
          n = error_answer(q, kServFail);
        } else if (scan.rcode == kServFail) {
          ++c.servfail;
          upstream_failed("upstream answered SERVFAIL");
        } else {
          ++c.answered;
          upstream_ok();
          if (scan.rcode == kNoError || scan.rcode == kNxDomain) {
            const size_t count = size_t(scan.ancount) + scan.nscount + scan.arcount;
            answers.insert(q.qname(), q.qtype, q.qclass, packet, result->secure != 0,
                           min_record_ttl(packet, scan.records_begin, scan.records_end, count),
                           monotonic_now());
          }
          if (n >= kHeaderSize && (load_be16(tx.data() + 4) & kFlagTc)) ++c.truncated;
        }
      }
    }
    const ReplyTo to = p.to;
    release_slot(idx);
    if (result) ub_resolve_free(result);
    send_answer(to, n);
    if (to.tcp) maybe_close(to.conn);
  }

  // --- in-flight table -----------------------------------------------------------------------

  uint32_t allocate_slot() {
    if (!free_slots.empty()) {
      uint32_t idx = free_slots.back();
      free_slots.pop_back();
      return idx;
    }
    slots.emplace_back();
    return uint32_t(slots.size() - 1);
  }

  void link_tail(uint32_t idx) {
    Pending& p = slots[idx];
    p.prev = tail;
    p.next = kNil;
    if (tail != kNil) slots[tail].next = idx;
    tail = idx;
    if (head == kNil) head = idx;
  }

  void release_slot(uint32_t idx) {
    Pending& p = slots[idx];
    if (p.prev != kNil)
      slots[p.prev].next = p.next;
    else
      head = p.next;
    if (p.next != kNil)
      slots[p.next].prev = p.prev;
    else
      tail = p.prev;
    p.used = false;
    ++p.generation;
    --p.ub->inflight;
    p.ub = nullptr;
    --inflight;
    if (p.to.tcp) {
      if (auto it = conns.find(p.to.conn); it != conns.end() && it->second->pending) {
        --it->second->pending;
      }
    }
    free_slots.push_back(idx);
  }

  // --- events --------------------------------------------------------------------------------

  void on_unbound(UbContext* u) {
    t_processing = this;
    const int r = ub_process(u->ctx);
    t_processing = nullptr;
    if (r != 0) WP_LOG_RATELIMITED(warn, "libunbound: ub_process: {}", ub_strerror(r));
    UnboundLog::instance().drain();
    reap_retired();
  }

  void reap_retired() {
    for (size_t i = 0; i < retiring.size();) {
      if (retiring[i]->inflight == 0) {
        loop.remove(retiring[i]->fd);
        retiring.erase(retiring.begin() + long(i));
      } else {
        ++i;
      }
    }
  }

  void on_udp(int fd) {
    for (size_t i = 0; i < kUdpBudget; ++i) {
      ReplyTo to;
      to.udp_fd = fd;
      to.peer_len = sizeof(to.peer);
      ssize_t n = ::recvfrom(fd, rx.data(), rx.size(), MSG_TRUNC | MSG_DONTWAIT,
                             reinterpret_cast<sockaddr*>(&to.peer), &to.peer_len);
      if (n < 0) return;
      auto ip = ip_of(to.peer);
      if (!ip || !allowed(*ip)) {
        ++c.not_allowed;
        continue;
      }
      ClientStats* client = client_for(*ip);
      if (size_t(n) > rx.size()) {
        ++c.queries;
        ++client->queries;
        ++c.dropped;
        continue;
      }
      handle_query(ByteSpan(rx.data(), size_t(n)), to, client);
    }
  }

  void on_accept(int listener) {
    for (;;) {
      sockaddr_storage ss{};
      socklen_t sl = sizeof(ss);
      int fd =
          ::accept4(listener, reinterpret_cast<sockaddr*>(&ss), &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      platform::UniqueFd owned(fd);
      auto ip = ip_of(ss);
      if (!ip || !allowed(*ip)) {
        ++c.not_allowed;
        continue;
      }
      if (conns.size() >= config.max_tcp_connections) {
        ++c.tcp_rejected;
        WP_LOG_RATELIMITED(warn, "DNS: {} TCP connections open, refusing another", conns.size());
        continue;
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      auto conn = std::make_unique<TcpConn>();
      conn->id = next_conn++;
      conn->fd = std::move(owned);
      conn->client = client_for(*ip);
      conn->last_activity = monotonic_now();
      const uint64_t id = conn->id;
      if (!loop.add(fd, EPOLLIN, [this, id](uint32_t ev) { on_tcp(id, ev); })) continue;
      schedule(conn->last_activity + config.tcp_idle_timeout);
      conns.emplace(id, std::move(conn));
    }
  }

  void set_events(TcpConn& conn, uint32_t events) {
    if (events == conn.events) return;
    if (!loop.modify(conn.fd.get(), events)) {
      conn.dead = true;
      return;
    }
    conn.events = events;
  }

  void tcp_write(TcpConn& conn, const uint8_t* data, size_t len) {
    if (conn.dead) return;
    size_t off = 0;
    if (conn.out.size() == conn.out_off) {
      ssize_t n = ::send(conn.fd.get(), data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        conn.dead = true;
        return;
      }
      off = n > 0 ? size_t(n) : 0;
      if (off == len) {
        conn.last_activity = monotonic_now();
        return;
      }
    }
    if (conn.out.size() - conn.out_off + (len - off) > kMaxTcpBacklog) {
      conn.dead = true;  // it asks and does not read: it is not a DNS client we can serve
      return;
    }
    if (conn.out_off > 0 && conn.out_off == conn.out.size()) {
      conn.out.clear();
      conn.out_off = 0;
    }
    conn.out.insert(conn.out.end(), data + off, data + len);
    set_events(conn, conn.events | EPOLLOUT);
  }

  void tcp_flush(TcpConn& conn) {
    while (conn.out_off < conn.out.size()) {
      ssize_t n = ::send(conn.fd.get(), conn.out.data() + conn.out_off,
                         conn.out.size() - conn.out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        conn.out_off += size_t(n);
        conn.last_activity = monotonic_now();
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      } else {
        conn.dead = true;
        return;
      }
    }
    conn.out.clear();
    conn.out_off = 0;
    set_events(conn, conn.events & ~uint32_t(EPOLLOUT));
  }

  void on_tcp(uint64_t id, uint32_t events) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    TcpConn& conn = *it->second;
    // HUP: both directions are shut, nobody is left to read answers.
    if (events & (EPOLLHUP | EPOLLERR)) conn.dead = true;
    if ((events & EPOLLOUT) && !conn.dead) tcp_flush(conn);
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !conn.eof) {
      while (!conn.dead && !conn.eof) {
        ssize_t n =
            ::read(conn.fd.get(), conn.in.data() + conn.in_len, conn.in.size() - conn.in_len);
        if (n == 0) {
          conn.eof = true;
          break;
        }
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK) conn.dead = true;
          break;
        }
        conn.in_len += size_t(n);
        conn.last_activity = monotonic_now();
        // Every complete message in the buffer (RFC 7766 pipelining).
        while (conn.in_len >= 2 && !conn.dead) {
          const size_t len = load_be16(conn.in.data());
          if (len == 0 || len > kMaxTcpQuery) {
            conn.dead = true;
            break;
          }
          if (conn.in_len < 2 + len) break;
          ReplyTo to;
          to.tcp = true;
          to.conn = id;
          handle_query(ByteSpan(conn.in.data() + 2, len), to, conn.client);
          std::memmove(conn.in.data(), conn.in.data() + 2 + len, conn.in_len - 2 - len);
          conn.in_len -= 2 + len;
        }
      }
      if (conn.eof) set_events(conn, conn.events & ~uint32_t(EPOLLIN));
    }
    maybe_close(id);
  }

  void maybe_close(uint64_t id) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    TcpConn& conn = *it->second;
    const bool drained = conn.pending == 0 && conn.out_off == conn.out.size();
    if (conn.dead || (conn.eof && drained)) {
      loop.remove(conn.fd.get());
      conns.erase(it);
    }
  }

  void schedule(Nanos deadline) {
    if (deadline >= armed) return;
    armed = deadline;
    itimerspec its{};
    its.it_value.tv_sec = std::max<Nanos>(deadline, 1) / kNanosPerSecond;
    its.it_value.tv_nsec = std::max<Nanos>(deadline, 1) % kNanosPerSecond;
    timerfd_settime(timer.get(), TFD_TIMER_ABSTIME, &its, nullptr);
  }

  void on_timer() {
    uint64_t expirations;
    (void)!::read(timer.get(), &expirations, sizeof(expirations));
    armed = kNever;
    const Nanos now = monotonic_now();
    // In-flight queries sit in arrival order, so the expired ones are at the front.
    while (head != kNil && slots[head].started + config.upstream_timeout <= now) {
      const uint32_t idx = head;
      Pending& p = slots[idx];
      ub_cancel(p.ub->ctx, p.async_id);
      ++c.timeouts;
      upstream_failed(
          fmt::format("no answer within {} ms", config.upstream_timeout / kNanosPerMilli));
      const size_t n = error_answer(p.query, kServFail);
      const ReplyTo to = p.to;
      release_slot(idx);
      send_answer(to, n);
      if (to.tcp) maybe_close(to.conn);
    }
    if (head != kNil) schedule(slots[head].started + config.upstream_timeout);
    std::vector<uint64_t> idle;
    for (auto& [id, conn] : conns) {
      const Nanos deadline = conn->last_activity + config.tcp_idle_timeout;
      if (deadline <= now && conn->pending == 0) {
        idle.push_back(id);
      } else {
        // Answers still owed are bounded by the upstream timeout; look again after it.
        schedule(conn->pending ? now + config.upstream_timeout : deadline);
      }
    }
    for (uint64_t id : idle) {
      conns[id]->dead = true;
      maybe_close(id);
    }
    UnboundLog::instance().drain();
    reap_retired();
  }

  // --- status --------------------------------------------------------------------------------

  std::string problem() const {
    std::string p = fmt::format("every upstream has failed for {} s (last error: {})",
                                (monotonic_now() - failing_since) / kNanosPerSecond, last_failure);
    if (ub && ub->relay) {
      std::string tls = ub->relay->last_error();
      if (!tls.empty()) p += fmt::format("; DNS-over-TLS {}", tls);
    }
    Nanos when = 0;
    std::string unbound = UnboundLog::instance().last_error(&when);
    if (!unbound.empty() && when >= failing_since) p += fmt::format("; libunbound {}", unbound);
    return p;
  }
};

Resolver::Resolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Resolver::~Resolver() = default;

Result<std::unique_ptr<Resolver>> Resolver::start(const ResolverConfig& config,
                                                  platform::EventLoop& loop) {
  if (auto st = validate(config); !st) return st.take_error();
  // TLS writes (OpenSSL's socket BIO) and libunbound's TCP writes use plain write(): a peer that
  // closed must cost an EPIPE, not the process. The daemon ignores SIGPIPE already; this keeps
  // the module safe on its own.
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  auto impl = std::make_unique<Impl>(loop, config);
  auto lists = impl->load_lists(config);
  if (!lists) return lists.take_error();
  impl->lists = std::move(*lists);
  impl->lists_loaded_unix = std::time(nullptr);
  auto ub = impl->make_unbound(config);
  if (!ub) return ub.take_error();
  impl->ub = std::move(*ub);
  if (auto st = impl->open_sockets(); !st) return st.take_error();
  impl->slots.reserve(std::min<size_t>(config.max_inflight, 1024));
  std::string upstreams;
  for (const auto& u : config.upstreams)
    upstreams += (upstreams.empty() ? "" : ", ") + u.to_string();
  spdlog::info("DNS resolver on {} (UDP, TCP) -> {} ({}), DNSSEC {}, ad blocking {}",
               fmt::join(impl->labels, ", "), upstreams,
               config.encryption ? "DNS-over-TLS" : "plain DNS", config.dnssec ? "on" : "off",
               config.adblocking ? "on" : "off");
  return std::unique_ptr<Resolver>(new Resolver(std::move(impl)));
}

Status Resolver::reload(const ResolverConfig& config) {
  Impl& d = *impl_;
  if (auto st = validate(config); !st) return st;
  if (config.listen != d.config.listen || config.port != d.config.port) {
    return make_error("DNS listen addresses or port changed: the resolver must be restarted");
  }
  auto lists = d.load_lists(config);
  if (!lists) return lists.take_error();
  const ResolverConfig& o = d.config;
  const bool unbound_changed =
      config.upstreams != o.upstreams || config.encryption != o.encryption ||
      config.dnssec != o.dnssec || config.trust_anchor_file != o.trust_anchor_file ||
      config.ca_bundle != o.ca_bundle || config.cache_bytes != o.cache_bytes ||
      config.max_inflight != o.max_inflight;
  std::unique_ptr<UbContext> fresh;
  if (unbound_changed) {
    auto u = d.make_unbound(config);
    if (!u) return u.take_error();
    fresh = std::move(*u);
  }
  // Nothing can fail from here on.
  d.config = config;
  d.schedule(monotonic_now());  // a shorter upstream timeout applies to queries in flight too
  d.lists = std::move(*lists);
  d.lists_loaded_unix = std::time(nullptr);
  // New lists may block a CNAME target inside a cached answer, new upstreams answer differently.
  d.answers = AnswerCache(answer_cache_bytes(config));
  if (fresh) {
    // Queries in flight keep their context (and its relay) until they are answered or time
    // out; new queries go to the new one. The cache starts empty.
    d.retiring.push_back(std::move(d.ub));
    d.ub = std::move(fresh);
    d.consecutive_failures = 0;
    d.reap_retired();
    spdlog::info("DNS resolver: new upstream settings in effect");
  }
  return {};
}

nlohmann::json Resolver::status() const {
  const Impl& d = *impl_;
  const Counters& c = d.c;
  nlohmann::json j;
  j["listen"] = d.labels;
  j["encryption"] = d.config.encryption;
  j["dnssec"] = d.config.dnssec;
  j["adblocking"] = d.config.adblocking;
  nlohmann::json ups = nlohmann::json::array();
  for (const auto& u : d.config.upstreams) ups.push_back(u.to_string());
  j["upstreams"] = ups;
  j["queries"] = c.queries;
  j["tcp_queries"] = c.tcp_queries;
  j["answered"] = c.answered;
  j["cache_hits"] = c.cache_hits;
  j["answer_cache"] = {{"entries", d.answers.entries()}, {"bytes", d.answers.bytes()}};
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
  j["inflight"] = d.inflight;
  j["inflight_peak"] = c.inflight_peak;
  j["tcp_connections"] = d.conns.size();
  const bool ok = d.consecutive_failures < kFailuresForProblem;
  j["upstream_ok"] = ok;
  j["consecutive_upstream_failures"] = d.consecutive_failures;
  if (!ok) j["problem"] = d.problem();
  if (d.ub && d.ub->relay) j["tls"] = d.ub->relay->status();
  nlohmann::json lists;
  lists["blocked_domains"] = d.lists->blocked_domains();
  lists["allowed_domains"] = d.lists->allowed_domains();
  lists["memory_bytes"] = d.lists->memory_bytes();
  lists["loaded_at"] = d.lists_loaded_unix;
  nlohmann::json files = nlohmann::json::array();
  for (const auto& s : d.lists->stats()) {
    files.push_back({{"path", s.path},
                     {"lines", s.lines},
                     {"domains", s.domains},
                     {"ignored_lines", s.ignored}});
  }
  lists["files"] = files;
  j["lists"] = lists;
  nlohmann::json clients = nlohmann::json::object();
  for (const auto& [ip, s] : d.clients) {
    clients[ip.to_string()] = {{"queries", s.queries}, {"blocked", s.blocked}};
  }
  if (d.other_clients.queries) {
    clients["other"] = {{"queries", d.other_clients.queries}, {"blocked", d.other_clients.blocked}};
  }
  j["clients"] = clients;
  return j;
}

}  // namespace waypost::dns
