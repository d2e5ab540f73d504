#include "dataplane/pmtu_probe.h"

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "dataplane/mtu.h"

namespace waypost::dataplane {
namespace {

constexpr uint32_t kIcmpHeaderSize = 8;
constexpr uint8_t kDefaultTtl = 64;
constexpr uint8_t kEchoRequestV4 = 8;
constexpr uint8_t kEchoReplyV4 = 0;
constexpr uint8_t kEchoRequestV6 = 128;
constexpr uint8_t kEchoReplyV6 = 129;

constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpRst = 0x04;

uint64_t fnv1a(uint64_t h, const uint8_t* data, uint32_t length) {
  for (uint32_t i = 0; i < length; ++i) {
    h = (h ^ data[i]) * 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

// --- PmtuSearch -----------------------------------------------------------------------------

PmtuSearch::PmtuSearch(uint32_t floor, uint32_t ceiling)
    : floor_(floor),
      ceiling_(std::max(ceiling, floor)),
      confirmed_(floor),
      failed_(ceiling_ + 1),
      assumed_(ceiling_) {}

uint32_t PmtuSearch::mtu() const {
  if (assumed_ > confirmed_ && assumed_ < failed_) {
    return assumed_;
  }
  return confirmed_;
}

uint32_t PmtuSearch::next_size() const {
  if (converged()) {
    return 0;
  }
  for (uint32_t candidate : {assumed_, ceiling_, previous_failed_}) {
    if (candidate > confirmed_ && candidate < failed_) {
      return candidate;
    }
  }
  return confirmed_ + (failed_ - confirmed_) / 2;
}

void PmtuSearch::finish(Nanos now) {
  searching_ = false;
  probe_size_ = 0;
  // What is reported from now on has been confirmed in this round.
  assumed_ = confirmed_;
  reprobe_at_ = now + kReprobeInterval;
}

std::optional<uint32_t> PmtuSearch::probe_to_send(Nanos now) {
  if (!searching_) {
    if (now < reprobe_at_) {
      return std::nullopt;
    }
    restart(now);
  }
  if (probe_size_ != 0) {
    if (now - sent_at_ < kProbeTimeout) {
      return std::nullopt;
    }
    // A late reply to a larger size may have made this probe moot in the meantime.
    if (probe_size_ > confirmed_) {
      if (attempts_ < kAttempts) {
        ++attempts_;
        sent_at_ = now;
        return probe_size_;
      }
      failed_ = std::min(failed_, probe_size_);
      if (assumed_ >= failed_) {
        // The size the round started with is disproved: stop reporting it, so that a late reply
        // which reopens the sizes above a confirmed one cannot bring it back.
        assumed_ = confirmed_;
      }
    }
    probe_size_ = 0;
  }
  const uint32_t size = next_size();
  if (size == 0) {
    finish(now);
    return std::nullopt;
  }
  probe_size_ = size;
  attempts_ = 1;
  sent_at_ = now;
  return size;
}

void PmtuSearch::on_reply(uint32_t size, Nanos now) {
  // A reply larger than the ceiling (which may have been lowered since) confirms the ceiling.
  size = std::min(size, ceiling_);
  if (size <= confirmed_) {
    return;
  }
  confirmed_ = size;
  if (failed_ <= size) {
    // The reply came after its size was declared failed: the verdict was wrong, and so may be
    // any below it. Sizes above are unknown again.
    failed_ = ceiling_ + 1;
  }
  if (probe_size_ != 0 && probe_size_ <= confirmed_) {
    probe_size_ = 0;  // answered (or made moot): the next probe may go at once
  }
  if (converged()) {
    if (searching_) {
      finish(now);
    } else {
      assumed_ = confirmed_;
    }
  } else if (!searching_) {
    searching_ = true;  // a late reply reopened a finished round
    reprobe_at_ = kNever;
  }
}

void PmtuSearch::restart(Nanos now) {
  if (searching_) {
    return;
  }
  assumed_ = mtu();
  previous_failed_ = failed_ <= ceiling_ ? failed_ : 0;
  confirmed_ = floor_;
  failed_ = ceiling_ + 1;
  searching_ = true;
  probe_size_ = 0;
  reprobe_at_ = kNever;
  round_started_ = now;
}

void PmtuSearch::set_ceiling(uint32_t ceiling) {
  ceiling = std::max(ceiling, floor_);
  if (ceiling == ceiling_) {
    return;
  }
  const uint32_t old_ceiling = ceiling_;
  ceiling_ = ceiling;
  if (ceiling < old_ceiling) {
    // Never shrinks the gap between confirmed and failed, so a finished round stays finished.
    confirmed_ = std::min(confirmed_, ceiling);
    assumed_ = std::min(assumed_, ceiling);
    failed_ = std::min(failed_, ceiling + 1);
    if (previous_failed_ > ceiling) {
      previous_failed_ = 0;
    }
    if (probe_size_ > ceiling) {
      probe_size_ = 0;
    }
    return;
  }
  if (failed_ != old_ceiling + 1) {
    return;  // a size below the old ceiling already fails: a wider interface changes nothing
  }
  failed_ = ceiling + 1;
  if (assumed_ == old_ceiling || confirmed_ == old_ceiling) {
    assumed_ = ceiling;  // optimistic, as for the first round; verified first
  }
  if (!searching_) {
    searching_ = true;
    reprobe_at_ = kNever;
  }
}

Nanos PmtuSearch::next_wakeup() const {
  if (!searching_) {
    return reprobe_at_;
  }
  if (probe_size_ != 0) {
    return sent_at_ + kProbeTimeout;
  }
  return 0;
}

// --- Probe packets ------------------------------------------------------------------------------

uint32_t build_probe(uint8_t* out, uint32_t size, const net::IpAddress& src,
                     const net::IpAddress& dst, uint16_t id, uint16_t seq) {
  if (out == nullptr || src.family != dst.family || size > kProbeMaxSize) {
    return 0;
  }
  const bool v6 = !src.is_v4();
  const uint32_t header = v6 ? 40 : 20;
  if (size < (v6 ? kProbeMinSizeV6 : kProbeMinSizeV4)) {
    return 0;
  }
  const uint32_t icmp_length = size - header;
  uint8_t* icmp = out + header;
  icmp[0] = v6 ? kEchoRequestV6 : kEchoRequestV4;
  icmp[1] = 0;
  store_be16(icmp + 2, 0);
  store_be16(icmp + 4, id);
  store_be16(icmp + 6, seq);
  uint8_t* payload = icmp + kIcmpHeaderSize;
  store_be32(payload, kProbeMarker);
  store_be32(payload + 4, size);
  for (uint32_t i = 8; i < icmp_length - kIcmpHeaderSize; ++i) {
    payload[i] = uint8_t(i - 8);
  }

  if (v6) {
    store_be32(out, 0x60000000);
    store_be16(out + 4, uint16_t(icmp_length));
    out[6] = kIpProtoIcmpV6;
    out[7] = kDefaultTtl;
    std::memcpy(out + 8, src.bytes.data(), 16);
    std::memcpy(out + 24, dst.bytes.data(), 16);
    const uint64_t sum = pseudo_header_v6(out, kIpProtoIcmpV6, icmp_length);
    store_be16(icmp + 2, checksum_finish(checksum_add(sum, icmp, icmp_length)));
    return size;
  }
  out[0] = 0x45;
  out[1] = 0;
  store_be16(out + 2, uint16_t(size));
  store_be16(out + 4, seq);     // RFC 6864: any value will do for an atomic datagram
  store_be16(out + 6, 0x4000);  // DF: the probe must not be fragmented on the way
  out[8] = kDefaultTtl;
  out[9] = kIpProtoIcmp;
  store_be16(out + 10, 0);
  std::memcpy(out + 12, src.bytes.data(), 4);
  std::memcpy(out + 16, dst.bytes.data(), 4);
  store_be16(out + 10, checksum_finish(checksum_add(0, out, 20)));
  store_be16(icmp + 2, checksum_finish(checksum_add(0, icmp, icmp_length)));
  return size;
}

std::optional<ProbeReply> parse_probe_reply(const uint8_t* packet, uint32_t size, uint16_t id) {
  const std::optional<TransportHeader> l4 = find_transport_header(packet, size);
  if (!l4 || l4->fragment || l4->end - l4->offset < kIcmpHeaderSize + 8) {
    return std::nullopt;
  }
  const bool v6 = (packet[0] >> 4) == 6;
  if (l4->protocol != (v6 ? kIpProtoIcmpV6 : kIpProtoIcmp)) {
    return std::nullopt;
  }
  const uint8_t* icmp = packet + l4->offset;
  const uint32_t icmp_length = l4->end - l4->offset;
  if (icmp[0] != (v6 ? kEchoReplyV6 : kEchoReplyV4) || icmp[1] != 0 || load_be16(icmp + 4) != id ||
      load_be32(icmp + 8) != kProbeMarker || load_be32(icmp + 12) != l4->end) {
    return std::nullopt;
  }
  uint64_t sum = v6 ? pseudo_header_v6(packet, kIpProtoIcmpV6, icmp_length) : 0;
  if (checksum_fold(checksum_add(sum, icmp, icmp_length)) != 0xffff) {
    return std::nullopt;
  }
  return ProbeReply{load_be16(icmp + 6), l4->end};
}

// --- LargePacketLossDetector -------------------------------------------------------------------

void LargePacketLossDetector::on_tcp_segment(const uint8_t* packet, uint32_t size, Nanos now) {
  const std::optional<TransportHeader> l4 = find_transport_header(packet, size);
  if (!l4 || l4->protocol != kIpProtoTcp || l4->end <= threshold_ || l4->end - l4->offset < 20) {
    return;
  }
  const uint8_t* tcp = packet + l4->offset;
  const uint32_t data_offset = uint32_t(tcp[12] >> 4) * 4;
  if (data_offset < 20 || data_offset >= l4->end - l4->offset ||
      (tcp[13] & (kTcpSyn | kTcpRst)) != 0) {
    return;  // no payload, malformed, or not a data segment
  }
  const bool v6 = (packet[0] >> 4) == 6;
  uint64_t flow = fnv1a(0xcbf29ce484222325ULL, packet + (v6 ? 8 : 12), v6 ? 32 : 8);
  flow = fnv1a(flow, tcp, 4);  // ports
  flow |= 1;                   // never 0, which marks an empty slot
  const uint32_t seq = load_be32(tcp + 4);

  Slot* slot = nullptr;
  Slot* victim = nullptr;  // an empty slot, else the least recently used
  for (Slot& s : slots_) {
    if (s.flow == flow) {
      slot = &s;
      break;
    }
    if (victim == nullptr ||
        (victim->flow != 0 && (s.flow == 0 || s.last_seen < victim->last_seen))) {
      victim = &s;
    }
  }
  if (slot == nullptr) {
    *victim = Slot{flow, seq, 1, now, now};
    return;
  }
  slot->last_seen = now;
  const auto delta = int32_t(seq - slot->seq);
  if (delta > 0) {
    *slot = Slot{flow, seq, 1, now, now};  // progress
    return;
  }
  if (delta < 0) {
    *slot = Slot{flow, seq, 2, now, now};  // going back: resending earlier data
  } else if (now - slot->first_seen > kWindow) {
    *slot = Slot{flow, seq, 1, now, now};  // too far apart to mean anything
  } else {
    ++slot->count;
  }
  if (slot->count >= kTransmissions) {
    suspect_ = true;
  }
}

void LargePacketLossDetector::clear() {
  suspect_ = false;
  slots_.fill(Slot{});
}

}  // namespace waypost::dataplane
