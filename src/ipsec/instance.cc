#include "ipsec/instance.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/log.h"
#include "control/json_session.h"
#include "daemon/access.h"
#include "daemon/interface_daemon.h"
#include "daemon/signals.h"
#include "ipsec/endpoints.h"
#include "ipsec/esp_keys.h"
#include "ipsec/local_address.h"
#include "ipsec/paths.h"
#include "ipsec/range_prefixes.h"

namespace waypost::ipsec {

namespace {
// NAT keepalives from the side behind a NAT (RFC 3948 4; strongSwan's default interval).
constexpr Nanos kKeepaliveInterval = seconds(20);
// How long `down` waits for the peers to answer our DELETEs.
constexpr Nanos kShutdownGrace = seconds(3);
// How long a rekeyed CHILD SA keeps accepting inbound packets (strongSwan's
// delete_rekeyed_delay is 5 s too).
constexpr Nanos kRetiredInboundGrace = seconds(5);
// Recent log lines kept for `initiate` and `log`.
constexpr size_t kLogLines = 4000;

}  // namespace

Instance::Instance(InstanceOptions options, platform::EventLoop loop,
                   std::unique_ptr<platform::TunIo> tun, std::unique_ptr<platform::UdpIo> natt,
                   std::unique_ptr<platform::UdpIo> ike)
    : options_(std::move(options)),
      loop_(std::move(loop)),
      tun_(std::move(tun)),
      natt_(std::move(natt)),
      ike_(std::move(ike)),
      router_(*tun_, &clock_),
      prober_(clock_, router_, uint16_t(random_.u32()), options_.mtu),
      tun_slots_(kTunBatch * dataplane::kSlotSize) {
  // SPIs start at a random point so that a restarted instance does not reuse the SPIs its
  // peers may still hold SAs for.
  next_spi_ = 0xc0000000u | (random_.u32() & 0x0fffffffu);
  keep_alive_id_ = uint16_t(random_.u32());
  random_.fill(keep_alive_cookie_);
}

Instance::~Instance() {
  (void)teardown();
}

Result<std::unique_ptr<Instance>> Instance::start(InstanceOptions options) {
  if (!daemon::have_net_admin()) {
    return make_error("waypost ipsec up needs root or CAP_NET_ADMIN (try: sudo waypost ipsec up)");
  }
  auto loop = platform::EventLoop::create();
  if (!loop) return loop.take_error();
  const bool offloads = daemon::offloads_enabled(options.offloads);
  platform::Kernel& kernel = platform::system_kernel();
  auto tun = kernel.create_tun(options.name, offloads);
  if (!tun) return tun.take_error();
  auto natt = kernel.bind_udp(ike::kNatTPort, 0, offloads);
  if (!natt) {
    return make_error("{} (another IKE daemon, such as charon, may hold it)", natt.error().message);
  }
  auto ike = kernel.bind_udp(ike::kPort, 0, false);
  if (!ike) {
    return make_error("{} (another IKE daemon, such as charon, may hold it)", ike.error().message);
  }
  std::unique_ptr<Instance> inst(new Instance(std::move(options), std::move(*loop), std::move(*tun),
                                              std::move(*natt), std::move(*ike)));
  if (auto st = inst->configure_device(); !st) return st.take_error();
  if (auto st = inst->watch(); !st) return st.take_error();
  for (const auto& w : inst->options_.config.warnings) spdlog::warn("{}", w);
  inst->log_ring_ = LogRing::attach(kLogLines);
  ike::IkeManagerHost& host = *inst;
  inst->manager_ =
      std::make_unique<ike::IkeManager>(inst->clock_, inst->random_, host, inst->options_.config);
  inst->started_at_ = inst->clock_.now();
  spdlog::info("IPsec instance {} is up: {} connection(s), TUN {} (MTU {}), IKE on UDP 500/4500",
               inst->options_.name, inst->options_.config.connections.size(), inst->options_.name,
               inst->options_.mtu);
  inst->initiate_start_children();
  return inst;
}

Status Instance::configure_device() {
  auto nl = platform::Netlink::open();
  if (!nl) return nl.take_error();
  netlink_.emplace(std::move(*nl));
  auto index = netlink_->link_index(options_.name);
  if (!index) return index.take_error();
  ifindex_ = *index;
  if (auto st = netlink_->set_mtu(ifindex_, options_.mtu); !st) return st;
  for (const auto& a : options_.device_addresses) {
    if (auto st = netlink_->add_address(ifindex_, a); !st) return st;
  }
  return netlink_->set_link_up(ifindex_);
}

Status Instance::watch() {
  if (options_.embedded) return watch_sockets();
  auto sfd = daemon::open_signal_fd();
  if (!sfd) return sfd.take_error();
  signal_fd_ = std::move(*sfd);
  auto on_signal = [this](uint32_t) {
    signalfd_siginfo si{};
    while (::read(signal_fd_.get(), &si, sizeof(si)) == sizeof(si)) {
      if (si.ssi_signo == SIGHUP) {
        spdlog::info("SIGHUP: reloading {}", options_.config_path);
        (void)reload(false);
        continue;
      }
      stop(fmt::format("signal {} received", strsignal(int(si.ssi_signo))));
    }
  };
  if (auto st = loop_.add(signal_fd_.get(), EPOLLIN, on_signal); !st) return st;
  return watch_sockets();
}

Status Instance::watch_sockets() {
  if (auto st = loop_.add(tun_->fd(), EPOLLIN, [this](uint32_t) { on_tun_readable(); }); !st) {
    return st;
  }
  if (auto st = loop_.add(natt_->fd(), EPOLLIN, [this](uint32_t) { on_natt_readable(); }); !st) {
    return st;
  }
  if (auto st = loop_.add(ike_->fd(), EPOLLIN, [this](uint32_t) { on_ike_readable(); }); !st) {
    return st;
  }
  // Address and route changes: MOBIKE SAs we initiated may have to move (roam()). Without the
  // monitor the instance works, only without moving.
  if (auto monitor = platform::RouteMonitor::open(); monitor) {
    route_monitor_ = std::move(*monitor);
    auto on_change = [this](uint32_t) {
      // Changes come in bursts (an address goes, another comes, the default route follows):
      // acted on once they have settled.
      if (route_monitor_->drain() && roam_at_ == kNever) {
        roam_at_ = clock_.now() + kRoamSettle;
      }
    };
    if (auto st = loop_.add(route_monitor_->fd(), EPOLLIN, on_change); !st) return st;
  } else {
    spdlog::warn("route changes are not watched ({}): MOBIKE SAs will not follow this host",
                 monitor.error().message);
  }
  return open_control();
}

Status Instance::open_control() {
  auto ctl = control::StreamServer::listen(
      ipsec_socket_path(options_.name), loop_,
      [this](const control::PeerCredentials& peer) {
        const bool admin = daemon::is_admin(peer.uid);
        return control::make_json_session(
            [this, admin](const nlohmann::json& req) { return handle_control(req, admin); });
      },
      daemon::group_id(daemon::kStatusGroup));
  if (!ctl) return ctl.take_error();
  control_ = std::move(*ctl);
  std::ofstream(ipsec_pid_path(options_.name)) << getpid() << "\n";
  return {};
}

void Instance::on_tun_readable() {
  // Bounded so that a flood on one side cannot starve the other.
  tun_->read(tun_slots_.data(), kTunBatch, 64, [this](std::span<dataplane::Packet> packets) {
    router_.dispatch(packets);
    natt_->flush();
  });
}

void Instance::on_natt_readable() {
  natt_->receive(16, [this](std::span<net::Datagram> datagrams) {
    sad_.receive(datagrams, router_, prober_, [this](dataplane::Datagram& m) {
      receive_ike({m.data, m.size}, m.from, ike::kNatTPort);
    });
    router_.flush();
    natt_->flush();
  });
}

void Instance::on_ike_readable() {
  ike_->receive(4, [this](std::span<net::Datagram> datagrams) {
    for (const auto& d : datagrams) receive_ike({d.data, d.size}, d.from, ike::kPort);
  });
}

void Instance::receive_ike(std::span<const uint8_t> message, const net::Endpoint& from,
                           uint16_t port) {
  auto local = local_toward(from.ip());
  if (!local) return;
  manager_->receive(message, net::Endpoint::from(*local, port), from);
  dirty_ = true;
}

void Instance::send_ike(const net::Endpoint& local, const net::Endpoint& remote,
                        std::span<const uint8_t> message) {
  // Sent at once (the sockets queue until flush), so the buffer may be reused for the next.
  ike_out_.clear();
  platform::UdpIo* socket = ike_.get();
  if (local.port() == ike::kNatTPort || remote.port() == ike::kNatTPort) {
    ike_out_.assign(4, 0);  // the non-ESP marker (RFC 3948 2.2)
    socket = natt_.get();
  }
  ike_out_.insert(ike_out_.end(), message.begin(), message.end());
  socket->push(ike_out_.data(), uint32_t(ike_out_.size()), remote);
  socket->flush();
}

uint32_t Instance::allocate_spi() {
  // Unique among our inbound SPIs, never 0-255 (reserved, RFC 4303 2.1).
  for (;;) {
    const uint32_t spi = next_spi_++;
    if (spi < 256) continue;
    if (children_.find(spi) == children_.end() && sad_.find(spi) == nullptr) return spi;
  }
}

std::optional<net::IpAddress> Instance::lease_address(const ike::Pool& pool,
                                                      const std::string& peer_id,
                                                      net::Family family) {
  auto a = pools_.lease(pool, peer_id, family);
  if (a) {
    leased_.insert(*a);
    spdlog::info("pool {}: {} leased to '{}'", pool.name, a->to_string(), peer_id);
  } else {
    spdlog::warn("pool {}: no {} address left for '{}'", pool.name,
                 family == net::Family::kV4 ? "IPv4" : "IPv6", peer_id);
  }
  return a;
}

void Instance::child_sa_up(ike::IkeSa& ike, const ike::ChildSaInfo& child) {
  if (children_.count(child.spi_in) != 0) child_sa_down(ike, child);  // never two with one SPI
  auto keys = esp_keys_for(child);
  if (!keys) {
    spdlog::error("{}: CHILD_SA {} cannot carry traffic: {}", ike.describe(), child.name,
                  keys.error().message);
    return;
  }
  auto sa = esp::ChildSa::create({clock_, *natt_, *this}, *keys, esp_endpoint(ike.remote()),
                                 prober_.interface_mtu(), child.name);
  wipe(*keys);
  if (!sa) {
    spdlog::error("{}: CHILD_SA {}: {}", ike.describe(), child.name, sa.error().message);
    return;
  }
  Installed installed;
  for (const auto& ts : child.remote_ts) {
    for (const auto& p : range_to_prefixes(ts.start, ts.end)) installed.remote.push_back(p);
  }
  installed.installed_at = clock_.now();
  installed.sa = std::move(*sa);
  esp::ChildSa& raw = *installed.sa;
  sad_.add(raw);
  prober_.attach(raw);
  children_[child.spi_in] = std::move(installed);
  rebuild_routing_table();
  prober_.start(raw);
  if (auto it = initiations_.find(ike.unique_id());
      it != initiations_.end() && initiation_complete(ike, it->second.children)) {
    it->second.state = "up";
  }
  failed_tries_.erase(ike.name());
  if (Trap* t = find_trap(ike.name(), child.name)) {
    t->flush_to(raw, [this]() { natt_->flush(); });
    t->initiation_done();
  }
  dirty_ = true;
}

void Instance::child_sa_down(ike::IkeSa& /*ike*/, const ike::ChildSaInfo& child) {
  auto it = children_.find(child.spi_in);
  if (it == children_.end()) return;
  Installed gone = std::move(it->second);
  children_.erase(it);
  router_.table().remove_value(gone.sa.get());
  rebuild_routing_table();
  retire_or_remove(std::move(gone));
  dirty_ = true;
}

void Instance::child_sa_failed(ike::IkeSa& ike, const std::string& child, std::string_view reason) {
  // A trap's waiting packets have nowhere to go; the next packet tries again.
  if (Trap* t = find_trap(ike.name(), child)) {
    t->drop_queued();
    t->initiation_done();
  }
  auto it = initiations_.find(ike.unique_id());
  if (it == initiations_.end() || it->second.state != "pending") return;
  const auto& wanted = it->second.children;
  if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), child) == wanted.end()) return;
  it->second.state = "failed";
  it->second.reason = fmt::format("CHILD_SA {}: {}", child, reason);
}

void Instance::retire_or_remove(Installed installed) {
  esp::ChildSa& sa = *installed.sa;
  prober_.detach(sa);
  // The SA that replaced it: the newest one with the same name and selectors.
  esp::ChildSa* successor = nullptr;
  Nanos newest = -1;
  for (auto& [spi, c] : children_) {
    if (c.sa->name() == sa.name() && c.remote == installed.remote && c.installed_at > newest) {
      successor = c.sa.get();
      newest = c.installed_at;
    }
  }
  if (successor == nullptr || stopping_) {
    sad_.remove(sa);
    return;
  }
  // Anything already retired that pointed at this SA now points at its successor.
  for (auto& [spi, r] : retired_) {
    if (r.installed.sa->successor() == &sa) r.installed.sa->retire(successor);
  }
  sa.retire(successor);
  const uint32_t spi = sa.spi_in();
  retired_[spi] = {std::move(installed), clock_.now() + kRetiredInboundGrace};
}

void Instance::drop_retired(Nanos now, bool all) {
  for (auto it = retired_.begin(); it != retired_.end();) {
    if (all || now >= it->second.until) {
      sad_.remove(*it->second.installed.sa);
      it = retired_.erase(it);
    } else {
      ++it;
    }
  }
}

void Instance::ike_sa_down(ike::IkeSa& ike, std::string_view reason) {
  for (auto& t : traps_) {
    if (t->conn() == ike.name()) {
      t->drop_queued();
      t->initiation_done();
    }
  }
  after_ike_sa_end(ike);
  // The peer's virtual IPs are free again at once (a client that restarted gets its address
  // back), unless a rekey handed them to a successor.
  if (!ike.initiator() && !ike.rekeyed()) {
    for (const auto& v : ike.virtual_ips()) {
      pools_.release(v);
      leased_.erase(v);
    }
  }
  if (auto it = initiations_.find(ike.unique_id());
      it != initiations_.end() && it->second.state == "pending") {
    it->second.state = "failed";
    it->second.reason = std::string(reason);
  }
  dirty_ = true;
}

void Instance::roam() {
  const size_t moved =
      manager_->roam([this](const net::IpAddress& remote) { return local_toward(remote); });
  if (moved > 0) {
    spdlog::info("{} IKE SA(s) moving to this host's new address (MOBIKE)", moved);
    dirty_ = true;
  }
}

void Instance::schedule_probe(esp::ChildSa& sa, Nanos delay) {
  // One wakeup per SA: an earlier request for the same SA is superseded.
  for (auto it = probe_wakeups_.begin(); it != probe_wakeups_.end(); ++it) {
    if (it->second == sa.spi_in()) {
      probe_wakeups_.erase(it);
      break;
    }
  }
  probe_wakeups_.emplace(clock_.now() + delay, sa.spi_in());
}

void Instance::send_keepalives() {
  static constexpr uint8_t kKeepalive[1] = {0xff};
  for (const auto& sa : manager_->sas()) {
    if (sa->state() != ike::IkeSaState::kEstablished || !sa->behind_nat()) continue;
    natt_->push(kKeepalive, 1, esp_endpoint(sa->remote()));
  }
  natt_->flush();
}

void Instance::stop(std::string_view why) {
  if (stopping_) return;
  stopping_ = true;
  stop_deadline_ = clock_.now() + kShutdownGrace;
  spdlog::info("{}: deleting every IKE SA and stopping", why);
  for (const auto& c : options_.config.connections) manager_->terminate(c.name, "going down");
  dirty_ = true;
}

Nanos Instance::before_wait() {
  const Nanos now = clock_.now();
  if (manager_->next_timer() <= now) {
    manager_->on_timer();
    dirty_ = true;
  }
  while (!probe_wakeups_.empty() && probe_wakeups_.begin()->first <= now) {
    const uint32_t spi = probe_wakeups_.begin()->second;
    probe_wakeups_.erase(probe_wakeups_.begin());
    if (auto it = children_.find(spi); it != children_.end()) prober_.on_wakeup(*it->second.sa);
  }
  if (!retired_.empty()) drop_retired(now, false);
  while (!stopping_ && !pending_initiations_.empty() &&
         pending_initiations_.begin()->first <= now) {
    const auto [conn, children] = pending_initiations_.begin()->second;
    pending_initiations_.erase(pending_initiations_.begin());
    if (auto r = initiate_children(conn, children); !r) {
      spdlog::error("{}: {}", conn, r.error().message);
    }
  }
  if (now >= roam_at_) {
    roam_at_ = kNever;
    roam();
  }
  if (keep_alive_.next_wakeup() <= now) send_keep_alives(now);
  if (now >= next_keepalive_) {
    send_keepalives();
    next_keepalive_ = now + kKeepaliveInterval;
  }
  if (dirty_) reconcile();
  router_.flush();
  natt_->flush();
  if (stopping_ && (manager_->sas().empty() || now >= stop_deadline_)) {
    loop_.stop();
    return 0;
  }
  Nanos next = std::min({manager_->next_timer(), next_keepalive_, stop_deadline_});
  for (const auto& [spi, r] : retired_) next = std::min(next, r.until);
  if (!pending_initiations_.empty()) next = std::min(next, pending_initiations_.begin()->first);
  if (!probe_wakeups_.empty()) next = std::min(next, probe_wakeups_.begin()->first);
  next = std::min({next, keep_alive_.next_wakeup(), roam_at_});
  return std::max<Nanos>(0, next - now);
}

Status Instance::run() {
  loop_.run([this]() { return before_wait(); });
  return teardown();
}

Status Instance::teardown() {
  if (torn_down_) return {};
  torn_down_ = true;
  // The SAs go with the manager, the data plane's with them; the device (closed last, by the
  // destructor) takes its addresses and routes along.
  manager_.reset();
  if (full_tunnel_) {
    if (auto st = full_tunnel_->down(); !st) {
      spdlog::error("removing the full tunnel's policy routing: {}", st.error().message);
    }
    full_tunnel_.reset();
  }
  drop_retired(0, true);
  router_.table().clear();
  traps_.clear();
  for (auto& [spi, c] : children_) {
    sad_.remove(*c.sa);
    prober_.detach(*c.sa);
  }
  children_.clear();
  control_.reset();
  ::unlink(ipsec_pid_path(options_.name).c_str());
  spdlog::info("IPsec instance {} is down", options_.name);
  return {};
}

}  // namespace waypost::ipsec
