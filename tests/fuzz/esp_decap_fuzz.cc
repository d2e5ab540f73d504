// Fuzzes the NAT-T port's inbound path: classification (keepalive / IKE marker / ESP), SPI lookup,
// ESP authentication, replay window, trailer and inner-header checks, then the router's source
// check. The first byte chooses the SA's transforms (bit 1: AES-256-GCM, or AES-256-CBC with
// HMAC-SHA-256-128) and one of two modes (bit 0):
//   0: the rest is one raw datagram, delivered as is (almost every input dies at the ICV check:
//      this covers classification, lengths and the SPI lookup);
//   1: the rest is an inner packet (any bytes, so the post-authentication checks of trailer and
//      inner header see garbage), sealed by the peer SA, then optionally damaged at positions the
//      input gives (byte flips and truncation) before delivery.
// Invariants: nothing crashes or reads out of bounds; a damaged packet is never delivered.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/clock.h"
#include "dataplane/path_prober.h"
#include "dataplane/router.h"
#include "esp/sad.h"

namespace {

using namespace waypost;

struct Sink final : net::DatagramSink {
  void push(const uint8_t* data, uint32_t size, const net::Endpoint& /*to*/) override {
    sent.assign(data, data + size);
  }
  void flush() override {}
  std::vector<uint8_t> sent;
};
struct Tun final : net::PacketSink {
  void push(uint8_t* data, uint32_t size) override { packets.emplace_back(data, data + size); }
  void flush() override {}
  std::vector<std::vector<uint8_t>> packets;
};
struct Host final : esp::ChildSaHost {
  void schedule_probe(esp::ChildSa& /*sa*/, Nanos /*delay*/) override {}
};

struct World {
  explicit World(bool cbc) : router(tun, &clock), prober(clock, router, 1, 1400) {
    esp::ChildSaKeys k;
    k.cipher = cbc ? esp::Cipher::kAes256Cbc : esp::Cipher::kAes256Gcm16;
    k.integrity = cbc ? esp::Integrity::kHmacSha256_128 : esp::Integrity::kNone;
    k.spi_in = 0x2000;
    k.spi_out = 0x1000;
    k.keymat_in = std::vector<uint8_t>(esp::keymat_size(k.cipher), 1);
    k.keymat_out = std::vector<uint8_t>(esp::keymat_size(k.cipher), 2);
    k.integrity_in = std::vector<uint8_t>(esp::integrity_key_size(k.integrity), 3);
    k.integrity_out = std::vector<uint8_t>(esp::integrity_key_size(k.integrity), 4);
    const auto remote = net::Endpoint::parse("198.51.100.9:4500").value();
    local = esp::ChildSa::create({clock, wire, host}, k, remote, 1400, "local").value();
    std::swap(k.spi_in, k.spi_out);
    std::swap(k.keymat_in, k.keymat_out);
    std::swap(k.integrity_in, k.integrity_out);
    peer = esp::ChildSa::create({clock, wire, host}, k, remote, 1400, "peer").value();
    sad.add(*local);
    router.table().insert(net::Prefix::parse("0.0.0.0/0").value(), local.get());
    router.table().insert(net::Prefix::parse("::/0").value(), local.get());
  }
  ManualClock clock;
  Sink wire;
  Tun tun;
  Host host;
  dataplane::Router router;
  dataplane::PathProber prober;
  std::unique_ptr<esp::ChildSa> local, peer;
  esp::Sad sad;
};

void deliver(World& w, std::vector<uint8_t>& payload) {
  dataplane::Datagram d{payload.data(), uint32_t(payload.size()),
                        net::Endpoint::parse("198.51.100.9:4500").value()};
  w.sad.receive({&d, 1}, w.router, w.prober, [](dataplane::Datagram& /*m*/) {});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // Fresh replay windows per input, so that results do not depend on input order.
  World w((data[0] & 2) != 0);
  const uint8_t mode = data[0] % 2;
  const uint8_t* rest = data + 1;
  const size_t n = size - 1;
  if (mode == 0) {
    std::vector<uint8_t> payload(rest, rest + n);
    deliver(w, payload);
    return 0;
  }
  // Mode 1: [inner length (1)] [inner bytes] [flip positions (2 bytes each)].
  if (n < 1) return 0;
  const size_t inner_len = std::min<size_t>(rest[0], n - 1);
  std::vector<uint8_t> inner(rest + 1, rest + 1 + inner_len);
  std::vector<uint8_t> slot(dataplane::kSlotSize);
  std::copy(inner.begin(), inner.end(), slot.begin() + dataplane::kHeadroom);
  dataplane::Packet p{slot.data() + dataplane::kHeadroom, uint32_t(inner.size())};
  w.peer->send({&p, 1});
  const std::vector<uint8_t> original = w.wire.sent;
  if (original.empty()) return 0;  // the peer refused to send it; nothing to damage
  std::vector<uint8_t> sealed = original;
  for (size_t i = 1 + inner_len; i + 1 < n; i += 2) {
    const size_t pos = (size_t(rest[i]) << 8 | rest[i + 1]) % (sealed.size() + 1);
    if (pos == sealed.size()) {
      sealed.pop_back();  // truncation
    } else {
      sealed[pos] ^= 0x5a;
    }
    if (sealed.empty()) break;
  }
  // Decided before delivery: the receive path decrypts in place, so `sealed` no longer holds the
  // wire bytes afterwards.
  const bool damaged = sealed != original;
  deliver(w, sealed);
  // Only flips that cancel out (the same byte an even number of times) may still deliver.
  if (damaged && !w.tun.packets.empty()) std::abort();
  return 0;
}
