// What the data plane and the kernel see follows the engine's SAs: the router's table (traps
// under CHILD SAs, the newest SA on top), kernel routes with their source addresses, virtual IPs
// on the device, pool leases and the CHILD SAs' peer addresses. Level-triggered: reconcile()
// compares what should be with what is after every event, so a rekey's make-before-break never
// removes a route still in use.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "ipsec/endpoints.h"
#include "ipsec/instance.h"
#include "ipsec/local_address.h"

namespace waypost::ipsec {

namespace {
uint8_t host_length(const net::IpAddress& a) {
  return uint8_t(a.bit_length());
}
}  // namespace

void Instance::rebuild_routing_table() {
  // Newest last, so that of two SAs for the same selectors (a rekey's old and new) the new one
  // carries the traffic.
  std::vector<Installed*> order;
  order.reserve(children_.size());
  for (auto& [spi, c] : children_) order.push_back(&c);
  std::sort(order.begin(), order.end(), [](const Installed* a, const Installed* b) {
    return a->installed_at < b->installed_at;
  });
  router_.table().clear();
  // Traps first: an SA with the same selectors takes their routes over.
  for (auto& t : traps_) {
    for (const auto& p : t->remote()) router_.table().insert(p, t.get());
  }
  for (Installed* c : order) {
    for (const auto& p : c->remote) router_.table().insert(p, c->sa.get());
  }
  for (Installed* c : order) prober_.routes_changed(*c->sa);
}

void Instance::reconcile() {
  dirty_ = false;
  update_keep_alive();
  update_full_tunnel();
  // Which IKE SA owns each installed CHILD SA now (an IKE rekey moves them to its successor),
  // and where its peer is (NAT mappings and MOBIKE move it).
  std::set<net::IpAddress> want_vips;
  std::set<net::IpAddress> want_leases;
  for (const auto& sa : manager_->sas()) {
    if (sa->state() == ike::IkeSaState::kDestroying) continue;
    for (const auto& v : sa->virtual_ips()) (sa->initiator() ? want_vips : want_leases).insert(v);
    for (const auto& info : sa->children()) {
      auto it = children_.find(info.spi_in);
      if (it == children_.end()) continue;
      const net::Endpoint ep = esp_endpoint(sa->remote());
      if (!(it->second.sa->remote() == ep)) {
        spdlog::info("{}: CHILD_SA {} now sends to {}", sa->describe(), info.name, ep.to_string());
        it->second.sa->set_remote(ep);
      }
    }
  }
  for (auto it = leased_.begin(); it != leased_.end();) {
    if (want_leases.count(*it) == 0) {
      pools_.release(*it);
      it = leased_.erase(it);
    } else {
      ++it;
    }
  }
  // Our virtual IPs on the device.
  for (auto it = device_vips_.begin(); it != device_vips_.end();) {
    if (want_vips.count(*it) == 0) {
      (void)netlink_->del_address(ifindex_, {*it, host_length(*it)});
      spdlog::info("virtual IP {} removed from {}", it->to_string(), options_.name);
      it = device_vips_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& v : want_vips) {
    if (device_vips_.count(v) != 0) continue;
    if (auto st = netlink_->add_address(ifindex_, {v, host_length(v)}); !st) {
      spdlog::error("virtual IP {}: {}", v.to_string(), st.error().message);
      continue;
    }
    spdlog::info("virtual IP {} installed on {}", v.to_string(), options_.name);
    device_vips_.insert(v);
  }
  // Kernel routes for the remote traffic selectors, each with the address the host itself sends
  // from: our virtual IP, or else one of our addresses inside the local traffic selectors (a
  // site-to-site gateway's LAN address), so that its own packets fit the SA.
  std::map<net::Prefix, std::optional<net::IpAddress>> want_routes;
  std::vector<net::IpAddress> ours;
  bool ours_read = false;
  for (const auto& sa : manager_->sas()) {
    if (sa->state() == ike::IkeSaState::kDestroying) continue;
    for (const auto& info : sa->children()) {
      auto it = children_.find(info.spi_in);
      if (it == children_.end()) continue;
      for (const auto& p : it->second.remote) {
        if (p.is_default()) continue;  // policy routing (instance_full_tunnel.cc)
        std::optional<net::IpAddress> source;
        if (sa->initiator()) {
          for (const auto& v : sa->virtual_ips()) {
            if (v.family == p.address.family) source = v;
          }
        }
        if (!source) {
          if (!ours_read) {
            ours = host_addresses();
            ours_read = true;
          }
          for (const auto& a : ours) {
            if (a.family != p.address.family) continue;
            const bool inside = std::any_of(
                info.local_ts.begin(), info.local_ts.end(), [&](const ike::TrafficSelector& ts) {
                  return ts.start.family == a.family && !(a < ts.start) && !(ts.end < a);
                });
            if (inside) {
              source = a;
              break;
            }
          }
        }
        want_routes[p] = source;
      }
    }
  }
  for (const auto& t : traps_) {
    const ike::Child* cfg = nullptr;
    for (const auto& c : options_.config.connections) {
      for (const auto& ch : c.children) {
        if (c.name == t->conn() && ch.name == t->child()) cfg = &ch;
      }
    }
    for (const auto& p : t->remote()) {
      if (want_routes.count(p) != 0 || p.is_default()) continue;
      std::optional<net::IpAddress> source;
      if (cfg != nullptr) {
        if (!ours_read) {
          ours = host_addresses();
          ours_read = true;
        }
        for (const auto& a : ours) {
          for (const auto& ts : cfg->local_ts) {
            if (!ts.dynamic && a.family == p.address.family && ts.range.contains(a)) source = a;
          }
        }
      }
      want_routes[p] = source;
    }
  }
  for (auto it = routes_.begin(); it != routes_.end();) {
    auto want = want_routes.find(it->first);
    if (want == want_routes.end() || want->second != it->second) {
      (void)netlink_->del_route(ifindex_, it->first);
      it = routes_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [p, source] : want_routes) {
    if (routes_.count(p) != 0) continue;
    auto st =
        source ? netlink_->add_route_from(ifindex_, p, *source) : netlink_->add_route(ifindex_, p);
    if (!st && st.error().code != EEXIST) {
      spdlog::error("route {} dev {}: {}", p.to_string(), options_.name, st.error().message);
      continue;
    }
    routes_[p] = source;
  }
}

}  // namespace waypost::ipsec
