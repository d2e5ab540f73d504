#include "doctor/probes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/icmp.h>
#include <netdb.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "crypto/random.h"
#include "net/icmp_echo.h"
#include "platform/netlink.h"

namespace waypost::doctor {

namespace {

constexpr uint8_t kIcmpEchoReply = 0;
constexpr uint8_t kIcmpDestUnreach = 3;
constexpr uint8_t kIcmpFragNeeded = 4;
constexpr uint8_t kIcmpTimeExceeded = 11;
constexpr uint8_t kIcmp6DestUnreach = 1;
constexpr uint8_t kIcmp6PacketTooBig = 2;
constexpr uint8_t kIcmp6TimeExceeded = 3;
constexpr uint8_t kIcmp6EchoReply = 129;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

socklen_t to_sockaddr(const net::IpAddress& a, uint16_t port, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof(ss));
  if (a.is_v4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, a.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  std::memcpy(&in6->sin6_addr, a.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

std::string offender_text(const sock_extended_err* ee) {
  const auto* sa = reinterpret_cast<const sockaddr*>(ee + 1);  // SO_EE_OFFENDER
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof(buf));
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof(buf));
  } else {
    return "";
  }
  return std::string(" from ") + buf;
}

std::string unreachable_text(bool v6, uint8_t type, uint8_t code) {
  if (!v6 && type == kIcmpDestUnreach) {
    switch (code) {
      case 0:
        return "network unreachable";
      case 1:
        return "host unreachable";
      case 2:
        return "protocol unreachable";
      case 3:
        return "port unreachable";
      case 9:
      case 10:
      case 13:
        return "communication administratively prohibited (a firewall)";
      default:
        return "destination unreachable (code " + std::to_string(code) + ")";
    }
  }
  if (v6 && type == kIcmp6DestUnreach) {
    switch (code) {
      case 0:
        return "no route to destination";
      case 1:
        return "communication administratively prohibited (a firewall)";
      case 3:
        return "address unreachable";
      case 4:
        return "port unreachable";
      case 5:
      case 6:
        return "rejected by a policy (a firewall)";
      default:
        return "destination unreachable (code " + std::to_string(code) + ")";
    }
  }
  if ((!v6 && type == kIcmpTimeExceeded) || (v6 && type == kIcmp6TimeExceeded)) {
    return "time exceeded (a routing loop?)";
  }
  return "ICMP error type " + std::to_string(type) + " code " + std::to_string(code);
}

}  // namespace

IcmpEchoProber::IcmpEchoProber(platform::UniqueFd fd, bool raw, const net::IpAddress& dst,
                               int timeout_ms)
    : fd_(std::move(fd)), raw_(raw), dst_(dst), timeout_ms_(timeout_ms) {
  uint8_t r[2];
  crypto::system_random().fill({r, 2});
  id_ = uint16_t(r[0] << 8 | r[1]);
}

Result<std::unique_ptr<IcmpEchoProber>> IcmpEchoProber::open(const net::IpAddress& dst,
                                                             uint32_t fwmark, int timeout_ms) {
  const bool v6 = !dst.is_v4();
  const int domain = v6 ? AF_INET6 : AF_INET;
  const int proto = v6 ? int(IPPROTO_ICMPV6) : int(IPPROTO_ICMP);
  bool raw = true;
  platform::UniqueFd fd(::socket(domain, SOCK_RAW | SOCK_CLOEXEC, proto));
  if (!fd.valid()) {
    raw = false;
    fd.reset(::socket(domain, SOCK_DGRAM | SOCK_CLOEXEC, proto));
    if (!fd.valid()) {
      return make_error(
          "cannot open an ICMP socket ({}): run as root, or allow ping sockets for your group "
          "(sysctl net.ipv4.ping_group_range)",
          std::strerror(errno));
    }
  }
  int one = 1;
  if (fwmark != 0 && ::setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) != 0) {
    return make_error("cannot set fwmark {:#x} on the probe socket ({}): run as root", fwmark,
                      std::strerror(errno));
  }
  if (v6) {
    int probe = IPV6_PMTUDISC_PROBE;
    if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe, sizeof(probe)) != 0 ||
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_DONTFRAG, &one, sizeof(one)) != 0 ||
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one)) != 0) {
      return make_error("cannot set up the ICMPv6 probe socket: {}", std::strerror(errno));
    }
    if (raw) {
      icmp6_filter filter;
      ICMP6_FILTER_SETBLOCKALL(&filter);
      ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
      (void)::setsockopt(fd.get(), IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter));
    }
  } else {
    int probe = IP_PMTUDISC_PROBE;
    if (::setsockopt(fd.get(), IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof(probe)) != 0 ||
        ::setsockopt(fd.get(), IPPROTO_IP, IP_RECVERR, &one, sizeof(one)) != 0) {
      return make_error("cannot set up the ICMP probe socket: {}", std::strerror(errno));
    }
    if (raw) {
      icmp_filter filter{};
      filter.data = ~(1u << kIcmpEchoReply);
      (void)::setsockopt(fd.get(), SOL_RAW, ICMP_FILTER, &filter, sizeof(filter));
    }
  }
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(dst, 0, ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return make_error("cannot reach {}: {}", dst.to_string(), std::strerror(errno));
  }
  return std::unique_ptr<IcmpEchoProber>(new IcmpEchoProber(std::move(fd), raw, dst, timeout_ms));
}

void IcmpEchoProber::discard_pending() {
  // Late replies and errors about earlier probes; SO_ERROR clears a pending asynchronous error
  // that would otherwise fail the next send.
  ProbeResult ignored;
  (void)read_errors(uint16_t(seq_ + 1), ignored);
  int err = 0;
  socklen_t len = sizeof(err);
  (void)::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  uint8_t buf[2048];
  for (int i = 0; i < 256; ++i) {
    if (::recv(fd_.get(), buf, sizeof(buf), MSG_DONTWAIT) < 0 && errno != EINTR) break;
  }
}

bool IcmpEchoProber::read_errors(uint16_t seq, ProbeResult& out) {
  const bool v6 = !dst_.is_v4();
  bool matched = false;
  for (int i = 0; i < 64; ++i) {
    uint8_t data[1024];
    alignas(cmsghdr) uint8_t control[512];
    iovec iov{data, sizeof(data)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      const bool is_err = (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                          (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR);
      if (!is_err) continue;
      // The offender address follows the structure in the control data.
      const auto* eep = reinterpret_cast<const sock_extended_err*>(CMSG_DATA(c));
      const sock_extended_err& ee = *eep;
      // The queued data starts with the echo request the error is about.
      bool ours = n >= 8 && uint16_t(data[6] << 8 | data[7]) == seq &&
                  (!raw_ || uint16_t(data[4] << 8 | data[5]) == id_);
      if (ee.ee_origin == SO_EE_ORIGIN_LOCAL) {
        ours = true;  // reported synchronously for the datagram just sent
        if (ee.ee_errno == EMSGSIZE) {
          out = {ProbeOutcome::kTooBig, ee.ee_info, "larger than the local interface MTU"};
        } else {
          out = {ProbeOutcome::kError, 0, std::strerror(int(ee.ee_errno))};
        }
      } else if (ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6) {
        if (!ours) continue;
        const bool too_big = v6 ? ee.ee_type == kIcmp6PacketTooBig
                                : ee.ee_type == kIcmpDestUnreach && ee.ee_code == kIcmpFragNeeded;
        if (too_big) {
          out = {ProbeOutcome::kTooBig, ee.ee_info,
                 "packet too big (MTU " + std::to_string(ee.ee_info) + ")" + offender_text(eep)};
        } else {
          out = {ProbeOutcome::kUnreachable, 0,
                 unreachable_text(v6, ee.ee_type, ee.ee_code) + offender_text(eep)};
        }
      } else {
        continue;
      }
      if (ours) matched = true;
    }
  }
  return matched;
}

ProbeResult IcmpEchoProber::probe(uint32_t payload) {
  const bool v6 = !dst_.is_v4();
  discard_pending();
  const uint16_t seq = ++seq_;
  std::vector<uint8_t> fill(payload);
  for (uint32_t i = 0; i < payload; ++i) fill[i] = uint8_t(0x20 + i % 64);
  // Ping sockets fill in the identifier and checksum themselves; raw ones send these as they are.
  const std::vector<uint8_t> packet =
      net::make_echo_request(v6 ? net::Family::kV6 : net::Family::kV4, id_, seq, fill);
  ProbeResult result;
  ssize_t sent;
  do {
    sent = ::send(fd_.get(), packet.data(), packet.size(), 0);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    int err = errno;
    if (read_errors(seq, result)) return result;
    if (err == EMSGSIZE) return {ProbeOutcome::kTooBig, 0, "larger than the local interface MTU"};
    if (err == EHOSTUNREACH || err == ENETUNREACH) {
      return {ProbeOutcome::kUnreachable, 0, std::strerror(err)};
    }
    if (err == EPERM || err == EACCES) {
      return {ProbeOutcome::kError, 0,
              std::string("sending was refused (") + std::strerror(err) +
                  "): a local firewall may drop outgoing ICMP"};
    }
    return {ProbeOutcome::kError, 0, std::strerror(err)};
  }
  const int64_t deadline = now_ms() + timeout_ms_;
  for (int guard = 0; guard < 10000; ++guard) {
    int64_t left = deadline - now_ms();
    if (left <= 0) break;
    pollfd p{fd_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, int(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (p.revents & POLLERR) {
      if (read_errors(seq, result)) return result;
      int err = 0;
      socklen_t len = sizeof(err);
      (void)::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (!(p.revents & POLLIN)) continue;
    uint8_t buf[65536];
    ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0) continue;  // an asynchronous error: the error queue has it (POLLERR next turn)
    const uint8_t* icmp = buf;
    auto len = size_t(n);
    if (!v6 && raw_) {
      // Raw IPv4 sockets see the IP header.
      if (len < 20 || (buf[0] >> 4) != 4) continue;
      size_t ihl = size_t(buf[0] & 0x0f) * 4;
      if (ihl < 20 || len < ihl + 8) continue;
      icmp += ihl;
      len -= ihl;
    }
    if (len < 8) continue;
    if (icmp[0] != (v6 ? kIcmp6EchoReply : kIcmpEchoReply)) continue;
    if (uint16_t(icmp[6] << 8 | icmp[7]) != seq) continue;
    // Ping sockets get only their own replies (the kernel owns the id); raw ones check it.
    if (raw_ && uint16_t(icmp[4] << 8 | icmp[5]) != id_) continue;
    return {ProbeOutcome::kReply, 0, ""};
  }
  return {ProbeOutcome::kTimeout, 0, ""};
}

Result<RouteView> route_to(const net::IpAddress& dst, uint32_t fwmark) {
  auto nl = platform::Netlink::open();
  if (!nl) return nl.take_error();
  auto r = nl->route_get(dst, fwmark);
  if (!r) return make_error("no route to {}: {}", dst.to_string(), r.error().message);
  RouteView v;
  v.ifindex = r->ifindex;
  v.route_mtu = r->mtu;
  v.gateway = r->gateway;
  if (auto name = nl->link_name(r->ifindex)) v.ifname = *name;
  if (auto mtu = nl->link_mtu(r->ifindex)) v.link_mtu = *mtu;
  return v;
}

Result<net::IpAddress> resolve_host(std::string_view text) {
  if (auto a = net::IpAddress::parse(text)) return *a;
  std::string host(text);
  if (host.size() > 2 && host.front() == '[') {
    size_t close = host.find(']');
    if (close != std::string::npos) host = host.substr(1, close - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    host = host.substr(0, host.find(':'));  // "name:51820"
  }
  if (auto a = net::IpAddress::parse(host)) return *a;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return make_error("cannot resolve '{}': {}", host, gai_strerror(rc));
  }
  std::optional<net::IpAddress> out;
  if (res->ai_family == AF_INET) {
    out = net::IpAddress::v4_bytes(
        reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr));
  } else if (res->ai_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(res->ai_addr);
    out = IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)
              ? net::IpAddress::v4_bytes(&in6->sin6_addr.s6_addr[12])
              : net::IpAddress::v6_bytes(in6->sin6_addr.s6_addr);
  }
  freeaddrinfo(res);
  if (!out) return make_error("cannot resolve '{}'", host);
  return *out;
}

Result<std::string> udp_dns_exchange(const net::IpAddress& dns_server, std::string_view query,
                                     int timeout_ms) {
  platform::UniqueFd fd(
      ::socket(dns_server.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!fd.valid()) return make_error("socket: {}", std::strerror(errno));
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(dns_server, 53, ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return make_error("{}", std::strerror(errno));
  }
  if (::send(fd.get(), query.data(), query.size(), 0) != ssize_t(query.size())) {
    return make_error("cannot send the query: {}", std::strerror(errno));
  }
  const int64_t deadline = now_ms() + timeout_ms;
  for (int guard = 0; guard < 1000; ++guard) {
    int64_t left = deadline - now_ms();
    if (left <= 0) break;
    pollfd p{fd.get(), POLLIN, 0};
    int r = ::poll(&p, 1, int(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    char buf[4096];
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == ECONNREFUSED) {
        return make_error("connection refused (nothing listens on port 53)");
      }
      if (errno == EINTR) continue;
      return make_error("{}", std::strerror(errno));
    }
    // Same id as the query: anything else is not our answer.
    if (n >= 2 && query.size() >= 2 && buf[0] == query[0] && buf[1] == query[1]) {
      return std::string(buf, size_t(n));
    }
  }
  return make_error("no answer within {} s", timeout_ms / 1000.0);
}

uint64_t netns_inode(int pid) {
  std::string path = pid == 0 ? "/proc/self/ns/net" : "/proc/" + std::to_string(pid) + "/ns/net";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return uint64_t(st.st_ino);
}

}  // namespace waypost::doctor
