#pragma once
// Segmentation and coalescing for the TUN device's virtio-net offloads (IFF_VNET_HDR).
//
// With offloads on, the kernel hands the TUN reader TCP "super-packets" of up to 64 KB (TSO)
// whose checksums are only partially computed, and accepts such super-packets on write. A
// WireGuard peer must receive ordinary, fully checksummed IP packets no larger than the MTU, so:
//
//   read:  super-packet --tso_segment--> MSS-sized packets with full checksums --> tunnel
//   write: decrypted TCP segments --TcpCoalescer--> one super-packet per flow burst --> TUN
//
// Both sides therefore cross the kernel once per ~64 KB instead of once per packet, which is
// where a userspace tunnel spends its time (see the performance issue and bench/).

#include <cstddef>
#include <cstdint>
#include <span>

namespace waypost::platform {

// The virtio-net header that prefixes every packet on an IFF_VNET_HDR TUN device (the layout of
// struct virtio_net_hdr in <linux/virtio_net.h>, which is not valid C++, hence restated here;
// fields are in host byte order on a TUN device).
struct virtio_net_hdr {  // NOLINT(readability-identifier-naming): the kernel's name
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(virtio_net_hdr) == 10);

constexpr uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr uint8_t VIRTIO_NET_HDR_F_DATA_VALID = 2;
constexpr uint8_t VIRTIO_NET_HDR_GSO_NONE = 0;
constexpr uint8_t VIRTIO_NET_HDR_GSO_TCPV4 = 1;
constexpr uint8_t VIRTIO_NET_HDR_GSO_UDP = 3;
constexpr uint8_t VIRTIO_NET_HDR_GSO_TCPV6 = 4;
constexpr uint8_t VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
constexpr uint8_t VIRTIO_NET_HDR_GSO_ECN = 0x80;

constexpr size_t kVnetHdrSize = sizeof(virtio_net_hdr);

// Completes a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM): the field at csum_start +
// csum_offset holds the pseudo-header sum; sum from csum_start to the end and store it.
bool finish_partial_checksum(uint8_t* packet, size_t len, uint16_t csum_start,
                             uint16_t csum_offset);

// Destination of segmented packets: returns the buffer for segment i (at least `capacity`
// bytes), or nullptr when there is no room left.
struct SegmentSink {
  virtual ~SegmentSink() = default;
  virtual uint8_t* next(size_t capacity) = 0;
  virtual void commit(size_t len) = 0;  // the segment just written has `len` bytes
};

// Splits one packet read from the TUN device (after its virtio header) into ready-to-send IP
// packets. GSO TCPv4/TCPv6/UDP_L4 packets become MSS-sized segments with full checksums; other
// packets are copied as one, with a partial checksum completed. Returns the number of packets
// produced, or -1 if the packet is malformed (dropped).
int segment_packet(const virtio_net_hdr& hdr, const uint8_t* packet, size_t len, SegmentSink& sink);

// Upper bound of segments segment_packet() will produce for this packet.
size_t segment_count(const virtio_net_hdr& hdr, size_t len);

// Groups consecutive TCP segments of one flow into super-packets for a GSO write to the TUN
// device, the way the kernel's GRO would. Feed packets in order with add(); each time a group
// closes, `emit` is called with the virtio header and the pieces to write (the first packet
// whole, the others' payloads), headers of the first packet already rewritten.
class TcpCoalescer {
 public:
  static constexpr size_t kMaxPieces = 64;

  struct Group {
    virtio_net_hdr hdr;
    struct Piece {
      const uint8_t* data;
      size_t len;
    } pieces[kMaxPieces];
    size_t count = 0;
  };

  // Adds the next decrypted packet (which must stay valid until its group is emitted). Packets
  // that cannot be coalesced are emitted on their own, in order.
  template <typename Emit>
  void add(uint8_t* packet, size_t len, Emit&& emit) {
    if (open_ && try_append(packet, len)) {
      if (closed_) flush(emit);
      return;
    }
    flush(emit);
    if (start(packet, len)) {
      if (closed_) flush(emit);
      return;
    }
    Group& g = group_;
    g = Group{};
    g.hdr.flags = VIRTIO_NET_HDR_F_DATA_VALID;  // authenticated by the tunnel: skip checksum
    g.hdr.gso_type = VIRTIO_NET_HDR_GSO_NONE;
    g.pieces[0] = {packet, len};
    g.count = 1;
    emit(g);
  }

  template <typename Emit>
  void flush(Emit&& emit) {
    if (open_) {
      finalize();
      emit(group_);
    }
    open_ = false;
    closed_ = false;
  }

 private:
  bool try_append(uint8_t* packet, size_t len);
  bool start(uint8_t* packet, size_t len);
  void finalize();

  Group group_{};
  bool open_ = false;
  bool closed_ = false;  // the last segment was short or had PSH: nothing more may follow
  uint8_t* head_ = nullptr;
  size_t head_len_ = 0;
  size_t ip_len_ = 0;       // IP header length of the head packet
  size_t tcp_len_ = 0;      // TCP header length
  size_t seg_payload_ = 0;  // payload of the first segment = gso_size
  size_t total_payload_ = 0;
  uint32_t next_seq_ = 0;
  bool v6_ = false;
  bool psh_ = false;
};

}  // namespace waypost::platform
