#include "server/server_daemon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "common/atomic_file.h"
#include "common/log.h"
#include "common/log_fields.h"
#include "crypto/keys.h"
#include "server/bundles.h"
#include "server/dns_settings.h"
#include "server/status.h"

namespace waypost::server {

std::vector<wireguard::PeerSpec> user_peers(const ServerState& state, bool ipv6,
                                            const std::vector<std::string>& disabled) {
  std::vector<wireguard::PeerSpec> peers;
  peers.reserve(state.users.size());
  for (const auto& [name, u] : state.users) {
    // A disabled user is no peer at all: its handshakes are refused (unknown key) and its
    // session's keys are gone with the peer.
    if (std::find(disabled.begin(), disabled.end(), name) != disabled.end()) continue;
    wireguard::PeerSpec p;
    p.public_key = u.public_key;
    p.preshared_key = u.preshared_key;
    p.allowed_ips.push_back(net::Prefix{u.ipv4, 32});
    if (ipv6 && u.ipv6) p.allowed_ips.push_back(net::Prefix{*u.ipv6, 128});
    peers.push_back(std::move(p));
  }
  return peers;
}

wireguard::WgQuickConfig server_interface_config(const ServerConfig& config,
                                                 const ServerState& state) {
  wireguard::WgQuickConfig c;
  c.iface.private_key = state.private_key;
  c.iface.listen_port = config.wireguard_port;
  c.iface.addresses.push_back(
      net::Prefix{server_ipv4(config), config.wireguard_network_ipv4.length});
  if (config.ipv6) {
    c.iface.addresses.push_back(
        net::Prefix{server_ipv6(config), config.wireguard_network_ipv6.length});
  }
  for (auto& spec : user_peers(state, config.ipv6, config.disabled_users)) {
    wireguard::ConfPeer p;
    p.public_key = spec.public_key;
    p.preshared_key = spec.preshared_key;
    p.allowed_ips = std::move(spec.allowed_ips);
    c.peers.push_back(std::move(p));
  }
  return c;
}

Result<Loaded> load_and_reconcile(const std::string& dir) {
  auto config = load_config(dir);
  if (!config) return config.take_error();
  auto state = load_state(dir);
  if (!state) return state.take_error();
  Loaded l{std::move(*config), std::move(*state), {}};
  const bool fresh = l.state.private_key.is_zero();
  auto changes = reconcile(l.state, l.config, crypto::system_random(), std::time(nullptr));
  if (!changes) return changes.take_error();
  l.changes = std::move(*changes);
  if (fresh || l.changes.changed()) {
    if (auto st = save_state(dir, l.state); !st) return st.take_error();
  }
  if (l.config.ipsec_enabled) {
    // Certificates follow the users list as keys do: new users get one, removed users' are
    // revoked (CRL) before anything else happens.
    auto pki = reconcile_pki(dir, l.config, crypto::system_random(), std::time(nullptr));
    if (!pki) return make_error("IKEv2 certificates: {}", pki.error().message);
    l.pki = std::move(*pki);
  }
  for (const auto& name : l.changes.removed) remove_bundles(dir, l.config, name);
  // Bundles are derived data: (re)write any that are missing, e.g. after a crash.
  for (const auto& [name, u] : l.state.users) {
    if (!has_client_profile(u)) continue;  // imported without its private key
    std::error_code ec;
    bool missing =
        !std::filesystem::exists(conf_path(dir, l.config, name), ec) ||
        !std::filesystem::exists(png_path(dir, l.config, name), ec) ||
        !std::filesystem::exists(mobileconfig_path(dir, l.config, name, AppleOs::kIos), ec) ||
        !std::filesystem::exists(mobileconfig_path(dir, l.config, name, AppleOs::kMacos), ec);
    bool added =
        std::find(l.changes.added.begin(), l.changes.added.end(), name) != l.changes.added.end();
    // A profile that no longer matches config.yaml (say DNS after dns_encryption changed) is
    // rewritten, QR code and Apple profiles included.
    bool stale = false;
    if (!missing && !added) {
      auto on_disk = read_file(conf_path(dir, l.config, name));
      stale = !on_disk || *on_disk != client_conf(l.config, l.state, name);
    }
    if (missing || added || stale) {
      if (auto st = write_bundles(dir, l.config, l.state, name); !st) return st.take_error();
    }
  }
  return l;
}

Result<std::unique_ptr<ServerDaemon>> ServerDaemon::start(const std::string& dir) {
  auto loaded = load_and_reconcile(dir);
  if (!loaded) return loaded.take_error();
  std::unique_ptr<ServerDaemon> s(new ServerDaemon());
  s->dir_ = dir;
  s->config_ = std::move(loaded->config);
  s->state_ = std::move(loaded->state);
  s->disabled_ = s->config_.disabled_users;
  if (!s->config_.wireguard_enabled) {
    return make_error("wireguard_enabled is false in {}: nothing to serve", config_path(dir));
  }
  daemon::DaemonOptions opts{s->config_.wireguard_interface,
                             server_interface_config(s->config_, s->state_)};
  auto iface = daemon::InterfaceDaemon::start(std::move(opts));
  if (!iface) return iface.take_error();
  s->iface_ = std::move(*iface);
  if (s->config_.ipsec_enabled) {
    auto ipsec = ServerIpsec::start(dir, s->config_);
    if (!ipsec) return ipsec.take_error();
    s->ipsec_ = std::move(*ipsec);
  }
  auto net = ServerNetworking::apply(s->config_);
  if (!net) return net.take_error();
  s->networking_.emplace(std::move(*net));
  ServerDaemon* raw = s.get();
  s->iface_->add_teardown([raw]() -> Status {
    if (raw->metrics_fd_ >= 0) {
      raw->iface_->loop().remove(raw->metrics_fd_);
      ::close(raw->metrics_fd_);
      raw->metrics_fd_ = -1;
    }
    if (raw->watch_timer_.valid()) {
      raw->iface_->loop().remove(raw->watch_timer_.get());
      raw->watch_timer_.reset();
    }
    if (raw->resolver_) {
      raw->resolver_.reset();
      spdlog::info("DNS resolver stopped");
    }
    if (raw->ipsec_) {
      // Every IKEv2 client gets a DELETE, as WireGuard clients' sessions end with the device.
      raw->ipsec_->stop();
      raw->ipsec_.reset();
    }
    return raw->networking_ ? raw->networking_->remove() : Status{};
  });
  s->iface_->add_command("sync", [raw](const nlohmann::json&) { return raw->sync(); });
  s->iface_->add_command("status", [raw](const nlohmann::json&) {
    auto j = to_json(raw->status(), false);
    j["ok"] = true;
    return j;
  });
  s->iface_->add_command("dns_reload", [raw](const nlohmann::json&) { return raw->dns_reload(); });
  s->iface_->set_reload_handler([raw]() {
    auto r = raw->sync();
    if (!r.value("ok", false)) {
      spdlog::error("reload: {}", r.value("error", std::string("failed")));
    }
  });
  if (runs_resolver(s->config_)) {
    // A server whose clients are told to use a resolver that is not there would look up and
    // then fail every name: refuse to start instead, saying why.
    auto r = s->apply_dns(s->config_);
    if (!r.value("ok", false)) {
      return make_error(
          "{} (set dns_adblocking and dns_encryption to false in {} to run without "
          "the built-in resolver)",
          r.value("error", std::string("DNS resolver failed")), config_path(dir));
    }
  }
  if (auto st = s->start_metrics(); !st) return st.take_error();
  if (auto st = s->start_change_watch(); !st) return st.take_error();
  s->register_log_names();
  s->web_ = ServerWeb::start(dir, s->config_);
  spdlog::info("server {} ready: {} user(s), endpoint {}:{}", s->config_.wireguard_interface,
               s->state_.users.size(), s->config_.endpoint, s->config_.wireguard_port);
  return s;
}

void ServerDaemon::register_log_names() const {
  std::map<std::string, std::string> names;
  for (const auto& [name, u] : state_.users) {
    names[crypto::key_to_base64(u.public_key)] = name;
    if (ipsec_) {
      for (const std::string& id : ipsec_->identities_of(name)) names[id] = name;
    }
  }
  set_log_user_names(std::move(names));
}

nlohmann::json ServerDaemon::sync() {
  auto loaded = load_and_reconcile(dir_);
  if (!loaded) return {{"ok", false}, {"error", loaded.error().message}};
  auto& device = iface_->device();
  // The device's peers become exactly the users: peers of users that are gone are removed (their
  // sessions end now and their handshakes are refused from now on: unknown key), new users are
  // added, and everybody else's sessions are untouched.
  wireguard::DeviceSpec spec = device.spec();
  spec.peers = user_peers(loaded->state, config_.ipv6, loaded->config.disabled_users);
  auto changes = device.configure(spec);
  if (!changes) return {{"ok", false}, {"error", changes.error().message}};
  nlohmann::json removed = nlohmann::json::array(), added = nlohmann::json::array();
  nlohmann::json disabled = nlohmann::json::array(), enabled = nlohmann::json::array();
  for (const auto& [name, u] : loaded->state.users) {
    if (state_.users.count(name) == 0) added.push_back(name);
  }
  for (const auto& [name, u] : state_.users) {
    if (loaded->state.users.count(name) == 0) removed.push_back(name);
  }
  const auto& now_off = loaded->config.disabled_users;
  auto in = [](const std::vector<std::string>& v, const std::string& name) {
    return std::find(v.begin(), v.end(), name) != v.end();
  };
  for (const auto& [name, u] : loaded->state.users) {
    if (in(now_off, name) && !in(disabled_, name)) disabled.push_back(name);
    if (!in(now_off, name) && in(disabled_, name) && state_.users.count(name) != 0) {
      enabled.push_back(name);
    }
  }
  spdlog::debug("user sync: {}", changes->summary());
  state_ = std::move(loaded->state);
  disabled_ = now_off;
  if (ipsec_) {
    std::vector<std::string> gone;
    for (const auto& r : removed) gone.push_back(r.get<std::string>());
    for (const auto& r : disabled) gone.push_back(r.get<std::string>());
    if (auto st = ipsec_->apply_user_changes(gone); !st) {
      spdlog::error("IKEv2: users not applied: {}", st.error().message);
      return {{"ok", false}, {"error", "IKEv2: " + st.error().message}};
    }
  }
  auto log_each = [](const nlohmann::json& names, std::string_view what) {
    for (const auto& name : names) {
      const ScopedLogFields fields({name.get<std::string>(), {}, {}, {}});
      spdlog::info("user {} {}", name.get<std::string>(), what);
    }
  };
  log_each(added, "added");
  log_each(removed, "removed: its sessions end now");
  log_each(disabled, "disabled: its sessions end now and it cannot connect until enabled");
  log_each(enabled, "enabled again");
  register_log_names();
  if (!added.empty() || !removed.empty() || !disabled.empty() || !enabled.empty()) {
    spdlog::info("users synced: {} added, {} removed, {} disabled, {} enabled", added.size(),
                 removed.size(), disabled.size(), enabled.size());
  }
  nlohmann::json out{{"ok", true},
                     {"added", added},
                     {"removed", removed},
                     {"disabled", disabled},
                     {"enabled", enabled}};
  // DNS keys (and the block lists) apply live too; a bad DNS setting keeps the old resolver.
  auto dns = apply_dns(loaded->config);
  if (!dns.value("ok", false)) {
    out["ok"] = false;
    out["error"] = dns.value("error", std::string("DNS settings not applied"));
  }
  out["dns"] = dns;
  stamps_ = watched_stamps();
  return out;
}

nlohmann::json ServerDaemon::apply_dns(const ServerConfig& wanted) {
  // Only the DNS keys change here; the rest of config.yaml needs a restart.
  ServerConfig next = config_;
  next.dns_adblocking = wanted.dns_adblocking;
  next.dns_encryption = wanted.dns_encryption;
  next.dns_servers = wanted.dns_servers;
  next.adblock_lists = wanted.adblock_lists;
  next.adblock_allow = wanted.adblock_allow;
  next.dns_block_response = wanted.dns_block_response;
  next.dns_dnssec = wanted.dns_dnssec;
  next.dns_cache_size = wanted.dns_cache_size;
  next.dns_force = wanted.dns_force;
  next.dns_tls_ca = wanted.dns_tls_ca;
  const bool firewall_changed = firewall_script(next) != firewall_script(config_);
  nlohmann::json out{{"ok", true}};
  if (!runs_resolver(next)) {
    if (resolver_) {
      resolver_.reset();
      spdlog::info("DNS resolver stopped: dns_adblocking and dns_encryption are off");
      out["stopped"] = true;
    }
  } else {
    auto settings = resolver_settings(next);
    if (!settings) return {{"ok", false}, {"error", settings.error().message}};
    for (const auto& url : settings->skipped_urls) {
      spdlog::warn(
          "adblock_lists: {} is a URL; Waypost reads local files only (download it "
          "and list the file; docs/DNS.md)",
          url);
    }
    if (resolver_) {
      if (auto st = resolver_->reload(settings->config); !st) {
        spdlog::error("DNS settings not applied, the resolver keeps the old ones: {}",
                      st.error().message);
        return {{"ok", false}, {"error", st.error().message}};
      }
      out["reloaded"] = true;
    } else {
      auto r = dns::Resolver::start(settings->config, iface_->loop());
      if (!r) {
        dns_problem_ = r.error().message;
        return {{"ok", false}, {"error", r.error().message}};
      }
      resolver_ = std::move(*r);
      out["started"] = true;
    }
    dns_problem_.clear();
    const dns::DnsStatus st = resolver_->status();
    out["blocked_domains"] = st.lists.blocked_domains;
    out["allowed_domains"] = st.lists.allowed_domains;
    out["lists"] = st.lists.files;
    out["skipped_urls"] = settings->skipped_urls;
  }
  config_ = std::move(next);
  if (firewall_changed && networking_) {
    if (auto st = networking_->update(config_); !st) {
      out["ok"] = false;
      out["error"] = st.error().message;
    }
  }
  return out;
}

nlohmann::json ServerDaemon::dns_reload() {
  auto config = load_config(dir_);
  if (!config) return {{"ok", false}, {"error", config.error().message}};
  if (!runs_resolver(*config)) {
    auto out = apply_dns(*config);
    out["ok"] = false;
    out["error"] = "the built-in resolver is off (dns_adblocking and dns_encryption are false)";
    return out;
  }
  auto out = apply_dns(*config);
  stamps_ = watched_stamps();
  return out;
}

dns::DnsStatus ServerDaemon::dns_status() const {
  if (resolver_) return resolver_->status();
  dns::DnsStatus s;
  if (!runs_resolver(config_)) {
    s.reason = "dns_adblocking and dns_encryption are off: clients use dns_servers directly";
  } else {
    s.reason = dns_problem_.empty() ? "not started" : dns_problem_;
  }
  return s;
}

std::vector<std::pair<std::string, std::string>> ServerDaemon::watched_stamps() const {
  std::vector<std::string> paths{config_path(dir_)};
  if (config_.dns_adblocking) {
    for (auto& l : local_blocklists(config_)) paths.push_back(std::move(l));
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& p : paths) {
    struct stat st {};
    std::string stamp = "missing";
    if (::stat(p.c_str(), &st) == 0) {
      stamp =
          fmt::format("{}:{}:{}.{}", st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }
    out.emplace_back(p, stamp);
  }
  return out;
}

Status ServerDaemon::start_change_watch() {
  stamps_ = watched_stamps();
  watch_timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!watch_timer_.valid()) return make_error("timerfd: {}", std::strerror(errno));
  itimerspec its{};
  its.it_interval.tv_sec = 2;
  its.it_value.tv_sec = 2;
  ::timerfd_settime(watch_timer_.get(), 0, &its, nullptr);
  return iface_->loop().add(watch_timer_.get(), EPOLLIN, [this](uint32_t) {
    uint64_t ticks = 0;
    (void)!::read(watch_timer_.get(), &ticks, sizeof(ticks));
    check_for_changes();
  });
}

void ServerDaemon::check_for_changes() {
  auto now = watched_stamps();
  if (now == stamps_) return;
  const bool config_changed = now.empty() || stamps_.empty() || now[0] != stamps_[0];
  // Remember first: a broken file is reported once, not every two seconds.
  stamps_ = now;
  if (config_changed) {
    spdlog::info("{} changed: applying it", config_path(dir_));
    auto r = sync();
    if (!r.value("ok", false)) {
      spdlog::error("{}: not applied: {}", config_path(dir_), r.value("error", std::string()));
    }
  } else {
    spdlog::info("a block list changed: reloading the DNS resolver");
    (void)dns_reload();
  }
}

ServerStatus ServerDaemon::status() const {
  const daemon::InterfaceStatus iface = iface_->status();
  std::map<std::string, const daemon::PeerStatus*> by_key;
  for (const auto& p : iface.peers) by_key[p.public_key] = &p;
  ServerStatus s;
  s.running = true;
  s.dns = dns_status();
  s.interface = config_.wireguard_interface;
  s.endpoint = config_.endpoint;
  s.port = config_.wireguard_port;
  s.public_key = crypto::key_to_base64(state_.public_key);
  s.counters = iface.counters;
  const std::map<std::string, dns::ClientCounters>& dns_clients = s.dns->clients;  // set above
  for (const auto& [name, u] : state_.users) {
    UserStatus us;
    us.name = name;
    us.public_key = crypto::key_to_base64(u.public_key);
    us.ipv4 = u.ipv4.to_string();
    if (config_.ipv6 && u.ipv6) us.ipv6 = u.ipv6->to_string();
    if (auto it = by_key.find(us.public_key); it != by_key.end()) {
      const daemon::PeerStatus& p = *it->second;
      us.session = true;
      us.endpoint = p.endpoint;
      us.latest_handshake = p.latest_handshake;
      us.handshake_age = p.handshake_age;
      us.rx_bytes = p.rx_bytes;
      us.tx_bytes = p.tx_bytes;
    }
    if (resolver_) {
      us.dns_counted = true;
      for (const auto& ip : {us.ipv4, us.ipv6}) {
        if (ip.empty()) continue;
        auto c = dns_clients.find(ip);
        if (c == dns_clients.end()) continue;
        us.dns_queries += c->second.queries;
        us.dns_blocked += c->second.blocked;
      }
    }
    s.users.push_back(std::move(us));
  }
  if (ipsec_) add_ike_sessions(s);
  return s;
}

void ServerDaemon::add_ike_sessions(ServerStatus& s) const {
  s.ipsec_interface = ipsec_->interface();
  auto j = ipsec_->status();
  if (!j || !j->value("ok", false)) {
    spdlog::warn("IKEv2 status: {}", j ? j->value("error", std::string()) : j.error().message);
    return;
  }
  std::map<std::string, UserStatus*> by_name;
  for (auto& u : s.users) by_name[u.name] = &u;
  for (const auto& sa : j->value("ike_sas", nlohmann::json::array())) {
    auto it = by_name.find(ipsec_->user_of(sa.value("remote_id", std::string())));
    if (it == by_name.end()) continue;
    IkeSession ike;
    const std::string addr = sa.value("remote_addr", std::string());
    const int port = sa.value("remote_port", 0);
    ike.remote = addr.find(':') != std::string::npos ? fmt::format("[{}]:{}", addr, port)
                                                     : fmt::format("{}:{}", addr, port);
    ike.established_s = sa.value("established_s", int64_t{0});
    ike.nat = sa.value("nat_remote", false);
    for (const auto& child : sa.value("child_sas", nlohmann::json::array())) {
      // The client's traffic selectors are the addresses its pool gave it.
      for (const auto& ts : child.value("remote_ts", nlohmann::json::array())) {
        if (!ts.is_string()) continue;
        std::string a = ts.get<std::string>();
        if (a.ends_with("/32") || a.ends_with("/128")) a = a.substr(0, a.rfind('/'));
        if (std::find(ike.virtual_ips.begin(), ike.virtual_ips.end(), a) == ike.virtual_ips.end()) {
          ike.virtual_ips.push_back(a);
        }
      }
      IkeSession::Child c;
      c.spi_in = child.value("spi_in", std::string());
      c.rx_bytes = child.value("bytes_in", uint64_t{0});
      c.tx_bytes = child.value("bytes_out", uint64_t{0});
      ike.rx_bytes += c.rx_bytes;
      ike.tx_bytes += c.tx_bytes;
      ike.children.push_back(std::move(c));
    }
    it->second->ike_sessions.push_back(std::move(ike));
  }
}

std::string ServerDaemon::metrics() const {
  return render_prometheus(status());
}

Status ServerDaemon::start_metrics() {
  if (config_.metrics_listen.empty()) return {};
  auto ep = net::Endpoint::parse(config_.metrics_listen);
  if (!ep) return make_error("metrics_listen: {}", ep.error().message);
  if (!ep->ip().is_v4() ? !(ep->ip() == net::IpAddress::parse("::1").value())
                        : ep->ip().bytes[0] != 127) {
    return make_error("metrics_listen must be a loopback address (127.0.0.0/8 or [::1]), got {}",
                      config_.metrics_listen);
  }
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error("metrics socket: {}", std::strerror(errno));
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  int off = 0;
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ep->addr), sizeof(ep->addr)) < 0 ||
      ::listen(fd, 8) < 0) {
    int e = errno;
    ::close(fd);
    return make_error("cannot listen on {} for metrics: {}", config_.metrics_listen,
                      std::strerror(e));
  }
  metrics_fd_ = fd;
  // Minimal HTTP/1.0: one request per connection, answered at once with the metrics text. Reads
  // are short and bounded; anything slow or malformed is simply closed.
  auto st = iface_->loop().add(fd, EPOLLIN, [this](uint32_t) {
    for (;;) {
      int c = ::accept4(metrics_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      timeval tv{0, 200000};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      char buf[2048];
      ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      std::string req(buf, n > 0 ? size_t(n) : 0);
      std::string body, status = "200 OK";
      if (req.rfind("GET /metrics", 0) == 0) {
        body = metrics();
      } else {
        status = "404 Not Found";
        body = "try /metrics\n";
      }
      std::string resp = fmt::format(
          "HTTP/1.0 {}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n"
          "Connection: close\r\n\r\n{}",
          status, body.size(), body);
      (void)!::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  });
  if (!st) return st.take_error();
  spdlog::info("metrics on http://{}/metrics", config_.metrics_listen);
  return {};
}

}  // namespace waypost::server
