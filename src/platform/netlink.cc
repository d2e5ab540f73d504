#include "platform/netlink.h"

#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/bytes.h"
#include "platform/netlink_socket.h"

namespace waypost::platform {

// A received netlink message, copied out of the receive buffer.
struct Netlink::Message {
  uint16_t type = 0;
  std::vector<uint8_t> payload;  // everything after the nlmsghdr
};

namespace {

int to_af(net::Family family) {
  return family == net::Family::kV4 ? AF_INET : AF_INET6;
}
const char* family_name(net::Family family) {
  return family == net::Family::kV4 ? "IPv4" : "IPv6";
}

std::string table_name(uint32_t table) {
  return table == kMainTable ? std::string("main") : std::to_string(table);
}

std::string errno_text(int err) {
  char buf[128];
  // GNU strerror_r returns the message, which may or may not live in buf.
  return strerror_r(err, buf, sizeof(buf));
}

// Builds one request: nlmsghdr, a fixed family header, then attributes. Writes go through memcpy
// so nothing depends on the vector's alignment.
class Request {
 public:
  Request(uint16_t type, uint16_t flags) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    append(&h, sizeof(h));
  }

  template <typename Header>
  void header(const Header& h) {
    append(&h, sizeof(h));
  }

  void attr(uint16_t type, const void* data, size_t len) {
    rtattr a{};
    a.rta_len = uint16_t(RTA_LENGTH(len));
    a.rta_type = type;
    append(&a, sizeof(a));
    append(data, len);
  }
  void attr_u32(uint16_t type, uint32_t v) { attr(type, &v, sizeof(v)); }
  void attr_str(uint16_t type, std::string_view s) {
    std::string z(s);  // with its terminating NUL, as the kernel expects for names
    attr(type, z.c_str(), z.size() + 1);
  }
  void attr_ip(uint16_t type, const net::IpAddress& ip) {
    attr(type, ip.bytes.data(), ip.byte_length());
  }

  size_t begin_nested(uint16_t type) {
    size_t at = buf_.size();
    attr(type, nullptr, 0);
    return at;
  }
  void end_nested(size_t at) {
    auto len = uint16_t(buf_.size() - at);
    std::memcpy(buf_.data() + at + offsetof(rtattr, rta_len), &len, sizeof(len));
  }

  std::vector<uint8_t>& finish() {
    auto len = uint32_t(buf_.size());
    std::memcpy(buf_.data() + offsetof(nlmsghdr, nlmsg_len), &len, sizeof(len));
    return buf_;
  }

 private:
  void append(const void* data, size_t len) {
    size_t at = buf_.size();
    buf_.resize(at + NLMSG_ALIGN(len));  // zero padding
    if (len > 0) std::memcpy(buf_.data() + at, data, len);
  }
  std::vector<uint8_t> buf_;
};

// Attributes of one message, found by type. Malformed attributes end the walk: what was parsed
// before them is kept, the rest is ignored.
class Attrs {
 public:
  explicit Attrs(ByteSpan data) {
    while (data.size() >= sizeof(rtattr)) {
      rtattr a;
      std::memcpy(&a, data.data(), sizeof(a));
      if (a.rta_len < sizeof(rtattr) || a.rta_len > data.size()) break;
      items_.emplace_back(uint16_t(a.rta_type & NLA_TYPE_MASK),
                          data.subspan(RTA_LENGTH(0), a.rta_len - RTA_LENGTH(0)));
      size_t step = RTA_ALIGN(a.rta_len);
      if (step >= data.size()) break;
      data = data.subspan(step);
    }
  }

  std::optional<ByteSpan> get(uint16_t type) const {
    for (const auto& [t, v] : items_) {
      if (t == type) return v;
    }
    return std::nullopt;
  }
  std::optional<uint32_t> u32(uint16_t type) const {
    auto v = get(type);
    if (!v || v->size() < 4) return std::nullopt;
    uint32_t out;
    std::memcpy(&out, v->data(), 4);
    return out;
  }
  std::optional<std::string> str(uint16_t type) const {
    auto v = get(type);
    if (!v) return std::nullopt;
    std::string s(reinterpret_cast<const char*>(v->data()), v->size());
    if (auto nul = s.find('\0'); nul != std::string::npos) s.resize(nul);
    return s;
  }
  std::optional<net::IpAddress> ip(uint16_t type, net::Family family) const {
    auto v = get(type);
    if (!v) return std::nullopt;
    if (family == net::Family::kV4 && v->size() == 4) return net::IpAddress::v4_bytes(v->data());
    if (family == net::Family::kV6 && v->size() == 16) return net::IpAddress::v6_bytes(v->data());
    return std::nullopt;
  }

 private:
  std::vector<std::pair<uint16_t, ByteSpan>> items_;
};

// Reads a fixed header at the start of a payload, then exposes the attributes after it.
template <typename Header>
bool split_payload(const std::vector<uint8_t>& payload, Header& header, ByteSpan& attrs) {
  if (payload.size() < sizeof(Header)) return false;
  std::memcpy(&header, payload.data(), sizeof(Header));
  size_t skip = NLMSG_ALIGN(sizeof(Header));
  attrs = skip <= payload.size() ? ByteSpan(payload).subspan(skip) : ByteSpan();
  return true;
}

Error wrap(const Error& e, const std::string& what) {
  return e.context(what);
}

// Parses the nexthop list of a multipath route far enough to name its first device and gateway.
void first_nexthop(ByteSpan data, net::Family family, int& ifindex,
                   std::optional<net::IpAddress>& gateway) {
  if (data.size() < sizeof(rtnexthop)) return;
  rtnexthop nh;
  std::memcpy(&nh, data.data(), sizeof(nh));
  if (nh.rtnh_len < sizeof(rtnexthop) || nh.rtnh_len > data.size()) return;
  ifindex = nh.rtnh_ifindex;
  size_t header = RTNH_ALIGN(sizeof(rtnexthop));
  if (nh.rtnh_len <= header) return;
  Attrs attrs(data.subspan(header, nh.rtnh_len - header));
  gateway = attrs.ip(RTA_GATEWAY, family);
}

uint32_t metrics_mtu(const Attrs& attrs) {
  auto metrics = attrs.get(RTA_METRICS);
  if (!metrics) return 0;
  return Attrs(*metrics).u32(RTAX_MTU).value_or(0);
}

}  // namespace

Result<int> open_rtnetlink_socket(uint32_t groups, bool nonblocking) {
  int flags = SOCK_RAW | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
  int fd = socket(AF_NETLINK, flags, NETLINK_ROUTE);
  if (fd < 0) return make_errno_error(errno, "cannot open rtnetlink socket: {}", errno_text(errno));
  int one = 1;
  // Best effort: older kernels lack these. Extended acks carry the kernel's own explanation;
  // capped acks keep error replies from echoing our whole request back.
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
  int rcvbuf = 1 << 20;
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = groups;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    int err = errno;
    close(fd);
    return make_errno_error(err, "cannot bind rtnetlink socket: {}", errno_text(err));
  }
  return fd;
}

Result<Netlink> Netlink::open() {
  auto fd = open_rtnetlink_socket(0, false);
  if (!fd) return fd.take_error();
  return Netlink(*fd);
}

Netlink::Netlink(Netlink&& other) noexcept : fd_(std::exchange(other.fd_, -1)), seq_(other.seq_) {}

Netlink& Netlink::operator=(Netlink&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    seq_ = other.seq_;
  }
  return *this;
}

Netlink::~Netlink() {
  if (fd_ >= 0) close(fd_);
}

Status Netlink::transact(std::vector<uint8_t>& request, std::vector<Message>* replies) {
  if (fd_ < 0) return make_error("rtnetlink socket is closed");
  nlmsghdr hdr;
  std::memcpy(&hdr, request.data(), sizeof(hdr));
  const bool dump = (hdr.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  hdr.nlmsg_seq = ++seq_;
  // Dumps end with NLMSG_DONE; everything else is acked so that success is confirmed, not
  // assumed. Stale messages from an earlier, abandoned exchange are told apart by sequence.
  hdr.nlmsg_flags |= NLM_F_REQUEST | (dump ? 0 : NLM_F_ACK);
  std::memcpy(request.data(), &hdr, sizeof(hdr));

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = sendto(fd_, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                  sizeof(kernel));
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return make_errno_error(errno, "send: {}", errno_text(errno));
  if (size_t(sent) != request.size()) return Error{"short send to rtnetlink", EIO, ErrorKind::kIo};

  std::vector<uint8_t> buf(kNetlinkReceiveBufferSize);
  for (;;) {
    sockaddr_nl from{};
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = recvmsg(fd_, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_errno_error(errno, "receive: {}", errno_text(errno));
    }
    if (msg.msg_flags & MSG_TRUNC) {
      return Error{"rtnetlink reply truncated", EMSGSIZE, ErrorKind::kProtocol};
    }
    if (from.nl_pid != 0) continue;  // only the kernel answers requests

    ByteSpan data(buf.data(), size_t(n));
    while (data.size() >= sizeof(nlmsghdr)) {
      nlmsghdr h;
      std::memcpy(&h, data.data(), sizeof(h));
      if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > data.size()) {
        return Error{"malformed rtnetlink reply", EPROTO, ErrorKind::kProtocol};
      }
      ByteSpan payload = data.subspan(NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN);
      size_t step = std::min<size_t>(NLMSG_ALIGN(h.nlmsg_len), data.size());
      data = data.subspan(step);
      if (h.nlmsg_seq != hdr.nlmsg_seq) continue;

      if (h.nlmsg_type == NLMSG_ERROR) {
        if (payload.size() < sizeof(nlmsgerr)) {
          return Error{"malformed rtnetlink ack", EPROTO, ErrorKind::kProtocol};
        }
        nlmsgerr e;
        std::memcpy(&e, payload.data(), sizeof(e));
        if (e.error == 0) return {};
        int err = -e.error;
        std::string text = errno_text(err);
        // With NETLINK_EXT_ACK the kernel may explain itself in TLVs after the (capped) request.
        if (h.nlmsg_flags & NLM_F_ACK_TLVS) {
          size_t skip = sizeof(nlmsgerr);
          if (!(h.nlmsg_flags & NLM_F_CAPPED) && e.msg.nlmsg_len > sizeof(nlmsghdr)) {
            skip += e.msg.nlmsg_len - sizeof(nlmsghdr);
          }
          skip = NLMSG_ALIGN(skip);
          if (skip < payload.size()) {
            if (auto why = Attrs(payload.subspan(skip)).str(NLMSGERR_ATTR_MSG);
                why && !why->empty()) {
              text += " (" + *why + ")";
            }
          }
        }
        return Error{text, err, error_kind_from_errno(err)};
      }
      if (h.nlmsg_type == NLMSG_DONE) {
        if (payload.size() >= sizeof(int)) {
          int status;
          std::memcpy(&status, payload.data(), sizeof(status));
          if (status < 0) {
            return Error{errno_text(-status), -status, error_kind_from_errno(-status)};
          }
        }
        return {};
      }
      if (h.nlmsg_type < NLMSG_MIN_TYPE) continue;  // NOOP, OVERRUN
      if (replies != nullptr) {
        replies->push_back(Message{h.nlmsg_type, {payload.begin(), payload.end()}});
      }
    }
  }
}

std::string Netlink::describe_link(int ifindex) {
  auto name = link_name(ifindex);
  if (name) return *name;
  return "#" + std::to_string(ifindex);
}

// ---- Links ----

namespace {

Request link_request(uint16_t type, uint16_t flags, int ifindex) {
  Request r(type, flags);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  r.header(ifi);
  return r;
}

}  // namespace

Result<int> Netlink::link_index(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return make_error(ErrorKind::kParse, "invalid interface name '{}'", name);
  }
  Request r = link_request(RTM_GETLINK, 0, 0);
  r.attr_str(IFLA_IFNAME, name);
  r.attr_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::vector<Message> replies;
  if (auto st = transact(r.finish(), &replies); !st) {
    return wrap(st.error(), fmt::format("interface '{}'", name));
  }
  for (const auto& m : replies) {
    ifinfomsg ifi;
    ByteSpan attrs;
    if (m.type == RTM_NEWLINK && split_payload(m.payload, ifi, attrs)) return ifi.ifi_index;
  }
  return make_error("interface '{}': no reply from the kernel", name);
}

Result<std::string> Netlink::link_name(int ifindex) {
  Request r = link_request(RTM_GETLINK, 0, ifindex);
  r.attr_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::vector<Message> replies;
  if (auto st = transact(r.finish(), &replies); !st) {
    return wrap(st.error(), fmt::format("interface #{}", ifindex));
  }
  for (const auto& m : replies) {
    ifinfomsg ifi;
    ByteSpan attrs;
    if (m.type != RTM_NEWLINK || !split_payload(m.payload, ifi, attrs)) continue;
    if (auto name = Attrs(attrs).str(IFLA_IFNAME)) return *name;
  }
  return make_error("interface #{}: no name in the kernel's reply", ifindex);
}

Result<uint32_t> Netlink::link_mtu(int ifindex) {
  Request r = link_request(RTM_GETLINK, 0, ifindex);
  r.attr_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::vector<Message> replies;
  if (auto st = transact(r.finish(), &replies); !st) {
    return wrap(st.error(), fmt::format("interface #{}", ifindex));
  }
  for (const auto& m : replies) {
    ifinfomsg ifi;
    ByteSpan attrs;
    if (m.type != RTM_NEWLINK || !split_payload(m.payload, ifi, attrs)) continue;
    if (auto mtu = Attrs(attrs).u32(IFLA_MTU)) return *mtu;
  }
  return make_error("interface #{}: no MTU in the kernel's reply", ifindex);
}

Status Netlink::set_link_up(int ifindex) {
  Request r(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  r.header(ifi);
  if (auto st = transact(r.finish(), nullptr); !st) {
    return wrap(st.error(), fmt::format("set link {} up", describe_link(ifindex)));
  }
  return {};
}

Status Netlink::set_mtu(int ifindex, uint32_t mtu) {
  Request r = link_request(RTM_NEWLINK, 0, ifindex);
  r.attr_u32(IFLA_MTU, mtu);
  if (auto st = transact(r.finish(), nullptr); !st) {
    return wrap(st.error(), fmt::format("set mtu {} on {}", mtu, describe_link(ifindex)));
  }
  return {};
}

Status Netlink::create_link(std::string_view name, std::string_view kind) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return make_error(ErrorKind::kParse, "invalid interface name '{}'", name);
  }
  Request r = link_request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
  r.attr_str(IFLA_IFNAME, name);
  size_t info = r.begin_nested(IFLA_LINKINFO);
  r.attr(IFLA_INFO_KIND, kind.data(), kind.size());
  r.end_nested(info);
  if (auto st = transact(r.finish(), nullptr); !st) {
    return wrap(st.error(), fmt::format("create {} link {}", kind, name));
  }
  return {};
}

Status Netlink::delete_link(int ifindex) {
  std::string name = describe_link(ifindex);
  Request r = link_request(RTM_DELLINK, 0, ifindex);
  if (auto st = transact(r.finish(), nullptr); !st) {
    return wrap(st.error(), fmt::format("delete link {}", name));
  }
  return {};
}

// ---- Addresses ----

Status Netlink::add_address(int ifindex, const net::Prefix& address) {
  Request r(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg ifa{};
  ifa.ifa_family = uint8_t(to_af(address.address.family));
  ifa.ifa_prefixlen = address.length;
  ifa.ifa_index = uint32_t(ifindex);
  uint32_t flags = 0;
  if (!address.address.is_v4()) {
    // A VPN address has no neighbours to clash with; waiting for DAD would only delay traffic.
    flags |= IFA_F_NODAD;
  }
  ifa.ifa_flags = uint8_t(flags);
  r.header(ifa);
  r.attr_ip(IFA_LOCAL, address.address);
  r.attr_ip(IFA_ADDRESS, address.address);
  if (flags != 0) r.attr_u32(IFA_FLAGS, flags);
  if (auto st = transact(r.finish(), nullptr); !st) {
    return wrap(st.error(),
                fmt::format("add address {} dev {}", address.to_string(), describe_link(ifindex)));
  }
  return {};
}

Status Netlink::del_address(int ifindex, const net::Prefix& address) {
  Request r(RTM_DELADDR, 0);
  ifaddrmsg ifa{};
  ifa.ifa_family = uint8_t(to_af(address.address.family));
  ifa.ifa_prefixlen = address.length;
  ifa.ifa_index = uint32_t(ifindex);
  r.header(ifa);
  r.attr_ip(IFA_LOCAL, address.address);
  if (auto st = transact(r.finish(), nullptr); !st) {
    return wrap(st.error(), fmt::format("delete address {} dev {}", address.to_string(),
                                        describe_link(ifindex)));
  }
  return {};
}

Result<std::vector<net::Prefix>> Netlink::addresses(int ifindex, net::Family family) {
  Request r(RTM_GETADDR, NLM_F_DUMP);
  ifaddrmsg ifa{};
  ifa.ifa_family = uint8_t(to_af(family));
  r.header(ifa);
  std::vector<Message> replies;
  if (auto st = transact(r.finish(), &replies); !st) {
    return wrap(st.error(), fmt::format("list {} addresses", family_name(family)));
  }
  std::vector<net::Prefix> out;
  for (const auto& m : replies) {
    ifaddrmsg h;
    ByteSpan data;
    if (m.type != RTM_NEWADDR || !split_payload(m.payload, h, data)) continue;
    if (h.ifa_family != to_af(family) || int(h.ifa_index) != ifindex) continue;
    Attrs attrs(data);
    // IFA_LOCAL is the interface's own address; IPv6 only sends IFA_ADDRESS.
    auto ip = attrs.ip(IFA_LOCAL, family);
    if (!ip) ip = attrs.ip(IFA_ADDRESS, family);
    if (!ip || h.ifa_prefixlen > ip->bit_length()) continue;
    out.push_back(net::Prefix{*ip, h.ifa_prefixlen});
  }
  return out;
}

// ---- Routes ----

namespace {

Request route_request(uint16_t type, uint16_t flags, int ifindex, const net::Prefix& dst,
                      uint32_t table) {
  Request r(type, flags);
  rtmsg rt{};
  rt.rtm_family = uint8_t(to_af(dst.address.family));
  rt.rtm_dst_len = dst.length;
  // Tables above 255 only fit in RTA_TABLE; the header field then says RT_TABLE_UNSPEC.
  rt.rtm_table = table < 256 ? uint8_t(table) : uint8_t(RT_TABLE_UNSPEC);
  if (type == RTM_NEWROUTE) {
    rt.rtm_protocol = RTPROT_BOOT;
    rt.rtm_scope = RT_SCOPE_LINK;  // directly through the device, no gateway
    rt.rtm_type = RTN_UNICAST;
  } else {
    rt.rtm_scope = RT_SCOPE_NOWHERE;  // wildcard: match whatever scope the route has
  }
  r.header(rt);
  r.attr_u32(RTA_TABLE, table);
  r.attr_ip(RTA_DST, dst.address);
  r.attr_u32(RTA_OIF, uint32_t(ifindex));
  return r;
}

}  // namespace

Status Netlink::add_route(int ifindex, const net::Prefix& dst, uint32_t table) {
  Request r = route_request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, ifindex, dst, table);
  if (auto st = transact(r.finish(), nullptr); !st) {
    return wrap(st.error(), fmt::format("add route {} dev {} table {}", dst.to_string(),
                                        describe_link(ifindex), table_name(table)));
  }
  return {};
}

Status Netlink::add_route_from(int ifindex, const net::Prefix& dst, const net::IpAddress& source,
                               uint32_t table) {
  Request r = route_request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, ifindex, dst, table);
  r.attr_ip(RTA_PREFSRC, source);
  if (auto st = transact(r.finish(), nullptr); !st) {
    return wrap(st.error(),
                fmt::format("add route {} dev {} src {} table {}", dst.to_string(),
                            describe_link(ifindex), source.to_string(), table_name(table)));
  }
  return {};
}

Status Netlink::del_route(int ifindex, const net::Prefix& dst, uint32_t table) {
  std::string name = describe_link(ifindex);
  Request r = route_request(RTM_DELROUTE, 0, ifindex, dst, table);
  if (auto st = transact(r.finish(), nullptr); !st) {
    return wrap(st.error(), fmt::format("delete route {} dev {} table {}", dst.to_string(), name,
                                        table_name(table)));
  }
  return {};
}

Result<std::vector<Route>> Netlink::routes(net::Family family, uint32_t table) {
  Request r(RTM_GETROUTE, NLM_F_DUMP);
  rtmsg rt{};
  rt.rtm_family = uint8_t(to_af(family));
  r.header(rt);
  std::vector<Message> replies;
  if (auto st = transact(r.finish(), &replies); !st) {
    return wrap(st.error(), fmt::format("list {} routes", family_name(family)));
  }
  std::vector<Route> out;
  for (const auto& m : replies) {
    rtmsg h;
    ByteSpan data;
    if (m.type != RTM_NEWROUTE || !split_payload(m.payload, h, data)) continue;
    if (h.rtm_family != to_af(family) || (h.rtm_flags & RTM_F_CLONED)) continue;
    Attrs attrs(data);
    uint32_t t = attrs.u32(RTA_TABLE).value_or(h.rtm_table);
    if (t != table) continue;
    Route route;
    route.table = t;
    route.type = h.rtm_type;
    route.dst.address.family = family;
    if (auto dst = attrs.ip(RTA_DST, family)) route.dst.address = *dst;
    route.dst.length = std::min<uint8_t>(h.rtm_dst_len, uint8_t(route.dst.address.bit_length()));
    route.ifindex = int(attrs.u32(RTA_OIF).value_or(0));
    route.gateway = attrs.ip(RTA_GATEWAY, family);
    if (auto mp = attrs.get(RTA_MULTIPATH); mp && route.ifindex == 0) {
      first_nexthop(*mp, family, route.ifindex, route.gateway);
    }
    route.metric = attrs.u32(RTA_PRIORITY).value_or(0);
    route.mtu = metrics_mtu(attrs);
    out.push_back(route);
  }
  return out;
}

Result<bool> Netlink::table_has_routes(net::Family family, uint32_t table) {
  auto list = routes(family, table);
  if (!list) return list.take_error();
  return !list->empty();
}

Result<RouteInfo> Netlink::route_get(const net::IpAddress& dst, uint32_t fwmark) {
  Request r(RTM_GETROUTE, 0);
  rtmsg rt{};
  rt.rtm_family = uint8_t(to_af(dst.family));
  rt.rtm_dst_len = uint8_t(dst.bit_length());
  r.header(rt);
  r.attr_ip(RTA_DST, dst);
  if (fwmark != 0) r.attr_u32(RTA_MARK, fwmark);
  std::vector<Message> replies;
  if (auto st = transact(r.finish(), &replies); !st) {
    std::string what = "route get " + dst.to_string();
    if (fwmark != 0) what += fmt::format(" mark {}", fwmark);
    return wrap(st.error(), what);
  }
  for (const auto& m : replies) {
    rtmsg h;
    ByteSpan data;
    if (m.type != RTM_NEWROUTE || !split_payload(m.payload, h, data)) continue;
    Attrs attrs(data);
    RouteInfo info;
    info.ifindex = int(attrs.u32(RTA_OIF).value_or(0));
    info.mtu = metrics_mtu(attrs);
    info.gateway = attrs.ip(RTA_GATEWAY, dst.family);
    info.prefsrc = attrs.ip(RTA_PREFSRC, dst.family);
    return info;
  }
  return make_error("route get {}: no route in the kernel's reply", dst.to_string());
}

Result<RouteInfo> Netlink::default_route(net::Family family) {
  auto list = routes(family, kMainTable);
  if (!list) return list.take_error();
  const Route* best = nullptr;
  for (const auto& route : *list) {
    if (route.dst.length != 0 || route.type != RTN_UNICAST) continue;
    if (best == nullptr || route.metric < best->metric) best = &route;
  }
  if (best == nullptr) {
    Error e = make_error("no {} default route in the main table", family_name(family));
    e.code = ENETUNREACH;
    return e;
  }
  RouteInfo info;
  info.ifindex = best->ifindex;
  info.mtu = best->mtu;
  info.gateway = best->gateway;
  return info;
}

// ---- Rules ----

namespace {

Request rule_request(uint16_t type, uint16_t flags, const Rule& rule) {
  Request r(type, flags);
  fib_rule_hdr frh{};
  frh.family = uint8_t(to_af(rule.family));
  frh.table = rule.table < 256 ? uint8_t(rule.table) : uint8_t(RT_TABLE_UNSPEC);
  frh.action = FR_ACT_TO_TBL;
  if (rule.invert) frh.flags |= FIB_RULE_INVERT;
  r.header(frh);
  if (rule.table != 0) r.attr_u32(FRA_TABLE, rule.table);
  if (rule.fwmark != 0) r.attr_u32(FRA_FWMARK, rule.fwmark);
  if (rule.suppress_prefixlength >= 0) {
    r.attr_u32(FRA_SUPPRESS_PREFIXLEN, uint32_t(rule.suppress_prefixlength));
  }
  if (rule.priority != 0) r.attr_u32(FRA_PRIORITY, rule.priority);
  return r;
}

// The rule as `ip rule` would spell it, for messages.
std::string describe_rule(const Rule& rule) {
  std::string s = rule.family == net::Family::kV4 ? "-4 rule" : "-6 rule";
  if (rule.priority != 0) s += fmt::format(" priority {}", rule.priority);
  if (rule.invert) s += " not";
  if (rule.fwmark != 0) s += fmt::format(" fwmark {}", rule.fwmark);
  s += " table " + table_name(rule.table);
  if (rule.suppress_prefixlength >= 0) {
    s += fmt::format(" suppress_prefixlength {}", rule.suppress_prefixlength);
  }
  return s;
}

}  // namespace

Status Netlink::add_rule(const Rule& rule) {
  Request r = rule_request(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, rule);
  if (auto st = transact(r.finish(), nullptr); !st) {
    return wrap(st.error(), "add " + describe_rule(rule));
  }
  return {};
}

Status Netlink::del_rule(const Rule& rule) {
  Request r = rule_request(RTM_DELRULE, 0, rule);
  if (auto st = transact(r.finish(), nullptr); !st) {
    return wrap(st.error(), "delete " + describe_rule(rule));
  }
  return {};
}

Result<std::vector<Rule>> Netlink::rules(net::Family family) {
  Request r(RTM_GETRULE, NLM_F_DUMP);
  fib_rule_hdr frh{};
  frh.family = uint8_t(to_af(family));
  r.header(frh);
  std::vector<Message> replies;
  if (auto st = transact(r.finish(), &replies); !st) {
    return wrap(st.error(), fmt::format("list {} rules", family_name(family)));
  }
  std::vector<Rule> out;
  for (const auto& m : replies) {
    fib_rule_hdr h;
    ByteSpan data;
    if (m.type != RTM_NEWRULE || !split_payload(m.payload, h, data)) continue;
    if (h.family != to_af(family)) continue;
    Attrs attrs(data);
    Rule rule;
    rule.family = family;
    rule.table = attrs.u32(FRA_TABLE).value_or(h.table);
    rule.fwmark = attrs.u32(FRA_FWMARK).value_or(0);
    rule.invert = (h.flags & FIB_RULE_INVERT) != 0;
    uint32_t suppress = attrs.u32(FRA_SUPPRESS_PREFIXLEN).value_or(UINT32_MAX);
    rule.suppress_prefixlength = suppress == UINT32_MAX ? -1 : int(suppress);
    rule.priority = attrs.u32(FRA_PRIORITY).value_or(0);
    out.push_back(rule);
  }
  return out;
}

}  // namespace waypost::platform
