#include "dataplane/path_mtu.h"

#include <cstring>

#include "common/bytes.h"
#include "common/checksum.h"

namespace waypost::dataplane {

uint32_t answer_probe(const uint8_t* packet, uint32_t size, uint8_t* out) {
  if (size < kProbeMinSizeV4) return 0;
  const bool v6 = (packet[0] >> 4) == 6;
  uint32_t l4 = 0;
  if (!v6) {
    l4 = uint32_t(packet[0] & 0x0f) * 4;
    if ((packet[0] >> 4) != 4 || l4 < 20 || packet[9] != 1 || size < l4 + 16 ||
        load_be16(packet + 2) != size || (load_be16(packet + 6) & 0x3fff) != 0 || packet[l4] != 8) {
      return 0;
    }
  } else {
    l4 = 40;
    if (size < kProbeMinSizeV6 || packet[6] != 58 || 40u + load_be16(packet + 4) != size ||
        packet[l4] != 128) {
      return 0;
    }
  }
  if (load_be32(packet + l4 + 8) != kProbeMarker || load_be32(packet + l4 + 12) != size) return 0;
  std::memcpy(out, packet, size);
  if (!v6) {
    std::memcpy(out + 12, packet + 16, 4);
    std::memcpy(out + 16, packet + 12, 4);
    out[8] = 64;
    store_be16(out + 6, 0x4000);  // DF: the reply must fit the path as it is
    store_be16(out + 10, 0);
    store_be16(out + 10, checksum_finish(checksum_add(0, out, l4)));
    out[l4] = 0;  // echo reply
    store_be16(out + l4 + 2, 0);
    store_be16(out + l4 + 2, checksum_finish(checksum_add(0, out + l4, size - l4)));
  } else {
    std::memcpy(out + 8, packet + 24, 16);
    std::memcpy(out + 24, packet + 8, 16);
    out[7] = 64;
    out[l4] = 129;  // echo reply
    store_be16(out + l4 + 2, 0);
    const uint64_t sum = pseudo_header_v6(out, 58, size - l4);
    store_be16(out + l4 + 2, checksum_finish(checksum_add(sum, out + l4, size - l4)));
  }
  return size;
}

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
  target_current_ = true;
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
  if (!(version == 4 && size > 20 && packet[9] == 1) &&
      !(version == 6 && size > 40 && packet[6] == 58)) {
    return false;
  }
  auto reply = parse_probe_reply(packet, size, id);
  if (!reply) return false;
  search_.on_reply(reply->size, now);
  return true;
}

bool PathMtu::observe_outbound(const uint8_t* packet, uint32_t size, Nanos now) {
  if (!probing_ || size <= PmtuSearch::kDefaultFloor) return false;
  if (!detector_) detector_ = std::make_unique<LargePacketLossDetector>();
  detector_->on_tcp_segment(packet, size, now);
  if (detector_->suspect()) {
    ++blackholes_;
    detector_->clear();
    search_.restart(now);
    return true;
  }
  return false;
}

}  // namespace waypost::dataplane
