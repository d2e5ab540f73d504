#include "dataplane/path_mtu.h"

namespace waypost::dataplane {

void PathMtu::set_interface_mtu(uint32_t mtu) {
  interface_mtu_ = mtu;
  search_.set_ceiling(mtu);
}

void PathMtu::set_probe_target(const std::optional<net::IpAddress>& local,
                               const std::optional<net::IpAddress>& remote) {
  if (local && remote && local->family != remote->family) {
    local_.reset();
    remote_.reset();
  } else {
    local_ = local;
    remote_ = remote;
  }
  if (!has_probe_target()) probing_ = false;
}

void PathMtu::start(Nanos now) {
  if (!has_probe_target() || probing_) return;
  probing_ = true;
  search_.restart(now);
}

uint32_t PathMtu::build_due_probe(Nanos now, uint8_t* out, uint16_t id) {
  if (!probing_) return 0;
  auto size = search_.probe_to_send(now);
  if (!size || *size > interface_mtu_) return 0;
  uint32_t n = build_probe(out, *size, *local_, *remote_, id, ++seq_);
  if (n != 0) ++probes_sent_;
  return n;
}

bool PathMtu::consume_reply(const uint8_t* packet, uint32_t size, uint16_t id, Nanos now) {
  if (!probing_ || size < kProbeMinSizeV4) return false;
  // Cheap filter first: only ICMP echo replies can be ours.
  const int version = packet[0] >> 4;
  if (!(version == 4 && size > 20 && packet[9] == 1) && !(version == 6 && size > 40 && packet[6] == 58)) {
    return false;
  }
  auto reply = parse_probe_reply(packet, size, id);
  if (!reply) return false;
  search_.on_reply(reply->size, now);
  return true;
}

void PathMtu::observe_outbound(const uint8_t* packet, uint32_t size, Nanos now) {
  if (!probing_ || size <= PmtuSearch::kDefaultFloor) return;
  if (!detector_) detector_ = std::make_unique<LargePacketLossDetector>();
  detector_->on_tcp_segment(packet, size, now);
  if (detector_->suspect()) {
    ++blackholes_;
    detector_->clear();
    search_.restart(now);
  }
}

}  // namespace waypost::dataplane
