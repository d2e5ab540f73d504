#pragma once
// Two WireGuard devices wired together in memory on one virtual clock: what one sends, the test
// delivers to the other (or drops, replays, reroutes). No sockets, no TUN, no real time.
#include <deque>
#include <memory>
#include <vector>

#include "common/bytes.h"
#include "common/work_pool.h"
#include "crypto/x25519.h"
#include "dataplane/router.h"
#include "wireguard/device.h"

namespace waypost::test {

struct SentDatagram {
  std::vector<uint8_t> bytes;
  net::Endpoint to;
};

class MemoryLink final : public dataplane::DatagramSink {
 public:
  void push(const uint8_t* data, uint32_t size, const net::Endpoint& to) override {
    sent.push_back({std::vector<uint8_t>(data, data + size), to});
  }
  void flush() override {}
  std::deque<SentDatagram> sent;
};

class MemoryTun final : public dataplane::PacketSink {
 public:
  void push(uint8_t* data, uint32_t size) override { packets.emplace_back(data, data + size); }
  void flush() override {}
  std::vector<std::vector<uint8_t>> packets;
};

// A minimal IPv4/UDP packet from src to dst with `payload_len` bytes of payload.
inline std::vector<uint8_t> ipv4_packet(const char* src, const char* dst, size_t payload_len,
                                        uint8_t fill = 0xab) {
  std::vector<uint8_t> p(28 + payload_len, fill);
  p[0] = 0x45;
  p[1] = 0;
  store_be16(&p[2], uint16_t(p.size()));
  store_be16(&p[4], 0);
  store_be16(&p[6], 0);
  p[8] = 64;
  p[9] = 17;
  store_be16(&p[10], 0);
  auto s = net::IpAddress::parse(src).value();
  auto d = net::IpAddress::parse(dst).value();
  std::copy_n(s.bytes.begin(), 4, p.begin() + 12);
  std::copy_n(d.bytes.begin(), 4, p.begin() + 16);
  store_be16(&p[20], 1000);
  store_be16(&p[22], 2000);
  store_be16(&p[24], uint16_t(8 + payload_len));
  store_be16(&p[26], 0);
  return p;
}

struct Node {
  Node(ManualClock& clock, uint64_t seed, const char* outer_ip, uint16_t port,
       WorkPool* pool = nullptr)
      : rng(seed),
        router(tun),
        prober(clock, router, uint16_t(seed), wireguard::kDefaultMtu),
        device({clock, rng, link, router, prober, nullptr, pool}),
        address(net::Endpoint::from(net::IpAddress::parse(outer_ip).value(), port)) {
    crypto::SeededRandom keyrng(seed * 7919);
    key = crypto::X25519Key::generate(keyrng);
    device.set_private_key(key.private_key());
  }

  // Sends an inner packet as if read from the TUN device.
  void send_inner(const std::vector<uint8_t>& inner) {
    buffers.emplace_back(dataplane::kSlotSize);
    auto& buf = buffers.back();
    std::copy(inner.begin(), inner.end(), buf.begin() + dataplane::kHeadroom);
    dataplane::Packet p{buf.data() + dataplane::kHeadroom, uint32_t(inner.size())};
    router.dispatch({&p, 1});
    device.flush();
  }

  // Sends several inner packets as one TUN batch (exercises the batched crypto paths).
  void send_inner_batch(const std::vector<std::vector<uint8_t>>& inners) {
    std::vector<dataplane::Packet> packets;
    for (const auto& inner : inners) {
      buffers.emplace_back(dataplane::kSlotSize);
      auto& buf = buffers.back();
      std::copy(inner.begin(), inner.end(), buf.begin() + dataplane::kHeadroom);
      packets.push_back({buf.data() + dataplane::kHeadroom, uint32_t(inner.size())});
    }
    router.dispatch(packets);
    device.flush();
  }

  crypto::SeededRandom rng;
  MemoryLink link;
  MemoryTun tun;
  dataplane::Router router;
  dataplane::PathProber prober;
  wireguard::Device device;
  net::Endpoint address;
  crypto::X25519Key key;
  std::deque<std::vector<uint8_t>> buffers;  // keep sent packets alive like the I/O pool would
};

class Pair {
 public:
  explicit Pair(WorkPool* pool = nullptr)
      : a(clock, 1, "192.0.2.1", 51820, pool), b(clock, 2, "192.0.2.2", 51821, pool) {}

  // Makes a and b peers of each other: a owns 10.0.0.1/32, b 10.0.0.2/32.
  void connect(bool with_psk = false, bool a_knows_b_endpoint = true,
               bool b_knows_a_endpoint = false) {
    pa = a.device.add_peer(b.key.public_key());
    pb = b.device.add_peer(a.key.public_key());
    a.device.add_allowed_ip(*pa, net::Prefix::parse("10.0.0.2/32").value());
    b.device.add_allowed_ip(*pb, net::Prefix::parse("10.0.0.1/32").value());
    if (a_knows_b_endpoint) pa->set_endpoint(b.address);
    if (b_knows_a_endpoint) pb->set_endpoint(a.address);
    if (with_psk) {
      crypto::SymmetricKey psk;
      psk.data()[0] = 42;
      a.device.set_preshared_key(*pa, psk);
      b.device.set_preshared_key(*pb, psk);
    }
  }

  // Delivers everything queued on both sides until quiet; returns datagrams delivered.
  // `from_a_address` overrides the source a appears to send from (roaming).
  size_t pump(int max_rounds = 20) {
    size_t delivered = 0;
    for (int r = 0; r < max_rounds; ++r) {
      size_t n = deliver(a, b) + deliver(b, a);
      delivered += n;
      if (n == 0) break;
    }
    return delivered;
  }

  size_t deliver(Node& from, Node& to) {
    size_t n = 0;
    while (!from.link.sent.empty()) {
      SentDatagram d = std::move(from.link.sent.front());
      from.link.sent.pop_front();
      if (!(d.to == to.address)) continue;          // addressed elsewhere: lost
      if (d.bytes.size() > max_datagram) continue;  // too big for the path: silently lost
      deliver_one(d.bytes, from.address, to);
      ++n;
    }
    return n;
  }

  // Delivers everything a has queued to b in one receive batch (exercises batched opening).
  void deliver_batch(Node& from, Node& to) {
    std::vector<std::vector<uint8_t>> copies;
    while (!from.link.sent.empty()) {
      copies.push_back(std::move(from.link.sent.front().bytes));
      from.link.sent.pop_front();
    }
    std::vector<dataplane::Datagram> dgs;
    dgs.reserve(copies.size());
    for (auto& c : copies) dgs.push_back({c.data(), uint32_t(c.size()), from.address});
    to.device.receive(dgs);
    to.device.flush();
    to.device.process_handshakes(1000);
    to.device.flush();
  }

  static void deliver_one(std::vector<uint8_t> bytes, const net::Endpoint& from, Node& to) {
    dataplane::Datagram dg{bytes.data(), uint32_t(bytes.size()), from};
    to.device.receive({&dg, 1});
    to.device.flush();
    to.device.process_handshakes(1000);
    to.device.flush();
  }

  // Lets time pass in small steps so that timers fire in order, like the real event loop.
  // Datagrams sent meanwhile are delivered at once (a live network) unless `offline`, in which
  // case they stay queued in the senders' links for the test to inspect or drop.
  void advance(Nanos d, bool offline = false) {
    const Nanos step = millis(100);
    for (Nanos t = 0; t < d; t += step) {
      clock.advance(std::min(step, d - t));
      a.device.run_timers();
      b.device.run_timers();
      a.device.flush();
      b.device.flush();
      if (!offline) pump();
    }
  }

  ManualClock clock;
  size_t max_datagram = 65535;  // the path's MTU minus outer IP/UDP headers; bigger ones vanish
  Node a;
  Node b;
  wireguard::Peer* pa = nullptr;  // b as seen by a
  wireguard::Peer* pb = nullptr;  // a as seen by b
};

}  // namespace waypost::test
