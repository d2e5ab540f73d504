// The keep-alive's bookkeeping (ipsec/keep_alive.h) on a virtual clock, and the echo messages it
// sends and reads (net/icmp_echo.h).
#include "ipsec/keep_alive.h"

#include <gtest/gtest.h>

#include "common/checksum.h"
#include "net/icmp_echo.h"

namespace waypost::ipsec {
namespace {

net::IpAddress ip(const char* text) {
  return *net::IpAddress::parse(text);
}

const KeepAlive::Key kNet{"site", "net"};

TEST(KeepAliveTest, PingsEveryIntervalAndAnswersResetTheCount) {
  KeepAlive k;
  k.track(kNet, ip("10.1.0.1"), seconds(10), seconds(100));
  EXPECT_EQ(k.next_wakeup(), seconds(100));  // the first ping at once
  auto d = k.due(seconds(100));
  ASSERT_EQ(d.pings.size(), 1u);
  EXPECT_TRUE(d.actions.empty());
  EXPECT_EQ(d.pings[0].to, ip("10.1.0.1"));
  EXPECT_EQ(k.next_wakeup(), seconds(110));
  EXPECT_FALSE(k.on_reply(d.pings[0].seq, ip("10.1.0.2"), seconds(101)));  // wrong sender
  EXPECT_FALSE(k.on_reply(uint16_t(d.pings[0].seq + 1), ip("10.1.0.1"), seconds(101)));
  EXPECT_TRUE(k.on_reply(d.pings[0].seq, ip("10.1.0.1"), seconds(101)));
  EXPECT_FALSE(k.on_reply(d.pings[0].seq, ip("10.1.0.1"), seconds(101)));  // answered already
  for (int i = 1; i <= 10; ++i) {
    d = k.due(seconds(100 + 10 * i));
    ASSERT_EQ(d.pings.size(), 1u);
    EXPECT_TRUE(d.actions.empty());
    if (i % 3 != 0) k.on_reply(d.pings[0].seq, ip("10.1.0.1"), seconds(101 + 10 * i));
  }
  EXPECT_EQ(k.state(kNet)->sent, 11u);
  EXPECT_EQ(k.state(kNet)->answered, 8u);
}

TEST(KeepAliveTest, ThreeMissesRekeyThenThreeMoreRestart) {
  KeepAlive k;
  k.track(kNet, ip("10.1.0.1"), seconds(10), 0);
  std::vector<KeepAlive::Action> actions;
  for (Nanos t = 0; t <= seconds(70); t += seconds(10)) {
    auto d = k.due(t);
    EXPECT_EQ(d.pings.size(), 1u);
    for (auto& a : d.actions) actions.push_back(a);
  }
  // Pings at 0..70 s: the one at 30 s finds three unanswered (0, 10, 20); then 30, 40, 50
  // unanswered at 60 s.
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0].step, KeepAlive::Step::kRekey);
  EXPECT_EQ(actions[0].misses, 3);
  EXPECT_EQ(actions[0].key, kNet);
  EXPECT_EQ(actions[1].step, KeepAlive::Step::kRestart);
  // An answer makes the next loss start with a rekey again.
  auto d = k.due(seconds(80));
  ASSERT_EQ(d.pings.size(), 1u);
  EXPECT_TRUE(k.on_reply(d.pings[0].seq, ip("10.1.0.1"), seconds(81)));
  actions.clear();
  for (Nanos t = seconds(90); t <= seconds(120); t += seconds(10)) {
    for (auto& a : k.due(t).actions) actions.push_back(a);
  }
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].step, KeepAlive::Step::kRekey);
}

TEST(KeepAliveTest, RetainForgetsChildrenThatWentAndSequencesAreUnique) {
  KeepAlive k;
  const KeepAlive::Key other{"site", "voice"};
  k.track(kNet, ip("10.1.0.1"), seconds(10), 0);
  k.track(other, ip("10.1.0.1"), seconds(10), 0);
  auto d = k.due(0);
  ASSERT_EQ(d.pings.size(), 2u);
  EXPECT_NE(d.pings[0].seq, d.pings[1].seq);
  // A reply names its child by its sequence number alone.
  EXPECT_TRUE(k.on_reply(d.pings[1].seq, ip("10.1.0.1"), 1));
  EXPECT_TRUE(k.state(d.pings[0].key)->awaiting);
  EXPECT_FALSE(k.state(d.pings[1].key)->awaiting);
  k.retain({other});
  EXPECT_EQ(k.state(kNet), nullptr);
  ASSERT_NE(k.state(other), nullptr);
  // Tracking again with the same settings keeps the count; new settings start afresh.
  k.track(other, ip("10.1.0.1"), seconds(10), seconds(5));
  EXPECT_EQ(k.state(other)->sent, 1u);
  k.track(other, ip("10.1.0.2"), seconds(10), seconds(5));
  EXPECT_EQ(k.state(other)->sent, 0u);
  k.untrack(other);
  EXPECT_TRUE(k.empty());
  EXPECT_EQ(k.next_wakeup(), kNever);
}

TEST(IcmpEcho, RequestsAndRepliesBothFamilies) {
  const uint8_t cookie[] = {1, 2, 3, 4, 5, 6, 7, 8};
  auto v4 = net::make_echo_request(net::Family::kV4, 0x1234, 7, cookie);
  ASSERT_EQ(v4.size(), 16u);
  EXPECT_EQ(v4[0], 8);
  EXPECT_EQ(checksum_finish(checksum_add(0, v4.data(), v4.size())), 0);  // valid checksum
  auto v6 = net::make_echo_request(net::Family::kV6, 0x1234, 7, cookie);
  EXPECT_EQ(v6[0], 128);

  // An IPv4 reply as a raw socket hands it over: the IP header first.
  std::vector<uint8_t> packet = {0x45, 0, 0,  36, 0, 0, 0x40, 0, 64, 1,
                                 0,    0, 10, 1,  0, 1, 10,   2, 0,  1};
  std::vector<uint8_t> reply = v4;
  reply[0] = 0;
  packet.insert(packet.end(), reply.begin(), reply.end());
  auto r = net::parse_echo_reply(net::Family::kV4, packet);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, 0x1234);
  EXPECT_EQ(r->seq, 7);
  EXPECT_EQ(r->payload.size(), 8u);
  // A request, a fragment, a bad length or a truncated packet is not a reply.
  auto bad = packet;
  bad[20] = 8;
  EXPECT_FALSE(net::parse_echo_reply(net::Family::kV4, bad));
  bad = packet;
  bad[6] = 0x20;  // more fragments
  EXPECT_FALSE(net::parse_echo_reply(net::Family::kV4, bad));
  bad = packet;
  bad[3] = 200;  // longer than what was received
  EXPECT_FALSE(net::parse_echo_reply(net::Family::kV4, bad));
  EXPECT_FALSE(net::parse_echo_reply(net::Family::kV4, std::span<const uint8_t>(packet).first(24)));
  // ICMPv6 comes without the IP header.
  v6[0] = 129;
  r = net::parse_echo_reply(net::Family::kV6, v6);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->seq, 7);
  v6[0] = 128;
  EXPECT_FALSE(net::parse_echo_reply(net::Family::kV6, v6));
}

}  // namespace
}  // namespace waypost::ipsec
