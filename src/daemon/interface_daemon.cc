#include "daemon/interface_daemon.h"

#include <linux/capability.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "common/log.h"
#include "control/json_session.h"
#include "control/uapi_session.h"
#include "crypto/keys.h"
#include "daemon/access.h"
#include "daemon/paths.h"
#include "daemon/privileges.h"
#include "daemon/signals.h"

namespace waypost::daemon {

bool have_net_admin() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return geteuid() == 0;
  return (data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32))) != 0;
}

InterfaceDaemon::InterfaceDaemon(DaemonOptions options, platform::EventLoop loop,
                                 std::unique_ptr<platform::TunIo> tun,
                                 std::unique_ptr<platform::UdpIo> udp)
    : options_(std::move(options)),
      loop_(std::move(loop)),
      tun_(std::move(tun)),
      udp_(std::move(udp)),
      router_(*tun_, &clock_),
      prober_(clock_, router_, uint16_t(crypto::system_random().u32()), wireguard::kDefaultMtu),
      crypto_pool_(WorkPool::default_workers()),
      device_({clock_, crypto::system_random(), *udp_, router_, prober_, this, &crypto_pool_}),
      tun_slots_(kTunBatch * dataplane::kSlotSize) {}

bool offloads_enabled(bool configured) {
  const char* env = std::getenv("WAYPOST_OFFLOADS");
  if (env != nullptr &&
      (std::string(env) == "0" || std::string(env) == "off" || std::string(env) == "false")) {
    return false;
  }
  return configured;
}

InterfaceDaemon::~InterfaceDaemon() {
  (void)teardown();
}

Result<std::unique_ptr<InterfaceDaemon>> InterfaceDaemon::start(DaemonOptions options) {
  const std::string ifname = options.ifname;
  if (!have_net_admin()) {
    return make_error("waypost up needs root or CAP_NET_ADMIN to create {} (try: sudo waypost up)",
                      ifname);
  }
  if (!options.config.iface.private_key) {
    return make_error("the [Interface] section has no PrivateKey");
  }
  auto loop = platform::EventLoop::create();
  if (!loop) return loop.take_error();

  if (auto st = InterfaceSetup::run_pre_up(options.config, ifname); !st) return st.take_error();
  options.offloads = offloads_enabled(options.offloads);
  platform::Kernel& kernel = options.kernel ? *options.kernel : platform::system_kernel();
  auto tun = kernel.create_tun(ifname, options.offloads);
  if (!tun) return tun.take_error();
  auto udp = kernel.bind_udp(options.config.iface.listen_port.value_or(0),
                             options.config.iface.fwmark.value_or(0), options.offloads);
  if (!udp) return udp.take_error();

  std::unique_ptr<InterfaceDaemon> d(
      new InterfaceDaemon(std::move(options), std::move(*loop), std::move(*tun), std::move(*udp)));
  if (auto st = d->configure_device(); !st) return st.take_error();
  if (auto st = d->open_sockets(); !st) return st.take_error();

  SetupContext ctx;
  ctx.ifname = ifname;
  ctx.kernel = &kernel;
  InterfaceDaemon* raw = d.get();
  ctx.set_fwmark = [raw](uint32_t mark) -> Status {
    auto st = raw->set_fwmark(mark);
    if (st) raw->device_.set_fwmark_value(mark);
    return st;
  };
  ctx.peer_endpoints = [raw]() {
    std::vector<net::Endpoint> eps;
    raw->device_.for_each_peer([&](const wireguard::Peer& p) {
      if (p.endpoint()) eps.push_back(*p.endpoint());
    });
    return eps;
  };
  auto setup = InterfaceSetup::up(d->options_.config, ctx);
  if (!setup) return setup.take_error();
  d->setup_.emplace(std::move(*setup));
  d->prober_.set_interface_mtu(d->setup_->mtu());
  d->prober_.set_local_addresses(d->options_.config.iface.addresses);
  // Route changes (a new default route, another uplink) can change the automatic MTU.
  if (!d->options_.config.iface.mtu) {
    if (auto rm = platform::RouteMonitor::open()) {
      d->route_monitor_.emplace(std::move(*rm));
      (void)d->loop_.add(d->route_monitor_->fd(), EPOLLIN,
                         [raw](uint32_t) { raw->on_route_change(); });
    }
  }
  if (d->setup_->dns_warning()) spdlog::warn("{}", *d->setup_->dns_warning());

  // Everything that needed full root is done.
  if (auto st = drop_privileges(); !st) {
    spdlog::warn("could not drop privileges: {}", st.error().message);
  }
  d->kick_persistent_keepalives();
  // The device holds the peers now; the parsed copy would only cost memory (per peer).
  d->options_.config.peers.clear();
  d->options_.config.peers.shrink_to_fit();
  // Start-up code (config parsing, netlink, nftables) will not run again: give its pages back.
  size_t trimmed = trim_resident_code();
  spdlog::debug("released {} KiB of start-up code pages; resident now {} KiB", trimmed / 1024,
                resident_bytes() / 1024);
  spdlog::info(
      "interface {} is up: listening on UDP port {}, MTU {}, {} peer(s), offloads {}, {} crypto "
      "worker(s)",
      ifname, d->device_.listen_port(), d->prober_.interface_mtu(), d->device_.peer_count(),
      d->tun_->offloads() ? "on" : "off", d->crypto_pool_.workers());
  return d;
}

Status InterfaceDaemon::configure_device() {
  const auto& conf = options_.config;
  if (const char* t = std::getenv("WAYPOST_TEST_REKEY_AFTER"); t != nullptr && std::atoi(t) > 0) {
    spdlog::warn("test knob WAYPOST_TEST_REKEY_AFTER={}: rekeying every {} s", t, std::atoi(t));
    device_.set_rekey_after_time(seconds(std::atoi(t)));
  }
  device_.set_up(false);
  device_.set_listen_port_value(udp_->port());
  device_.set_fwmark_value(conf.iface.fwmark.value_or(0));
  wireguard::DeviceSpec spec;
  spec.private_key = *conf.iface.private_key;
  for (const auto& pc : conf.peers) {
    wireguard::PeerSpec ps;
    ps.public_key = pc.public_key;
    if (pc.preshared_key) ps.preshared_key = *pc.preshared_key;
    if (pc.endpoint) {
      auto ep = net::Endpoint::resolve(*pc.endpoint);
      if (!ep) return make_error("[Peer] at line {}: {}", pc.line, ep.error().message);
      ps.endpoint = *ep;
    }
    ps.allowed_ips = pc.allowed_ips;
    ps.persistent_keepalive = pc.persistent_keepalive;
    spec.peers.push_back(std::move(ps));
  }
  auto changes = device_.configure(spec);
  if (!changes) return changes.take_error();
  for (const auto& pc : conf.peers) {
    if (device_.find_peer(pc.public_key) == nullptr) {
      spdlog::warn("ignoring [Peer] at line {}: it has this interface's own public key", pc.line);
    }
  }
  spdlog::debug("configuration applied: {}", changes->summary());
  return {};
}

void InterfaceDaemon::kick_persistent_keepalives() {
  // As when a kernel interface comes up: peers with a persistent keepalive say hello at once,
  // which also starts their handshake.
  device_.kick_persistent_keepalives();
}

Status InterfaceDaemon::open_sockets() {
  // Signals arrive as events so that teardown runs on the loop, not in a handler.
  auto sfd = open_signal_fd();
  if (!sfd) return sfd.take_error();
  signal_fd_ = std::move(*sfd);
  if (auto st = loop_.add(signal_fd_.get(), EPOLLIN,
                          [this](uint32_t) {
                            signalfd_siginfo si{};
                            while (::read(signal_fd_.get(), &si, sizeof(si)) == sizeof(si)) {
                              if (si.ssi_signo == SIGHUP) {
                                // `systemctl reload`: the server re-reads its config; a plain
                                // interface has nothing to re-read (wg syncconf does that).
                                if (reload_handler_) {
                                  spdlog::info("SIGHUP: reloading the configuration");
                                  reload_handler_();
                                }
                                continue;
                              }
                              spdlog::info("signal {} received, shutting down",
                                           strsignal(int(si.ssi_signo)));
                              loop_.stop();
                            }
                          });
      !st) {
    return st;
  }
  if (auto st = loop_.add(tun_->fd(), EPOLLIN, [this](uint32_t) { on_tun_readable(); }); !st) {
    return st;
  }
  if (auto st = loop_.add(udp_->fd(), EPOLLIN, [this](uint32_t) { on_udp_readable(); }); !st) {
    return st;
  }
  auto uapi = control::StreamServer::listen(
      uapi_socket_path(options_.ifname), loop_,
      [this](const control::PeerCredentials&) { return control::make_uapi_session(device_); });
  if (!uapi) return uapi.take_error();
  uapi_server_ = std::move(*uapi);
  // The JSON socket is opened to the status group, if there is one (daemon/access.h).
  auto ctl = control::StreamServer::listen(
      control_socket_path(options_.ifname), loop_,
      [this](const control::PeerCredentials& peer) {
        const bool admin = is_admin(peer.uid);
        return control::make_json_session(
            [this, admin](const nlohmann::json& req) { return handle_control(req, admin); });
      },
      group_id(kStatusGroup));
  if (!ctl) return ctl.take_error();
  control_server_ = std::move(*ctl);
  if (!control_server_->group_error().empty()) {
    spdlog::warn("{} stays root-only: cannot open it to group {}: {}", control_server_->path(),
                 kStatusGroup, control_server_->group_error());
  }
  std::ofstream(pid_file_path(options_.ifname)) << getpid() << "\n";
  return {};
}

void InterfaceDaemon::on_route_change() {
  if (!route_monitor_ || !route_monitor_->drain() || !setup_) return;
  auto changed = setup_->refresh_mtu();
  if (!changed) {
    spdlog::warn("could not recompute the MTU after a route change: {}", changed.error().message);
  } else if (*changed) {
    spdlog::info("routes changed: interface MTU is now {}", setup_->mtu());
    prober_.set_interface_mtu(setup_->mtu());
  }
}

void InterfaceDaemon::on_tun_readable() {
  // Bounded so that a flood on one side cannot starve the other.
  tun_->read(tun_slots_.data(), kTunBatch, 64, [this](std::span<dataplane::Packet> packets) {
    router_.dispatch(packets);
    device_.flush();
  });
}

void InterfaceDaemon::on_udp_readable() {
  udp_->receive(16, [this](std::span<dataplane::Datagram> datagrams) {
    device_.receive(datagrams);
    device_.flush();
  });
  device_.process_handshakes(16);
  device_.flush();
}

Nanos InterfaceDaemon::before_wait() {
  device_.run_timers();
  size_t left = device_.process_handshakes(32);
  device_.flush();
  if (left > 0) return 0;
  Nanos next = device_.next_timer_deadline();
  if (next == kNever) return kNever;
  return next - clock_.now();
}

Status InterfaceDaemon::run() {
  loop_.run([this]() { return before_wait(); });
  return teardown();
}

Status InterfaceDaemon::teardown() {
  if (torn_down_) return {};
  torn_down_ = true;
  Status result;
  // Extensions first (they were set up last), then the wg-quick style setup.
  for (auto it = teardown_steps_.rbegin(); it != teardown_steps_.rend(); ++it) {
    if (auto st = (*it)(); !st) {
      spdlog::error("{}", st.error().message);
      if (result) result = st;
    }
  }
  teardown_steps_.clear();
  if (setup_) {
    if (auto st = setup_->down(); !st && result) result = st;
    setup_.reset();
  }
  uapi_server_.reset();
  control_server_.reset();
  ::unlink(pid_file_path(options_.ifname).c_str());
  spdlog::info("interface {} is down", options_.ifname);
  return result;
}

Result<uint16_t> InterfaceDaemon::bind_port(uint16_t port) {
  if (port != 0 && port == udp_->port()) return port;
  // The socket object stays (the device sends through it); only its descriptor changes. On
  // failure the old one stays in use, so either way the loop watches the current descriptor.
  loop_.remove(udp_->fd());
  auto rebound = udp_->rebind(port, device_.fwmark());
  if (auto st = loop_.add(udp_->fd(), EPOLLIN, [this](uint32_t) { on_udp_readable(); }); !st) {
    return st.take_error();
  }
  if (!rebound) return rebound.take_error();
  spdlog::info("listening on UDP port {}", udp_->port());
  return udp_->port();
}

Status InterfaceDaemon::set_fwmark(uint32_t mark) {
  return udp_->set_fwmark(mark);
}

InterfaceStatus InterfaceDaemon::status() const {
  InterfaceStatus s;
  s.name = options_.ifname;
  s.pid = getpid();
  if (device_.identity().has_key()) {
    s.public_key = crypto::key_to_base64(device_.identity().static_key.public_key());
  }
  s.listen_port = device_.listen_port();
  s.fwmark = device_.fwmark();
  s.mtu = prober_.interface_mtu();
  s.offloads = {tun_->offloads(), udp_->gso(), udp_->gro()};
  for (const auto& a : options_.config.iface.addresses) s.addresses.push_back(a.to_string());
  s.dns_known = true;
  for (const auto& a : options_.config.iface.dns_servers) s.dns.push_back(a.to_string());
  if (setup_ && setup_->dns_warning()) s.dns_warning = *setup_->dns_warning();
  const WallTime now = clock_.wall();
  auto state = device_.uapi_state();
  s.peers.reserve(state.peers.size());
  for (const auto& p : state.peers) {
    PeerStatus ps;
    ps.public_key = crypto::key_to_base64(p.public_key);
    ps.preshared_key = !p.preshared_key.is_zero();
    if (p.endpoint) ps.endpoint = p.endpoint->to_string();
    for (const auto& a : p.allowed_ips) ps.allowed_ips.push_back(a.to_string());
    ps.latest_handshake = p.last_handshake.sec;
    // Clamped: a wall clock stepped back must not show a negative age.
    if (p.last_handshake.sec != 0) {
      ps.handshake_age = std::max<int64_t>(0, now.sec - p.last_handshake.sec);
    }
    ps.rx_bytes = p.rx_bytes;
    ps.tx_bytes = p.tx_bytes;
    ps.persistent_keepalive = p.persistent_keepalive;
    if (const auto* peer = device_.find_peer(p.public_key)) {
      ps.endpoint_configured = peer->endpoint_configured();
      const auto& path = peer->path();
      ps.has_path = true;
      ps.path_mtu = path.mtu();
      ps.path_mtu_confirmed = path.mss_mtu();  // what new TCP connections are clamped to
      ps.path_probing = path.probing();
      ps.path_searching = path.searching();
      ps.path_probes_sent = path.probes_sent();
      ps.path_blackholes = path.blackholes_suspected();
    }
    s.peers.push_back(std::move(ps));
  }
  const auto& c = device_.counters();
  const auto& rc = router_.counters();
  s.counters = {
      {"rx_datagrams", c.rx_datagrams},
      {"rx_bad_message", c.rx_bad_message},
      {"rx_unknown_index", c.rx_unknown_index},
      {"rx_expired_session", c.rx_expired_session},
      {"rx_decrypt_failed", c.rx_decrypt_failed},
      {"rx_replayed", c.rx_replayed},
      {"rx_keepalives", c.rx_keepalives},
      {"rx_bad_inner", rc.bad_inner},
      {"rx_source_rejected", rc.source_rejected},
      {"tx_no_route", rc.no_route},
      {"mss_clamped", rc.mss_clamped},
      {"icmp_too_big_sent", rc.too_big},
      {"fragmented", rc.fragmented},
      {"mtu_dropped", rc.mtu_dropped},
      {"tx_no_endpoint", c.tx_no_endpoint},
      {"tx_staged_dropped", c.tx_staged_dropped},
      {"handshake_invalid_mac1", c.hs_invalid_mac1},
      {"handshake_queue_full", c.hs_queue_full},
      {"handshake_rate_limited", c.hs_rate_limited},
      {"handshake_cookies_sent", c.hs_cookies_sent},
      {"handshake_cookies_received", c.hs_cookies_received},
      {"handshake_initiations_rejected", c.hs_initiations_rejected},
      {"handshake_responses_rejected", c.hs_responses_rejected},
      {"udp_send_errors", udp_->send_errors()},
      {"udp_truncated", udp_->truncated()},
      {"tun_write_errors", tun_->write_errors()},
      {"tun_malformed", tun_->malformed()},
  };
  s.under_load = device_.under_load();
  s.capabilities = fmt::format("{:#x}", effective_capabilities());
  return s;
}

nlohmann::json InterfaceDaemon::show_json() const {
  return to_json(status());
}

nlohmann::json InterfaceDaemon::handle_control(const nlohmann::json& request, bool admin) {
  const std::string cmd = request.value("cmd", "");
  if (!admin && !is_read_only_command(cmd)) {
    return {{"ok", false},
            {"error", fmt::format("'{}' needs root: members of group {} may only read status", cmd,
                                  kStatusGroup)}};
  }
  if (cmd == "show") {
    auto j = show_json();
    j["ok"] = true;
    return j;
  }
  if (cmd == "handshake") {
    // Used by `waypost doctor`: start a handshake now (subject to the protocol's own rate limit
    // of one per 5 s) so that the caller can watch whether the endpoint answers.
    auto key = crypto::public_key_from_base64(request.value("peer", ""));
    if (!key) return {{"ok", false}, {"error", "peer: " + key.error().message}};
    wireguard::Peer* peer = device_.find_peer(*key);
    if (peer == nullptr) return {{"ok", false}, {"error", "no such peer"}};
    device_.send_handshake_initiation(*peer, false);
    device_.flush();
    return {{"ok", true}};
  }
  if (cmd == "down") {
    spdlog::info("down requested over the control socket");
    loop_.stop();
    return {{"ok", true}};
  }
  if (auto it = commands_.find(cmd); it != commands_.end()) {
    auto j = it->second(request);
    device_.flush();
    return j;
  }
  return {{"ok", false}, {"error", "unknown command '" + cmd + "'"}};
}

void InterfaceDaemon::add_command(const std::string& name, CommandHandler handler) {
  commands_[name] = std::move(handler);
}

void InterfaceDaemon::add_teardown(std::function<Status()> step) {
  teardown_steps_.push_back(std::move(step));
}

}  // namespace waypost::daemon
