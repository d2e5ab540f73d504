// ESP in UDP (RFC 4303, 3948) as a data-plane Tunnel: known-answer packets computed with an
// independent implementation, a round trip between two SAs, and everything a receiver must drop.
#include <gtest/gtest.h>

#include <vector>

#include "common/encoding.h"
#include "esp/child_sa.h"

namespace waypost::esp {
namespace {

using dataplane::Packet;

struct Sink final : net::DatagramSink {
  void push(const uint8_t* data, uint32_t size, const net::Endpoint& to) override {
    sent.emplace_back(data, data + size);
    last_to = to;
  }
  void flush() override { ++flushes; }
  std::vector<std::vector<uint8_t>> sent;
  net::Endpoint last_to;
  int flushes = 0;
};

struct Host final : ChildSaHost {
  void schedule_probe(ChildSa& /*sa*/, Nanos delay) override { last_delay = delay; }
  Nanos last_delay = -1;
};

std::vector<uint8_t> hex(const char* s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; s[i] != 0 && s[i + 1] != 0; i += 2) {
    out.push_back(uint8_t(std::stoi(std::string(s + i, 2), nullptr, 16)));
  }
  return out;
}

std::vector<uint8_t> keymat32() {
  std::vector<uint8_t> k(36);
  for (int i = 0; i < 32; ++i) k[size_t(i)] = uint8_t(i);
  k[32] = 0xca, k[33] = 0xfe, k[34] = 0xba, k[35] = 0xbe;
  return k;
}

// A 21-byte IPv4 packet (UDP 10.0.0.1 -> 10.0.0.2 with one byte "a").
const std::vector<uint8_t> kInner = {0x45, 0,  0, 21, 0, 0,  0, 0, 64, 17,  0,
                                     0,    10, 0, 0,  1, 10, 0, 0, 2,  0x61};

class EspTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChildSa> make(Cipher cipher, uint32_t spi_in, uint32_t spi_out,
                                Integrity integrity = Integrity::kNone) {
    ChildSaKeys keys;
    keys.cipher = cipher;
    keys.integrity = integrity;
    keys.spi_in = spi_in;
    keys.spi_out = spi_out;
    keys.keymat_in = cipher == Cipher::kAes256Gcm16 || cipher == Cipher::kChaCha20Poly1305
                         ? keymat32()
                         : std::vector<uint8_t>(keymat_size(cipher), 7);
    keys.keymat_out = keys.keymat_in;
    keys.integrity_in = std::vector<uint8_t>(integrity_key_size(integrity), 9);
    keys.integrity_out = keys.integrity_in;
    auto sa = ChildSa::create({clock, sink, host}, keys, remote, 1400, "net");
    EXPECT_TRUE(sa.ok());
    return sa ? std::move(*sa) : nullptr;
  }
  // Seals `inner` through `sa` and returns the datagram.
  std::vector<uint8_t> seal(ChildSa& sa, const std::vector<uint8_t>& inner) {
    std::vector<uint8_t> slot(dataplane::kSlotSize);
    std::copy(inner.begin(), inner.end(), slot.begin() + dataplane::kHeadroom);
    Packet p{slot.data() + dataplane::kHeadroom, uint32_t(inner.size())};
    sa.send({&p, 1});
    EXPECT_FALSE(sink.sent.empty());
    auto out = sink.sent.back();
    sink.sent.clear();
    return out;
  }

  void tampered_packets_are_dropped(Cipher cipher, Integrity integrity);

  ManualClock clock;
  Sink sink;
  Host host;
  net::Endpoint remote = net::Endpoint::parse("192.0.2.7:4500").value();
};

// Vectors from Python's `cryptography` (AESGCM / ChaCha20Poly1305): key 00..1f, salt cafebabe,
// SPI 0x11223344, sequence number 1 (also the IV), padding 1 2 3, next header 4:
//   aad = struct.pack(">II", spi, seq); iv = struct.pack(">Q", seq)
//   pkt = aad + iv + AESGCM(key).encrypt(salt + iv, inner + b"\1\2\3" + b"\3\4", aad)
TEST_F(EspTest, KnownAnswerAes256Gcm) {
  auto sa = make(Cipher::kAes256Gcm16, 1, 0x11223344);
  EXPECT_EQ(to_hex(seal(*sa, kInner)),
            "11223344000000010000000000000001cd929a9169e62c213cb86a24a4643e66dc862414090aaf6b45f8"
            "765b0de9e4923ec3161a8f9f0336");
  EXPECT_EQ(sink.last_to.to_string(), "192.0.2.7:4500");
}

TEST_F(EspTest, KnownAnswerChaCha20Poly1305) {
  auto sa = make(Cipher::kChaCha20Poly1305, 1, 0x11223344);
  EXPECT_EQ(to_hex(seal(*sa, kInner)),
            "1122334400000001000000000000000119c7363d112540dcc78fd2baae5df2c43bb90fd101d8d33cf9fb"
            "f3901cc3f6e428470bcb6157dbc5");
}

TEST_F(EspTest, OpensTheKnownAnswerPacket) {
  auto sa = make(Cipher::kAes256Gcm16, 0x11223344, 1);
  auto pkt =
      hex("11223344000000010000000000000001cd929a9169e62c213cb86a24a4643e66dc862414090aaf6b45f8765b"
          "0de9e4923ec3161a8f9f0336");
  Packet inner;
  ASSERT_EQ(sa->open(pkt.data(), uint32_t(pkt.size()), inner), ChildSa::Opened::kPacket);
  EXPECT_EQ(std::vector<uint8_t>(inner.data, inner.data + inner.size), kInner);
  EXPECT_EQ(sa->counters().packets_in, 1u);
  EXPECT_EQ(sa->counters().bytes_in, kInner.size());
  // The same packet again is a replay.
  pkt =
      hex("11223344000000010000000000000001cd929a9169e62c213cb86a24a4643e66dc862414090aaf6b45f8765b"
          "0de9e4923ec3161a8f9f0336");
  EXPECT_EQ(sa->open(pkt.data(), uint32_t(pkt.size()), inner), ChildSa::Opened::kDropped);
  EXPECT_EQ(sa->counters().replayed, 1u);
}

struct Suite {
  Cipher cipher;
  Integrity integrity;
};
constexpr Suite kSuites[] = {
    {Cipher::kAes128Gcm16, Integrity::kNone},
    {Cipher::kAes256Gcm16, Integrity::kNone},
    {Cipher::kChaCha20Poly1305, Integrity::kNone},
    {Cipher::kAes128Cbc, Integrity::kHmacSha1_96},
    {Cipher::kAes192Cbc, Integrity::kHmacSha256_128},
    {Cipher::kAes256Cbc, Integrity::kHmacSha384_192},
    {Cipher::kAes256Cbc, Integrity::kHmacSha512_256},
};

TEST_F(EspTest, RoundTripEveryCipherAndSize) {
  for (const Suite& s : kSuites) {
    auto a = make(s.cipher, 100, 200, s.integrity);
    auto b = make(s.cipher, 200, 100, s.integrity);
    const size_t around = 8 + iv_size(s.cipher) + icv_size(s.cipher, s.integrity);
    for (uint32_t size = 20; size <= 60; ++size) {
      std::vector<uint8_t> inner(size, uint8_t(size));
      inner[0] = 0x45;
      auto pkt = seal(*a, inner);
      EXPECT_EQ((pkt.size() - around) % block_size(s.cipher), 0u);
      Packet out;
      ASSERT_EQ(b->open(pkt.data(), uint32_t(pkt.size()), out), ChildSa::Opened::kPacket);
      EXPECT_EQ(std::vector<uint8_t>(out.data, out.data + out.size), inner);
    }
    // IPv6 inner packets carry next header 41.
    std::vector<uint8_t> v6(48, 0);
    v6[0] = 0x60;
    auto pkt = seal(*a, v6);
    Packet out;
    EXPECT_EQ(b->open(pkt.data(), uint32_t(pkt.size()), out), ChildSa::Opened::kPacket);
  }
}

TEST_F(EspTest, CbcIvsAreFreshPerPacket) {
  auto a = make(Cipher::kAes256Cbc, 1, 2, Integrity::kHmacSha256_128);
  const auto p1 = seal(*a, kInner);
  const auto p2 = seal(*a, kInner);
  // SPI 4, sequence 4, then the 16-byte IV; the same inner packet never encrypts the same way.
  EXPECT_NE(std::vector<uint8_t>(p1.begin() + 8, p1.begin() + 24),
            std::vector<uint8_t>(p2.begin() + 8, p2.begin() + 24));
  EXPECT_NE(std::vector<uint8_t>(p1.begin() + 24, p1.end()),
            std::vector<uint8_t>(p2.begin() + 24, p2.end()));
  // IPv4 20 + UDP 8 + SPI/seq 8 + IV 16 + padding up to 15 + trailer 2 + ICV 16.
  EXPECT_EQ(a->overhead(), 85u);
}

TEST_F(EspTest, TamperedPacketsAreDroppedAndCounted) {
  for (const Suite& s : {kSuites[1], kSuites[5]}) {
    tampered_packets_are_dropped(s.cipher, s.integrity);
  }
}

void EspTest::tampered_packets_are_dropped(Cipher cipher, Integrity integrity) {
  auto a = make(cipher, 1, 2, integrity);
  auto b = make(cipher, 2, 1, integrity);
  const auto good = seal(*a, kInner);
  for (size_t i = 4; i < good.size(); ++i) {  // every byte after the SPI
    auto bad = good;
    bad[i] ^= 0x01;
    Packet out;
    EXPECT_EQ(b->open(bad.data(), uint32_t(bad.size()), out), ChildSa::Opened::kDropped) << i;
  }
  EXPECT_EQ(b->counters().auth_failed, good.size() - 4);
  EXPECT_EQ(b->counters().packets_in, 0u);
  // Truncations: never read outside the packet, always dropped.
  for (size_t n = 0; n < good.size(); ++n) {
    auto cut = std::vector<uint8_t>(good.begin(), good.begin() + long(n));
    cut.reserve(1);
    Packet out;
    EXPECT_EQ(b->open(cut.data(), uint32_t(n), out), ChildSa::Opened::kDropped) << n;
  }
  auto copy = good;
  Packet out;
  EXPECT_EQ(b->open(copy.data(), uint32_t(copy.size()), out), ChildSa::Opened::kPacket);
}

TEST_F(EspTest, ReplayWindowAcceptsReorderingOnce) {
  auto a = make(Cipher::kAes256Gcm16, 1, 2);
  auto b = make(Cipher::kAes256Gcm16, 2, 1);
  std::vector<std::vector<uint8_t>> pkts;
  pkts.reserve(5);
  for (int i = 0; i < 5; ++i) pkts.push_back(seal(*a, kInner));
  Packet out;
  for (int i : {4, 0, 2, 1, 3}) {
    auto p = pkts[size_t(i)];
    EXPECT_EQ(b->open(p.data(), uint32_t(p.size()), out), ChildSa::Opened::kPacket) << i;
  }
  for (int i = 0; i < 5; ++i) {
    auto p = pkts[size_t(i)];
    EXPECT_EQ(b->open(p.data(), uint32_t(p.size()), out), ChildSa::Opened::kDropped) << i;
  }
  EXPECT_EQ(b->counters().replayed, 5u);
}

TEST_F(EspTest, OverheadAndProbes) {
  auto a = make(Cipher::kAes256Gcm16, 1, 2);
  // IPv4 20 + UDP 8 + SPI/seq 8 + IV 8 + padding up to 3 + trailer 2 + ICV 16.
  EXPECT_EQ(a->overhead(), 65u);
  std::vector<uint8_t> slot(dataplane::kSlotSize);
  std::copy(kInner.begin(), kInner.end(), slot.begin() + dataplane::kHeadroom);
  EXPECT_TRUE(a->send_probe(Packet{slot.data() + dataplane::kHeadroom, uint32_t(kInner.size())}));
  EXPECT_EQ(sink.flushes, 1);  // sent at once
  a->schedule_probe(millis(5));
  EXPECT_EQ(host.last_delay, millis(5));
}

}  // namespace
}  // namespace waypost::esp
