// The MTU policy end to end on two in-memory devices: a path that silently drops big datagrams
// (a PMTU blackhole), in-tunnel probing that finds its size, then MSS clamping and ICMP
// packet-too-big for what does not fit.
#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/checksum.h"
#include "dataplane/mtu.h"
#include "dataplane/path_mtu.h"
#include "dataplane/pmtu_probe.h"
#include "wg_pair.h"

namespace waypost::wireguard {
namespace {

using test::ipv4_packet;
using test::Pair;

// Answers ICMP echo requests the node's TUN received, as a stock peer's kernel would.
void answer_pings(test::Node& n) {
  std::vector<std::vector<uint8_t>> replies;
  for (auto it = n.tun.packets.begin(); it != n.tun.packets.end();) {
    auto& p = *it;
    if (p.size() >= 28 && (p[0] >> 4) == 4 && p[9] == 1 && p[20] == 8) {
      std::vector<uint8_t> r = p;
      std::swap_ranges(r.begin() + 12, r.begin() + 16, r.begin() + 16);
      r[20] = 0;  // echo reply
      store_be16(&r[22], 0);
      store_be16(&r[22], checksum_finish(checksum_add(0, &r[20], r.size() - 20)));
      store_be16(&r[10], 0);
      store_be16(&r[10], checksum_finish(checksum_add(0, r.data(), 20)));
      replies.push_back(std::move(r));
      it = n.tun.packets.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& r : replies) n.send_inner(r);
}

std::vector<uint8_t> tcp_syn(const char* src, const char* dst, uint16_t mss, bool df = true) {
  std::vector<uint8_t> p(44, 0);
  p[0] = 0x45;
  store_be16(&p[2], 44);
  store_be16(&p[6], df ? 0x4000 : 0);
  p[8] = 64;
  p[9] = 6;
  auto s = net::IpAddress::parse(src).value();
  auto d = net::IpAddress::parse(dst).value();
  std::copy_n(s.bytes.begin(), 4, p.begin() + 12);
  std::copy_n(d.bytes.begin(), 4, p.begin() + 16);
  store_be16(&p[10], checksum_finish(checksum_add(0, p.data(), 20)));
  store_be16(&p[20], 40000);
  store_be16(&p[22], 80);
  p[32] = 6 << 4;  // data offset 24 bytes
  p[33] = 0x02;    // SYN
  store_be16(&p[34], 65535);
  p[40] = 2;
  p[41] = 4;
  store_be16(&p[42], mss);
  store_be16(&p[36], checksum_finish(checksum_add(pseudo_header_v4(p.data(), 6, 24), &p[20], 24)));
  return p;
}

uint16_t mss_of(const std::vector<uint8_t>& p) {
  return load_be16(&p[42]);
}

class PathMtuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    p.connect();
    // b is the "server": it knows a by a host route and probes it.
    p.b.prober.set_local_addresses({net::Prefix::parse_interface_address("10.0.0.2/24").value()});
    p.a.prober.set_local_addresses({net::Prefix::parse_interface_address("10.0.0.1/24").value()});
    // The path between them carries outer IPv4 packets of at most 1454 bytes.
    p.max_datagram = 1454 - 28;
    p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
    p.pump();
    ASSERT_NE(p.pb->sessions().current(), nullptr);
    for (int i = 0; i < 200; ++i) {  // 20 s of protocol time, pings answered as they come
      p.advance(millis(100));
      answer_pings(p.a);
      answer_pings(p.b);
      p.pump();
    }
  }
  Pair p;
};

TEST_F(PathMtuTest, ProbingFindsTheNarrowPath) {
  // A datagram carries 32 bytes of WireGuard overhead and pads the inner packet to 16, so the
  // largest inner packet that fits 1426 bytes is 1392.
  EXPECT_TRUE(p.pb->path().probing());
  EXPECT_FALSE(p.pb->path().searching());
  EXPECT_LE(p.pb->path().mtu(), 1392u);
  EXPECT_GE(p.pb->path().mtu(), 1392u - 8);
  EXPECT_GT(p.pb->path().probes_sent(), 2u);
  // The replies were consumed, not delivered to b's TUN device.
  for (const auto& pkt : p.b.tun.packets) {
    EXPECT_FALSE(pkt.size() > 28 && pkt[9] == 1 && pkt[20] == 0) << "an echo reply leaked";
  }
}

TEST_F(PathMtuTest, SynsAreClampedBothWays) {
  const uint32_t mtu = p.pb->path().mtu();
  // Outbound from b toward a: clamped before sealing.
  p.b.send_inner(tcp_syn("10.0.0.2", "10.0.0.1", 1460));
  p.pump();
  ASSERT_FALSE(p.a.tun.packets.empty());
  EXPECT_EQ(mss_of(p.a.tun.packets.back()), mtu - 40);
  // Inbound from a (advertising what its own MTU allows) to b's stack: clamped too.
  p.a.send_inner(tcp_syn("10.0.0.1", "10.0.0.2", 1380));
  p.pump();
  EXPECT_EQ(mss_of(p.b.tun.packets.back()), mtu - 40);
  EXPECT_GE(p.a.router.counters().mss_clamped + p.b.router.counters().mss_clamped, 2u);
  // A small MSS stays as it is.
  p.b.send_inner(tcp_syn("10.0.0.2", "10.0.0.1", 536));
  p.pump();
  EXPECT_EQ(mss_of(p.a.tun.packets.back()), 536);
}

TEST_F(PathMtuTest, TooBigPacketsGetIcmpOrAreFragmented) {
  const uint32_t mtu = p.pb->path().mtu();
  // DF set: an ICMP fragmentation-needed goes back to b's own stack, naming the path MTU.
  p.b.tun.packets.clear();
  auto big = ipv4_packet("10.0.0.2", "10.0.0.1", 1400 - 28);
  store_be16(&big[6], 0x4000);
  store_be16(&big[10], 0);
  store_be16(&big[10], checksum_finish(checksum_add(0, big.data(), 20)));
  p.b.send_inner(big);
  ASSERT_EQ(p.b.tun.packets.size(), 1u);
  const auto& icmp = p.b.tun.packets[0];
  EXPECT_EQ(icmp[9], 1);
  EXPECT_EQ(icmp[20], 3);
  EXPECT_EQ(icmp[21], 4);
  EXPECT_EQ(load_be16(&icmp[26]), mtu);
  EXPECT_EQ(p.b.router.counters().too_big, 1u);
  // Without DF: fragmented to fit, and it arrives (as fragments) at a.
  const size_t before = p.a.tun.packets.size();
  p.b.send_inner(ipv4_packet("10.0.0.2", "10.0.0.1", 1400 - 28));
  p.pump();
  EXPECT_EQ(p.b.router.counters().fragmented, 1u);
  EXPECT_EQ(p.a.tun.packets.size(), before + 2);
}

TEST_F(PathMtuTest, ProbingFollowsThePathWhenItGrows) {
  p.max_datagram = 65535;                          // the narrow link is gone
  p.a.device.set_persistent_keepalive(*p.pa, 25);  // keeps a session up for the re-probe
  for (int i = 0; i < 7000; ++i) {                 // past the 10-minute re-probe
    p.advance(millis(100));
    answer_pings(p.a);
    answer_pings(p.b);
    p.pump();
    if (p.pb->path().mtu() == 1420u) break;
  }
  EXPECT_EQ(p.pb->path().mtu(), 1420u);
}

// A TCP data segment of `size` bytes in all, with DF, as a stack sends within its MSS.
std::vector<uint8_t> tcp_segment(const char* src, const char* dst, uint32_t size) {
  std::vector<uint8_t> p(size, 0x5a);
  p[0] = 0x45;
  p[1] = 0;
  store_be16(&p[2], uint16_t(size));
  store_be16(&p[4], 0);
  store_be16(&p[6], 0x4000);
  p[8] = 64;
  p[9] = 6;
  store_be16(&p[10], 0);
  auto s = net::IpAddress::parse(src).value();
  auto d = net::IpAddress::parse(dst).value();
  std::copy_n(s.bytes.begin(), 4, p.begin() + 12);
  std::copy_n(d.bytes.begin(), 4, p.begin() + 16);
  store_be16(&p[10], checksum_finish(checksum_add(0, p.data(), 20)));
  store_be16(&p[20], 80);
  store_be16(&p[22], 40000);
  store_be32(&p[24], 1);
  store_be32(&p[28], 1);
  p[32] = 5 << 4;  // data offset 20 bytes
  p[33] = 0x10;    // ACK
  store_be16(&p[34], 65535);
  store_be16(&p[36], 0);
  store_be16(&p[38], 0);
  return p;
}

// Issue 17 item 8: a stock client behind a 1400-byte link (IPv4 outer: 1372 bytes of UDP
// payload, so at most 1340 inner bytes once sealed), and a download whose connection opens with
// the session, before the search has had a verdict on the interface MTU it starts from.
class FirstConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    p.connect();
    p.b.prober.set_local_addresses({net::Prefix::parse_interface_address("10.0.0.2/24").value()});
    p.a.prober.set_local_addresses({net::Prefix::parse_interface_address("10.0.0.1/24").value()});
  }
  // a opens a connection to b as its very first packet (the SYN brings the session up); returns
  // the MSS b's stack was told.
  uint16_t open_first_connection() {
    p.a.send_inner(tcp_syn("10.0.0.1", "10.0.0.2", 1380));
    p.pump();
    EXPECT_NE(p.pb->sessions().current(), nullptr);
    EXPECT_FALSE(p.b.tun.packets.empty());
    return p.b.tun.packets.empty() ? 0 : mss_of(p.b.tun.packets.back());
  }
  Pair p;
};

TEST_F(FirstConnectionTest, IsPromisedOnlyWhatTheSearchConfirmed) {
  p.max_datagram = 1400 - 28;
  const uint16_t mss = open_first_connection();
  ASSERT_TRUE(p.pb->path().probing());
  // Nothing confirmed yet: the floor, not the interface MTU the search starts from...
  EXPECT_EQ(mss, 1280 - 40);
  EXPECT_EQ(p.pb->path().mss_mtu(), 1280u);
  // ...which packets may still use until a probe disproves it (good paths lose nothing).
  EXPECT_EQ(p.pb->path().mtu(), 1420u);
  // b's own SYN-ACK gets the same promise.
  p.b.send_inner(tcp_syn("10.0.0.2", "10.0.0.1", 1460));
  p.pump();
  ASSERT_FALSE(p.a.tun.packets.empty());
  EXPECT_EQ(mss_of(p.a.tun.packets.back()), 1280 - 40);
  // So the download's full-size segments cross the narrow path instead of vanishing (with the
  // interface MTU's MSS, 1380, they would be 1420 bytes: 1452 once sealed).
  const size_t before = p.a.tun.packets.size();
  for (int i = 0; i < 3; ++i) p.b.send_inner(tcp_segment("10.0.0.2", "10.0.0.1", mss + 40u));
  p.pump();
  EXPECT_EQ(p.a.tun.packets.size(), before + 3);
  EXPECT_EQ(p.b.router.counters().too_big, 0u);

  // Through the search, on the virtual clock: what new connections are promised never exceeds
  // the path, and rises to what the search settles on.
  for (int i = 0; i < 200; ++i) {
    p.advance(millis(100));
    answer_pings(p.a);
    p.pump();
    EXPECT_LE(p.pb->path().mss_mtu(), 1328u);  // largest inner size that fits, padded to 16
    EXPECT_LE(p.pb->path().mss_mtu(), p.pb->path().mtu());
  }
  EXPECT_FALSE(p.pb->path().searching());
  EXPECT_EQ(p.pb->path().mss_mtu(), p.pb->path().mtu());
  EXPECT_GE(p.pb->path().mss_mtu(), 1328u - 8);
}

TEST_F(FirstConnectionTest, GoodPathPromisesTheFullSizeOnceTheFirstProbeIsAnswered) {
  open_first_connection();
  // The first probe (the interface MTU) is due at once; its reply confirms it a round trip later.
  p.advance(millis(100));
  answer_pings(p.a);
  p.pump();
  EXPECT_EQ(p.pb->path().mss_mtu(), 1420u);
  p.a.send_inner(tcp_syn("10.0.0.1", "10.0.0.2", 1380));
  p.pump();
  EXPECT_EQ(mss_of(p.b.tun.packets.back()), 1380);
}

}  // namespace
}  // namespace waypost::wireguard

namespace waypost::dataplane {
namespace {

TEST(AnswerProbe, RepliesAreRecognizedByTheProber) {
  for (const char* pair : {"10.0.0.1>10.0.0.2", "fd00::1>fd00::2"}) {
    std::string s(pair);
    auto src = net::IpAddress::parse(s.substr(0, s.find('>'))).value();
    auto dst = net::IpAddress::parse(s.substr(s.find('>') + 1)).value();
    std::vector<uint8_t> probe(1400), reply(1400);
    ASSERT_EQ(build_probe(probe.data(), 1400, src, dst, 77, 5), 1400u);
    ASSERT_EQ(answer_probe(probe.data(), 1400, reply.data()), 1400u) << pair;
    auto parsed = parse_probe_reply(reply.data(), 1400, 77);
    ASSERT_TRUE(parsed.has_value()) << pair;
    EXPECT_EQ(parsed->seq, 5);
    EXPECT_EQ(parsed->size, 1400u);
    // Not a probe: an ordinary ping, a truncated probe, a reply.
    std::vector<uint8_t> other = probe;
    other[other.size() - 1400 + (src.is_v4() ? 28 : 48)] ^= 0xff;  // break the marker
    EXPECT_EQ(answer_probe(other.data(), 1400, reply.data()), 0u);
    EXPECT_EQ(answer_probe(probe.data(), 1000, reply.data()), 0u);
    EXPECT_EQ(answer_probe(reply.data(), 1400, other.data()), 0u);
  }
}

}  // namespace
}  // namespace waypost::dataplane
