#include "dns/tls_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <unordered_map>

#include "common/log.h"
#include "net/ip.h"
#include "platform/fd.h"

namespace waypost::dns {

namespace {

constexpr size_t kBufferSize = 16384;

Nanos monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * kNanosPerSecond + ts.tv_nsec;
}

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

struct UpstreamState {
  Upstream upstream;
  std::string label;  // "1.1.1.1@853#cloudflare-dns.com"
  platform::UniqueFd listener;
  uint16_t port = 0;
  SSL_SESSION* session = nullptr;  // for resumption; replaced by each new ticket
  uint64_t connections = 0;
  uint64_t handshakes = 0;
  uint64_t failures = 0;
  uint64_t consecutive_failures = 0;
  std::string last_error;
  int64_t last_error_unix = 0;
  Nanos last_error_at = 0;
  ~UpstreamState() {
    if (session) SSL_SESSION_free(session);
  }
};

struct Bridge {
  enum class State : uint8_t { kConnecting, kHandshaking, kOpen };
  uint64_t id = 0;
  UpstreamState* up = nullptr;
  platform::UniqueFd local;   // libunbound's TCP connection to our loopback port
  platform::UniqueFd remote;  // TLS to the upstream
  SSL* ssl = nullptr;
  State state = State::kConnecting;
  bool local_eof = false;
  bool remote_eof = false;
  bool ssl_wants_write = false;
  size_t write_retry = 0;  // length of an SSL_write to repeat (OpenSSL requires the same length)
  uint32_t local_events = 0;
  uint32_t remote_events = 0;
  Nanos deadline = 0;
  // toward the upstream: bytes from libunbound not yet written into TLS
  std::array<uint8_t, kBufferSize> up_buf;
  size_t up_off = 0, up_len = 0;
  // toward libunbound: decrypted bytes not yet written to the loopback socket
  std::array<uint8_t, kBufferSize> down_buf;
  size_t down_off = 0, down_len = 0;

  ~Bridge() {
    if (ssl) SSL_free(ssl);
  }
};

int session_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// TLS 1.3 tickets arrive after the handshake; keep the newest per upstream so the next
// connection (unbound reconnects after idle periods) resumes instead of a full handshake.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* state = static_cast<UpstreamState*>(SSL_get_ex_data(ssl, session_index()));
  if (state == nullptr) return 0;
  if (state->session) SSL_SESSION_free(state->session);
  state->session = session;
  return 1;  // we keep the reference
}

}  // namespace

struct TlsRelay::Impl {
  platform::EventLoop& loop;
  Options options;
  SSL_CTX* ctx = nullptr;
  std::vector<std::unique_ptr<UpstreamState>> upstreams;
  std::unordered_map<uint64_t, std::unique_ptr<Bridge>> bridges;
  uint64_t next_id = 1;
  platform::UniqueFd timer;
  Nanos armed = kNever;

  Impl(platform::EventLoop& l, Options o) : loop(l), options(std::move(o)) {}

  ~Impl() {
    for (auto& [id, b] : bridges) {
      if (b->local.valid()) loop.remove(b->local.get());
      if (b->remote.valid()) loop.remove(b->remote.get());
    }
    bridges.clear();
    for (auto& u : upstreams) {
      if (u->listener.valid()) loop.remove(u->listener.get());
    }
    if (timer.valid()) loop.remove(timer.get());
    if (ctx) SSL_CTX_free(ctx);
  }

  Status init() {
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return make_error("TLS context: {}", openssl_errors());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    // A hashed directory (c_rehash, /etc/ssl/certs) is read one certificate at a time when a
    // handshake needs it; a bundle file is parsed whole up front (about 1.4 MB for Debian's).
    struct stat info {};
    const bool dir = ::stat(options.ca_bundle.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
    if (SSL_CTX_load_verify_locations(ctx, dir ? nullptr : options.ca_bundle.c_str(),
                                      dir ? options.ca_bundle.c_str() : nullptr) != 1) {
      return make_error("cannot load CA bundle {}: {}", options.ca_bundle, openssl_errors());
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    static const unsigned char kAlpn[] = {3, 'd', 'o', 't'};  // RFC 7858 ALPN id
    SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn));

    timer.reset(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!timer.valid()) return make_error("timerfd: {}", std::strerror(errno));
    if (auto st = loop.add(timer.get(), EPOLLIN, [this](uint32_t) { on_timer(); }); !st) {
      return st;
    }

    for (const auto& u : options.upstreams) {
      if (u.tls_name.empty()) return make_error("DNS server {}: no TLS name", u.to_string());
      auto state = std::make_unique<UpstreamState>();
      state->upstream = u;
      state->label = u.to_string();
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) return make_error("relay socket: {}", std::strerror(errno));
      state->listener.reset(fd);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      sa.sin_port = 0;
      socklen_t len = sizeof(sa);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0 || ::listen(fd, 16) < 0 ||
          ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) < 0) {
        return make_error("DNS-over-TLS relay: cannot listen on 127.0.0.1: {}",
                          std::strerror(errno));
      }
      state->port = ntohs(sa.sin_port);
      UpstreamState* raw = state.get();
      upstreams.push_back(std::move(state));
      if (auto st = loop.add(fd, EPOLLIN, [this, raw](uint32_t) { on_accept(*raw); }); !st) {
        return st;
      }
    }
    return {};
  }

  void fail(UpstreamState& u, std::string message) {
    ++u.failures;
    ++u.consecutive_failures;
    WP_LOG_RATELIMITED(warn, "DNS-over-TLS {}: {}", u.label, message);
    u.last_error = std::move(message);
    u.last_error_unix = std::time(nullptr);
    u.last_error_at = monotonic_now();
  }

  void on_accept(UpstreamState& u) {
    for (;;) {
      int fd = ::accept4(u.listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      platform::UniqueFd local(fd);
      if (bridges.size() >= options.max_connections) {
        WP_LOG_RATELIMITED(warn, "DNS-over-TLS relay: {} connections, refusing another",
                           bridges.size());
        continue;
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      ++u.connections;
      auto b = std::make_unique<Bridge>();
      b->id = next_id++;
      b->up = &u;
      b->local = std::move(local);
      b->deadline = monotonic_now() + options.handshake_timeout;
      const net::Endpoint ep = net::Endpoint::from(u.upstream.address, u.upstream.port);
      sockaddr_storage ss{};
      socklen_t sl = ep.to_sockaddr(ss, u.upstream.address.is_v4());
      int rfd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (rfd < 0) {
        fail(u, fmt::format("socket: {}", std::strerror(errno)));
        continue;
      }
      b->remote.reset(rfd);
      setsockopt(rfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      if (::connect(rfd, reinterpret_cast<sockaddr*>(&ss), sl) < 0 && errno != EINPROGRESS) {
        fail(u, fmt::format("connect: {}", std::strerror(errno)));
        continue;
      }
      const uint64_t id = b->id;
      Bridge* raw = b.get();
      raw->local_events = EPOLLIN;
      raw->remote_events = EPOLLOUT;
      if (!loop.add(raw->local.get(), raw->local_events,
                    [this, id](uint32_t ev) { on_event(id, false, ev); })) {
        continue;
      }
      if (!loop.add(raw->remote.get(), raw->remote_events,
                    [this, id](uint32_t ev) { on_event(id, true, ev); })) {
        loop.remove(raw->local.get());
        continue;
      }
      bridges.emplace(id, std::move(b));
      schedule(raw->deadline);
    }
  }

  void close_bridge(uint64_t id) {
    auto it = bridges.find(id);
    if (it == bridges.end()) return;
    Bridge& b = *it->second;
    if (b.ssl && b.state == Bridge::State::kOpen && !b.remote_eof) {
      ERR_clear_error();
      SSL_shutdown(b.ssl);  // best effort close_notify; the socket closes right after
    }
    loop.remove(b.local.get());
    loop.remove(b.remote.get());
    bridges.erase(it);
  }

  void on_event(uint64_t id, bool remote, uint32_t events) {
    auto it = bridges.find(id);
    if (it == bridges.end()) return;
    if (!pump(*it->second, remote, events)) close_bridge(id);
  }

  std::string handshake_error(Bridge& b, int ret) {
    const long verify = SSL_get_verify_result(b.ssl);
    if (verify != X509_V_OK) {
      return fmt::format("certificate rejected: {} (expected name {})",
                         X509_verify_cert_error_string(verify), b.up->upstream.tls_name);
    }
    const int e = SSL_get_error(b.ssl, ret);
    if (e == SSL_ERROR_SYSCALL) {
      if (ERR_peek_error() != 0) return "TLS handshake: " + openssl_errors();
      return errno ? fmt::format("TLS handshake: {}", std::strerror(errno))
                   : std::string("TLS handshake: connection closed by the server");
    }
    return "TLS handshake: " + openssl_errors();
  }

  // Moves bytes as far as the sockets allow. Returns false when the bridge is finished.
  bool pump(Bridge& b, bool remote_event, uint32_t events) {
    UpstreamState& u = *b.up;
    // epoll reports HUP and ERR whatever the interest set, so a socket in that state has to be
    // closed, not waited on. unbound hanging up ends the bridge: nobody is left to answer.
    if (!remote_event && (events & (EPOLLHUP | EPOLLERR))) return false;
    const bool remote_gone = remote_event && (events & (EPOLLHUP | EPOLLERR));
    if (b.state == Bridge::State::kConnecting) {
      if (!remote_event) {
        // Data from unbound before the upstream is there: buffered below.
      } else {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(b.remote.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || remote_gone) {
          fail(u, fmt::format("connect: {}", std::strerror(err ? err : ECONNRESET)));
          return false;
        }
        if (events & (EPOLLOUT | EPOLLIN)) {
          b.ssl = SSL_new(ctx);
          if (!b.ssl) {
            fail(u, "SSL_new: " + openssl_errors());
            return false;
          }
          SSL_set_fd(b.ssl, b.remote.get());
          SSL_set_ex_data(b.ssl, session_index(), &u);
          SSL_set_tlsext_host_name(b.ssl, u.upstream.tls_name.c_str());
          SSL_set_hostflags(b.ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
          if (SSL_set1_host(b.ssl, u.upstream.tls_name.c_str()) != 1) {
            fail(u, "SSL_set1_host: " + openssl_errors());
            return false;
          }
          if (u.session) SSL_set_session(b.ssl, u.session);
          b.state = Bridge::State::kHandshaking;
        }
      }
    }
    if (b.state == Bridge::State::kHandshaking) {
      ERR_clear_error();
      errno = 0;
      const int r = SSL_connect(b.ssl);
      if (r == 1) {
        b.state = Bridge::State::kOpen;
        ++u.handshakes;
        u.consecutive_failures = 0;
        b.deadline = monotonic_now() + options.idle_timeout;
      } else {
        const int e = SSL_get_error(b.ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
          b.ssl_wants_write = e == SSL_ERROR_WANT_WRITE;
        } else {
          fail(u, handshake_error(b, r));
          return false;
        }
      }
    }
    bool progress = false;
    // From unbound, whatever the state: buffered until the TLS session is up.
    while (!b.local_eof && b.up_len < b.up_buf.size()) {
      ssize_t n = ::read(b.local.get(), b.up_buf.data() + b.up_len, b.up_buf.size() - b.up_len);
      if (n > 0) {
        b.up_len += size_t(n);
        progress = true;
      } else if (n == 0) {
        b.local_eof = true;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      } else {
        return false;
      }
    }
    if (b.state == Bridge::State::kOpen) {
      b.ssl_wants_write = false;
      while (b.up_off < b.up_len) {
        ERR_clear_error();
        const size_t len = b.write_retry ? b.write_retry : b.up_len - b.up_off;
        const int n = SSL_write(b.ssl, b.up_buf.data() + b.up_off, int(len));
        if (n > 0) {
          b.write_retry = 0;
          b.up_off += size_t(n);
          progress = true;
          continue;
        }
        const int e = SSL_get_error(b.ssl, n);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
          b.write_retry = len;
          b.ssl_wants_write |= e == SSL_ERROR_WANT_WRITE;
          break;
        }
        fail(u, "TLS write: " + openssl_errors());
        return false;
      }
      if (b.up_off == b.up_len) b.up_off = b.up_len = 0;
      while (!b.remote_eof && b.down_len < b.down_buf.size()) {
        ERR_clear_error();
        errno = 0;
        const int n =
            SSL_read(b.ssl, b.down_buf.data() + b.down_len, int(b.down_buf.size() - b.down_len));
        if (n > 0) {
          b.down_len += size_t(n);
          progress = true;
          continue;
        }
        const int e = SSL_get_error(b.ssl, n);
        if (e == SSL_ERROR_WANT_READ) break;
        if (e == SSL_ERROR_WANT_WRITE) {
          b.ssl_wants_write = true;
          break;
        }
        // close_notify or a plain TCP close: upstreams close idle connections either way.
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
          b.remote_eof = true;
          break;
        }
        fail(u, "TLS read: " + openssl_errors());
        return false;
      }
      while (b.down_off < b.down_len) {
        ssize_t n = ::send(b.local.get(), b.down_buf.data() + b.down_off, b.down_len - b.down_off,
                           MSG_NOSIGNAL);
        if (n > 0) {
          b.down_off += size_t(n);
          progress = true;
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          break;
        } else {
          return false;
        }
      }
      if (b.down_off == b.down_len) b.down_off = b.down_len = 0;
      if (progress) b.deadline = monotonic_now() + options.idle_timeout;
      if (b.local_eof && b.up_len == 0) return false;     // unbound is done with this stream
      if (b.remote_eof && b.down_len == 0) return false;  // the upstream closed; unbound reconnects
    } else if (b.local_eof && b.up_len == 0) {
      return false;  // unbound gave up before the upstream answered the handshake
    }
    // What could be read after the upstream's hang-up was read above; whatever did not fit is
    // lost, and unbound asks again on a new connection.
    if (remote_gone) {
      if (b.state != Bridge::State::kOpen) fail(u, "connection closed during the TLS handshake");
      return false;
    }
    return update_interest(b);
  }

  bool update_interest(Bridge& b) {
    uint32_t local = 0;
    if (!b.local_eof && b.up_len < b.up_buf.size()) local |= EPOLLIN;
    if (b.down_len > b.down_off) local |= EPOLLOUT;
    uint32_t remote = 0;
    if (b.state == Bridge::State::kConnecting) {
      remote = EPOLLOUT;
    } else {
      // No reading while the buffer toward unbound is full (it is drained when unbound reads,
      // and the next pump reads on) or after the upstream's EOF (readable forever).
      if (!b.remote_eof && b.down_len < b.down_buf.size()) remote |= EPOLLIN;
      if (b.ssl_wants_write) remote |= EPOLLOUT;
    }
    if (local != b.local_events) {
      if (!loop.modify(b.local.get(), local)) return false;
      b.local_events = local;
    }
    if (remote != b.remote_events) {
      if (!loop.modify(b.remote.get(), remote)) return false;
      b.remote_events = remote;
    }
    schedule(b.deadline);
    return true;
  }

  void schedule(Nanos deadline) {
    if (deadline >= armed) return;
    armed = deadline;
    itimerspec its{};
    its.it_value.tv_sec = deadline / kNanosPerSecond;
    its.it_value.tv_nsec = deadline % kNanosPerSecond;
    timerfd_settime(timer.get(), TFD_TIMER_ABSTIME, &its, nullptr);
  }

  void on_timer() {
    uint64_t expirations;
    (void)!::read(timer.get(), &expirations, sizeof(expirations));
    armed = kNever;
    const Nanos now = monotonic_now();
    std::vector<uint64_t> expired;
    Nanos next = kNever;
    for (auto& [id, b] : bridges) {
      if (b->deadline <= now) {
        expired.push_back(id);
      } else {
        next = std::min(next, b->deadline);
      }
    }
    for (uint64_t id : expired) {
      Bridge& b = *bridges[id];
      if (b.state != Bridge::State::kOpen) {
        fail(*b.up, fmt::format("{} timed out after {} ms",
                                b.state == Bridge::State::kConnecting ? "connect" : "TLS handshake",
                                options.handshake_timeout / kNanosPerMilli));
      }
      close_bridge(id);
    }
    if (next != kNever) schedule(next);
  }
};

TlsRelay::TlsRelay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsRelay::~TlsRelay() = default;

Result<std::unique_ptr<TlsRelay>> TlsRelay::start(Options options, platform::EventLoop& loop) {
  auto impl = std::make_unique<Impl>(loop, std::move(options));
  if (auto st = impl->init(); !st) return st.take_error();
  return std::unique_ptr<TlsRelay>(new TlsRelay(std::move(impl)));
}

std::string TlsRelay::forward_addr(size_t i) const {
  return fmt::format("127.0.0.1@{}", impl_->upstreams.at(i)->port);
}

size_t TlsRelay::upstream_count() const {
  return impl_->upstreams.size();
}

std::vector<TlsUpstreamStatus> TlsRelay::status() const {
  std::vector<TlsUpstreamStatus> out;
  out.reserve(impl_->upstreams.size());
  for (const auto& u : impl_->upstreams) {
    out.push_back({u->label, u->port, u->connections, u->handshakes, u->failures,
                   u->consecutive_failures, u->last_error, u->last_error_unix});
  }
  return out;
}

std::string TlsRelay::last_error() const {
  const UpstreamState* latest = nullptr;
  for (const auto& u : impl_->upstreams) {
    if (u->consecutive_failures == 0 || u->last_error.empty()) continue;
    if (!latest || u->last_error_at > latest->last_error_at) latest = u.get();
  }
  return latest ? fmt::format("{}: {}", latest->label, latest->last_error) : std::string();
}

}  // namespace waypost::dns
