// Responder handshake throughput on one core: how many handshake initiations per second one
// Waypost thread turns into responses (and, under cookie load, into cookie replies). The
// initiators' work is done before the clock starts; only the responder is timed.
//
//   handshake_bench [--peers N] [--rounds R] [--json]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "crypto/random.h"
#include "crypto/x25519.h"
#include "dataplane/router.h"
#include "wireguard/cookie.h"
#include "wireguard/device.h"
#include "wireguard/noise.h"

using namespace waypost;

namespace {

struct NullSink final : dataplane::DatagramSink, dataplane::PacketSink {
  void push(const uint8_t*, uint32_t, const net::Endpoint&) override { ++sent; }
  void push(uint8_t*, uint32_t) override {}
  void flush() override {}
  uint64_t sent = 0;
};

struct Initiator {
  wireguard::LocalIdentity identity;
  wireguard::Handshake handshake;
  wireguard::CookieMaker cookie;
  net::Endpoint from;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int peers = 256, rounds = 8;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--peers") && i + 1 < argc) {
      peers = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--json")) {
      json = true;
    }
  }
  spdlog::set_level(spdlog::level::off);
  ManualClock clock;
  crypto::SeededRandom rng(42);
  NullSink sink;
  dataplane::Router router(sink);
  dataplane::PathProber prober(clock, router, 1, wireguard::kDefaultMtu);
  wireguard::Device responder(
      {clock, crypto::system_random(), sink, router, prober, nullptr, nullptr});
  auto rkey = crypto::X25519Key::generate(rng);
  responder.set_private_key(rkey.private_key());

  std::vector<Initiator> inits(static_cast<size_t>(peers));
  for (int i = 0; i < peers; ++i) {
    auto k = crypto::X25519Key::generate(rng);
    inits[size_t(i)].identity.set_private_key(k.private_key());
    inits[size_t(i)].handshake.set_static_keys(inits[size_t(i)].identity, rkey.public_key());
    inits[size_t(i)].cookie.set_remote_public_key(rkey.public_key());
    inits[size_t(i)].from =
        net::Endpoint::from(net::IpAddress::v4(0xc6336400u + uint32_t(i)), 40000);
    responder.add_peer(k.public_key());
  }

  auto make_round = [&](std::vector<std::vector<uint8_t>>& msgs) {
    msgs.clear();
    for (auto& in : inits) {
      std::vector<uint8_t> m(wireguard::initiation::kSize);
      wireguard::create_initiation(
          std::span<uint8_t, wireguard::initiation::kSize>(m.data(), m.size()), in.handshake,
          in.identity, rng.u32() | 1, clock, rng);
      in.cookie.add_macs(m, clock);
      msgs.push_back(std::move(m));
    }
  };
  auto run_round = [&](std::vector<std::vector<uint8_t>>& msgs) {
    std::vector<dataplane::Datagram> dgs;
    for (size_t i = 0; i < msgs.size(); ++i) {
      dgs.push_back({msgs[i].data(), uint32_t(msgs[i].size()), inits[i].from});
    }
    // In chunks that fit the handshake queue, as the event loop would feed it.
    for (size_t off = 0; off < dgs.size(); off += 64) {
      size_t n = std::min<size_t>(64, dgs.size() - off);
      responder.receive({dgs.data() + off, n});
      responder.process_handshakes(1000);
      responder.flush();
    }
  };

  std::vector<std::vector<uint8_t>> msgs;
  // Full handshakes.
  double full_time = 0;
  uint64_t before = sink.sent;
  for (int r = 0; r < rounds; ++r) {
    clock.advance(seconds(1));  // new timestamps; each peer stays under 50 initiations/s
    make_round(msgs);
    auto t0 = std::chrono::steady_clock::now();
    run_round(msgs);
    full_time += seconds_since(t0);
  }
  const uint64_t responses = sink.sent - before;
  // Under cookie load: no MAC2, so every initiation gets a cookie reply instead of DH work.
  responder.force_under_load(true);
  double cookie_time = 0;
  before = sink.sent;
  const uint64_t cookies_before = responder.counters().hs_cookies_sent;
  for (int r = 0; r < rounds; ++r) {
    clock.advance(seconds(1));
    make_round(msgs);
    auto t0 = std::chrono::steady_clock::now();
    run_round(msgs);
    cookie_time += seconds_since(t0);
  }
  const uint64_t cookies = responder.counters().hs_cookies_sent - cookies_before;
  const double full_rate = double(responses) / full_time;
  const double cookie_rate = double(cookies) / cookie_time;
  if (json) {
    std::printf(
        "{\"handshake_responses\": %llu, \"responses_per_second\": %.0f, "
        "\"cookie_replies\": %llu, \"cookie_replies_per_second\": %.0f}\n",
        static_cast<unsigned long long>(responses), full_rate,
        static_cast<unsigned long long>(cookies), cookie_rate);
  } else {
    std::printf("handshake responses: %llu in %.3f s = %.0f per second (one core)\n",
                static_cast<unsigned long long>(responses), full_time, full_rate);
    std::printf("cookie replies under load: %llu in %.3f s = %.0f per second (one core)\n",
                static_cast<unsigned long long>(cookies), cookie_time, cookie_rate);
  }
  return responses == uint64_t(peers) * uint64_t(rounds) && cookies > 0 ? 0 : 1;
}
