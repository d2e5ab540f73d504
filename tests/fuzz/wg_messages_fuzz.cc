// Fuzzes the WireGuard receive path with real protocol state: two in-memory devices (see
// tests/unit/wg_pair.h) complete a handshake, then the input drives a sequence of operations —
// raw datagrams (optionally with a valid MAC1, so that the fuzzer gets past the cheap check into
// the handshake code), valid transport packets, mutations of real packets, replays, and time
// passing. Every message type and every state is reachable; nothing may crash, leak or hang.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/bytes.h"
#include "crypto/blake2s.h"
#include "wg_pair.h"
#include "wireguard/cookie.h"
#include "wireguard/messages.h"

namespace {

using namespace waypost;

// MAC1 as the responder expects it, so that arbitrary bodies reach the Noise code.
void fix_mac1(std::vector<uint8_t>& m, const crypto::PublicKey& responder) {
  if (m.size() != wireguard::initiation::kSize && m.size() != wireguard::response::kSize) return;
  auto key = wireguard::derive_label_key(wireguard::kLabelMac1, responder);
  const size_t off = m.size() - 2 * wireguard::kMacSize;
  std::array<uint8_t, 16> mac{};
  crypto::blake2s_mac(mac, key, {std::span<const uint8_t>(m.data(), off)});
  std::copy(mac.begin(), mac.end(), m.begin() + long(off));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = (spdlog::set_level(spdlog::level::off), true);
  (void)quiet;
  test::Pair p;
  p.connect();
  p.a.send_inner(test::ipv4_packet("10.0.0.1", "10.0.0.2", 8));
  p.pump();

  ByteReader in({data, size});
  std::vector<uint8_t> last_from_a;
  for (int ops = 0; ops < 64 && in.remaining() > 0; ++ops) {
    const uint8_t op = in.u8();
    switch (op % 8) {
      case 0:
      case 1: {  // raw datagram to b, MAC1 fixed when op is odd
        size_t len = in.u8() | size_t(in.u8()) << 8;
        auto body = in.bytes(std::min(len, in.remaining()));
        std::vector<uint8_t> m(body.begin(), body.end());
        if (op & 1) fix_mac1(m, p.b.key.public_key());
        test::Pair::deliver_one(m, p.a.address, p.b);
        break;
      }
      case 2: {  // a sends a real packet; keep a copy of what it sent
        size_t len = in.u8();
        p.a.send_inner(test::ipv4_packet("10.0.0.1", "10.0.0.2", len, in.u8()));
        if (!p.a.link.sent.empty()) last_from_a = p.a.link.sent.back().bytes;
        p.pump();
        break;
      }
      case 3: {  // mutate a copy of the last real packet and deliver it (or replay it as is)
        if (last_from_a.empty()) break;
        auto m = last_from_a;
        size_t pos = in.u8() | size_t(in.u8()) << 8;
        uint8_t x = in.u8();
        if (!m.empty()) m[pos % m.size()] ^= x;
        test::Pair::deliver_one(m, p.a.address, p.b);
        break;
      }
      case 4:  // time passes: timers fire, sessions age
        p.advance(millis(int64_t(in.u8()) * 500), (op & 8) != 0);
        break;
      case 5:  // b talks back
        p.b.send_inner(test::ipv4_packet("10.0.0.2", "10.0.0.1", in.u8()));
        p.pump();
        break;
      case 6: {  // an inner packet with an arbitrary header through the router
        size_t len = in.u8();
        auto body = in.bytes(std::min(len, in.remaining()));
        if (body.size() >= 20) p.a.send_inner(std::vector<uint8_t>(body.begin(), body.end()));
        p.pump();
        break;
      }
      case 7:  // load: cookies on b
        p.b.device.force_under_load((op & 8) != 0);
        break;
    }
  }
  return 0;
}
