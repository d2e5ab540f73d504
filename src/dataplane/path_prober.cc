#include "dataplane/path_prober.h"

#include <algorithm>

#include "common/log.h"

namespace waypost::dataplane {

PathProber::PathProber(const Clock& clock, const Router& router, uint16_t probe_id,
                       uint32_t interface_mtu)
    : clock_(clock), router_(router), probe_id_(probe_id), interface_mtu_(interface_mtu) {}

void PathProber::set_interface_mtu(uint32_t mtu) {
  interface_mtu_ = mtu;
  for (Tunnel* t : tunnels_) t->path().set_interface_mtu(mtu);
}

void PathProber::set_local_addresses(std::vector<net::Prefix> addresses) {
  local_addresses_ = std::move(addresses);
  for (Tunnel* t : tunnels_) t->path().invalidate_target();
}

void PathProber::attach(Tunnel& tunnel) {
  PathMtu& path = tunnel.path();
  if (path.prober_slot() == PathMtu::kNoSlot) {
    path.set_prober_slot(uint32_t(tunnels_.size()));
    tunnels_.push_back(&tunnel);
  }
  path.set_interface_mtu(interface_mtu_);
}

void PathProber::detach(Tunnel& tunnel) {
  const uint32_t slot = tunnel.path().prober_slot();
  if (slot >= tunnels_.size() || tunnels_[slot] != &tunnel) return;
  // Swap-remove: the last tunnel takes the freed slot.
  Tunnel* last = tunnels_.back();
  tunnels_[slot] = last;
  last->path().set_prober_slot(slot);
  tunnels_.pop_back();
  tunnel.path().set_prober_slot(PathMtu::kNoSlot);
}

uint8_t* PathProber::scratch() {
  if (!buffer_.data()) buffer_ = PageBuffer(kSlotSize);
  return buffer_.data() + kHeadroom;
}

void PathProber::choose_target(Tunnel& tunnel) {
  // What to ping: the peer's own tunnel address. A host route to the tunnel is that address (a
  // server's view of its clients); otherwise the first host of our own subnet if it routes to
  // this tunnel (a client's view of its server). Families are tried IPv4 first.
  std::vector<net::Prefix> routes;
  router_.table().for_each([&](const net::Prefix& p, Tunnel* t) {
    if (t == &tunnel) routes.push_back(p);
  });
  std::optional<net::IpAddress> local, remote;
  for (net::Family family : {net::Family::kV4, net::Family::kV6}) {
    const net::Prefix* mine = nullptr;
    for (const auto& a : local_addresses_) {
      if (a.address.family == family) {
        mine = &a;
        break;
      }
    }
    if (mine == nullptr) continue;
    for (const auto& p : routes) {
      if (p.address.family == family && p.length == p.address.bit_length()) {
        remote = p.address;
        break;
      }
    }
    if (!remote && mine->length < mine->address.bit_length() - 1) {
      net::Prefix net = *net::Prefix::parse(mine->to_string());  // host bits cleared
      net::IpAddress first = net.address;
      first.bytes[first.byte_length() - 1] |= 1;
      if (!(first == mine->address) && router_.table().lookup(first) == &tunnel) remote = first;
    }
    if (remote) {
      local = mine->address;
      break;
    }
  }
  tunnel.path().set_probe_target(local, remote);
  if (remote) {
    spdlog::debug("{}: probing the path MTU with pings to {}", tunnel.describe(),
                  remote->to_string());
  }
}

void PathProber::start(Tunnel& tunnel) {
  PathMtu& path = tunnel.path();
  if (!path.target_current()) choose_target(tunnel);
  const uint32_t mtu = path.mtu(), mss_mtu = path.mss_mtu();
  path.start(clock_.now());
  log_change(tunnel, mtu, mss_mtu);
  if (path.probing()) tunnel.schedule_probe(0);
}

void PathProber::on_wakeup(Tunnel& tunnel) {
  PathMtu& path = tunnel.path();
  const Nanos now = clock_.now();
  const uint32_t mtu = path.mtu(), mss_mtu = path.mss_mtu();
  uint8_t* data = scratch();
  if (uint32_t n = path.build_due_probe(now, data, probe_id_)) {
    // Without a session there is nothing to probe through; the next session resumes probing.
    if (!tunnel.send_probe(Packet{data, n})) return;
  }
  log_change(tunnel, mtu, mss_mtu);  // a size declared failed, or a round over
  const Nanos next = path.next_wakeup();
  if (next != kNever) tunnel.schedule_probe(std::max<Nanos>(next - now, millis(10)));
}

bool PathProber::intercept(Tunnel& tunnel, uint8_t* packet, uint32_t size) {
  // Cheap filter: only ICMP (v4 protocol 1, v6 next header 58) can be a probe or a reply.
  if (size < kProbeMinSizeV4 || !(((packet[0] >> 4) == 4 && packet[9] == 1) ||
                                  ((packet[0] >> 4) == 6 && size >= 40 && packet[6] == 58))) {
    return false;
  }
  const uint32_t len = inner_packet_length(packet, size);
  if (len == 0) return false;
  if (answer(tunnel, packet, len)) return true;
  PathMtu& path = tunnel.path();
  if (!path.probing()) return false;
  const uint32_t mtu = path.mtu(), mss_mtu = path.mss_mtu();
  if (!path.consume_reply(packet, len, probe_id_, clock_.now())) return false;
  log_change(tunnel, mtu, mss_mtu);
  return true;
}

bool PathProber::answer(Tunnel& tunnel, const uint8_t* packet, uint32_t size) {
  const Packet request{const_cast<uint8_t*>(packet), size};
  if (router_.lookup_source(request) != &tunnel) return false;  // not from this tunnel's peer
  uint8_t* out = scratch();
  const uint32_t n = answer_probe(packet, size, out);
  if (n == 0 || n > interface_mtu_) return false;
  return tunnel.send_probe(Packet{out, n});
}

void PathProber::log_change(Tunnel& tunnel, uint32_t mtu_before, uint32_t mss_mtu_before) {
  const PathMtu& path = tunnel.path();
  const uint32_t mtu = path.mtu(), mss_mtu = path.mss_mtu();
  if (mtu == mtu_before && mss_mtu == mss_mtu_before) return;
  spdlog::debug(
      "{}: path MTU {} ({} bytes on the wire), {} confirmed (what new TCP connections are "
      "clamped to){}",
      tunnel.describe(), mtu, mtu + tunnel.overhead(), mss_mtu,
      path.searching() ? ", searching" : "");
}

}  // namespace waypost::dataplane
