#include "dns/unbound_context.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unbound.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>

#include "common/log.h"
#include "platform/fd.h"

namespace waypost::dns {

namespace {

Nanos monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * kNanosPerSecond + ts.tv_nsec;
}

// Hands the config text to ub_ctx_config, which only reads files: an anonymous memory file when
// /proc is there (nothing on disk), a private temporary file otherwise.
int apply_config_text(ub_ctx* ctx, const std::string& text, std::string& error) {
  int fd = memfd_create("waypost-unbound.conf", MFD_CLOEXEC);
  std::string path;
  std::string tmp_path;
  if (fd >= 0) {
    path = "/proc/self/fd/" + std::to_string(fd);
    if (::access(path.c_str(), R_OK) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  if (fd < 0) {
    char tmpl[] = "/tmp/waypost-unbound-XXXXXX";
    fd = mkstemp(tmpl);
    if (fd < 0) {
      error = fmt::format("cannot write libunbound config: {}", std::strerror(errno));
      return UB_INITFAIL;
    }
    path = tmp_path = tmpl;
  }
  platform::UniqueFd owned(fd);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = fmt::format("cannot write libunbound config: {}", std::strerror(errno));
      if (!tmp_path.empty()) ::unlink(tmp_path.c_str());
      return UB_INITFAIL;
    }
    off += size_t(n);
  }
  int r = ub_ctx_config(ctx, path.c_str());
  if (!tmp_path.empty()) ::unlink(tmp_path.c_str());
  if (r != 0) error = fmt::format("libunbound rejected its config: {}", ub_strerror(r));
  return r;
}

}  // namespace

std::string unbound_config_text(const ResolverConfig& c,
                                const std::vector<std::string>& forward_addrs, bool tcp_only) {
  // unbound suggests an RRset cache twice the message cache; the key cache holds DNSSEC keys.
  const size_t msg = c.cache_bytes / 4;
  const size_t rrset = c.cache_bytes / 2;
  const size_t key = c.cache_bytes / 8;
  const size_t neg = c.cache_bytes / 8;
  std::string t;
  t += "server:\n";
  t += "  use-syslog: no\n";
  // The forwarders may be on loopback (the TLS relay, a local resolver); unbound refuses to
  // query 127.0.0.0/8 and ::1 unless told otherwise.
  t += "  do-not-query-localhost: no\n";
  t += c.dnssec ? "  module-config: \"validator iterator\"\n" : "  module-config: \"iterator\"\n";
  t += fmt::format("  msg-cache-size: {}\n  rrset-cache-size: {}\n", msg, rrset);
  t += fmt::format("  key-cache-size: {}\n  neg-cache-size: {}\n", key, neg);
  // One resolving thread: one slab per cache keeps small caches from being split into slivers.
  t += "  msg-cache-slabs: 1\n  rrset-cache-slabs: 1\n  key-cache-slabs: 1\n";
  t += "  infra-cache-slabs: 1\n";
  // Our own in-flight limit applies first; unbound must not drop what we admitted.
  t += fmt::format("  num-queries-per-thread: {}\n", std::max<size_t>(c.max_inflight, 64));
  // RFC 8145 key tag queries would be extra queries for no benefit to our clients.
  t += "  trust-anchor-signaling: no\n";
  // Recover soon after an upstream outage. unbound backs off from a forwarder that keeps
  // failing (its timeout doubles up to 120 s; beyond 12 s only one probe per timeout period goes
  // out and every other query fails at once) and keeps that state for infra-host-ttl (15 min by
  // default). With the relay as the only forwarder, clients kept getting SERVFAIL for 20-30 s
  // after the upstream came back from a 20-60 s outage, longer after longer ones. A 5 s host TTL
  // forgets the backoff every 5 s, so the next query tries the upstream again; what is lost is
  // only the RTT estimate of a loopback forwarder. (A low infra-cache-max-rtt instead made it
  // worse with Debian 12's libunbound 1.17: a forwarder at that cap was never probed again.)
  t += "  infra-host-ttl: 5\n";
  if (tcp_only) t += "  tcp-upstream: yes\n";
  t += "forward-zone:\n";
  t += "  name: \".\"\n";
  t += "  forward-first: no\n";
  for (const auto& a : forward_addrs) t += fmt::format("  forward-addr: {}\n", a);
  // Never "forward-tls-upstream": see tls_relay.h for what Debian's libunbound does with it.
  return t;
}

Result<ub_ctx*> create_unbound_context(const ResolverConfig& config, const std::string& text) {
  ub_ctx* ctx = ub_ctx_create();
  if (!ctx) return make_error("libunbound: cannot create a context");
  auto fail = [&](std::string message) -> Result<ub_ctx*> {
    ub_ctx_delete(ctx);
    return Error{std::move(message)};
  };
  ub_ctx_debugout(ctx, UnboundLog::instance().file());
  ub_ctx_debuglevel(ctx, 0);  // errors, warnings and notices only
  std::string error;
  if (apply_config_text(ctx, text, error) != 0) return fail(error);
  if (config.dnssec) {
    if (::access(config.trust_anchor_file.c_str(), R_OK) != 0) {
      return fail(fmt::format(
          "DNSSEC is on but the trust anchor file {} cannot be read ({}); install dns-root-data "
          "or set the path",
          config.trust_anchor_file, std::strerror(errno)));
    }
    if (int r = ub_ctx_add_ta_file(ctx, config.trust_anchor_file.c_str()); r != 0) {
      return fail(fmt::format("trust anchor {}: {}", config.trust_anchor_file, ub_strerror(r)));
    }
  }
  if (int r = ub_ctx_async(ctx, 1); r != 0) {
    return fail(fmt::format("libunbound threads: {}", ub_strerror(r)));
  }
  // Removing a zone that is not there is a no-op, but it makes libunbound finalize its setup
  // (modules, trust anchors, caches) now.
  if (int r = ub_ctx_zone_remove(ctx, "waypost-finalize.invalid."); r != 0) {
    UnboundLog::instance().drain();
    std::string detail = UnboundLog::instance().last_error();
    return fail(fmt::format("libunbound setup failed: {}{}{}", ub_strerror(r),
                            detail.empty() ? "" : ": ", detail));
  }
  return ctx;
}

// --- log capture -----------------------------------------------------------------------------

struct UnboundLog::State {
  mutable std::mutex mu;
  std::string partial;
  std::deque<std::string> lines;
  size_t dropped = 0;
  std::string last_error;
  Nanos last_error_at = 0;
  std::atomic<bool> pending{false};

  // libunbound's lines look like "[1700000000] libunbound[123:0] error: ...": keep from the
  // level on, our log has its own time stamps.
  static std::string strip_prefix(std::string_view line) {
    auto a = line.find("] ");
    if (a != std::string_view::npos) {
      auto b = line.find("] ", a + 2);
      if (b != std::string_view::npos) return std::string(line.substr(b + 2));
    }
    return std::string(line);
  }

  void add(const char* data, size_t size) {
    std::lock_guard lock(mu);
    partial.append(data, size);
    size_t nl;
    while ((nl = partial.find('\n')) != std::string::npos) {
      std::string line = strip_prefix(std::string_view(partial).substr(0, nl));
      partial.erase(0, nl + 1);
      if (line.starts_with("error:")) {
        last_error = line;
        last_error_at = monotonic_now();
      }
      if (lines.size() < 64) {
        lines.push_back(std::move(line));
      } else {
        ++dropped;
      }
    }
    if (partial.size() > 4096) partial.clear();  // a line that never ends
    pending.store(true, std::memory_order_release);
  }
};

UnboundLog& UnboundLog::instance() {
  static auto* log = new UnboundLog();  // never destroyed: libunbound may log at exit
  return *log;
}

UnboundLog::UnboundLog() : state_(new State()) {
  cookie_io_functions_t io{};
  io.write = [](void* cookie, const char* buf, size_t size) -> ssize_t {
    static_cast<State*>(cookie)->add(buf, size);
    return ssize_t(size);
  };
  FILE* f = fopencookie(state_, "w", io);
  if (f) setvbuf(f, nullptr, _IOLBF, 0);
  // Without a capture FILE, libunbound would write to stderr; /dev/null beats that in a daemon.
  file_ = f ? f : std::fopen("/dev/null", "w");
}

void UnboundLog::drain() {
  if (!state_->pending.load(std::memory_order_acquire)) return;
  std::deque<std::string> lines;
  size_t dropped;
  {
    std::lock_guard lock(state_->mu);
    lines.swap(state_->lines);
    dropped = std::exchange(state_->dropped, 0);
    state_->pending.store(false, std::memory_order_relaxed);
  }
  for (const auto& l : lines) {
    if (l.starts_with("error:") || l.starts_with("warning:")) {
      spdlog::warn("libunbound: {}", l);
    } else {
      spdlog::debug("libunbound: {}", l);
    }
  }
  if (dropped) spdlog::warn("libunbound: {} more log lines dropped", dropped);
}

std::string UnboundLog::last_error(Nanos* when) const {
  std::lock_guard lock(state_->mu);
  if (when) *when = state_->last_error_at;
  return state_->last_error;
}

}  // namespace waypost::dns
