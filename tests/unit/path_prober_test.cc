// The data plane's path MTU driver against a tunnel that is not WireGuard: what an IPsec SA (or
// any future protocol) gets by implementing Tunnel's three path-MTU methods, and the blackhole
// detector's restart reaching the wire at once.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "common/bytes.h"
#include "common/checksum.h"
#include "dataplane/path_prober.h"
#include "dataplane/pmtu_probe.h"
#include "dataplane/router.h"

namespace waypost::dataplane {
namespace {

// A tunnel whose "sealing" records the packet, and whose timer is a field the test fires.
struct FakeTunnel final : Tunnel {
  explicit FakeTunnel(uint32_t mtu) : path_(mtu) {}
  void send(std::span<Packet> packets) override {
    for (const auto& p : packets) sent.emplace_back(p.data, p.data + p.size);
  }
  std::string describe() const override { return "fake tunnel"; }
  PathMtu& path() override { return path_; }
  uint32_t overhead() const override { return 73; }
  bool send_probe(Packet p) override {
    if (!session) return false;
    probes.emplace_back(p.data, p.data + p.size);
    return true;
  }
  void schedule_probe(Nanos delay) override { wakeup = delay; }

  PathMtu path_;
  bool session = true;
  std::optional<Nanos> wakeup;
  std::vector<std::vector<uint8_t>> sent;
  std::vector<std::vector<uint8_t>> probes;
};

struct NullTun final : PacketSink {
  void push(uint8_t* data, uint32_t size) override { packets.emplace_back(data, data + size); }
  void flush() override {}
  std::vector<std::vector<uint8_t>> packets;
};

// The far side's kernel: turns an echo request into its reply (IPv4).
std::vector<uint8_t> echo_reply(std::vector<uint8_t> r) {
  std::swap_ranges(r.begin() + 12, r.begin() + 16, r.begin() + 16);
  r[20] = 0;
  store_be16(&r[22], 0);
  store_be16(&r[22], checksum_finish(checksum_add(0, &r[20], r.size() - 20)));
  store_be16(&r[10], 0);
  store_be16(&r[10], checksum_finish(checksum_add(0, r.data(), 20)));
  return r;
}

// A large TCP segment from 10.9.0.1 to the tunnel's 10.9.0.2 (DF).
std::vector<uint8_t> tcp_segment(uint32_t total, uint32_t seq) {
  std::vector<uint8_t> p(total, 0);
  p[0] = 0x45;
  store_be16(&p[2], uint16_t(total));
  store_be16(&p[6], 0x4000);
  p[8] = 64;
  p[9] = 6;
  p[12] = 10, p[13] = 9, p[15] = 1;
  p[16] = 10, p[17] = 9, p[19] = 2;
  store_be16(&p[10], checksum_finish(checksum_add(0, p.data(), 20)));
  store_be16(&p[20], 40000);
  store_be16(&p[22], 80);
  store_be32(&p[24], seq);
  p[32] = 0x50;
  p[33] = 0x18;  // PSH, ACK
  return p;
}

class PathProberTest : public ::testing::Test {
 protected:
  PathProberTest() : router(tun, &clock), prober(clock, router, 0x4242, 1420), t(1420) {
    prober.attach(t);
    router.table().insert(net::Prefix::parse("10.9.0.2/32").value(), &t);
    prober.set_local_addresses({net::Prefix::parse_interface_address("10.9.0.1/24").value()});
  }
  ~PathProberTest() override { prober.detach(t); }

  // Fires the tunnel's timer if it is due; the path answers probes up to `path_mtu` bytes.
  void run_for(Nanos duration, uint32_t path_mtu) {
    const Nanos end = clock.now() + duration;
    while (clock.now() < end) {
      if (t.wakeup && *t.wakeup <= 0) {
        t.wakeup.reset();
        prober.on_wakeup(t);
      }
      for (auto& probe : t.probes) {
        if (probe.size() > path_mtu) continue;
        auto reply = echo_reply(probe);
        EXPECT_TRUE(prober.intercept(t, reply.data(), uint32_t(reply.size())));
      }
      t.probes.clear();
      clock.advance(millis(10));
      if (t.wakeup) *t.wakeup -= millis(10);
    }
  }

  ManualClock clock;
  NullTun tun;
  Router router;
  PathProber prober;
  FakeTunnel t;
};

TEST_F(PathProberTest, AnyTunnelFindsItsPath) {
  prober.start(t);
  ASSERT_TRUE(t.wakeup.has_value());
  EXPECT_EQ(*t.wakeup, 0);  // the first probe goes out at once
  run_for(seconds(30), 1380);
  EXPECT_LE(t.path().mtu(), 1380u);
  EXPECT_GE(t.path().mtu(), 1380u - PmtuSearch::kResolution);
  EXPECT_EQ(t.path().mss_mtu(), t.path().mtu());
  EXPECT_FALSE(t.path().searching());
  EXPECT_GT(t.path().probes_sent(), 2u);
  EXPECT_TRUE(tun.packets.empty());  // replies were consumed, not delivered
}

TEST_F(PathProberTest, InterfaceMtuHasOneOwner) {
  EXPECT_EQ(t.path().interface_mtu(), 1420u);
  prober.set_interface_mtu(1400);
  EXPECT_EQ(prober.interface_mtu(), 1400u);
  EXPECT_EQ(t.path().interface_mtu(), 1400u);
  FakeTunnel late(9000);
  prober.attach(late);  // a tunnel attached later follows the interface too
  EXPECT_EQ(late.path().interface_mtu(), 1400u);
  prober.detach(late);
}

TEST_F(PathProberTest, WithoutSessionProbingWaitsForTheNextOne) {
  t.session = false;
  prober.start(t);
  run_for(seconds(5), 1420);
  EXPECT_FALSE(t.wakeup.has_value());  // nothing re-armed while there is no session
  t.session = true;
  prober.start(t);  // the next session resumes
  run_for(seconds(10), 1420);
  EXPECT_EQ(t.path().mss_mtu(), 1420u);
}

TEST_F(PathProberTest, AnswersThePeersProbesThroughTheTunnel) {
  std::vector<uint8_t> probe(1300);
  const auto src = net::IpAddress::parse("10.9.0.2").value();
  const auto dst = net::IpAddress::parse("10.9.0.1").value();
  ASSERT_EQ(build_probe(probe.data(), 1300, src, dst, 7, 1), 1300u);
  ASSERT_TRUE(prober.intercept(t, probe.data(), 1300));
  ASSERT_EQ(t.probes.size(), 1u);
  EXPECT_EQ(t.probes[0].size(), 1300u);  // at full size, through the tunnel
  EXPECT_TRUE(parse_probe_reply(t.probes[0].data(), 1300, 7).has_value());
  EXPECT_TRUE(tun.packets.empty());

  // A probe whose source does not route to this tunnel is not ours to answer.
  const auto stranger = net::IpAddress::parse("10.77.0.2").value();
  ASSERT_EQ(build_probe(probe.data(), 1300, stranger, dst, 7, 2), 1300u);
  EXPECT_FALSE(prober.intercept(t, probe.data(), 1300));
}

TEST_F(PathProberTest, SuspectedBlackholeProbesAtOnce) {
  prober.start(t);
  run_for(seconds(30), 1420);  // converged on a good path; only the periodic re-probe is pending
  ASSERT_FALSE(t.path().searching());
  ASSERT_TRUE(t.wakeup.has_value());
  EXPECT_GT(*t.wakeup, seconds(60));

  // The path shrinks; a TCP sender retransmits its oldest large segment twice.
  std::vector<uint8_t> slots(kSlotSize * 2);
  auto send = [&](uint32_t seq) {
    auto seg = tcp_segment(1420, seq);
    std::copy(seg.begin(), seg.end(), slots.begin() + kHeadroom);
    Packet p{slots.data() + kHeadroom, uint32_t(seg.size())};
    router.dispatch({&p, 1});
  };
  send(1000);
  send(2368);
  clock.advance(millis(300));
  send(1000);
  clock.advance(millis(600));
  send(1000);
  EXPECT_EQ(t.path().blackholes_suspected(), 1u);
  ASSERT_TRUE(t.wakeup.has_value());
  EXPECT_EQ(*t.wakeup, 0);  // not after the periodic re-probe, minutes later
  run_for(seconds(10), 1300);
  EXPECT_LE(t.path().mtu(), 1300u);
}

}  // namespace
}  // namespace waypost::dataplane
