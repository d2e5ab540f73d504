// Synthesized "fragmentation needed" (ICMPv4) and "packet too big" (ICMPv6) errors, and the
// don't-fragment test. Checksums are verified against a from-scratch computation.
#include "dataplane/mtu.h"

#include <gtest/gtest.h>

#include <vector>

#include "mtu_test_packets.h"
#include "test_util.h"

namespace waypost::dataplane {
namespace {

using namespace mtu_test;
using test::hex;
using test::hex_of;

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

}  // namespace
}  // namespace waypost::dataplane
