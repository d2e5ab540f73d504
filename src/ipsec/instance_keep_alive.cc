// keep_alive (ipsec/keep_alive.h): echo requests through the tunnel from raw ICMP sockets bound
// to the instance's TUN device, so that they take the route, source address and CHILD SA that
// the host's own traffic takes; and what is done when they go unanswered.
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/log.h"
#include "ipsec/endpoints.h"
#include "ipsec/instance.h"
#include "net/icmp_echo.h"

namespace waypost::ipsec {

namespace {

const ike::Child* child_config(const ike::Connection& c, const std::string& name) {
  for (const ike::Child& ch : c.children) {
    if (ch.name == name) return &ch;
  }
  return nullptr;
}

}  // namespace

void Instance::update_keep_alive() {
  std::vector<KeepAlive::Key> live;
  const Nanos now = clock_.now();
  for (const auto& sa : manager_->sas()) {
    if (sa->state() != ike::IkeSaState::kEstablished) continue;
    for (const auto& info : sa->children()) {
      const ike::Child* cfg = child_config(sa->connection(), info.name);
      if (cfg == nullptr || !cfg->keep_alive || children_.count(info.spi_in) == 0) continue;
      KeepAlive::Key key{sa->connection().name, info.name};
      if (std::find(live.begin(), live.end(), key) != live.end()) continue;
      live.push_back(key);
      keep_alive_.track(key, *cfg->keep_alive, seconds(cfg->keep_alive_interval.count()), now);
    }
  }
  keep_alive_.retain(live);
}

int Instance::keep_alive_socket(net::Family family) {
  platform::UniqueFd& fd = keep_alive_fds_[family == net::Family::kV4 ? 0 : 1];
  if (fd.valid()) return fd.get();
  const bool v4 = family == net::Family::kV4;
  const int domain = v4 ? AF_INET : AF_INET6;
  const int protocol = v4 ? int(IPPROTO_ICMP) : int(IPPROTO_ICMPV6);
  platform::UniqueFd s(::socket(domain, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
  if (!s.valid()) {
    spdlog::error("keep_alive: cannot open a raw ICMP socket ({}); keep-alive pings are off",
                  std::strerror(errno));
    return -1;
  }
  // Bound to the device: the pings leave through the tunnel or not at all, and only replies
  // that came out of it count.
  if (::setsockopt(s.get(), SOL_SOCKET, SO_BINDTODEVICE, options_.name.c_str(),
                   socklen_t(options_.name.size())) != 0) {
    spdlog::error("keep_alive: cannot bind the ICMP socket to {} ({})", options_.name,
                  std::strerror(errno));
    return -1;
  }
  if (!v4) {
    icmp6_filter filter{};
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
    (void)::setsockopt(s.get(), IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter));
  }
  if (auto st =
          loop_.add(s.get(), EPOLLIN, [this, family](uint32_t) { on_keep_alive_readable(family); });
      !st) {
    spdlog::error("keep_alive: {}", st.error().message);
    return -1;
  }
  fd = std::move(s);
  return fd.get();
}

void Instance::send_keep_alives(Nanos now) {
  KeepAlive::Due due = keep_alive_.due(now);
  for (const KeepAlive::Action& a : due.actions) act_on_lost_keep_alive(a);
  for (const KeepAlive::Ping& p : due.pings) {
    const int fd = keep_alive_socket(p.to.family);
    if (fd < 0) continue;
    const std::vector<uint8_t> m =
        net::make_echo_request(p.to.family, keep_alive_id_, p.seq, keep_alive_cookie_);
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (p.to.is_v4()) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
      sin->sin_family = AF_INET;
      std::memcpy(&sin->sin_addr, p.to.bytes.data(), 4);
      len = sizeof(sockaddr_in);
    } else {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
      sin6->sin6_family = AF_INET6;
      std::memcpy(&sin6->sin6_addr, p.to.bytes.data(), 16);
      len = sizeof(sockaddr_in6);
    }
    if (::sendto(fd, m.data(), m.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
      // Counted as unanswered; the log says why once in a while.
      WP_LOG_RATELIMITED(warn, "keep_alive: ping to {} of {}/{} not sent: {}", p.to.to_string(),
                         p.key.first, p.key.second, std::strerror(errno));
    }
  }
}

void Instance::on_keep_alive_readable(net::Family family) {
  const int fd = keep_alive_fds_[family == net::Family::kV4 ? 0 : 1].get();
  uint8_t buf[2048];
  for (int i = 0; i < 64; ++i) {  // bounded: a flood of ICMP cannot hold the loop
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n = ::recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;
    auto reply = net::parse_echo_reply(family, {buf, size_t(n)});
    if (!reply || reply->id != keep_alive_id_ ||
        reply->payload.size() != keep_alive_cookie_.size() ||
        !std::equal(reply->payload.begin(), reply->payload.end(), keep_alive_cookie_.begin())) {
      continue;
    }
    net::IpAddress src;
    if (from.ss_family == AF_INET) {
      src = net::IpAddress::v4_bytes(
          reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&from)->sin_addr));
    } else if (from.ss_family == AF_INET6) {
      src = net::IpAddress::v6_bytes(reinterpret_cast<const uint8_t*>(
          &reinterpret_cast<const sockaddr_in6*>(&from)->sin6_addr));
    } else {
      continue;
    }
    keep_alive_.on_reply(reply->seq, src, clock_.now());
  }
}

void Instance::act_on_lost_keep_alive(const KeepAlive::Action& a) {
  const std::string& conn = a.key.first;
  const std::string& child = a.key.second;
  for (const auto& sa : manager_->sas()) {
    if (sa->state() != ike::IkeSaState::kEstablished || sa->connection().name != conn) continue;
    auto info = std::find_if(sa->children().begin(), sa->children().end(),
                             [&](const ike::ChildSaInfo& c) { return c.name == child; });
    if (info == sa->children().end()) continue;
    const bool rekey = a.step == KeepAlive::Step::kRekey;
    const std::string what =
        fmt::format("{} did not answer {} pings (every {} s) through CHILD_SA {} ({:08x}_i)",
                    a.to.to_string(), a.misses, a.interval / kNanosPerSecond, child, info->spi_in);
    spdlog::warn("{}: keep_alive: {}; {}", sa->describe(), what,
                 rekey ? "rekeying it" : "a rekey did not help: starting the IKE_SA again");
    diagnosed(*sa,
              {ike::Cause::kKeepAliveLost, ike::Side::kPeer,
               fmt::format("keep_alive: {}: the peer forgot the CHILD_SA or drops its packets, "
                           "or nothing answers at that address.",
                           what),
               rekey ? "Waypost rekeys the CHILD_SA (new SPIs and keys) and, if that does not "
                       "help, starts the IKE_SA again. Fix: if it keeps happening, check that "
                       "keep_alive is an address in the peer's subnet that answers pings."
                     : "Waypost starts the IKE_SA again. Fix: if it keeps happening, check that "
                       "keep_alive is an address in the peer's subnet that answers pings, and "
                       "the peer's log."});
    if (rekey) {
      (void)sa->rekey_child(info->spi_in);
    } else {
      const ike::Connection& c = sa->connection();
      std::vector<std::string> children = sa->child_names();  // all of them come back
      sa->terminate("keep_alive pings unanswered");
      if (remote_address(c)) {
        schedule_initiation(c.name, std::move(children), 0,
                            "keep_alive: the tunnel stopped carrying pings");
      }
      keep_alive_.untrack(a.key);
    }
    dirty_ = true;
    return;
  }
}

}  // namespace waypost::ipsec
