// Traffic selectors of 0.0.0.0/0 or ::/0 ("everything through the tunnel", a road warrior's
// usual remote_ts) cannot be a plain route into the device: the IKE and ESP packets to the peer
// would follow it into the tunnel themselves. They get wg-quick's policy routing instead, the
// same code the WireGuard side uses (daemon::InterfaceSetup): the instance's UDP sockets mark
// what they send, unmarked packets look up a table of their own whose default route is the
// device, the main table is asked first with its default routes suppressed (so the LAN stays
// reachable), and an nftables table keeps the replies to marked packets outside the tunnel.
//
// It stays on while a CHILD SA or trap routes a default selector, and while its connection is
// being brought back (an IKE SA coming up, a re-initiation pending): a tunnel that drops for a
// moment holds the traffic instead of letting it leave in plaintext. When the connection is
// given up or terminated, the host's own routing takes over again.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "ipsec/instance.h"
#include "ipsec/local_address.h"
#include "ipsec/range_prefixes.h"

namespace waypost::ipsec {

namespace {

bool is_everything(const ike::TrafficSelectorSpec& ts) {
  if (ts.dynamic) return false;
  const auto prefixes = range_to_prefixes(ts.range.first, ts.range.last);
  return prefixes.size() == 1 && prefixes.front().is_default();
}

net::Prefix everything_of(net::Family family) {
  static constexpr uint8_t kZeros[16] = {};
  return {family == net::Family::kV4 ? net::IpAddress::v4(0) : net::IpAddress::v6_bytes(kZeros), 0};
}

}  // namespace

Instance::FullTunnel Instance::full_tunnel_wanted() const {
  FullTunnel wanted;
  std::set<net::Family>& want = wanted.families;
  for (const auto& sa : manager_->sas()) {
    if (sa->state() == ike::IkeSaState::kDestroying) continue;
    for (const auto& info : sa->children()) {
      auto it = children_.find(info.spi_in);
      if (it == children_.end()) continue;
      for (const auto& p : it->second.remote) {
        if (!p.is_default()) continue;
        want.insert(p.address.family);
        // The gateway's DNS servers serve the whole tunnel (strongSwan's resolve plugin).
        for (const auto& d : sa->dns_servers()) {
          if (std::find(wanted.dns.begin(), wanted.dns.end(), d) == wanted.dns.end()) {
            wanted.dns.push_back(d);
          }
        }
      }
    }
  }
  for (const auto& t : traps_) {
    for (const auto& p : t->remote()) {
      if (p.is_default()) want.insert(p.address.family);
    }
  }
  if (!full_tunnel_) return wanted;
  // On already: kept, with its DNS servers, while the connection comes back.
  if (wanted.dns.empty()) wanted.dns = full_tunnel_state_.dns;
  auto defaults_of = [&](const std::string& conn) {
    for (const auto& c : options_.config.connections) {
      if (c.name != conn) continue;
      for (const auto& ch : c.children) {
        for (const auto& ts : ch.remote_ts) {
          if (is_everything(ts)) want.insert(ts.range.first.family);
        }
      }
    }
  };
  for (const auto& sa : manager_->sas()) {
    const auto st = sa->state();
    if (sa->initiator() && (st == ike::IkeSaState::kCreated || st == ike::IkeSaState::kConnecting ||
                            st == ike::IkeSaState::kEstablished)) {
      defaults_of(sa->name());
    }
  }
  for (const auto& [when, p] : pending_initiations_) defaults_of(p.first);
  if (want.empty()) wanted.dns.clear();
  return wanted;
}

void Instance::update_full_tunnel() {
  const FullTunnel wanted = stopping_ ? FullTunnel{} : full_tunnel_wanted();
  if (wanted == full_tunnel_state_) return;
  const std::set<net::Family>& want = wanted.families;
  if (full_tunnel_) {
    if (auto st = full_tunnel_->down(); !st) {
      spdlog::error("{}: removing the policy routing of the full tunnel: {}", options_.name,
                    st.error().message);
    }
    full_tunnel_.reset();
    full_tunnel_state_ = {};
    spdlog::info("{}: full tunnel off: the host's own routes apply again", options_.name);
  }
  if (want.empty()) return;
  wireguard::WgQuickConfig config;
  config.iface.mtu = options_.mtu;
  config.iface.dns_servers = wanted.dns;
  if (fwmark_ != 0) config.iface.fwmark = fwmark_;
  wireguard::ConfPeer everything;
  for (net::Family f : want) {
    everything.allowed_ips.push_back(everything_of(f));
  }
  config.peers.push_back(std::move(everything));
  daemon::SetupContext context;
  context.ifname = options_.name;
  context.set_fwmark = [this](uint32_t mark) -> Status {
    if (auto st = natt_->set_fwmark(mark); !st) return st;
    if (auto st = ike_->set_fwmark(mark); !st) return st;
    fwmark_ = mark;
    return {};
  };
  auto setup = daemon::InterfaceSetup::up(config, context);
  if (!setup) {
    spdlog::error("{}: cannot route all traffic into the tunnel: {}", options_.name,
                  setup.error().message);
    return;
  }
  full_tunnel_ = std::move(*setup);
  full_tunnel_state_ = wanted;
  std::string list;
  for (const auto& d : wanted.dns) list += (list.empty() ? "" : ", ") + d.to_string();
  if (full_tunnel_->dns_warning()) {
    spdlog::warn(
        "{}: the DNS servers the gateway assigned ({}) are not in use: resolvconf(8) is "
        "not installed",
        options_.name, list);
  } else if (!wanted.dns.empty()) {
    spdlog::info("{}: DNS through the tunnel: {} (resolvconf)", options_.name, list);
  }
  std::string what;
  for (net::Family f : want) what += f == net::Family::kV4 ? " 0.0.0.0/0" : " ::/0";
  spdlog::info(
      "{}: full tunnel on:{} through {} (policy routing: table {}, packets of the IKE and ESP "
      "sockets marked {} go around it)",
      options_.name, what, options_.name, full_tunnel_->table(), fwmark_);
}

std::optional<net::IpAddress> Instance::local_toward(const net::IpAddress& remote) const {
  return local_address_toward(remote, fwmark_);
}

}  // namespace waypost::ipsec
