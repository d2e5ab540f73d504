// IPv4 fragmentation of packets larger than the tunnel MTU: fragments are checked header by header
// and reassembled the way a receiver would.
#include "dataplane/mtu.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "mtu_test_packets.h"
#include "test_util.h"

namespace waypost::dataplane {
namespace {

using namespace mtu_test;
using test::hex;
using test::hex_of;

// --- Fragmentation ------------------------------------------------------------------------------

struct Fragments {
  std::vector<Bytes> list;
  std::vector<const uint8_t*> pointers;
};

bool fragment(const Bytes& p, uint32_t mtu, Fragments& out, uint32_t scratch_size = 9200) {
  Bytes scratch(scratch_size);
  return fragment_ipv4(p.data(), uint32_t(p.size()), mtu, scratch.data(), scratch_size,
                       [&out](const uint8_t* f, uint32_t n) {
                         out.list.emplace_back(f, f + n);
                         out.pointers.push_back(f);
                       });
}

// Checks each fragment's header and reassembles the original datagram (or the fragment it was),
// as a receiver would: first fragment's header, payloads placed by offset, no gaps or overlaps.
Bytes reassemble(const std::vector<Bytes>& fragments, uint32_t mtu) {
  std::map<uint32_t, Bytes> pieces;
  Bytes header;
  bool last_more = false;
  uint32_t last_end = 0;
  for (const Bytes& f : fragments) {
    EXPECT_LE(f.size(), mtu);
    EXPECT_EQ(f[0] >> 4, 4);
    const size_t ihl = (f[0] & 0x0f) * 4u;
    EXPECT_EQ(ihl % 4, 0u);
    EXPECT_EQ(be16(f, 2), f.size());
    EXPECT_EQ(be16(f, 10), ipv4_header_checksum_from_scratch(f));
    EXPECT_EQ(be16(f, 6) & 0x4000, 0);
    const uint32_t offset = (be16(f, 6) & 0x1fff) * 8u;
    const bool more = (be16(f, 6) & 0x2000) != 0;
    const Bytes payload(f.begin() + long(ihl), f.end());
    if (more) {
      EXPECT_EQ(payload.size() % 8, 0u);
    }
    if (header.empty() || offset < (be16(header, 6) & 0x1fff) * 8u) {
      header.assign(f.begin(), f.begin() + long(ihl));
    }
    if (offset + payload.size() > last_end) {
      last_end = offset + uint32_t(payload.size());
      last_more = more;
    }
    EXPECT_TRUE(pieces.emplace(offset, payload).second);
  }
  Bytes data;
  const uint32_t base = pieces.begin()->first;
  for (const auto& [offset, payload] : pieces) {
    EXPECT_EQ(offset, base + data.size());
    data.insert(data.end(), payload.begin(), payload.end());
  }
  Bytes out = header;
  out.insert(out.end(), data.begin(), data.end());
  put16(out, 2, uint16_t(out.size()));
  put16(out, 6, uint16_t((be16(header, 6) & 0x8000) | (last_more ? 0x2000 : 0) | base / 8));
  set_ipv4_checksum(out);
  return out;
}

TEST(FragmentIpv4, SplitsAndReassembles) {
  for (uint32_t mtu : {68u, 576u, 1280u, 1420u, 1499u}) {
    const Bytes p = udp_v4(3001, false);
    Fragments f;
    ASSERT_TRUE(fragment(p, mtu, f)) << mtu;
    const uint32_t per = (mtu - 20) / 8 * 8;
    EXPECT_EQ(f.list.size(), (2981 + per - 1) / per) << mtu;
    for (size_t i = 0; i < f.list.size(); ++i) {
      EXPECT_EQ(be16(f.list[i], 4), 0xbeef);  // identification kept
      EXPECT_EQ(f.list[i][8], 63);
      EXPECT_EQ(f.list[i][9], 17);
      EXPECT_EQ((be16(f.list[i], 6) & 0x2000) != 0, i + 1 < f.list.size());
      EXPECT_EQ((be16(f.list[i], 6) & 0x1fff) * 8u, i * per);
    }
    EXPECT_EQ(reassemble(f.list, mtu), p) << mtu;
  }
}

TEST(FragmentIpv4, AlreadyFragmentedInput) {
  // A middle fragment (offset 1480, MF): pieces start at 1480, and all keep MF.
  Bytes p = udp_v4(1500, false);
  put16(p, 6, 0x2000 | 185);
  set_ipv4_checksum(p);
  Fragments f;
  ASSERT_TRUE(fragment(p, 576, f));
  ASSERT_EQ(f.list.size(), 3u);
  for (const Bytes& piece : f.list) {
    EXPECT_NE(be16(piece, 6) & 0x2000, 0);
  }
  EXPECT_EQ(be16(f.list[0], 6) & 0x1fff, 185);
  EXPECT_EQ(be16(f.list[1], 6) & 0x1fff, 185 + 69);
  EXPECT_EQ(reassemble(f.list, 576), p);

  // A last fragment (offset, no MF): only the final piece lacks MF.
  put16(p, 6, 185);
  set_ipv4_checksum(p);
  f = {};
  ASSERT_TRUE(fragment(p, 576, f));
  EXPECT_EQ(be16(f.list.back(), 6) & 0x2000, 0);
  EXPECT_NE(be16(f.list.front(), 6) & 0x2000, 0);
  EXPECT_EQ(reassemble(f.list, 576), p);
}

// A real first fragment (ping -s 2000 over a 1500-byte loopback: 1500 bytes, MF) re-fragmented.
TEST(FragmentIpv4, RealFragmentRefragmented) {
  Bytes p(1500);
  const Bytes head =
      hex("450005dca94320004001addb7f0000017f000001080050e22a2b0001b53f026b00000000b75e0200000000"
          "00");
  std::copy(head.begin(), head.end(), p.begin());
  for (size_t i = head.size(); i < p.size(); ++i) {
    p[i] = uint8_t(i - 28);  // ping's pattern continues; only the header is checked here
  }
  Fragments f;
  ASSERT_TRUE(fragment(p, 1280, f));
  ASSERT_EQ(f.list.size(), 2u);
  EXPECT_EQ(f.list[0].size(), 1276u);  // 20 + 1256
  EXPECT_NE(be16(f.list[1], 6) & 0x2000, 0);
  EXPECT_EQ(reassemble(f.list, 1280), p);
}

TEST(FragmentIpv4, OnlyCopiedOptionsInLaterFragments) {
  // Options: NOP, record route (7, not copied, 7 bytes), loose source route (131, copied,
  // 7 bytes), EOL + padding: 16 bytes, IHL 36.
  const Bytes options = {1, 7, 7, 4, 0, 0, 0, 0, 131, 7, 4, 192, 0, 2, 99, 0};
  Bytes p = udp_v4(2000, false);
  p.insert(p.begin() + 20, options.begin(), options.end());
  p[0] = 0x49;
  put16(p, 2, uint16_t(p.size()));
  set_ipv4_checksum(p);
  Fragments f;
  ASSERT_TRUE(fragment(p, 1000, f));
  ASSERT_EQ(f.list.size(), 3u);
  EXPECT_EQ(f.list[0][0], 0x49);
  EXPECT_EQ(Bytes(f.list[0].begin() + 20, f.list[0].begin() + 36), options);
  for (size_t i = 1; i < f.list.size(); ++i) {
    ASSERT_EQ(f.list[i][0], 0x47);  // 20 + 7 copied bytes, padded to 28
    EXPECT_EQ(Bytes(f.list[i].begin() + 20, f.list[i].begin() + 28),
              Bytes({131, 7, 4, 192, 0, 2, 99, 0}));
  }
  EXPECT_EQ(f.list[0].size(), 36u + 960);
  EXPECT_EQ(f.list[1].size(), 28u + 968);
  EXPECT_EQ(reassemble(f.list, 1000), p);
}

TEST(FragmentIpv4, Refused) {
  Fragments f;
  EXPECT_FALSE(fragment(udp_v4(1500, true), 1400, f));       // DF
  EXPECT_FALSE(fragment(udp_v4(1500, false), 67, f));        // below the IPv4 minimum
  EXPECT_FALSE(fragment(udp_v4(1500, false), 1400, f, 60));  // scratch too small
  Bytes truncated = udp_v4(1500, false);
  truncated.resize(1400);
  EXPECT_FALSE(fragment(truncated, 1000, f));
  Bytes bad_options = udp_v4(1500, false);
  bad_options.insert(bad_options.begin() + 20, {131, 9, 4, 0});  // runs past the header
  bad_options[0] = 0x46;
  put16(bad_options, 2, uint16_t(bad_options.size()));
  set_ipv4_checksum(bad_options);
  EXPECT_FALSE(fragment(bad_options, 1000, f));
  Bytes far = udp_v4(1500, false);
  put16(far, 6, 0x1fff);  // offset 65528 + 1480 bytes: beyond any datagram
  set_ipv4_checksum(far);
  EXPECT_FALSE(fragment(far, 1000, f));
  const Bytes v6 = udp_v6(1500);
  EXPECT_FALSE(fragment(v6, 1000, f));
  EXPECT_TRUE(f.list.empty());
}

TEST(FragmentIpv4, FittingPacketPassedThrough) {
  const Bytes p = udp_v4(1400, true);  // DF does not matter when nothing is split
  Fragments f;
  ASSERT_TRUE(fragment(p, 1400, f));
  ASSERT_EQ(f.list.size(), 1u);
  EXPECT_EQ(f.list[0], p);
  EXPECT_EQ(f.pointers[0], p.data());
}

TEST(FragmentIpv4, ScratchSmallerThanMtuBoundsFragments) {
  const Bytes p = udp_v4(3000, false);
  Fragments f;
  ASSERT_TRUE(fragment(p, 1500, f, 600));
  for (const Bytes& piece : f.list) {
    EXPECT_LE(piece.size(), 600u);
  }
  EXPECT_EQ(reassemble(f.list, 600), p);
}

void count_fragment(void* context, const uint8_t*, uint32_t length) {
  *static_cast<uint32_t*>(context) += length;
}

TEST(FragmentIpv4, FunctionPointerForm) {
  const Bytes p = udp_v4(3000, false);
  uint8_t scratch[1500];
  uint32_t total = 0;
  ASSERT_TRUE(fragment_ipv4(p.data(), uint32_t(p.size()), 1500, scratch, sizeof scratch,
                            count_fragment, &total));
  EXPECT_EQ(total, 3000u + 2 * 20);
}

}  // namespace
}  // namespace waypost::dataplane
