// MSS clamping on raw packets and the upper-layer header walk it relies on. Checksums are verified
// against a from-scratch computation; the known-answer packets are real captures (Linux, loopback)
// with their offloaded checksums completed, and the expected results were computed separately.
#include "dataplane/mtu.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "mtu_test_packets.h"
#include "test_util.h"

namespace waypost::dataplane {
namespace {

using namespace mtu_test;
using test::hex;
using test::hex_of;

constexpr uint8_t kSyn = 0x02;
constexpr uint8_t kAck = 0x10;
const Bytes kMss1460 = {2, 4, 0x05, 0xb4};

// --- Upper-layer header ------------------------------------------------------------------------

TEST(FindTransportHeader, FragmentsAndChains) {
  Bytes v4 = tcp_v4(kMss1460, kSyn);
  std::optional<TransportHeader> l4 = find_transport_header(v4.data(), uint32_t(v4.size()));
  ASSERT_TRUE(l4.has_value());
  EXPECT_EQ(l4->protocol, 6);
  EXPECT_EQ(l4->offset, 20u);
  EXPECT_EQ(l4->end, v4.size());
  EXPECT_FALSE(l4->fragment);
  put16(v4, 6, 0x2000);  // first fragment
  EXPECT_TRUE(find_transport_header(v4.data(), uint32_t(v4.size()))->fragment);
  v4.resize(v4.size() + 10);  // bytes beyond the IP length are not part of the packet
  EXPECT_EQ(find_transport_header(v4.data(), uint32_t(v4.size()))->end, v4.size() - 10);

  // IPv6: a first fragment (M set), and an atomic fragment (offset 0, M clear), which is a
  // whole packet (RFC 6946).
  Bytes first = tcp_v6(kMss1460, kSyn, {6, 0, 0, 1, 0, 0, 0, 1}, 44);
  l4 = find_transport_header(first.data(), uint32_t(first.size()));
  ASSERT_TRUE(l4.has_value());
  EXPECT_EQ(l4->offset, 48u);
  EXPECT_TRUE(l4->fragment);
  Bytes atomic = tcp_v6(kMss1460, kSyn, {6, 0, 0, 0, 0, 0, 0, 1}, 44);
  l4 = find_transport_header(atomic.data(), uint32_t(atomic.size()));
  ASSERT_TRUE(l4.has_value());
  EXPECT_FALSE(l4->fragment);

  // Nine destination options headers: more than the walk accepts.
  Bytes chain;
  for (int i = 0; i < 9; ++i) {
    chain.insert(chain.end(), {uint8_t(i == 8 ? 6 : 60), 0, 1, 4, 0, 0, 0, 0});
  }
  Bytes deep = tcp_v6(kMss1460, kSyn, chain, 60);
  EXPECT_FALSE(find_transport_header(deep.data(), uint32_t(deep.size())).has_value());
  chain.resize(64);
  chain[56] = 6;
  Bytes eight = tcp_v6(kMss1460, kSyn, chain, 60);
  EXPECT_EQ(find_transport_header(eight.data(), uint32_t(eight.size()))->offset, 40u + 64);

  // An unknown next header (ESP) is returned as the upper layer, untouched.
  Bytes esp = tcp_v6({}, 0, {}, 50);
  EXPECT_EQ(find_transport_header(esp.data(), uint32_t(esp.size()))->protocol, 50);
  const uint8_t junk[] = {0x50, 0, 0, 0};
  EXPECT_FALSE(find_transport_header(junk, sizeof junk).has_value());
}

// --- MSS ----------------------------------------------------------------------------------------

TEST(MssForMtu, Values) {
  EXPECT_EQ(mss_for_mtu(1420, false), 1380);
  EXPECT_EQ(mss_for_mtu(1420, true), 1360);
  EXPECT_EQ(mss_for_mtu(1500, false), 1460);
  EXPECT_EQ(mss_for_mtu(1280, true), 1220);
  EXPECT_EQ(mss_for_mtu(40, false), 0);
  EXPECT_EQ(mss_for_mtu(60, true), 0);
  EXPECT_EQ(mss_for_mtu(200000, false), 0xffff);
}

// Real SYN (127.0.0.1, MSS 65495, SACK, timestamps, window scale) clamped to 1380.
TEST(ClampMss, KnownAnswerV4Syn) {
  Bytes p =
      hex("4500003cba174000400682a27f0000017f0000019fdaa89d8dd5328d00000000a002ffd7915c0000"
          "0204ffd70402080a19819c46000000000103030a");
  ASSERT_TRUE(clamp_tcp_mss(p.data(), uint32_t(p.size()), 1380));
  EXPECT_EQ(hex_of(p),
            "4500003cba174000400682a27f0000017f0000019fdaa89d8dd5328d00000000a002ffd78bd00000"
            "020405640402080a19819c46000000000103030a");
  EXPECT_EQ(be16(p, 36), l4_checksum_from_scratch(p, 20, 6, 16));
}

// Real SYN over IPv6 (::1, MSS 1440) clamped to 1220.
TEST(ClampMss, KnownAnswerV6Syn) {
  Bytes p =
      hex("600c768300280640000000000000000000000000000000010000000000000000000000000000000183b4"
          "e5b5d53229fc00000000a002fd206b4d0000020405a00402080a166d609b000000000103030a");
  ASSERT_TRUE(clamp_tcp_mss(p.data(), uint32_t(p.size()), 1220));
  EXPECT_EQ(hex_of(p),
            "600c768300280640000000000000000000000000000000010000000000000000000000000000000183"
            "b4e5b5d53229fc00000000a002fd206c290000020404c40402080a166d609b000000000103030a");
  EXPECT_EQ(be16(p, 56), l4_checksum_from_scratch(p, 40, 6, 16));
}

// MSS option after one NOP: its value sits at an odd offset and straddles two checksum words.
TEST(ClampMss, KnownAnswerOddOffset) {
  Bytes p =
      hex("4500003cba174000400682a27f0000017f0000019fdaa89d8dd5328d00000000a002ffd7b7360000"
          "010204ffd703030a0402080a19819c4600000000");
  ASSERT_TRUE(clamp_tcp_mss(p.data(), uint32_t(p.size()), 1380));
  EXPECT_EQ(hex_of(p),
            "4500003cba174000400682a27f0000017f0000019fdaa89d8dd5328d00000000a002ffd72b310000"
            "010204056403030a0402080a19819c4600000000");
  EXPECT_EQ(be16(p, 36), l4_checksum_from_scratch(p, 20, 6, 16));
}

TEST(ClampMss, SynAckClampedToo) {
  Bytes p =
      hex("4500003c0000400040063cba7f0000017f000001a89d9fdae1f46a9f8dd5328ea012ffcba5ec0000"
          "0204ffd70402080ab693e84219819c460103030a");
  ASSERT_TRUE(clamp_tcp_mss(p.data(), uint32_t(p.size()), 1380));
  EXPECT_EQ(be16(p, 42), 1380);
  EXPECT_EQ(be16(p, 36), l4_checksum_from_scratch(p, 20, 6, 16));
}

// Options laid out every way (0-3 NOPs before, other options around it): the incremental update
// always matches a full recomputation, at even and odd offsets, for many MSS values.
TEST(ClampMss, EveryOffsetMatchesFullRecomputation) {
  std::mt19937 rng(7);
  int odd = 0;
  for (int round = 0; round < 2000; ++round) {
    Bytes options;
    const int nops = int(rng() % 4);
    for (int i = 0; i < nops; ++i) {
      options.push_back(1);
    }
    if (rng() % 2 != 0) {
      options.insert(options.end(), {3, 3, 7});  // window scale before
    }
    const auto mss = uint16_t(1000 + rng() % 64536);
    const size_t value_at = 20 + options.size() + 2;  // from the start of the TCP header
    if (value_at % 2 == 1) {
      ++odd;
    }
    options.insert(options.end(), {2, 4, uint8_t(mss >> 8), uint8_t(mss)});
    if (rng() % 2 != 0) {
      options.insert(options.end(), {4, 2});  // SACK permitted after
    }
    const auto max_mss = uint16_t(500 + rng() % 1500);
    const bool v6 = rng() % 2 != 0;
    Bytes p = v6 ? tcp_v6(options, kSyn) : tcp_v4(options, kSyn | kAck);
    const size_t t = v6 ? 40 : 20;
    const Bytes before = p;
    const bool changed = clamp_tcp_mss(p.data(), uint32_t(p.size()), max_mss);
    ASSERT_EQ(changed, mss > max_mss) << round;
    if (!changed) {
      EXPECT_EQ(p, before);
      continue;
    }
    EXPECT_EQ(be16(p, t + value_at), max_mss) << round;
    EXPECT_EQ(be16(p, t + 16), l4_checksum_from_scratch(p, t, 6, 16)) << round;
  }
  EXPECT_GT(odd, 100);
}

TEST(ClampMss, EveryMssOptionClamped) {
  Bytes p = tcp_v4({2, 4, 0x05, 0xb4, 1, 2, 4, 0x23, 0x28}, kSyn);
  ASSERT_TRUE(clamp_tcp_mss(p.data(), uint32_t(p.size()), 1300));
  EXPECT_EQ(be16(p, 42), 1300);
  EXPECT_EQ(be16(p, 47), 1300);
  EXPECT_EQ(be16(p, 36), l4_checksum_from_scratch(p, 20, 6, 16));
}

TEST(ClampMss, LeftAlone) {
  struct Case {
    const char* name;
    Bytes packet;
    uint16_t max_mss = 1300;
  };
  std::vector<Case> cases;
  cases.push_back({"mss already small", tcp_v4(kMss1460, kSyn), 1460});
  cases.push_back({"max_mss 0", tcp_v4(kMss1460, kSyn), 0});
  cases.push_back({"no mss option", tcp_v4({1, 1, 4, 2, 1, 3, 3, 7}, kSyn)});
  cases.push_back({"no options", tcp_v4({}, kSyn)});
  cases.push_back({"not a syn", tcp_v4(kMss1460, kAck, 100)});
  cases.push_back({"mss after EOL", tcp_v4({0, 2, 4, 0x05, 0xb4}, kSyn)});
  cases.push_back({"option length 0", tcp_v4({4, 0, 2, 4, 0x05, 0xb4}, kSyn)});
  cases.push_back({"option length 1", tcp_v4({4, 1, 2, 4, 0x05, 0xb4}, kSyn)});
  cases.push_back({"option past data offset", tcp_v4({2, 4, 0x05, 0xb4, 8, 10, 0, 0}, kSyn)});
  cases.push_back({"mss length 3", tcp_v4({2, 3, 0x05, 0xb4}, kSyn)});
  cases.push_back({"mss length 6", tcp_v4({2, 6, 0x05, 0xb4, 0, 0, 0, 0}, kSyn)});
  cases.push_back({"kind without length byte", tcp_v4({2, 4, 0x05, 0xb4, 1, 1, 1, 8}, kSyn)});
  {
    Bytes p = tcp_v4(kMss1460, kSyn);
    p[32] = 0x40;  // data offset 16 < 20
    cases.push_back({"data offset below 20", p});
  }
  {
    Bytes p = tcp_v4(kMss1460, kSyn);
    p[32] = 0xf0;  // data offset 60 > segment
    cases.push_back({"data offset beyond segment", p});
  }
  {
    Bytes p = tcp_v4(kMss1460, kSyn);
    put16(p, 6, 0x2001);  // offset 8: a non-first fragment
    set_ipv4_checksum(p);
    cases.push_back({"non-first fragment", p});
  }
  {
    Bytes p = tcp_v4(kMss1460, kSyn);
    p.resize(p.size() - 1);  // total length says one more byte than there is
    cases.push_back({"truncated", p});
  }
  {
    Bytes p = tcp_v4(kMss1460, kSyn);
    p.resize(30);
    put16(p, 2, 30);
    cases.push_back({"header cut by total length", p});
  }
  {
    Bytes p = tcp_v4(kMss1460, kSyn);
    p[0] = 0x44;  // IHL 16
    cases.push_back({"IHL below 20", p});
  }
  {
    Bytes p = tcp_v4(kMss1460, kSyn);
    p[9] = 17;
    cases.push_back({"UDP", p});
  }
  cases.push_back({"v6 AH before TCP", tcp_v6(kMss1460, kSyn, {6, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
                                                               0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                                              51)});
  cases.push_back({"v6 non-first fragment", tcp_v6(kMss1460, kSyn, {6, 0, 0, 8, 0, 0, 0, 1}, 44)});
  cases.push_back({"v6 hop-by-hop not first",
                   tcp_v6(kMss1460, kSyn, {0, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0}, 60)});
  {
    Bytes p = tcp_v6(kMss1460, kSyn, {6, 4, 1, 4, 0, 0, 0, 0}, 60);  // length 40 > packet
    cases.push_back({"v6 extension header past the end", p});
  }
  {
    Bytes p = tcp_v6(kMss1460, kSyn);
    put16(p, 4, 0);  // jumbogram-style payload length 0
    cases.push_back({"v6 payload length 0", p});
  }
  for (Case& c : cases) {
    const Bytes before = c.packet;
    EXPECT_FALSE(clamp_tcp_mss(c.packet.data(), uint32_t(c.packet.size()), c.max_mss)) << c.name;
    EXPECT_EQ(c.packet, before) << c.name;
  }
  EXPECT_FALSE(clamp_tcp_mss(nullptr, 0, 1300));
  for (size_t n = 0; n < 44; ++n) {
    Bytes p = tcp_v4(kMss1460, kSyn);
    EXPECT_FALSE(clamp_tcp_mss(p.data(), uint32_t(n), 1300)) << "size " << n;
  }
}

TEST(ClampMss, V4FirstFragmentWithWholeHeader) {
  Bytes p = tcp_v4(kMss1460, kSyn, 64);
  put16(p, 6, 0x2000);  // MF, offset 0
  set_ipv4_checksum(p);
  ASSERT_TRUE(clamp_tcp_mss(p.data(), uint32_t(p.size()), 1200));
  EXPECT_EQ(be16(p, 42), 1200);
  EXPECT_EQ(be16(p, 36), l4_checksum_from_scratch(p, 20, 6, 16));
}

// Hop-by-hop (8 bytes), destination options (16), routing (8) and a first fragment header.
TEST(ClampMss, V6ExtensionHeadersWalked) {
  const Bytes hop_by_hop = {60, 0, 1, 4, 0, 0, 0, 0};
  const Bytes dest_opts = {43, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const Bytes routing = {44, 0, 4, 0, 0, 0, 0, 0};
  const Bytes fragment = {6, 0, 0, 1, 0, 0, 0, 9};  // offset 0, M set
  Bytes chain;
  for (const Bytes* h : {&hop_by_hop, &dest_opts, &routing, &fragment}) {
    chain.insert(chain.end(), h->begin(), h->end());
  }
  Bytes p = tcp_v6({1, 1, 1, 2, 4, 0x23, 0x28}, kSyn, chain, 0);  // MSS at an odd offset
  const size_t t = 40 + chain.size();
  ASSERT_TRUE(clamp_tcp_mss(p.data(), uint32_t(p.size()), 1220));
  EXPECT_EQ(be16(p, t + 25), 1220);
  EXPECT_EQ(be16(p, t + 16), l4_checksum_from_scratch(p, t, 6, 16));
}

}  // namespace
}  // namespace waypost::dataplane
