// Two in-memory WireGuard devices on a virtual clock: handshake, transport, rekeying, expiry,
// timers, cookies, roaming and cryptokey routing, stepped message by message.
#include <gtest/gtest.h>

#include <spdlog/spdlog.h>

#include "wg_pair.h"
#include "wireguard/messages.h"

namespace waypost::wireguard {
namespace {

using test::ipv4_packet;
using test::Pair;

TEST(WgDevice, HandshakeThenDataBothWays) {
  Pair p;
  p.connect();
  // a has data for b: it stages the packet and sends an initiation.
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 100));
  ASSERT_EQ(p.a.link.sent.size(), 1u);
  EXPECT_EQ(p.a.link.sent.front().bytes.size(), initiation::kSize);
  EXPECT_EQ(p.pa->staged_count(), 1u);
  // initiation -> response -> staged data
  p.pump();
  ASSERT_EQ(p.b.tun.packets.size(), 1u);
  EXPECT_EQ(p.b.tun.packets[0], ipv4_packet("10.0.0.1", "10.0.0.2", 100));
  EXPECT_NE(p.pa->sessions().current(), nullptr);
  EXPECT_NE(p.pb->sessions().current(), nullptr);  // confirmed by the data packet
  EXPECT_EQ(p.pa->counters().handshakes_completed, 1u);
  EXPECT_EQ(p.pb->counters().handshakes_completed, 1u);
  EXPECT_NE(p.pa->last_handshake().sec, 0);
  // b learned a's endpoint from the authenticated initiation.
  ASSERT_TRUE(p.pb->endpoint().has_value());
  EXPECT_EQ(*p.pb->endpoint(), p.a.address);
  // And b can answer without another handshake.
  p.b.send_inner(ipv4_packet("10.0.0.2", "10.0.0.1", 1300));
  EXPECT_EQ(p.pump(), 1u);
  ASSERT_EQ(p.a.tun.packets.size(), 1u);
  EXPECT_EQ(p.a.tun.packets[0].size(), 1328u);
  EXPECT_GT(p.pa->counters().rx_bytes, 0u);
  EXPECT_GT(p.pb->counters().tx_bytes, 0u);
}

TEST(WgDevice, PresharedKeyMustMatch) {
  {
    Pair p;
    p.connect(/*with_psk=*/true);
    p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
    p.pump();
    EXPECT_EQ(p.b.tun.packets.size(), 1u);
  }
  {
    Pair p;
    p.connect(/*with_psk=*/true);
    crypto::SymmetricKey other;
    other.data()[0] = 7;
    p.b.device.set_preshared_key(*p.pb, other);
    p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
    p.pump();
    EXPECT_EQ(p.b.tun.packets.size(), 0u);
    EXPECT_EQ(p.pa->sessions().current(), nullptr);
    EXPECT_EQ(p.a.device.counters().hs_responses_rejected, 1u);
  }
}

TEST(WgDevice, PaddingToSixteenBytes) {
  Pair p;
  p.connect();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 1));  // 29 bytes -> padded to 32
  p.pump();
  p.b.send_inner(ipv4_packet("10.0.0.2", "10.0.0.1", 1));
  ASSERT_EQ(p.b.link.sent.size(), 1u);
  EXPECT_EQ(p.b.link.sent.front().bytes.size(), transport::kHeaderSize + 32 + 16);
  p.pump();
  ASSERT_EQ(p.a.tun.packets.size(), 1u);
  EXPECT_EQ(p.a.tun.packets[0].size(), 29u);  // trimmed back to the IP length
}

TEST(WgDevice, ReplayedTransportPacketIsRejected) {
  Pair p;
  p.connect();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.pump();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 20));
  ASSERT_EQ(p.a.link.sent.size(), 1u);
  auto copy = p.a.link.sent.front().bytes;
  p.pump();
  EXPECT_EQ(p.b.tun.packets.size(), 2u);
  Pair::deliver_one(copy, p.a.address, p.b);
  EXPECT_EQ(p.b.tun.packets.size(), 2u);
  EXPECT_EQ(p.b.device.counters().rx_replayed, 1u);
}

TEST(WgDevice, ReplayedInitiationIsRejected) {
  Pair p;
  p.connect();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  auto initiation_copy = p.a.link.sent.front().bytes;
  p.pump();
  p.clock.advance(seconds(1));
  Pair::deliver_one(initiation_copy, p.a.address, p.b);
  EXPECT_EQ(p.b.device.counters().hs_initiations_rejected, 1u);
  EXPECT_TRUE(p.b.link.sent.empty());  // no response to a replay
}

TEST(WgDevice, TamperedAndGarbageDatagramsAreCountedNotFatal) {
  Pair p;
  p.connect();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.pump();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  auto bytes = p.a.link.sent.front().bytes;
  p.a.link.sent.clear();
  bytes[bytes.size() - 1] ^= 1;
  Pair::deliver_one(bytes, p.a.address, p.b);
  EXPECT_EQ(p.b.device.counters().rx_decrypt_failed, 1u);
  Pair::deliver_one({1, 2, 3}, p.a.address, p.b);
  Pair::deliver_one(std::vector<uint8_t>(148, 0), p.a.address, p.b);
  std::vector<uint8_t> fake(148, 1);
  fake[1] = fake[2] = fake[3] = 0;  // a well-formed initiation header with garbage MACs
  Pair::deliver_one(fake, p.a.address, p.b);
  EXPECT_EQ(p.b.device.counters().rx_bad_message, 2u);
  EXPECT_EQ(p.b.device.counters().hs_invalid_mac1, 1u);
}

TEST(WgDevice, SourceOutsideAllowedIpsIsDropped) {
  Pair p;
  p.connect();
  p.a.send_inner(ipv4_packet("10.0.0.9", "10.0.0.2", 10));  // a lies about its source
  p.pump();
  EXPECT_EQ(p.b.tun.packets.size(), 0u);
  EXPECT_EQ(p.b.router.counters().source_rejected, 1u);
}

TEST(WgDevice, UnknownPeerGetsNoSession) {
  Pair p;
  p.connect();
  p.b.device.remove_peer(p.a.key.public_key());
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.pump();
  EXPECT_EQ(p.b.device.counters().hs_initiations_rejected, 1u);
  EXPECT_EQ(p.pa->sessions().current(), nullptr);
}

TEST(WgDevice, RetransmitsThenGivesUp) {
  Pair p;
  p.connect();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.a.link.sent.clear();  // the initiation is lost
  p.advance(seconds(5) + millis(400), /*offline=*/true);
  EXPECT_EQ(p.a.link.sent.size(), 1u);      // retried after REKEY_TIMEOUT + jitter
  size_t total = 1 + p.a.link.sent.size();  // the first initiation and the first retry
  p.a.link.sent.clear();
  for (int i = 0; i < 40; ++i) {
    p.advance(seconds(5) + millis(400), /*offline=*/true);
    total += p.a.link.sent.size();
    p.a.link.sent.clear();
  }
  // 1 initial + MAX_TIMER_HANDSHAKES + 1 retries, then it gives up and drops staged packets.
  EXPECT_EQ(total, size_t(kMaxTimerHandshakes) + 2);
  EXPECT_TRUE(p.pa->staged_count() == 0);
}

TEST(WgDevice, CookieReplyUnderLoadThenHandshakeSucceeds) {
  Pair p;
  p.connect();
  p.b.device.force_under_load(true);
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.pump();
  EXPECT_EQ(p.b.device.counters().hs_cookies_sent, 1u);
  EXPECT_EQ(p.a.device.counters().hs_cookies_received, 1u);
  EXPECT_EQ(p.pa->sessions().current(), nullptr);
  // The retransmission carries MAC2 with the cookie and gets through.
  p.advance(seconds(5) + millis(400));
  p.pump();
  EXPECT_NE(p.pa->sessions().current(), nullptr);
  EXPECT_EQ(p.b.tun.packets.size(), 1u);
}

TEST(WgDevice, RekeyAfterTimeByInitiator) {
  Pair p;
  p.connect();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.pump();
  const uint32_t first_index = p.pa->sessions().current()->local_index;
  // Keep traffic flowing both ways for just over REKEY_AFTER_TIME.
  for (int s = 0; s < 125; ++s) {
    p.advance(seconds(1));
    p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
    p.b.send_inner(ipv4_packet("10.0.0.2", "10.0.0.1", 10));
    p.pump();
  }
  EXPECT_EQ(p.pa->counters().handshakes_completed, 2u);
  ASSERT_NE(p.pa->sessions().current(), nullptr);
  EXPECT_NE(p.pa->sessions().current()->local_index, first_index);
  ASSERT_NE(p.pa->sessions().previous(), nullptr);
  EXPECT_EQ(p.pa->sessions().previous()->local_index, first_index);
  // Nothing was lost across the rekey.
  EXPECT_EQ(p.b.tun.packets.size(), 126u);
  EXPECT_EQ(p.a.tun.packets.size(), 125u);
}

TEST(WgDevice, KeysExpireAndAreZeroed) {
  Pair p;
  p.connect();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.pump();
  ASSERT_NE(p.pb->sessions().current(), nullptr);
  // Silence: after REJECT_AFTER_TIME the session may not be used to send...
  p.advance(kRejectAfterTime + seconds(1), /*offline=*/true);
  p.a.link.sent.clear();
  p.b.link.sent.clear();
  EXPECT_TRUE(p.pa->sessions().current()->expired_for_sending(p.clock.now()));
  // ... and after 3 x REJECT_AFTER_TIME all key material is gone.
  p.advance(2 * kRejectAfterTime, /*offline=*/true);
  EXPECT_EQ(p.pa->sessions().current(), nullptr);
  EXPECT_EQ(p.pa->sessions().previous(), nullptr);
  EXPECT_EQ(p.pb->sessions().current(), nullptr);
  EXPECT_EQ(p.pb->sessions().next(), nullptr);
  // Traffic afterwards simply starts a new handshake.
  p.a.link.sent.clear();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.pump();
  EXPECT_EQ(p.b.tun.packets.size(), 2u);
}

TEST(WgDevice, PassiveKeepaliveAfterReceivingData) {
  Pair p;
  p.connect();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.pump();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.pump();
  p.b.link.sent.clear();
  p.advance(kKeepaliveTimeout + millis(200), /*offline=*/true);
  ASSERT_EQ(p.b.link.sent.size(), 1u);
  EXPECT_EQ(p.b.link.sent.front().bytes.size(), transport::kMinSize);
}

TEST(WgDevice, PersistentKeepalive) {
  Pair p;
  p.connect();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.pump();
  p.a.device.set_persistent_keepalive(*p.pa, 25);
  p.pump();
  p.a.link.sent.clear();
  int keepalives = 0;
  for (int i = 0; i < 520; ++i) {  // 130 s
    p.advance(millis(251), /*offline=*/true);
    for (auto& d : p.a.link.sent) {
      if (d.bytes.size() == transport::kMinSize) ++keepalives;
    }
    p.pump();
  }
  EXPECT_GE(keepalives, 4);
}

TEST(WgDevice, DeadPeerTriggersNewHandshake) {
  Pair p;
  p.connect();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.pump();
  // b disappears: a's data gets no answer and a starts a new handshake after ~15 s.
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.a.link.sent.clear();
  p.advance(kKeepaliveTimeout + kRekeyTimeout + millis(400), /*offline=*/true);
  bool initiation = false;
  for (auto& d : p.a.link.sent) initiation |= d.bytes.size() == initiation::kSize;
  EXPECT_TRUE(initiation);
}

TEST(WgDevice, RoamingUpdatesEndpoint) {
  Pair p;
  p.connect();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.pump();
  // a moves to a new address; its next authenticated packet teaches b.
  p.a.address = net::Endpoint::parse("198.51.100.7:40000").value();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.pump();
  ASSERT_TRUE(p.pb->endpoint().has_value());
  EXPECT_EQ(p.pb->endpoint()->to_string(), "198.51.100.7:40000");
  p.b.send_inner(ipv4_packet("10.0.0.2", "10.0.0.1", 10));
  p.pump();
  EXPECT_EQ(p.a.tun.packets.size(), 1u);
}

TEST(WgDevice, SimultaneousInitiationsConverge) {
  Pair p;
  p.connect(false, true, true);
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.b.send_inner(ipv4_packet("10.0.0.2", "10.0.0.1", 10));
  for (int i = 0; i < 10; ++i) {
    p.pump();
    p.advance(seconds(1));
  }
  p.pump();
  EXPECT_GE(p.b.tun.packets.size(), 1u);
  EXPECT_GE(p.a.tun.packets.size(), 1u);
}

}  // namespace
}  // namespace waypost::wireguard
