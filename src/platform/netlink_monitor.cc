// RouteMonitor (netlink.h): route, link and address change notifications.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "platform/netlink.h"
#include "platform/netlink_socket.h"

namespace waypost::platform {

Result<RouteMonitor> RouteMonitor::open() {
  auto fd = open_rtnetlink_socket(
      RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE,
      true);
  if (!fd) return fd.take_error();
  return RouteMonitor(*fd);
}

RouteMonitor::RouteMonitor(RouteMonitor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

RouteMonitor& RouteMonitor::operator=(RouteMonitor&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

RouteMonitor::~RouteMonitor() {
  if (fd_ >= 0) close(fd_);
}

bool RouteMonitor::drain() {
  if (fd_ < 0) return false;
  bool changed = false;
  std::vector<uint8_t> buf(kNetlinkReceiveBufferSize);
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_len = sizeof(from);
    ssize_t n = recvfrom(fd_, buf.data(), buf.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&from),
                         &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      // ENOBUFS: the kernel dropped notifications; whatever they said, something changed.
      if (errno == ENOBUFS) {
        changed = true;
        continue;
      }
      break;  // EAGAIN: drained
    }
    if (size_t(n) > buf.size()) {  // truncated: cannot parse, but it was a notification
      changed = true;
      continue;
    }
    if (from.nl_pid != 0) continue;  // not from the kernel
    ByteSpan data(buf.data(), size_t(n));
    while (data.size() >= sizeof(nlmsghdr)) {
      nlmsghdr h;
      std::memcpy(&h, data.data(), sizeof(h));
      if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > data.size()) break;
      switch (h.nlmsg_type) {
        case RTM_NEWLINK:
        case RTM_DELLINK:
        case RTM_NEWADDR:
        case RTM_DELADDR:
        case RTM_NEWROUTE:
        case RTM_DELROUTE:
          changed = true;
          break;
        default:
          break;
      }
      data = data.subspan(std::min<size_t>(NLMSG_ALIGN(h.nlmsg_len), data.size()));
    }
  }
  return changed;
}

}  // namespace waypost::platform
