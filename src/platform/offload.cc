#include "platform/offload.h"

#include <cstring>

#include "common/bytes.h"
#include "common/checksum.h"

namespace waypost::platform {

namespace {

constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
constexpr uint8_t kTcpFin = 0x01, kTcpPsh = 0x08, kTcpAck = 0x10, kTcpCwr = 0x80;

struct Headers {
  bool v6 = false;
  size_t ip_len = 0;  // IP header length
  size_t l4_len = 0;  // TCP or UDP header length
  uint8_t proto = 0;
};

// Parses the IP and transport headers of a packet whose transport header directly follows the
// IP header (no IPv4 options are excluded; IPv6 extension headers are not supported here).
bool parse_headers(const uint8_t* p, size_t len, Headers& h) {
  if (len < 1) return false;
  const int version = p[0] >> 4;
  if (version == 4) {
    if (len < 20) return false;
    h.v6 = false;
    h.ip_len = size_t(p[0] & 0x0f) * 4;
    if (h.ip_len < 20 || len < h.ip_len) return false;
    h.proto = p[9];
  } else if (version == 6) {
    if (len < 40) return false;
    h.v6 = true;
    h.ip_len = 40;
    h.proto = p[6];
  } else {
    return false;
  }
  if (h.proto == kTcp) {
    if (len < h.ip_len + 20) return false;
    h.l4_len = size_t(p[h.ip_len + 12] >> 4) * 4;
    if (h.l4_len < 20 || len < h.ip_len + h.l4_len) return false;
  } else if (h.proto == kUdp) {
    if (len < h.ip_len + 8) return false;
    h.l4_len = 8;
  } else {
    return false;
  }
  return true;
}

void set_ip_length(uint8_t* p, const Headers& h, size_t total) {
  if (h.v6) {
    store_be16(p + 4, uint16_t(total - 40));
  } else {
    store_be16(p + 2, uint16_t(total));
    store_be16(p + 10, 0);
    store_be16(p + 10, checksum_finish(checksum_add(0, p, h.ip_len)));
  }
}

uint64_t pseudo(const uint8_t* p, const Headers& h, size_t l4_total) {
  return h.v6 ? pseudo_header_v6(p, h.proto, uint32_t(l4_total))
              : pseudo_header_v4(p, h.proto, uint32_t(l4_total));
}

// Full transport checksum of a packet whose headers and payload are contiguous.
void set_l4_checksum(uint8_t* p, const Headers& h, size_t total) {
  const size_t l4_total = total - h.ip_len;
  uint8_t* l4 = p + h.ip_len;
  const size_t field = h.proto == kTcp ? 16 : 6;
  store_be16(l4 + field, 0);
  uint16_t c = checksum_finish(checksum_add(pseudo(p, h, l4_total), l4, l4_total));
  if (h.proto == kUdp && c == 0) c = 0xffff;  // 0 means "no checksum" for UDP
  store_be16(l4 + field, c);
}

}  // namespace

bool finish_partial_checksum(uint8_t* packet, size_t len, uint16_t csum_start,
                             uint16_t csum_offset) {
  if (size_t(csum_start) + csum_offset + 2 > len) return false;
  // The field holds the pseudo-header sum; summing the field along with the rest folds it in.
  uint16_t c = checksum_finish(checksum_add(0, packet + csum_start, len - csum_start));
  store_be16(packet + csum_start + csum_offset, c);
  return true;
}

size_t segment_count(const virtio_net_hdr& hdr, size_t len) {
  if (hdr.gso_type == VIRTIO_NET_HDR_GSO_NONE || hdr.gso_size == 0) return 1;
  return len / hdr.gso_size + 1;
}

int segment_packet(const virtio_net_hdr& hdr, const uint8_t* packet, size_t len,
                   SegmentSink& sink) {
  const uint8_t gso = hdr.gso_type & uint8_t(~VIRTIO_NET_HDR_GSO_ECN);
  if (gso == VIRTIO_NET_HDR_GSO_NONE || hdr.gso_size == 0) {
    uint8_t* out = sink.next(len);
    if (out == nullptr) return -1;
    std::memcpy(out, packet, len);
    if ((hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
        !finish_partial_checksum(out, len, hdr.csum_start, hdr.csum_offset)) {
      return -1;
    }
    sink.commit(len);
    return 1;
  }
  Headers h;
  if (!parse_headers(packet, len, h)) return -1;
  const bool tcp = gso == VIRTIO_NET_HDR_GSO_TCPV4 || gso == VIRTIO_NET_HDR_GSO_TCPV6;
  if (tcp != (h.proto == kTcp)) return -1;
  if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6 &&
      gso != VIRTIO_NET_HDR_GSO_UDP_L4) {
    return -1;  // UFO (IP fragmentation offload) is never enabled
  }
  const size_t hdrs = h.ip_len + h.l4_len;
  const size_t mss = hdr.gso_size;
  if (len <= hdrs || hdrs + mss > 65535) return -1;
  const uint8_t* payload = packet + hdrs;
  const size_t payload_len = len - hdrs;
  const uint32_t seq = tcp ? load_be32(packet + h.ip_len + 4) : 0;
  const uint16_t ip_id = h.v6 ? 0 : load_be16(packet + 4);
  const uint8_t tcp_flags = tcp ? packet[h.ip_len + 13] : 0;
  int produced = 0;
  for (size_t off = 0; off < payload_len; off += mss, ++produced) {
    const size_t chunk = std::min(mss, payload_len - off);
    const size_t total = hdrs + chunk;
    uint8_t* out = sink.next(total);
    if (out == nullptr) return -1;
    std::memcpy(out, packet, hdrs);
    std::memcpy(out + hdrs, payload + off, chunk);
    const bool last = off + chunk >= payload_len;
    if (!h.v6) store_be16(out + 4, uint16_t(ip_id + produced));
    set_ip_length(out, h, total);
    uint8_t* l4 = out + h.ip_len;
    if (tcp) {
      store_be32(l4 + 4, seq + uint32_t(off));
      uint8_t flags = tcp_flags;
      if (!last) flags &= uint8_t(~(kTcpFin | kTcpPsh));
      if (produced > 0) flags &= uint8_t(~kTcpCwr);
      l4[13] = flags;
    } else {
      store_be16(l4 + 4, uint16_t(8 + chunk));
    }
    set_l4_checksum(out, h, total);
    sink.commit(total);
  }
  return produced;
}

// --- coalescing ------------------------------------------------------------------------------

bool TcpCoalescer::start(uint8_t* packet, size_t len) {
  Headers h;
  if (!parse_headers(packet, len, h) || h.proto != kTcp) return false;
  if (!h.v6 && (h.ip_len != 20 || (load_be16(packet + 6) & 0x3fff) != 0)) return false;
  const uint8_t* tcp = packet + h.ip_len;
  const uint8_t flags = tcp[13];
  if ((flags & kTcpAck) == 0 || (flags & ~(kTcpAck | kTcpPsh)) != 0) return false;
  const size_t payload = len - h.ip_len - h.l4_len;
  if (payload == 0) return false;
  group_ = Group{};
  group_.pieces[0] = {packet, len};
  group_.count = 1;
  head_ = packet;
  head_len_ = len;
  ip_len_ = h.ip_len;
  tcp_len_ = h.l4_len;
  v6_ = h.v6;
  seg_payload_ = payload;
  total_payload_ = payload;
  next_seq_ = load_be32(tcp + 4) + uint32_t(payload);
  psh_ = (flags & kTcpPsh) != 0;
  open_ = true;
  closed_ = psh_;
  return true;
}

bool TcpCoalescer::try_append(uint8_t* packet, size_t len) {
  if (!open_ || closed_ || group_.count == kMaxPieces) return false;
  if (len < ip_len_ + tcp_len_ + 1) return false;
  if ((packet[0] >> 4) != (v6_ ? 6 : 4)) return false;
  if (v6_) {
    // Same version/class/flow label, next header TCP, hop limit, and addresses.
    if (std::memcmp(packet, head_, 4) != 0 || packet[6] != kTcp || packet[7] != head_[7] ||
        std::memcmp(packet + 8, head_ + 8, 32) != 0) {
      return false;
    }
  } else {
    if (packet[0] != 0x45 || packet[1] != head_[1] || packet[8] != head_[8] || packet[9] != kTcp ||
        (load_be16(packet + 6) & 0x3fff) != 0 ||
        (load_be16(packet + 6) & 0x4000) != (load_be16(head_ + 6) & 0x4000) ||
        std::memcmp(packet + 12, head_ + 12, 8) != 0) {
      return false;
    }
  }
  const uint8_t* tcp = packet + ip_len_;
  const uint8_t* head_tcp = head_ + ip_len_;
  if (size_t(tcp[12] >> 4) * 4 != tcp_len_) return false;
  const size_t total_ip = v6_ ? 40 + load_be16(packet + 4) : load_be16(packet + 2);
  if (total_ip != len) return false;  // trimmed packets only
  const size_t payload = len - ip_len_ - tcp_len_;
  const uint8_t flags = tcp[13];
  if ((flags & kTcpAck) == 0 || (flags & ~(kTcpAck | kTcpPsh)) != 0) return false;
  if (std::memcmp(tcp, head_tcp, 4) != 0) return false;                        // ports
  if (load_be32(tcp + 4) != next_seq_) return false;                           // in order
  if (std::memcmp(tcp + 8, head_tcp + 8, 4) != 0) return false;                // same ack
  if (std::memcmp(tcp + 14, head_tcp + 14, 2) != 0) return false;              // same window
  if (std::memcmp(tcp + 20, head_tcp + 20, tcp_len_ - 20) != 0) return false;  // same options
  if (payload == 0 || payload > seg_payload_) return false;
  const size_t new_l4 = tcp_len_ + total_payload_ + payload;
  if ((v6_ ? new_l4 : ip_len_ + new_l4) > 65535) return false;
  group_.pieces[group_.count++] = {packet + ip_len_ + tcp_len_, payload};
  total_payload_ += payload;
  next_seq_ += uint32_t(payload);
  if (flags & kTcpPsh) psh_ = true;
  if (payload < seg_payload_ || (flags & kTcpPsh)) closed_ = true;
  return true;
}

void TcpCoalescer::finalize() {
  virtio_net_hdr& hdr = group_.hdr;
  hdr = virtio_net_hdr{};
  if (group_.count == 1) {
    hdr.flags = VIRTIO_NET_HDR_F_DATA_VALID;
    hdr.gso_type = VIRTIO_NET_HDR_GSO_NONE;
    return;
  }
  Headers h{v6_, ip_len_, tcp_len_, kTcp};
  const size_t total = ip_len_ + tcp_len_ + total_payload_;
  set_ip_length(head_, h, total);
  uint8_t* tcp = head_ + ip_len_;
  if (psh_) tcp[13] |= kTcpPsh;
  // CHECKSUM_PARTIAL convention: the field holds the folded pseudo-header sum; the kernel adds
  // the rest when (if ever) it needs the checksum.
  store_be16(tcp + 16, checksum_fold(pseudo(head_, h, tcp_len_ + total_payload_)));
  hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr.gso_type = v6_ ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
  hdr.hdr_len = uint16_t(ip_len_ + tcp_len_);
  hdr.gso_size = uint16_t(seg_payload_);
  hdr.csum_start = uint16_t(ip_len_);
  hdr.csum_offset = 16;
}

}  // namespace waypost::platform
