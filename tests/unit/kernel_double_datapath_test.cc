// The data path as the interface daemon wires it, with the kernel played by the doubles of
// kernel_double.h: TUN -> Router -> WireGuard Device -> UDP, and UDP -> Device -> Router -> TUN,
// on a virtual clock, for two tunnel ends. The devices come from the kernel interface
// (platform::Kernel) and are driven through TunIo / UdpIo exactly as InterfaceDaemon's
// on_tun_readable and on_udp_readable do; the namespace tests run the real daemon.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "crypto/x25519.h"
#include "dataplane/router.h"
#include "kernel_double.h"
#include "wg_pair.h"  // ipv4_packet
#include "wireguard/device.h"
#include "wireguard/messages.h"

namespace waypost::test {
namespace {

wireguard::MessageType message_type(const SentDatagramRecord& d) {
  return wireguard::MessageType(d.bytes.empty() ? 0 : d.bytes[0]);
}

bool contains_bytes(const std::vector<uint8_t>& haystack, const std::vector<uint8_t>& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

// One tunnel end: what InterfaceDaemon holds, minus the event loop and control sockets.
struct End {
  static constexpr size_t kTunBatch = 128;  // as InterfaceDaemon

  End(ManualClock& clock, uint64_t seed, const char* outer_ip, uint16_t port)
      : tun_io_(kernel_.create_tun("wpt0", false).value()),
        udp_io_(kernel_.bind_udp(port, 0, false).value()),
        tun(*kernel_.tun),
        udp(*kernel_.udp),
        rng_(seed),
        router_(*tun_io_, &clock),
        prober_(clock, router_, uint16_t(seed), wireguard::kDefaultMtu),
        device({clock, rng_, *udp_io_, router_, prober_, nullptr, nullptr}),
        address(net::Endpoint::from(net::IpAddress::parse(outer_ip).value(), port)),
        slots_(kTunBatch * net::kSlotSize) {
    crypto::SeededRandom keyrng(seed * 7919);
    key = crypto::X25519Key::generate(keyrng);
    device.set_private_key(key.private_key());
  }

  // InterfaceDaemon::on_tun_readable.
  size_t on_tun_readable() {
    return tun_io_->read(slots_.data(), kTunBatch, 64, [this](std::span<net::Packet> packets) {
      router_.dispatch(packets);
      device.flush();
    });
  }

  // InterfaceDaemon::on_udp_readable.
  size_t on_udp_readable() {
    size_t n = udp_io_->receive(16, [this](std::span<net::Datagram> datagrams) {
      device.receive(datagrams);
      device.flush();
    });
    device.process_handshakes(16);
    device.flush();
    return n;
  }

  // In construction order: the kernel hands out the devices, the router and the WireGuard
  // device hold them as their sinks.
  KernelDouble kernel_;
  std::unique_ptr<platform::TunIo> tun_io_;
  std::unique_ptr<platform::UdpIo> udp_io_;
  TunDouble& tun;  // the same objects, for injecting and inspecting
  UdpDouble& udp;
  crypto::SeededRandom rng_;
  dataplane::Router router_;
  dataplane::PathProber prober_;
  wireguard::Device device;
  net::Endpoint address;
  crypto::X25519Key key;
  std::vector<uint8_t> slots_;
};

class DataPathWithDoubles : public ::testing::Test {
 protected:
  DataPathWithDoubles() : a(clock, 1, "192.0.2.1", 51820), b(clock, 2, "192.0.2.2", 51821) {
    // a owns 10.0.0.1, b 10.0.0.2; a knows where b is, b learns a from its handshake.
    auto* pa = a.device.add_peer(b.key.public_key());
    auto* pb = b.device.add_peer(a.key.public_key());
    a.device.add_allowed_ip(*pa, net::Prefix::parse("10.0.0.2/32").value());
    b.device.add_allowed_ip(*pb, net::Prefix::parse("10.0.0.1/32").value());
    pa->set_endpoint(b.address);
  }

  // Moves what `from` sent to `to` into to's UDP double (as the network would) and lets `to`
  // read it. Returns the number of datagrams moved.
  size_t deliver(End& from, End& to) {
    size_t n = 0;
    while (!from.udp.sent.empty()) {
      SentDatagramRecord d = std::move(from.udp.sent.front());
      from.udp.sent.pop_front();
      EXPECT_EQ(d.to, to.address);
      to.udp.inject(std::move(d.bytes), from.address);
      ++n;
    }
    if (n > 0) to.on_udp_readable();
    return n;
  }

  // Runs the handshake that the first packet from a to b starts, leaving that packet sealed in
  // a's UDP double.
  void handshake(const std::vector<uint8_t>& first) {
    a.tun.inject(first);
    ASSERT_EQ(a.on_tun_readable(), 1u);
    ASSERT_EQ(a.udp.sent.size(), 1u);
    EXPECT_EQ(message_type(a.udp.sent[0]), wireguard::MessageType::kHandshakeInitiation);
    ASSERT_EQ(deliver(a, b), 1u);
    ASSERT_EQ(b.udp.sent.size(), 1u);
    EXPECT_EQ(message_type(b.udp.sent[0]), wireguard::MessageType::kHandshakeResponse);
    ASSERT_EQ(deliver(b, a), 1u);
  }

  ManualClock clock;
  End a;
  End b;
};

TEST_F(DataPathWithDoubles, PacketWrittenIntoTunLeavesUdpSealedAndComesOutOfTheOtherTun) {
  const auto inner = ipv4_packet("10.0.0.1", "10.0.0.2", 100, 0x5a);
  handshake(inner);
  // The staged packet left once the handshake completed: one transport message, padded to a
  // multiple of 16 and sealed (the inner bytes are nowhere in it).
  ASSERT_EQ(a.udp.sent.size(), 1u);
  const auto& sealed = a.udp.sent[0];
  EXPECT_EQ(message_type(sealed), wireguard::MessageType::kTransportData);
  EXPECT_EQ(sealed.bytes.size(), 16 + 128 + 16u);
  EXPECT_EQ(sealed.to, b.address);
  EXPECT_FALSE(contains_bytes(sealed.bytes, std::vector<uint8_t>(inner.begin() + 28, inner.end())));
  EXPECT_TRUE(b.tun.written.empty());

  ASSERT_EQ(deliver(a, b), 1u);
  ASSERT_EQ(b.tun.written.size(), 1u);
  EXPECT_EQ(b.tun.written[0], inner);

  // And back: a datagram arriving on a's UDP socket comes out of a's TUN device.
  const auto reply = ipv4_packet("10.0.0.2", "10.0.0.1", 60, 0xa5);
  b.tun.inject(reply);
  ASSERT_EQ(b.on_tun_readable(), 1u);
  ASSERT_EQ(b.udp.sent.size(), 1u);
  EXPECT_EQ(message_type(b.udp.sent[0]), wireguard::MessageType::kTransportData);
  EXPECT_EQ(b.udp.sent[0].to, a.address);  // learnt from the handshake
  ASSERT_EQ(deliver(b, a), 1u);
  ASSERT_EQ(a.tun.written.size(), 1u);
  EXPECT_EQ(a.tun.written[0], reply);
}

TEST_F(DataPathWithDoubles, BatchesStayInOrderAndAreBoundedPerWakeUp) {
  handshake(ipv4_packet("10.0.0.1", "10.0.0.2", 20));
  ASSERT_EQ(deliver(a, b), 1u);
  b.tun.written.clear();

  std::vector<std::vector<uint8_t>> inners;
  inners.reserve(100);
  for (int i = 0; i < 100; ++i) inners.push_back(ipv4_packet("10.0.0.1", "10.0.0.2", 40, i));
  for (const auto& p : inners) a.tun.inject(p);
  // The daemon reads at most 64 packets per wake-up, so that one side cannot starve the other.
  const size_t flushes = a.udp.flushes;
  EXPECT_EQ(a.on_tun_readable(), 64u);
  EXPECT_EQ(a.udp.sent.size(), 64u);
  EXPECT_EQ(a.on_tun_readable(), 36u);
  EXPECT_EQ(a.udp.sent.size(), 100u);
  EXPECT_EQ(a.udp.flushes - flushes, 2u);  // one flush per batch, not per packet

  // b receives them in receive batches of 32 and writes them to its TUN device in order.
  ASSERT_EQ(deliver(a, b), 100u);
  EXPECT_EQ(b.tun.written, inners);
}

TEST_F(DataPathWithDoubles, PacketsOutsideAllowedIpsAreDroppedBothWays) {
  handshake(ipv4_packet("10.0.0.1", "10.0.0.2", 20));
  ASSERT_EQ(deliver(a, b), 1u);
  b.tun.written.clear();

  // No peer for 10.0.0.3: nothing leaves.
  a.tun.inject(ipv4_packet("10.0.0.1", "10.0.0.3", 20));
  EXPECT_EQ(a.on_tun_readable(), 1u);
  EXPECT_TRUE(a.udp.sent.empty());
  EXPECT_EQ(a.router_.counters().no_route, 1u);

  // b claims a source it does not own (b's allowed IPs at a are 10.0.0.2/32 only): sealed and
  // sent, but a's source check drops it instead of writing it to its TUN device.
  b.tun.inject(ipv4_packet("10.0.0.9", "10.0.0.1", 20));
  EXPECT_EQ(b.on_tun_readable(), 1u);
  // b routes by destination: 10.0.0.1 is a's, so it goes out.
  ASSERT_EQ(b.udp.sent.size(), 1u);
  ASSERT_EQ(deliver(b, a), 1u);
  EXPECT_TRUE(a.tun.written.empty());
  EXPECT_EQ(a.router_.counters().source_rejected, 1u);
  EXPECT_EQ(a.device.counters().rx_decrypt_failed, 0u);  // it was opened, then refused
}

}  // namespace
}  // namespace waypost::test
