// The device's side of in-tunnel path MTU discovery (dataplane/path_mtu.h): choosing what to
// probe, sending probes through a peer's session, and answering the peers' own probes.
#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "common/log.h"
#include "crypto/keys.h"
#include "wireguard/device.h"
#include "wireguard/timers.h"

namespace waypost::wireguard {

void Device::set_local_addresses(std::vector<net::Prefix> addresses) {
  local_addresses_ = std::move(addresses);
  for (auto& [key, peer] : peers_) peer->probe_target_known = false;
}

void Device::start_path_probing(Peer& peer) {
  if (!peer.probe_target_known) {
    // What to ping: the peer's own tunnel address. A host route among its allowed IPs is that
    // address (a server's view of its clients); otherwise the first host of our own subnet if
    // it routes to this peer (a client's view of its server). Families are tried IPv4 first.
    std::optional<net::IpAddress> local, remote;
    const auto allowed = allowed_ips(peer);
    for (net::Family family : {net::Family::kV4, net::Family::kV6}) {
      const net::Prefix* mine = nullptr;
      for (const auto& a : local_addresses_) {
        if (a.address.family == family) {
          mine = &a;
          break;
        }
      }
      if (mine == nullptr) continue;
      for (const auto& p : allowed) {
        if (p.address.family == family && p.length == p.address.bit_length()) {
          remote = p.address;
          break;
        }
      }
      if (!remote && mine->length < mine->address.bit_length() - 1) {
        net::Prefix net = *net::Prefix::parse(mine->to_string());  // host bits cleared
        net::IpAddress first = net.address;
        first.bytes[first.byte_length() - 1] |= 1;
        if (!(first == mine->address) && env_.router.table().lookup(first) == &peer) {
          remote = first;
        }
      }
      if (remote) {
        local = mine->address;
        break;
      }
    }
    peer.path().set_probe_target(local, remote);
    peer.probe_target_known = true;
    if (remote) {
      spdlog::debug("{}: probing the path MTU with pings to {}", peer.describe(),
                    remote->to_string());
    }
  }
  const uint32_t mtu = peer.path().mtu(), mss_mtu = peer.path().mss_mtu();
  peer.path().start(env_.clock.now());
  log_path_mtu(peer, mtu, mss_mtu);
  if (peer.path().probing()) arm_timer(peer, kTimerPathProbe, 0);
}

void Device::log_path_mtu(const Peer& peer, uint32_t mtu_before, uint32_t mss_mtu_before) const {
  const uint32_t mtu = peer.path().mtu(), mss_mtu = peer.path().mss_mtu();
  if (mtu == mtu_before && mss_mtu == mss_mtu_before) return;
  spdlog::debug("{}: path MTU {}, {} confirmed (what new TCP connections are clamped to){}",
                peer.describe(), mtu, mss_mtu, peer.path().searching() ? ", searching" : "");
}

bool Device::answer_path_probe(Peer& peer, const CryptoJob& job) {
  // Cheap filter: only ICMP (v4 protocol 1, v6 next header 58) can be a probe.
  if (job.length < dataplane::kProbeMinSizeV4 ||
      !(((job.data[0] >> 4) == 4 && job.data[9] == 1) ||
        ((job.data[0] >> 4) == 6 && job.length >= 40 && job.data[6] == 58))) {
    return false;
  }
  const uint32_t len = dataplane::inner_packet_length(job.data, job.length);
  if (len == 0) return false;
  dataplane::Packet request{job.data, len};
  if (env_.router.lookup_source(request) != &peer) return false;  // not from this peer
  Keypair* kp = peer.current_keypair.get();
  if (kp == nullptr || kp->expired_for_sending(env_.clock.now()) || !peer.endpoint) return false;
  if (!probe_buffer_.data()) probe_buffer_ = PageBuffer(dataplane::kSlotSize);
  uint8_t* out = probe_buffer_.data() + dataplane::kHeadroom;
  const uint32_t n = dataplane::answer_probe(job.data, len, out);
  if (n == 0 || n > mtu_) return false;
  timers_any_authenticated_packet_traversal(peer);
  timers_any_authenticated_packet_sent(peer);
  dataplane::Packet reply{out, n};
  seal_batch(peer, *kp, {&reply, 1});
  env_.network.flush();
  return true;
}

void Device::send_path_probe(Peer& peer) {
  const Nanos now = env_.clock.now();
  Keypair* kp = peer.current_keypair.get();
  // Without a session there is nothing to probe through; the next handshake resumes probing.
  if (kp == nullptr || kp->expired_for_sending(now) || !peer.endpoint) return;
  const uint32_t mtu = peer.path().mtu(), mss_mtu = peer.path().mss_mtu();
  {
    if (!probe_buffer_.data()) probe_buffer_ = PageBuffer(dataplane::kSlotSize);
    uint8_t* data = probe_buffer_.data() + dataplane::kHeadroom;
    if (uint32_t n = peer.path().build_due_probe(now, data, probe_id_)) {
      // Not data: a lost probe must not make the session look dead (no data_sent hook).
      timers_any_authenticated_packet_traversal(peer);
      timers_any_authenticated_packet_sent(peer);
      dataplane::Packet p{data, n};
      seal_batch(peer, *kp, {&p, 1});
      env_.network.flush();
    }
  }
  log_path_mtu(peer, mtu, mss_mtu);  // a size declared failed, or a round over
  const Nanos next = peer.path().next_wakeup();
  if (next != kNever) arm_timer(peer, kTimerPathProbe, std::max<Nanos>(next - now, millis(10)));
}

Device::~Device() {
  remove_all_peers();
}

}  // namespace waypost::wireguard
