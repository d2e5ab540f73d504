// The resolver's sockets: UDP and TCP listeners on the tunnel addresses, TCP framing with
// bounded buffers, and sending answers back the way the query came.
#include "dns/resolver_impl.h"

namespace waypost::dns {

Status Resolver::Impl::open_sockets() {
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

void Resolver::Impl::send_answer(const ReplyTo& to, size_t len) {
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

void Resolver::Impl::on_udp(int fd) {
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

void Resolver::Impl::on_accept(int listener) {
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

void Resolver::Impl::set_events(TcpConn& conn, uint32_t events) {
  if (events == conn.events) return;
  if (!loop.modify(conn.fd.get(), events)) {
    conn.dead = true;
    return;
  }
  conn.events = events;
}

void Resolver::Impl::tcp_write(TcpConn& conn, const uint8_t* data, size_t len) {
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

void Resolver::Impl::tcp_flush(TcpConn& conn) {
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

void Resolver::Impl::on_tcp(uint64_t id, uint32_t events) {
  auto it = conns.find(id);
  if (it == conns.end()) return;
  TcpConn& conn = *it->second;
  // HUP: both directions are shut, nobody is left to read answers.
  if (events & (EPOLLHUP | EPOLLERR)) conn.dead = true;
  if ((events & EPOLLOUT) && !conn.dead) tcp_flush(conn);
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !conn.eof) {
    while (!conn.dead && !conn.eof) {
      ssize_t n = ::read(conn.fd.get(), conn.in.data() + conn.in_len, conn.in.size() - conn.in_len);
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

void Resolver::Impl::maybe_close(uint64_t id) {
  auto it = conns.find(id);
  if (it == conns.end()) return;
  TcpConn& conn = *it->second;
  const bool drained = conn.pending == 0 && conn.out_off == conn.out.size();
  if (conn.dead || (conn.eof && drained)) {
    loop.remove(conn.fd.get());
    conns.erase(it);
  }
}

}  // namespace waypost::dns
