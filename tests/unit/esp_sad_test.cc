// The NAT-T port's demultiplexing (RFC 3948 2): keepalives, IKE behind the non-ESP marker, ESP by
// SPI to its child SA, then the router's source check against the SA's traffic selectors.
#include <gtest/gtest.h>

#include <vector>

#include "dataplane/path_prober.h"
#include "dataplane/router.h"
#include "esp/sad.h"

namespace waypost::esp {
namespace {

using dataplane::Datagram;
using dataplane::Packet;

struct Sink final : net::DatagramSink {
  void push(const uint8_t* data, uint32_t size, const net::Endpoint& /*to*/) override {
    sent.emplace_back(data, data + size);
  }
  void flush() override {}
  std::vector<std::vector<uint8_t>> sent;
};
struct Tun final : net::PacketSink {
  void push(uint8_t* data, uint32_t size) override { packets.emplace_back(data, data + size); }
  void flush() override {}
  std::vector<std::vector<uint8_t>> packets;
};
struct Host final : ChildSaHost {
  void schedule_probe(ChildSa& /*sa*/, Nanos /*delay*/) override {}
};

std::vector<uint8_t> ipv4(const char* src) {
  std::vector<uint8_t> p = {0x45, 0, 0, 21, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1, 7};
  auto a = net::IpAddress::parse(src).value();
  std::copy_n(a.bytes.begin(), 4, p.begin() + 12);
  return p;
}

class SadTest : public ::testing::Test {
 protected:
  SadTest() : router(tun, &clock), prober(clock, router, 1, 1400) {
    ChildSaKeys k;
    k.cipher = Cipher::kAes128Gcm16;
    k.spi_in = 0x2000;
    k.spi_out = 0x1000;
    k.keymat_in = std::vector<uint8_t>(20, 1);
    k.keymat_out = std::vector<uint8_t>(20, 2);
    local = ChildSa::create({clock, wire, host}, k, remote, 1400, "local").value();
    std::swap(k.spi_in, k.spi_out);
    std::swap(k.keymat_in, k.keymat_out);
    peer = ChildSa::create({clock, wire, host}, k, remote, 1400, "peer").value();
    sad.add(*local);
    // The remote traffic selector 10.1.0.0/16 routes to the local SA.
    router.table().insert(net::Prefix::parse("10.1.0.0/16").value(), local.get());
  }

  std::vector<uint8_t> from_peer(const std::vector<uint8_t>& inner) {
    std::vector<uint8_t> slot(dataplane::kSlotSize);
    std::copy(inner.begin(), inner.end(), slot.begin() + dataplane::kHeadroom);
    Packet p{slot.data() + dataplane::kHeadroom, uint32_t(inner.size())};
    peer->send({&p, 1});
    auto out = wire.sent.back();
    wire.sent.clear();
    return out;
  }
  void deliver(std::vector<uint8_t>& payload) {
    Datagram d{payload.data(), uint32_t(payload.size()), remote};
    sad.receive({&d, 1}, router, prober,
                [&](Datagram& m) { ike.emplace_back(m.data, m.data + m.size); });
  }

  ManualClock clock;
  Sink wire;
  Tun tun;
  Host host;
  dataplane::Router router;
  dataplane::PathProber prober;
  net::Endpoint remote = net::Endpoint::parse("198.51.100.9:4500").value();
  std::unique_ptr<ChildSa> local, peer;
  Sad sad;
  std::vector<std::vector<uint8_t>> ike;
};

TEST(EspClassify, ThreeKindsOnOnePort) {
  const std::vector<uint8_t> keepalive = {0xff};
  const std::vector<uint8_t> ike_msg = {0, 0, 0, 0, 1, 2, 3};
  const std::vector<uint8_t> esp = {0, 0, 0x10, 0, 0, 0, 0, 1};
  EXPECT_EQ(classify(keepalive), UdpKind::kKeepalive);
  EXPECT_EQ(classify(ike_msg), UdpKind::kIke);
  EXPECT_EQ(classify(esp), UdpKind::kEsp);
  EXPECT_EQ(classify(std::vector<uint8_t>{0, 0, 0, 0}), UdpKind::kInvalid);
  EXPECT_EQ(classify(std::vector<uint8_t>{1, 2}), UdpKind::kInvalid);
  EXPECT_EQ(classify(std::vector<uint8_t>{}), UdpKind::kInvalid);
}

TEST_F(SadTest, EspReachesTheTunThroughItsSa) {
  auto pkt = from_peer(ipv4("10.1.2.3"));
  deliver(pkt);
  ASSERT_EQ(tun.packets.size(), 1u);
  EXPECT_EQ(tun.packets[0], ipv4("10.1.2.3"));
  EXPECT_EQ(local->counters().packets_in, 1u);
}

TEST_F(SadTest, SourceOutsideTheSelectorsIsRefused) {
  auto pkt = from_peer(ipv4("10.9.9.9"));
  deliver(pkt);
  EXPECT_TRUE(tun.packets.empty());
  EXPECT_EQ(sad.counters().source_rejected, 1u);
}

TEST_F(SadTest, IkeKeepalivesAndStrangers) {
  std::vector<uint8_t> m = {0, 0, 0, 0, 0xaa, 0xbb};
  deliver(m);
  ASSERT_EQ(ike.size(), 1u);
  EXPECT_EQ(ike[0], (std::vector<uint8_t>{0xaa, 0xbb}));  // marker stripped
  std::vector<uint8_t> k = {0xff};
  deliver(k);
  EXPECT_EQ(sad.counters().keepalives, 1u);
  auto pkt = from_peer(ipv4("10.1.2.3"));
  pkt[2] = 0x77;  // another SPI
  deliver(pkt);
  EXPECT_EQ(sad.counters().unknown_spi, 1u);
  sad.remove(*local);
  auto again = from_peer(ipv4("10.1.2.3"));
  deliver(again);
  EXPECT_EQ(sad.counters().unknown_spi, 2u);
  EXPECT_TRUE(tun.packets.empty());
}

}  // namespace
}  // namespace waypost::esp
