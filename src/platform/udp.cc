#include "platform/udp.h"

#include <fcntl.h>
#include <linux/udp.h>
#include <netinet/ip.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

#ifndef SOL_UDP
#define SOL_UDP 17
#endif

namespace waypost::platform {

UdpSocket::UdpSocket(UdpSocket&& o) noexcept {
  *this = std::move(o);
}

UdpSocket& UdpSocket::operator=(UdpSocket&& o) noexcept {
  if (this != &o) {
    fd_ = std::move(o.fd_);
    port_ = o.port_;
    v4_only_ = o.v4_only_;
    offloads_ = o.offloads_;
    gro_ = o.gro_;
    gso_ = o.gso_;
    queue_ = std::move(o.queue_);
    rx_ = std::move(o.rx_);
    rx_slot_ = o.rx_slot_;
    rx_count_ = o.rx_count_;
    rx_views_ = std::move(o.rx_views_);
    send_errors_ = o.send_errors_;
    truncated_ = o.truncated_;
  }
  return *this;
}

Result<UdpSocket> UdpSocket::bind(uint16_t port, uint32_t fwmark, bool offloads) {
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
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
  // Always DF, and never fragmented by this host: the in-tunnel path MTU search
  // (dataplane/path_mtu.h) must see what the path really carries, and the MSS clamping built on
  // it keeps full-size packets from needing fragments in the first place.
  int probe = IP_PMTUDISC_PROBE;
  setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof(probe));
  if (!s.v4_only_) {
    int probe6 = IPV6_PMTUDISC_PROBE;
    setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe6, sizeof(probe6));
  }
  if (fwmark != 0) {
    auto st = s.set_fwmark(fwmark);
    if (!st) return st.take_error();
  }
  s.offloads_ = offloads;
  if (offloads) {
    int one = 1;
    s.gro_ = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
    s.gso_ = true;  // checked on first use: the kernel says EIO if it cannot segment
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
  s.init_buffers();
  return s;
}

void UdpSocket::init_buffers() {
  rx_slot_ = gro_ ? 65536 : net::kSlotSize;
  rx_count_ = gro_ ? kGroMessages : kRecvMessages;
  rx_ = PageBuffer(rx_count_ * rx_slot_);
  rx_views_.reserve(gro_ ? kGroMessages * 64 : kRecvMessages);
  queue_.reserve(kMaxQueued);
}

Status UdpSocket::set_fwmark(uint32_t mark) {
  if (setsockopt(fd_.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
    return make_error("cannot set fwmark {}: {}", mark, std::strerror(errno));
  }
  return {};
}

Status UdpSocket::rebind(uint16_t port, uint32_t fwmark) {
  auto fresh = bind(port, fwmark, offloads_);
  if (!fresh) return fresh.take_error();
  // Whatever is queued must leave through the socket it was queued on.
  flush();
  *this = std::move(*fresh);
  return {};
}

size_t UdpSocket::receive(int max_calls, const Deliver& deliver) {
  mmsghdr msgs[kRecvMessages];
  iovec iov[kRecvMessages];
  sockaddr_in6 addrs[kRecvMessages];
  alignas(cmsghdr) char control[kRecvMessages][CMSG_SPACE(sizeof(int))];
  size_t total = 0;
  for (int call = 0; call < max_calls; ++call) {
    for (size_t i = 0; i < rx_count_; ++i) {
      iov[i] = {rx_.data() + i * rx_slot_, rx_slot_};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in6);
      if (gro_) {
        msgs[i].msg_hdr.msg_control = control[i];
        msgs[i].msg_hdr.msg_controllen = sizeof(control[i]);
      }
    }
    int n = recvmmsg(fd_.get(), msgs, unsigned(rx_count_), MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    rx_views_.clear();
    for (int i = 0; i < n; ++i) {
      const msghdr& h = msgs[i].msg_hdr;
      if (h.msg_flags & MSG_TRUNC) {
        ++truncated_;
        continue;
      }
      auto from =
          net::Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&addrs[i]), h.msg_namelen);
      if (!from) continue;
      size_t seg = msgs[i].msg_len;
      if (gro_) {
        for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr;
             c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
          if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
            int v = 0;
            std::memcpy(&v, CMSG_DATA(c), sizeof(v));
            if (v > 0) seg = size_t(v);
          }
        }
      }
      auto* base = static_cast<uint8_t*>(iov[i].iov_base);
      // A GRO buffer holds datagrams of `seg` bytes back to back; the last may be shorter.
      for (size_t off = 0; off < msgs[i].msg_len; off += seg) {
        size_t len = std::min(seg, size_t(msgs[i].msg_len) - off);
        rx_views_.push_back({base + off, uint32_t(len), *from});
      }
    }
    total += rx_views_.size();
    if (!rx_views_.empty()) deliver(rx_views_);
    if (size_t(n) < rx_count_) break;  // drained
  }
  return total;
}

void UdpSocket::push(const uint8_t* data, uint32_t size, const net::Endpoint& to) {
  if (queue_.size() == kMaxQueued) flush();
  queue_.push_back({data, size, to});
}

void UdpSocket::flush() {
  if (queue_.empty()) return;
  send_queued(gso_);
  queue_.clear();
}

void UdpSocket::send_queued(bool use_gso) {
  // One message per run of same-destination, same-size datagrams (the last of a run may be
  // shorter), each run segmented by the kernel (UDP_SEGMENT).
  static thread_local std::vector<mmsghdr> msgs;
  static thread_local std::vector<iovec> iov;
  static thread_local std::vector<sockaddr_storage> addrs;
  struct Control {
    alignas(cmsghdr) char buf[CMSG_SPACE(sizeof(uint16_t))];
  };
  static thread_local std::vector<Control> controls;
  msgs.resize(queue_.size());
  iov.resize(queue_.size());
  addrs.resize(queue_.size());
  controls.resize(queue_.size());
  size_t nmsg = 0;
  size_t i = 0;
  while (i < queue_.size()) {
    const Queued& first = queue_[i];
    size_t run = 1;
    size_t bytes = first.size;
    if (use_gso) {
      while (i + run < queue_.size() && run < kMaxGsoSegments) {
        const Queued& q = queue_[i + run];
        if (!(q.to == first.to) || q.size > first.size || bytes + q.size > 65000) break;
        bytes += q.size;
        ++run;
        if (q.size < first.size) break;  // a shorter datagram can only end a run
      }
    }
    for (size_t k = 0; k < run; ++k) {
      iov[i + k] = {const_cast<uint8_t*>(queue_[i + k].data), queue_[i + k].size};
    }
    msghdr& h = msgs[nmsg].msg_hdr;
    h = {};
    h.msg_name = &addrs[nmsg];
    h.msg_namelen = first.to.to_sockaddr(addrs[nmsg], v4_only_);
    h.msg_iov = &iov[i];
    h.msg_iovlen = run;
    if (run > 1) {
      h.msg_control = controls[nmsg].buf;
      h.msg_controllen = sizeof(controls[nmsg].buf);
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      auto seg = uint16_t(first.size);
      std::memcpy(CMSG_DATA(c), &seg, sizeof(seg));
    }
    ++nmsg;
    i += run;
  }
  size_t done = 0;
  while (done < nmsg) {
    int n = sendmmsg(fd_.get(), msgs.data() + done, unsigned(nmsg - done), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (use_gso && (errno == EIO || errno == EINVAL) && msgs[done].msg_hdr.msg_iovlen > 1) {
        // The kernel cannot segment on this path: send the rest one datagram at a time, and
        // stop asking for segmentation.
        spdlog::info("UDP segmentation offload unavailable ({}); sending datagrams singly",
                     std::strerror(errno));
        gso_ = false;
        auto first_queued = size_t(msgs[done].msg_hdr.msg_iov - iov.data());
        std::vector<Queued> rest(queue_.begin() + long(first_queued), queue_.end());
        queue_.swap(rest);
        send_queued(false);
        return;
      }
      // The first message failed (e.g. an unreachable destination): count it, skip it, and
      // carry on with the rest rather than losing the whole batch.
      ++send_errors_;
      WP_LOG_RATELIMITED(debug, "UDP send failed: {}", std::strerror(errno));
      ++done;
      continue;
    }
    done += size_t(n);
  }
}

}  // namespace waypost::platform
