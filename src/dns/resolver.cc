#include "dns/resolver.h"

#include "dns/resolver_impl.h"

namespace waypost::dns {

thread_local Resolver::Impl* t_processing = nullptr;

Result<std::shared_ptr<const Blocklist>> Resolver::Impl::load_lists(const ResolverConfig& cfg) {
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

Result<std::unique_ptr<UbContext>> Resolver::Impl::make_unbound(const ResolverConfig& cfg) {
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

bool Resolver::Impl::allowed(const net::IpAddress& ip) const {
  for (const auto& p : config.allowed_clients) {
    if (p.contains(ip)) return true;
  }
  return false;
}

ClientStats* Resolver::Impl::client_for(const net::IpAddress& ip) {
  auto it = clients.find(ip);
  if (it != clients.end()) return &it->second;
  if (clients.size() >= kMaxClientsTracked) return &other_clients;
  return &clients.emplace(ip, ClientStats{}).first->second;
}

size_t Resolver::Impl::error_answer(const Query& q, uint16_t rcode) {
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

size_t Resolver::Impl::blocked_answer(const Query& q, ClientStats* client, bool nxdomain) {
  ++c.blocked;
  ++client->blocked;
  const BlockMode mode = nxdomain || config.block_response == BlockResponse::kNxdomain
                             ? BlockMode::kNxdomain
                             : BlockMode::kZeroAddress;
  return build_blocked(q, mode, answer_buffer());
}

void Resolver::Impl::upstream_failed(std::string reason) {
  ++c.upstream_failures;
  if (consecutive_failures++ == 0) failing_since = monotonic_now();
  last_failure = std::move(reason);
}

void Resolver::Impl::handle_query(ByteSpan packet, const ReplyTo& to, ClientStats* client) {
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

bool Resolver::Impl::answer_from_cache(const Query& q, const ReplyTo& to) {
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

void Resolver::Impl::unbound_callback(void* data, int err, ub_result* result) {
  if (t_processing) {
    t_processing->on_result(reinterpret_cast<uintptr_t>(data), err, result);
  } else if (result) {
    ub_resolve_free(result);
  }
}

void Resolver::Impl::on_result(uintptr_t token, int err, ub_result* result) {
  const auto idx = uint32_t(token >> kGenBits);
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

uint32_t Resolver::Impl::allocate_slot() {
  if (!free_slots.empty()) {
    uint32_t idx = free_slots.back();
    free_slots.pop_back();
    return idx;
  }
  slots.emplace_back();
  return uint32_t(slots.size() - 1);
}

void Resolver::Impl::link_tail(uint32_t idx) {
  Pending& p = slots[idx];
  p.prev = tail;
  p.next = kNil;
  if (tail != kNil) slots[tail].next = idx;
  tail = idx;
  if (head == kNil) head = idx;
}

void Resolver::Impl::release_slot(uint32_t idx) {
  Pending& p = slots[idx];
  if (p.prev != kNil) {
    slots[p.prev].next = p.next;
  } else {
    head = p.next;
  }
  if (p.next != kNil) {
    slots[p.next].prev = p.prev;
  } else {
    tail = p.prev;
  }
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

void Resolver::Impl::on_unbound(UbContext* u) {
  t_processing = this;
  const int r = ub_process(u->ctx);
  t_processing = nullptr;
  if (r != 0) WP_LOG_RATELIMITED(warn, "libunbound: ub_process: {}", ub_strerror(r));
  UnboundLog::instance().drain();
  reap_retired();
}

void Resolver::Impl::reap_retired() {
  for (size_t i = 0; i < retiring.size();) {
    if (retiring[i]->inflight == 0) {
      loop.remove(retiring[i]->fd);
      retiring.erase(retiring.begin() + long(i));
    } else {
      ++i;
    }
  }
}

void Resolver::Impl::schedule(Nanos deadline) {
  if (deadline >= armed) return;
  armed = deadline;
  itimerspec its{};
  its.it_value.tv_sec = std::max<Nanos>(deadline, 1) / kNanosPerSecond;
  its.it_value.tv_nsec = std::max<Nanos>(deadline, 1) % kNanosPerSecond;
  timerfd_settime(timer.get(), TFD_TIMER_ABSTIME, &its, nullptr);
}

void Resolver::Impl::on_timer() {
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

std::string Resolver::Impl::problem() const {
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
  for (const auto& u : config.upstreams) {
    upstreams += (upstreams.empty() ? "" : ", ") + u.to_string();
  }
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

DnsStatus Resolver::status() const {
  const Impl& d = *impl_;
  DnsStatus s;
  s.running = true;
  s.listen = d.labels;
  s.encryption = d.config.encryption;
  s.dnssec = d.config.dnssec;
  s.adblocking = d.config.adblocking;
  for (const auto& u : d.config.upstreams) s.upstreams.push_back(u.to_string());
  s.counters = d.c;
  s.answer_cache = {d.answers.entries(), d.answers.bytes()};
  s.inflight = d.inflight;
  s.tcp_connections = d.conns.size();
  s.upstream_ok = d.consecutive_failures < kFailuresForProblem;
  s.consecutive_upstream_failures = d.consecutive_failures;
  if (!s.upstream_ok) s.problem = d.problem();
  if (d.ub && d.ub->relay) s.tls = d.ub->relay->status();
  s.lists.blocked_domains = d.lists->blocked_domains();
  s.lists.allowed_domains = d.lists->allowed_domains();
  s.lists.memory_bytes = d.lists->memory_bytes();
  s.lists.loaded_at = d.lists_loaded_unix;
  for (const auto& l : d.lists->stats()) {
    s.lists.files.push_back({l.path, l.lines, l.domains, l.ignored});
  }
  for (const auto& [ip, c] : d.clients) s.clients[ip.to_string()] = {c.queries, c.blocked};
  s.other_clients = {d.other_clients.queries, d.other_clients.blocked};
  return s;
}

}  // namespace waypost::dns
