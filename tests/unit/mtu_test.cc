// MTU handling on raw packets: MSS clamping, synthesized "fragmentation needed" / "packet too
// big" errors, and IPv4 fragmentation. Checksums are verified against a from-scratch computation
// written independently here; the known-answer packets are real captures (Linux, loopback) with
// their offloaded checksums completed, and the expected results were computed separately.
#include "dataplane/mtu.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "test_util.h"

namespace waypost::dataplane {
namespace {

using Bytes = std::vector<uint8_t>;
using test::hex;
using test::hex_of;

// --- Independent reference helpers ---------------------------------------------------------

uint16_t be16(const Bytes& b, size_t at) {
  return uint16_t(b[at] << 8 | b[at + 1]);
}
uint32_t be32(const Bytes& b, size_t at) {
  return uint32_t(be16(b, at)) << 16 | be16(b, at + 2);
}
void put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = uint8_t(v >> 8);
  b[at + 1] = uint8_t(v);
}

// RFC 1071, the plain way: 32-bit accumulator over 16-bit words, folded at the end.
uint16_t reference_checksum(const Bytes& data) {
  uint32_t sum = 0;
  for (size_t i = 0; i < data.size(); i += 2) {
    uint32_t word = uint32_t(data[i]) << 8;
    if (i + 1 < data.size()) {
      word |= data[i + 1];
    }
    sum += word;
  }
  while (sum > 0xffff) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return uint16_t(~sum);
}

// The upper-layer checksum of `packet` recomputed from scratch, the field at `l4 + field` taken
// as zero. `l4` is where the upper-layer header starts, `protocol` its number.
uint16_t l4_checksum_from_scratch(const Bytes& packet, size_t l4, uint8_t protocol, size_t field) {
  Bytes buffer;
  const size_t end = (packet[0] >> 4) == 4 ? be16(packet, 2) : 40 + be16(packet, 4);
  const size_t length = end - l4;
  if ((packet[0] >> 4) == 4) {
    buffer.insert(buffer.end(), packet.begin() + 12, packet.begin() + 20);
    buffer.insert(buffer.end(), {0, protocol, uint8_t(length >> 8), uint8_t(length)});
  } else {
    buffer.insert(buffer.end(), packet.begin() + 8, packet.begin() + 40);
    buffer.insert(buffer.end(), {0, 0, uint8_t(length >> 8), uint8_t(length), 0, 0, 0, protocol});
  }
  size_t zero_at = buffer.size() + field;
  buffer.insert(buffer.end(), packet.begin() + long(l4), packet.begin() + long(end));
  buffer[zero_at] = 0;
  buffer[zero_at + 1] = 0;
  return reference_checksum(buffer);
}

uint16_t ipv4_header_checksum_from_scratch(const Bytes& p) {
  Bytes header(p.begin(), p.begin() + (p[0] & 0x0f) * 4);
  header[10] = header[11] = 0;
  return reference_checksum(header);
}

void set_ipv4_checksum(Bytes& p) {
  put16(p, 10, ipv4_header_checksum_from_scratch(p));
}

// Builds an IPv4 TCP segment (no IP options) with the given TCP options (padded to 4 bytes with
// EOL), flags and payload length, checksums correct.
Bytes tcp_v4(const Bytes& options, uint8_t flags, size_t payload = 0) {
  const size_t option_length = (options.size() + 3) / 4 * 4;
  const size_t tcp_length = 20 + option_length;
  Bytes p(20 + tcp_length + payload, 0);
  p[0] = 0x45;
  put16(p, 2, uint16_t(p.size()));
  put16(p, 4, 0x1234);
  put16(p, 6, 0x4000);
  p[8] = 64;
  p[9] = 6;
  const uint8_t addresses[8] = {10, 0, 0, 2, 192, 0, 2, 7};
  std::memcpy(&p[12], addresses, 8);
  set_ipv4_checksum(p);
  put16(p, 20, 40000);
  put16(p, 22, 443);
  put16(p, 24, 0x0102);
  put16(p, 26, 0x0304);
  p[32] = uint8_t(tcp_length / 4 << 4);
  p[33] = flags;
  put16(p, 34, 64240);
  std::copy(options.begin(), options.end(), p.begin() + 40);
  for (size_t i = 0; i < payload; ++i) {
    p[20 + tcp_length + i] = uint8_t(i * 13);
  }
  put16(p, 36, l4_checksum_from_scratch(p, 20, 6, 16));
  return p;
}

// The same over IPv6, with `extensions` (already chained: their first byte is rewritten) between
// the fixed header and TCP. `first_next` is the fixed header's next header.
Bytes tcp_v6(const Bytes& options, uint8_t flags, const Bytes& extensions = {},
             uint8_t first_next = 6) {
  const size_t option_length = (options.size() + 3) / 4 * 4;
  const size_t tcp_length = 20 + option_length;
  Bytes p(40 + extensions.size() + tcp_length, 0);
  p[0] = 0x60;
  put16(p, 4, uint16_t(p.size() - 40));
  p[6] = first_next;
  p[7] = 64;
  p[8] = 0xfd;
  p[23] = 2;
  p[24] = 0x20;
  p[25] = 0x01;
  p[26] = 0x0d;
  p[27] = 0xb8;
  p[39] = 7;
  std::copy(extensions.begin(), extensions.end(), p.begin() + 40);
  const size_t t = 40 + extensions.size();
  put16(p, t, 40000);
  put16(p, t + 2, 443);
  p[t + 12] = uint8_t(tcp_length / 4 << 4);
  p[t + 13] = flags;
  std::copy(options.begin(), options.end(), p.begin() + long(t) + 20);
  put16(p, t + 16, l4_checksum_from_scratch(p, t, 6, 16));
  return p;
}

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
    const uint16_t mss = uint16_t(1000 + rng() % 64536);
    const size_t value_at = 20 + options.size() + 2;  // from the start of the TCP header
    if (value_at % 2 == 1) {
      ++odd;
    }
    options.insert(options.end(), {2, 4, uint8_t(mss >> 8), uint8_t(mss)});
    if (rng() % 2 != 0) {
      options.insert(options.end(), {4, 2});  // SACK permitted after
    }
    const uint16_t max_mss = uint16_t(500 + rng() % 1500);
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

// --- Packet too big --------------------------------------------------------------------------

Bytes udp_v4(size_t total, bool dont_fragment, const std::array<uint8_t, 4>& src = {10, 0, 0, 2},
             const std::array<uint8_t, 4>& dst = {192, 0, 2, 7}) {
  Bytes p(total, 0);
  p[0] = 0x45;
  put16(p, 2, uint16_t(total));
  put16(p, 4, 0xbeef);
  put16(p, 6, dont_fragment ? 0x4000 : 0);
  p[8] = 63;
  p[9] = 17;
  std::copy(src.begin(), src.end(), p.begin() + 12);
  std::copy(dst.begin(), dst.end(), p.begin() + 16);
  for (size_t i = 20; i < total; ++i) {
    p[i] = uint8_t(i * 7);
  }
  set_ipv4_checksum(p);
  return p;
}

Bytes udp_v6(size_t total, uint8_t src_first = 0xfd, uint8_t src_last = 2) {
  Bytes p(total, 0);
  p[0] = 0x60;
  put16(p, 4, uint16_t(total - 40));
  p[6] = 17;
  p[7] = 63;
  p[8] = src_first;
  p[23] = src_last;
  p[24] = 0x20;
  p[25] = 0x01;
  p[39] = 7;
  for (size_t i = 40; i < total; ++i) {
    p[i] = uint8_t(i * 7);
  }
  return p;
}

const net::IpAddress kFrom4 = net::IpAddress::v4(0x0a000001);  // 10.0.0.1
const net::IpAddress kFrom6 = *net::IpAddress::parse("fd00::1");

Bytes too_big(const Bytes& p, uint32_t mtu, const net::IpAddress& from, size_t capacity = 2000) {
  Bytes out(capacity);
  const uint32_t n =
      make_packet_too_big(p.data(), uint32_t(p.size()), mtu, from, out.data(), uint32_t(capacity));
  out.resize(n);
  return out;
}

TEST(PacketTooBig, V4FragmentationNeeded) {
  const Bytes p = udp_v4(1500, true);
  const Bytes e = too_big(p, 1420, kFrom4);
  ASSERT_EQ(e.size(), 576u);  // 20 + 8 + 548 quoted
  EXPECT_EQ(e[0], 0x45);
  EXPECT_EQ(be16(e, 2), 576);
  EXPECT_EQ(e[8], 64);
  EXPECT_EQ(e[9], 1);
  EXPECT_EQ(be16(e, 10), ipv4_header_checksum_from_scratch(e));
  EXPECT_EQ(Bytes(e.begin() + 12, e.begin() + 16), Bytes({10, 0, 0, 1}));
  EXPECT_EQ(Bytes(e.begin() + 16, e.begin() + 20), Bytes({10, 0, 0, 2}));
  EXPECT_EQ(e[20], 3);
  EXPECT_EQ(e[21], 4);
  EXPECT_EQ(be16(e, 24), 0);
  EXPECT_EQ(be16(e, 26), 1420);
  Bytes icmp(e.begin() + 20, e.end());
  const uint16_t check = be16(icmp, 2);
  put16(icmp, 2, 0);
  EXPECT_EQ(check, reference_checksum(icmp));
  EXPECT_EQ(Bytes(e.begin() + 28, e.end()), Bytes(p.begin(), p.begin() + 548));
}

TEST(PacketTooBig, V4ShortPacketQuotedWhole) {
  const Bytes p = udp_v4(100, true);
  const Bytes e = too_big(p, 80, kFrom4);
  ASSERT_EQ(e.size(), 128u);
  EXPECT_EQ(be16(e, 26), 80);
  EXPECT_EQ(Bytes(e.begin() + 28, e.end()), p);
  Bytes icmp(e.begin() + 20, e.end());
  const uint16_t check = be16(icmp, 2);
  put16(icmp, 2, 0);
  EXPECT_EQ(check, reference_checksum(icmp));
  // A next-hop MTU below 68 is reported as 68.
  EXPECT_EQ(be16(too_big(p, 20, kFrom4), 26), 68);
}

TEST(PacketTooBig, V4QuoteShortenedToCapacity) {
  const Bytes p = udp_v4(1500, true);
  EXPECT_EQ(too_big(p, 1420, kFrom4, 100).size(), 100u);
  EXPECT_EQ(too_big(p, 1420, kFrom4, 56).size(), 56u);  // header + 8 bytes: still useful
  EXPECT_EQ(too_big(p, 1420, kFrom4, 55).size(), 0u);
}

TEST(PacketTooBig, V6PacketTooBig) {
  const Bytes p = udp_v6(1500);
  const Bytes e = too_big(p, 1400, kFrom6);
  ASSERT_EQ(e.size(), 1280u);
  EXPECT_EQ(e[0] >> 4, 6);
  EXPECT_EQ(be16(e, 4), 1240);
  EXPECT_EQ(e[6], 58);
  EXPECT_EQ(e[7], 64);
  EXPECT_EQ(Bytes(e.begin() + 8, e.begin() + 24), Bytes(kFrom6.bytes.begin(), kFrom6.bytes.end()));
  EXPECT_EQ(Bytes(e.begin() + 24, e.begin() + 40), Bytes(p.begin() + 8, p.begin() + 24));
  EXPECT_EQ(e[40], 2);
  EXPECT_EQ(e[41], 0);
  EXPECT_EQ(be32(e, 44), 1400u);
  EXPECT_EQ(be16(e, 42), l4_checksum_from_scratch(e, 40, 58, 2));
  EXPECT_EQ(Bytes(e.begin() + 48, e.end()), Bytes(p.begin(), p.begin() + 1232));
  // No IPv6 link is below 1280: that is what is reported, and packets within it get no error.
  EXPECT_EQ(be32(too_big(udp_v6(1400), 1000, kFrom6), 44), 1280u);
  EXPECT_TRUE(too_big(udp_v6(1280), 1000, kFrom6).empty());
}

TEST(PacketTooBig, V6ToMulticastDestinationAllowed) {
  Bytes p = udp_v6(1500);
  p[24] = 0xff;
  p[25] = 0x02;
  EXPECT_EQ(too_big(p, 1400, kFrom6).size(), 1280u);
}

TEST(PacketTooBig, NoErrorCases) {
  struct Case {
    const char* name;
    Bytes packet;
    uint32_t mtu = 1400;
    const net::IpAddress* from = &kFrom4;
  };
  std::vector<Case> cases;
  cases.push_back({"v4 without DF (fragmented instead)", udp_v4(1500, false)});
  cases.push_back({"v4 fits", udp_v4(1400, true)});
  cases.push_back({"v4 from a v6 address", udp_v4(1500, true), 1400, &kFrom6});
  cases.push_back({"v6 from a v4 address", udp_v6(1500), 1400, &kFrom4});
  cases.push_back({"v6 fits", udp_v6(1400), 1400, &kFrom6});
  for (uint8_t type : {3, 4, 5, 11, 12}) {
    Bytes p = udp_v4(1500, true);
    p[9] = 1;
    p[20] = type;
    set_ipv4_checksum(p);
    cases.push_back({"v4 ICMP error", p});
  }
  cases.push_back({"v4 source 0.0.0.0", udp_v4(1500, true, {0, 0, 0, 0})});
  cases.push_back({"v4 source 0/8", udp_v4(1500, true, {0, 1, 2, 3})});
  cases.push_back({"v4 source loopback", udp_v4(1500, true, {127, 0, 0, 1})});
  cases.push_back({"v4 source multicast", udp_v4(1500, true, {224, 0, 0, 5})});
  cases.push_back({"v4 source broadcast", udp_v4(1500, true, {255, 255, 255, 255})});
  cases.push_back({"v4 source class E", udp_v4(1500, true, {240, 0, 0, 1})});
  cases.push_back({"v4 destination multicast", udp_v4(1500, true, {10, 0, 0, 2}, {239, 1, 2, 3})});
  cases.push_back(
      {"v4 destination broadcast", udp_v4(1500, true, {10, 0, 0, 2}, {255, 255, 255, 255})});
  {
    Bytes p = udp_v4(1500, true);
    put16(p, 6, 0x4000 | 185);  // DF with an offset: a non-first fragment
    set_ipv4_checksum(p);
    cases.push_back({"v4 non-first fragment", p});
  }
  {
    Bytes p = udp_v4(1500, true);
    p.resize(1000);  // total length 1500 > bytes present
    cases.push_back({"v4 truncated", p});
  }
  for (uint8_t type : {1, 2, 3, 4, 100, 127}) {
    Bytes p = udp_v6(1500);
    p[6] = 58;
    p[40] = type;
    cases.push_back({"v6 ICMPv6 error", p, 1400, &kFrom6});
  }
  {
    Bytes p = udp_v6(1500);
    p[6] = 60;  // destination options, then ICMPv6 type 1
    p[40] = 58;
    p[41] = 0;
    p[48] = 1;
    cases.push_back({"v6 ICMPv6 error after an extension header", p, 1400, &kFrom6});
  }
  {
    Bytes p = udp_v6(1500);
    p[6] = 44;  // fragment header, offset 8
    p[40] = 17;
    put16(p, 42, 8 << 3);
    cases.push_back({"v6 non-first fragment", p, 1400, &kFrom6});
  }
  cases.push_back({"v6 source unspecified", udp_v6(1500, 0, 0), 1400, &kFrom6});
  cases.push_back({"v6 source loopback", udp_v6(1500, 0, 1), 1400, &kFrom6});
  cases.push_back({"v6 source multicast", udp_v6(1500, 0xff, 1), 1400, &kFrom6});
  {
    Bytes p = udp_v6(1500);
    p.resize(1400);
    cases.push_back({"v6 truncated", p, 1300, &kFrom6});
  }
  for (const Case& c : cases) {
    EXPECT_TRUE(too_big(c.packet, c.mtu, *c.from).empty()) << c.name;
  }
  // ICMP that is not an error (echo request; ICMPv6 echo request) does get one.
  Bytes echo4 = udp_v4(1500, true);
  echo4[9] = 1;
  echo4[20] = 8;
  set_ipv4_checksum(echo4);
  EXPECT_EQ(too_big(echo4, 1400, kFrom4).size(), 576u);
  Bytes echo6 = udp_v6(1500);
  echo6[6] = 58;
  echo6[40] = 128;
  EXPECT_EQ(too_big(echo6, 1400, kFrom6).size(), 1280u);
}

TEST(DontFragment, Flag) {
  const Bytes df = udp_v4(100, true);
  const Bytes no_df = udp_v4(100, false);
  EXPECT_TRUE(ipv4_dont_fragment(df.data(), uint32_t(df.size())));
  EXPECT_FALSE(ipv4_dont_fragment(no_df.data(), uint32_t(no_df.size())));
  EXPECT_FALSE(ipv4_dont_fragment(df.data(), 19));
  EXPECT_FALSE(ipv4_dont_fragment(nullptr, 0));
  const Bytes v6 = udp_v6(100);
  EXPECT_FALSE(ipv4_dont_fragment(v6.data(), uint32_t(v6.size())));
}

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
