// TSO super-packets from the TUN device meet the per-tunnel path MTU: segments that fit go to
// the tunnel; segments bigger than the path are answered with ICMP fragmentation-needed toward
// the local stack (which then lowers its segment size), never sent to vanish on the path.
#include <gtest/gtest.h>

#include <vector>

#include "common/bytes.h"
#include "common/checksum.h"
#include "dataplane/router.h"
#include "platform/offload.h"

namespace waypost {
namespace {

using dataplane::Packet;

struct RecordingTunnel final : dataplane::Tunnel {
  explicit RecordingTunnel(uint32_t mtu) : path_(mtu) {}
  void send(std::span<Packet> packets) override {
    for (const auto& p : packets) sizes.push_back(p.size);
  }
  std::string describe() const override { return "test tunnel"; }
  dataplane::PathMtu& path() override { return path_; }
  uint32_t overhead() const override { return 80; }
  bool send_probe(Packet /*packet*/) override { return false; }
  void schedule_probe(Nanos /*delay*/) override {}
  std::vector<uint32_t> sizes;
  dataplane::PathMtu path_{1420};
};

struct Tun final : dataplane::PacketSink {
  void push(uint8_t* data, uint32_t size) override { packets.emplace_back(data, data + size); }
  void flush() override {}
  std::vector<std::vector<uint8_t>> packets;
};

// A 20+20-byte header TCP super-packet with DF, `payload` bytes, as TSO hands it over.
std::vector<uint8_t> super_packet(size_t payload) {
  std::vector<uint8_t> p(40 + payload, 0x5a);
  p[0] = 0x45;
  store_be16(&p[2], uint16_t(p.size()));
  store_be16(&p[6], 0x4000);
  p[8] = 64;
  p[9] = 6;
  const uint8_t src[4] = {10, 0, 0, 2}, dst[4] = {10, 0, 0, 1};
  std::copy(src, src + 4, p.begin() + 12);
  std::copy(dst, dst + 4, p.begin() + 16);
  store_be16(&p[10], checksum_finish(checksum_add(0, p.data(), 20)));
  store_be16(&p[20], 5201);
  store_be16(&p[22], 40000);
  p[32] = 5 << 4;
  p[33] = 0x10;
  store_be16(&p[36], checksum_fold(pseudo_header_v4(p.data(), 6, uint32_t(20 + payload))));
  return p;
}

// Segments `super` the way the TUN reader does and dispatches the segments.
void run(dataplane::Router& router, const std::vector<uint8_t>& super, uint16_t gso_size,
         std::vector<uint8_t>& slots) {
  struct Sink : platform::SegmentSink {
    std::vector<uint8_t>* slots;
    std::vector<Packet> out;
    uint8_t* next(size_t) override {
      return slots->data() + out.size() * dataplane::kSlotSize + dataplane::kHeadroom;
    }
    void commit(size_t len) override { out.push_back({next(0), uint32_t(len)}); }
  } sink;
  sink.slots = &slots;
  platform::virtio_net_hdr hdr{};
  hdr.flags = platform::VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr.gso_type = platform::VIRTIO_NET_HDR_GSO_TCPV4;
  hdr.gso_size = gso_size;
  hdr.csum_start = 20;
  hdr.csum_offset = 16;
  ASSERT_GT(platform::segment_packet(hdr, super.data(), super.size(), sink), 0);
  router.dispatch(sink.out);
}

TEST(GsoMeetsPathMtu, SegmentsWithinThePathGoThrough) {
  Tun tun;
  dataplane::Router router(tun);
  RecordingTunnel t(1392);
  router.table().insert(net::Prefix::parse("10.0.0.1/32").value(), &t);
  std::vector<uint8_t> slots(64 * dataplane::kSlotSize);
  run(router, super_packet(60000), 1340, slots);  // 1380-byte segments: all fit 1392
  EXPECT_EQ(t.sizes.size(), 45u);
  for (uint32_t s : t.sizes) EXPECT_LE(s, 1392u);
  EXPECT_TRUE(tun.packets.empty());
}

TEST(GsoMeetsPathMtu, SegmentsBiggerThanThePathGetFragmentationNeeded) {
  Tun tun;
  dataplane::Router router(tun);
  RecordingTunnel t(1392);
  router.table().insert(net::Prefix::parse("10.0.0.1/32").value(), &t);
  std::vector<uint8_t> slots(64 * dataplane::kSlotSize);
  // The stack still believes in 1420 (MSS 1380): a 64 KB burst of 1420-byte segments, the last
  // one short enough to fit.
  run(router, super_packet(1380 * 20 + 500), 1380, slots);
  ASSERT_EQ(t.sizes.size(), 1u);  // only the short tail segment fits
  EXPECT_EQ(t.sizes[0], 540u);
  ASSERT_EQ(tun.packets.size(), 20u);  // one ICMP per oversized segment, back to the sender
  for (const auto& icmp : tun.packets) {
    EXPECT_EQ(icmp[9], 1);
    EXPECT_EQ(icmp[20], 3);
    EXPECT_EQ(icmp[21], 4);
    EXPECT_EQ(load_be16(&icmp[26]), 1392);
    EXPECT_EQ(std::vector<uint8_t>(icmp.begin() + 16, icmp.begin() + 20),
              (std::vector<uint8_t>{10, 0, 0, 2}));  // to the sender
  }
  EXPECT_EQ(router.counters().too_big, 20u);
}

}  // namespace
}  // namespace waypost
