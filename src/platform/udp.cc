#include "platform/udp.h"

#include <fcntl.h>
#include <netinet/ip.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace waypost::platform {

UdpSocket::UdpSocket(UdpSocket&& o) noexcept { *this = std::move(o); }

UdpSocket& UdpSocket::operator=(UdpSocket&& o) noexcept {
  if (this != &o) {
    fd_ = std::move(o.fd_);
    port_ = o.port_;
    v4_only_ = o.v4_only_;
    pending_ = 0;  // iovecs point into the old object's arrays: nothing may be pending
    o.pending_ = 0;
  }
  return *this;
}

Result<UdpSocket> UdpSocket::bind(uint16_t port, uint32_t fwmark) {
  UdpSocket s;
  // Blocking for sends (a full socket buffer pushes back on the loop instead of dropping);
  // receives use MSG_DONTWAIT.
  int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    int off = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  } else {
    // IPv6 disabled on this host: serve IPv4 only.
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    s.v4_only_ = true;
  }
  if (fd < 0) return make_error("cannot create UDP socket: {}", std::strerror(errno));
  s.fd_.reset(fd);
  // Large buffers absorb bursts while the loop is busy sealing a batch.
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
  if (fwmark != 0) {
    auto st = s.set_fwmark(fwmark);
    if (!st) return st.take_error();
  }
  sockaddr_storage ss{};
  socklen_t len;
  if (s.v4_only_) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
    int e = errno;
    if (e == EADDRINUSE) {
      return make_error("UDP port {} is already in use by another program", port);
    }
    return make_error("cannot bind UDP port {}: {}", port, std::strerror(e));
  }
  len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  s.port_ = ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);  // same offset for v4
  return s;
}

Status UdpSocket::set_fwmark(uint32_t mark) {
  if (setsockopt(fd_.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
    return make_error("cannot set fwmark {}: {}", mark, std::strerror(errno));
  }
  return {};
}

size_t UdpSocket::receive_batch(uint8_t* slots, std::span<dataplane::Datagram> out) {
  const size_t want = std::min(out.size(), kBatch);
  for (size_t i = 0; i < want; ++i) {
    in_iov_[i] = {slots + i * dataplane::kSlotSize, dataplane::kSlotSize};
    in_msgs_[i].msg_hdr = {};
    in_msgs_[i].msg_hdr.msg_iov = &in_iov_[i];
    in_msgs_[i].msg_hdr.msg_iovlen = 1;
    in_msgs_[i].msg_hdr.msg_name = &in_addr_[i];
    in_msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in6);
  }
  int n = recvmmsg(fd_.get(), in_msgs_.data(), unsigned(want), MSG_DONTWAIT, nullptr);
  if (n <= 0) return 0;
  size_t kept = 0;
  for (int i = 0; i < n; ++i) {
    if (in_msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) {
      ++truncated_;
      continue;
    }
    auto from = net::Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&in_addr_[i]),
                                             in_msgs_[i].msg_hdr.msg_namelen);
    if (!from) continue;
    out[kept++] = dataplane::Datagram{static_cast<uint8_t*>(in_iov_[i].iov_base),
                                      in_msgs_[i].msg_len, *from};
  }
  return kept;
}

void UdpSocket::push(const uint8_t* data, uint32_t size, const net::Endpoint& to) {
  if (pending_ == kBatch) flush();
  size_t i = pending_++;
  out_iov_[i] = {const_cast<uint8_t*>(data), size};
  socklen_t len = to.to_sockaddr(out_addr_[i], v4_only_);
  out_msgs_[i].msg_hdr = {};
  out_msgs_[i].msg_hdr.msg_name = &out_addr_[i];
  out_msgs_[i].msg_hdr.msg_namelen = len;
  out_msgs_[i].msg_hdr.msg_iov = &out_iov_[i];
  out_msgs_[i].msg_hdr.msg_iovlen = 1;
}

void UdpSocket::flush() {
  size_t done = 0;
  while (done < pending_) {
    int n = sendmmsg(fd_.get(), out_msgs_.data() + done, unsigned(pending_ - done), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      // The first message failed (e.g. unreachable destination or a full buffer): count it,
      // skip it, and carry on with the rest rather than losing the whole batch.
      ++send_errors_;
      WP_LOG_RATELIMITED(debug, "UDP send failed: {}", std::strerror(errno));
      ++done;
      continue;
    }
    done += size_t(n);
  }
  pending_ = 0;
}

}  // namespace waypost::platform
