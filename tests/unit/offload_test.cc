// TSO segmentation of TUN super-packets and GRO-style coalescing back, checked against
// from-scratch checksums and reassembly.
#include <gtest/gtest.h>

#include <vector>

#include "common/bytes.h"
#include "common/checksum.h"
#include "platform/offload.h"

namespace waypost::platform {
namespace {

// A TCP packet (IPv4 or IPv6) with `payload` bytes of pattern, seq, flags, and a timestamp
// option (12 bytes) so that option handling is exercised.
std::vector<uint8_t> tcp_packet(bool v6, size_t payload, uint32_t seq, uint8_t flags = 0x18,
                                uint8_t fill_seed = 0) {
  const size_t ip = v6 ? 40 : 20, tcp = 32;
  std::vector<uint8_t> p(ip + tcp + payload, 0);
  if (v6) {
    p[0] = 0x60;
    store_be16(&p[4], uint16_t(tcp + payload));
    p[6] = 6;
    p[7] = 64;
    p[8] = 0xfd;
    p[23] = 1;
    p[24] = 0xfd;
    p[39] = 2;
  } else {
    p[0] = 0x45;
    store_be16(&p[2], uint16_t(p.size()));
    store_be16(&p[4], 0x1234);
    store_be16(&p[6], 0x4000);
    p[8] = 64;
    p[9] = 6;
    p[12] = 10;
    p[15] = 1;
    p[16] = 10;
    p[19] = 2;
    store_be16(&p[10], checksum_finish(checksum_add(0, p.data(), 20)));
  }
  uint8_t* t = &p[ip];
  store_be16(t, 40000);
  store_be16(t + 2, 5201);
  store_be32(t + 4, seq);
  store_be32(t + 8, 777);
  t[12] = uint8_t((tcp / 4) << 4);
  t[13] = flags;
  store_be16(t + 14, 512);
  t[20] = 1;
  t[21] = 1;
  t[22] = 8;
  t[23] = 10;  // NOP NOP TS(10)
  store_be32(t + 24, 111);
  store_be32(t + 28, 222);
  for (size_t i = 0; i < payload; ++i) p[ip + tcp + i] = uint8_t(i * 7 + fill_seed);
  uint64_t sum = v6 ? pseudo_header_v6(p.data(), 6, uint32_t(tcp + payload))
                    : pseudo_header_v4(p.data(), 6, uint32_t(tcp + payload));
  store_be16(t + 16, checksum_finish(checksum_add(sum, t, tcp + payload)));
  return p;
}

bool checksums_valid(const uint8_t* p, size_t len) {
  const bool v6 = (p[0] >> 4) == 6;
  const size_t ip = v6 ? 40 : size_t(p[0] & 15) * 4;
  if (!v6 && checksum_fold(checksum_add(0, p, ip)) != 0xffff) return false;
  uint64_t sum =
      v6 ? pseudo_header_v6(p, 6, uint32_t(len - ip)) : pseudo_header_v4(p, 6, uint32_t(len - ip));
  return checksum_fold(checksum_add(sum, p + ip, len - ip)) == 0xffff;
}

struct VecSink : SegmentSink {
  std::vector<std::vector<uint8_t>> out;
  std::vector<uint8_t> scratch = std::vector<uint8_t>(70000);
  uint8_t* next(size_t) override { return scratch.data(); }
  void commit(size_t len) override {
    out.emplace_back(scratch.begin(), scratch.begin() + long(len));
  }
};

class Offload : public ::testing::TestWithParam<bool> {};

TEST_P(Offload, TsoSegmentsHaveFullChecksumsAndReassemble) {
  const bool v6 = GetParam();
  auto super = tcp_packet(v6, 10000, 1000, 0x18 | 0x01 /* PSH FIN */);
  // As the kernel hands it over: checksum partial (pseudo-header only).
  virtio_net_hdr hdr{};
  hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
  hdr.gso_size = 1368;
  VecSink sink;
  ASSERT_EQ(segment_packet(hdr, super.data(), super.size(), sink), 8);
  const size_t ip = v6 ? 40 : 20;
  std::vector<uint8_t> payload;
  for (size_t i = 0; i < sink.out.size(); ++i) {
    const auto& s = sink.out[i];
    EXPECT_TRUE(checksums_valid(s.data(), s.size())) << "segment " << i;
    EXPECT_EQ(load_be32(&s[ip + 4]), 1000 + i * 1368);
    const uint8_t flags = s[ip + 13];
    const bool last = i + 1 == sink.out.size();
    EXPECT_EQ((flags & 0x09) != 0, last) << "PSH/FIN only on the last segment";
    if (!v6) {
      EXPECT_EQ(load_be16(&s[2]), s.size());
      EXPECT_EQ(load_be16(&s[4]), 0x1234 + i);
    }
    payload.insert(payload.end(), s.begin() + long(ip + 32), s.end());
  }
  EXPECT_EQ(payload, std::vector<uint8_t>(super.begin() + long(ip + 32), super.end()));
}

TEST_P(Offload, CoalescerRebuildsOneSuperPacket) {
  const bool v6 = GetParam();
  const size_t ip = v6 ? 40 : 20;
  std::vector<std::vector<uint8_t>> segs;
  uint32_t seq = 5000;
  for (int i = 0; i < 5; ++i) {
    size_t len = i < 4 ? 1000 : 300;
    segs.push_back(tcp_packet(v6, len, seq, i < 4 ? 0x10 : 0x18, uint8_t(i)));
    seq += uint32_t(len);
  }
  std::vector<TcpCoalescer::Group> groups;
  std::vector<std::vector<uint8_t>> flat;
  TcpCoalescer c;
  auto emit = [&](const TcpCoalescer::Group& g) {
    groups.push_back(g);
    std::vector<uint8_t> f;
    for (size_t k = 0; k < g.count; ++k) {
      f.insert(f.end(), g.pieces[k].data, g.pieces[k].data + g.pieces[k].len);
    }
    flat.push_back(f);
  };
  for (auto& s : segs) c.add(s.data(), s.size(), emit);
  c.flush(emit);
  ASSERT_EQ(groups.size(), 1u);
  const auto& g = groups[0];
  EXPECT_EQ(g.count, 5u);
  EXPECT_EQ(g.hdr.gso_type, v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4);
  EXPECT_EQ(g.hdr.gso_size, 1000);
  EXPECT_EQ(g.hdr.csum_start, ip);
  EXPECT_EQ(g.hdr.csum_offset, 16);
  const auto& f = flat[0];
  EXPECT_EQ(f.size(), ip + 32 + 4300);
  if (v6) {
    EXPECT_EQ(load_be16(&f[4]), 32 + 4300);
  } else {
    EXPECT_EQ(load_be16(&f[2]), f.size());
    EXPECT_EQ(checksum_fold(checksum_add(0, f.data(), 20)), 0xffff);
  }
  EXPECT_TRUE(f[ip + 13] & 0x08) << "PSH of the last segment carried over";
  // Completing the partial checksum the way the kernel would yields a valid packet.
  auto copy = f;
  ASSERT_TRUE(finish_partial_checksum(copy.data(), copy.size(), uint16_t(ip), 16));
  EXPECT_TRUE(checksums_valid(copy.data(), copy.size()));

  // Segmenting the coalesced packet again gives back the original segments' payloads.
  virtio_net_hdr h = g.hdr;
  VecSink sink;
  ASSERT_EQ(segment_packet(h, f.data(), f.size(), sink), 5);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(std::vector<uint8_t>(sink.out[i].begin() + long(ip + 32), sink.out[i].end()),
              std::vector<uint8_t>(segs[i].begin() + long(ip + 32), segs[i].end()));
  }
}

TEST_P(Offload, CoalescerKeepsOrderAndSplitsOnGaps) {
  const bool v6 = GetParam();
  auto a = tcp_packet(v6, 1000, 100, 0x10);
  auto b = tcp_packet(v6, 1000, 5000, 0x10);  // sequence gap: a new group
  auto syn = tcp_packet(v6, 0, 1, 0x02);      // not coalescible: passes through alone
  auto c2 = tcp_packet(v6, 1000, 6000, 0x10);
  std::vector<size_t> counts;
  std::vector<uint32_t> first_seq;
  const size_t ip = v6 ? 40 : 20;
  TcpCoalescer c;
  auto emit = [&](const TcpCoalescer::Group& g) {
    counts.push_back(g.count);
    first_seq.push_back(load_be32(g.pieces[0].data + ip + 4));
  };
  c.add(a.data(), a.size(), emit);
  c.add(b.data(), b.size(), emit);
  c.add(syn.data(), syn.size(), emit);
  c.add(c2.data(), c2.size(), emit);
  c.flush(emit);
  EXPECT_EQ(counts, (std::vector<size_t>{1, 1, 1, 1}));
  EXPECT_EQ(first_seq, (std::vector<uint32_t>{100, 5000, 1, 6000}));
}

TEST(Offload, NonGsoPartialChecksumIsCompleted) {
  auto p = tcp_packet(false, 500, 1);
  // Replace the checksum by the pseudo-header sum, as the kernel does for CHECKSUM_PARTIAL.
  store_be16(&p[36], checksum_fold(pseudo_header_v4(p.data(), 6, uint32_t(p.size() - 20))));
  virtio_net_hdr hdr{};
  hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr.csum_start = 20;
  hdr.csum_offset = 16;
  VecSink sink;
  ASSERT_EQ(segment_packet(hdr, p.data(), p.size(), sink), 1);
  EXPECT_TRUE(checksums_valid(sink.out[0].data(), sink.out[0].size()));
}

TEST(Offload, MalformedSuperPacketsAreRejected) {
  virtio_net_hdr hdr{};
  hdr.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
  hdr.gso_size = 1000;
  VecSink sink;
  std::vector<uint8_t> junk(30, 0x45);
  EXPECT_EQ(segment_packet(hdr, junk.data(), junk.size(), sink), -1);
  auto udp_as_tcp = tcp_packet(false, 100, 1);
  udp_as_tcp[9] = 17;
  EXPECT_EQ(segment_packet(hdr, udp_as_tcp.data(), udp_as_tcp.size(), sink), -1);
  hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr.gso_type = VIRTIO_NET_HDR_GSO_NONE;
  hdr.csum_start = 60000;
  EXPECT_EQ(segment_packet(hdr, junk.data(), junk.size(), sink), -1);
}

INSTANTIATE_TEST_SUITE_P(IpVersions, Offload, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "IPv6" : "IPv4";
                         });

}  // namespace
}  // namespace waypost::platform
