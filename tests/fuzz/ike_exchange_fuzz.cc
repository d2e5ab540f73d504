// Fuzzes the IKE engine as a whole (IkeManager and IkeSa, both roles): a client and a gateway
// with pre-shared keys exchange their honest messages, and the input interleaves those with
// damaged copies, forged datagrams and time. Records, until the input ends:
//   op 0: deliver the next honest datagram unchanged
//   op 1: deliver a copy of the next honest datagram with bytes XORed at given positions
//         [count (1)] then count x [position (2), value (1)]
//   op 2: deliver raw bytes to the gateway or the client: [to (1)] [length (1)] [bytes]
//   op 3: advance the clock by [seconds (1)] and run timers
//   op 4: drop the next honest datagram
//   op 5: rekey the newest CHILD SA, from the client or the gateway: [side (1)]
// Invariants: nothing crashes or reads out of bounds; the half-open table stays within its
// limit; once the exchanges under way have settled, the two sides of one IKE SA hold the same
// CHILD SAs (mirrored SPIs).
#include <cstdint>
#include <cstdlib>
#include <deque>

#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "crypto/random.h"
#include "ike/ike_manager.h"

namespace {

using namespace waypost;
using namespace waypost::ike;

struct Datagram {
  net::Endpoint from;
  net::Endpoint to;
  std::vector<uint8_t> bytes;
};

struct Host final : IkeManagerHost {
  explicit Host(std::deque<Datagram>& w) : wire(w) {}
  void send_ike(const net::Endpoint& local, const net::Endpoint& remote,
                std::span<const uint8_t> message) override {
    if (wire.size() < 64) wire.push_back({local, remote, {message.begin(), message.end()}});
  }
  uint32_t allocate_spi() override { return next_spi++; }
  std::optional<net::IpAddress> lease_address(const Pool& pool, const std::string& /*peer*/,
                                              net::Family family) override {
    if (pool.addrs.first.family != family) return std::nullopt;
    return pool.addrs.first;
  }
  void child_sa_up(IkeSa& /*ike*/, const ChildSaInfo& /*c*/) override {}
  void child_sa_down(IkeSa& /*ike*/, const ChildSaInfo& /*c*/) override {}
  void ike_sa_down(IkeSa& /*ike*/, std::string_view /*reason*/) override {}

  std::deque<Datagram>& wire;
  uint32_t next_spi = 0x1000;
};

constexpr const char* kGateway = R"(
connections {
  rw {
    local_addrs = 192.0.2.1
    proposals = aes128gcm16-prfsha256-ecp256, aes128-sha256-modp2048
    pools = p, p6
    dpd_delay = 10s
    local { auth = psk
            id = gw.example.org }
    remote { auth = psk }
    children { net { local_ts = 10.1.0.0/16
                     esp_proposals = aes128gcm16, aes128-sha256 } }
  }
}
pools { p { addrs = 10.3.0.0/24
            dns = 10.3.0.1 }
        p6 { addrs = fd00::/120 } }
secrets { ike { secret = "fuzzing key" } }
)";

constexpr const char* kClient = R"(
connections {
  home {
    remote_addrs = 192.0.2.1
    proposals = aes128gcm16-prfsha256-ecp256
    vips = 0.0.0.0, ::
    dpd_delay = 10s
    dpd_timeout = 5s
    local { auth = psk
            id = client@example.org }
    remote { auth = psk
             id = gw.example.org }
    children { home { remote_ts = 10.1.0.0/16 } }
  }
}
secrets { ike { secret = "fuzzing key" } }
)";

const IpsecConfig& config(const char* text) {
  static IpsecConfig gateway = parse_swanctl_text(kGateway, "gw.conf", nullptr).value();
  static IpsecConfig client = parse_swanctl_text(kClient, "client.conf", nullptr).value();
  return text == kGateway ? gateway : client;
}

struct World {
  World()
      : gw_host(wire),
        client_host(wire),
        gw(clock, random, gw_host, config(kGateway), HalfOpenLimits{2, 8}),
        client(clock, random, client_host, config(kClient)) {
    client_host.next_spi = 0x2000;
    (void)client.initiate("home", "", client_ep, gw_ep);
  }
  void deliver(const Datagram& d) {
    if (d.to.ip() == gw_ep.ip()) {
      gw.receive(d.bytes, d.to, d.from);
    } else {
      client.receive(d.bytes, d.to, d.from);
    }
  }
  ManualClock clock;
  crypto::SeededRandom random{42};
  std::deque<Datagram> wire;
  Host gw_host;
  Host client_host;
  IkeManager gw;
  IkeManager client;
  net::Endpoint gw_ep = net::Endpoint::parse("192.0.2.1:500").value();
  net::Endpoint client_ep = net::Endpoint::parse("198.51.100.7:500").value();
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);  // the engine logs every refusal
    return true;
  }();
  (void)quiet;
  World w;
  size_t i = 0;
  auto take = [&]() -> int { return i < size ? data[i++] : -1; };
  for (int ops = 0; ops < 64; ++ops) {
    const int op = take();
    if (op < 0) break;
    switch (op % 6) {
      case 0:
      case 4:
        if (!w.wire.empty()) {
          Datagram d = std::move(w.wire.front());
          w.wire.pop_front();
          if (op % 6 == 0) w.deliver(d);
        }
        break;
      case 1: {
        if (w.wire.empty()) break;
        Datagram d = w.wire.front();
        w.wire.pop_front();
        const int count = take();
        for (int k = 0; k < std::max(count, 0) % 8; ++k) {
          const int hi = take();
          const int lo = take();
          const int v = take();
          if (v < 0 || d.bytes.empty()) break;
          d.bytes[size_t((hi << 8) | lo) % d.bytes.size()] ^= uint8_t(v);
        }
        w.deliver(d);
        break;
      }
      case 2: {
        const int to = take();
        const int len = take();
        if (len < 0) break;
        const size_t n = std::min<size_t>(size_t(len), size - i);
        Datagram d;
        d.bytes.assign(data + i, data + i + n);
        i += n;
        d.from = to % 2 == 0 ? w.client_ep : w.gw_ep;
        d.to = to % 2 == 0 ? w.gw_ep : w.client_ep;
        w.deliver(d);
        break;
      }
      case 5: {
        const int side = take();
        IkeManager& m = side % 2 == 0 ? w.client : w.gw;
        if (!m.sas().empty() && !m.sas().front()->children().empty()) {
          (void)m.sas().front()->rekey_child(m.sas().front()->children().back().spi_in);
        }
        break;
      }
      case 3: {
        const int s = take();
        w.clock.advance(seconds(std::max(s, 0)));
        if (w.gw.next_timer() <= w.clock.now()) w.gw.on_timer();
        if (w.client.next_timer() <= w.clock.now()) w.client.on_timer();
        break;
      }
    }
    if (w.gw.half_open() > 8) std::abort();
  }
  // Let exchanges under way finish (retransmissions answer what was dropped), then both sides
  // must agree on every CHILD SA they hold.
  for (int k = 0; k < 30; ++k) {
    for (int n = 0; n < 16 && !w.wire.empty(); ++n) {
      Datagram d = std::move(w.wire.front());
      w.wire.pop_front();
      w.deliver(d);
    }
    w.clock.advance(seconds(2));
    if (w.gw.next_timer() <= w.clock.now()) w.gw.on_timer();
    if (w.client.next_timer() <= w.clock.now()) w.client.on_timer();
  }
  if (w.client.sas().size() == 1 && w.gw.sas().size() == 1 && w.wire.empty()) {
    const IkeSa& c = *w.client.sas()[0];
    const IkeSa& g = *w.gw.sas()[0];
    if (c.state() == IkeSaState::kEstablished && g.state() == IkeSaState::kEstablished &&
        c.spi_i() == g.spi_i() && c.spi_r() == g.spi_r()) {
      for (const ChildSaInfo& x : c.children()) {
        bool mirrored = false;
        for (const ChildSaInfo& y : g.children()) {
          mirrored |= x.spi_in == y.spi_out && x.spi_out == y.spi_in;
        }
        if (!mirrored) std::abort();
      }
    }
  }
  return 0;
}
