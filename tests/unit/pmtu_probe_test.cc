// Path MTU search on a virtual clock against simulated paths, the probe packets, and the
// blackhole detector.
#include "dataplane/pmtu_probe.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <utility>
#include <vector>

#include "dataplane/mtu.h"
#include "test_util.h"

namespace waypost::dataplane {
namespace {

using Bytes = std::vector<uint8_t>;
using test::hex;

// WireGuard over IPv4 adds 20 (IP) + 8 (UDP) + 32 (header and tag) bytes to each inner packet.
constexpr uint32_t kWireGuardV4Overhead = 60;

// A simulated tunnel path: probes of at most `mtu` bytes are answered after `rtt`, unless
// `drop` says the reply of send number n (counting from 0) is lost.
struct Path {
  explicit Path(uint32_t path_mtu, Nanos round_trip = millis(30),
                std::function<bool(int)> drop_reply = {})
      : mtu(path_mtu), rtt(round_trip), drop(std::move(drop_reply)) {}
  uint32_t mtu;
  Nanos rtt;
  std::function<bool(int)> drop;
};

class Simulation {
 public:
  Simulation(uint32_t floor, uint32_t ceiling, Path path)
      : search_(floor, ceiling), path_(std::move(path)) {}

  // Advances virtual time in 10 ms steps, delivering replies and sending due probes. `check`
  // runs after every step.
  void run(Nanos duration, const std::function<void()>& check = {}) {
    const Nanos end = now_ + duration;
    while (now_ < end) {
      now_ += millis(10);
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->first <= now_) {
          search_.on_reply(it->second, now_);
          it = pending_.erase(it);
        } else {
          ++it;
        }
      }
      if (std::optional<uint32_t> size = search_.probe_to_send(now_)) {
        const int n = int(sent_.size());
        sent_.push_back(*size);
        sent_at_.push_back(now_);
        if (*size <= path_.mtu && !(path_.drop && path_.drop(n))) {
          pending_.emplace_back(now_ + path_.rtt, *size);
        }
      }
      if (check) {
        check();
      }
    }
  }
  // Runs until the round ends (or `limit` passes); returns how long that took.
  Nanos run_until_idle(Nanos limit = seconds(60)) {
    const Nanos start = now_;
    while (now_ - start < limit) {
      run(millis(10));
      if (!search_.searching() && pending_.empty()) {
        break;
      }
    }
    return now_ - start;
  }

  PmtuSearch& search() { return search_; }
  Path& path() { return path_; }
  Nanos now() const { return now_; }
  const std::vector<uint32_t>& sent() const { return sent_; }

 private:
  PmtuSearch search_;
  Path path_;
  Nanos now_ = seconds(100);
  std::vector<std::pair<Nanos, uint32_t>> pending_;
  std::vector<uint32_t> sent_;
  std::vector<Nanos> sent_at_;
};

void expect_converged(const PmtuSearch& s, uint32_t path_mtu) {
  EXPECT_FALSE(s.searching());
  EXPECT_LE(s.mtu(), path_mtu);
  EXPECT_GT(s.mtu() + PmtuSearch::kResolution, path_mtu);
}

TEST(PmtuSearch, GoodPathLosesNothing) {
  Simulation sim(1280, 1500, Path{1500});
  EXPECT_EQ(sim.search().mtu(), 1500u);
  sim.run_until_idle();
  EXPECT_EQ(sim.sent(), std::vector<uint32_t>({1500}));
  EXPECT_EQ(sim.search().mtu(), 1500u);
  EXPECT_FALSE(sim.search().searching());
  EXPECT_GT(sim.search().next_wakeup(), sim.now() + seconds(590));
}

TEST(PmtuSearch, ConvergesOnNarrowerPaths) {
  for (uint32_t path : {1499u, 1472u, 1420u, 1394u, 1300u, 1288u, 1281u, 1280u}) {
    Simulation sim(1280, 1500, Path{path});
    bool dropped = false;
    sim.run(seconds(60), [&] {
      const uint32_t mtu = sim.search().mtu();
      if (mtu != 1500) {
        dropped = true;
      }
      // Before the ceiling is declared failed, the ceiling is reported; afterwards never
      // anything the path cannot carry.
      if (dropped) {
        EXPECT_LE(mtu, path) << path;
      }
      EXPECT_GE(mtu, 1280u);
    });
    expect_converged(sim.search(), path);
    EXPECT_TRUE(dropped);
    for (uint32_t size : sim.sent()) {
      EXPECT_GT(size, 1280u);
      EXPECT_LE(size, 1500u);
    }
    // Each failing size costs kAttempts sends: a bisection of 220 bytes to 8 needs ~5 steps.
    EXPECT_LE(sim.sent().size(), 16u) << path;
  }
}

// The lab's blackhole: a 1454-byte link under WireGuard over IPv4, interface MTU 1420.
TEST(PmtuSearch, LabPathWithIpv4Overhead) {
  const uint32_t inner = 1454 - kWireGuardV4Overhead;
  Simulation sim(1280, 1420, Path{inner});
  sim.run(PmtuSearch::kAttempts * PmtuSearch::kProbeTimeout + millis(50));
  // The safe value is in place as soon as the ceiling has failed twice.
  EXPECT_LE(sim.search().mtu(), inner);
  const Nanos took = sim.run_until_idle();
  expect_converged(sim.search(), inner);
  EXPECT_LT(took, seconds(20));
}

TEST(PmtuSearch, LostRepliesAreRetried) {
  // The first reply is lost: the retry succeeds and the ceiling is never given up.
  Simulation sim(1280, 1500, Path{1500, millis(30), [](int n) { return n == 0; }});
  sim.run(seconds(5), [&] { EXPECT_EQ(sim.search().mtu(), 1500u); });
  EXPECT_EQ(sim.sent(), std::vector<uint32_t>({1500, 1500}));
  EXPECT_FALSE(sim.search().searching());

  // Every other reply is lost, all along the search.
  Simulation lossy(1280, 1500, Path{1420, millis(30), [](int n) { return n % 2 == 0; }});
  lossy.run_until_idle();
  expect_converged(lossy.search(), 1420);
}

TEST(PmtuSearch, SlowRepliesStillCount) {
  // 1.5 s: the reply to the first try arrives after the retry went out.
  Simulation slow(1280, 1500, Path{1500, millis(1500)});
  slow.run(seconds(10), [&] { EXPECT_EQ(slow.search().mtu(), 1500u); });
  EXPECT_FALSE(slow.search().searching());

  // 2.5 s: the ceiling is declared failed first (the safe floor is used meanwhile), then the
  // late reply overturns the verdict.
  Simulation late(1280, 1500, Path{1500, millis(2500)});
  bool lowered = false;
  late.run(seconds(30), [&] { lowered = lowered || late.search().mtu() < 1500; });
  EXPECT_TRUE(lowered);
  EXPECT_EQ(late.search().mtu(), 1500u);
  EXPECT_FALSE(late.search().searching());
}

// Two sizes declared failed, then the reply to the larger one shows up: both verdicts fall.
TEST(PmtuSearch, LateReplyOverturnsSeveralFailures) {
  PmtuSearch s(1280, 1500);
  Nanos t = seconds(10);
  ASSERT_EQ(s.probe_to_send(t), 1500u);
  ASSERT_EQ(s.probe_to_send(t += seconds(1)), 1500u);
  ASSERT_EQ(s.probe_to_send(t += seconds(1)), 1390u);
  ASSERT_EQ(s.probe_to_send(t += seconds(1)), 1390u);
  ASSERT_EQ(s.probe_to_send(t += seconds(1)), 1335u);
  EXPECT_EQ(s.mtu(), 1280u);
  s.on_reply(1500, t += millis(100));
  EXPECT_EQ(s.mtu(), 1500u);
  EXPECT_FALSE(s.searching());
  EXPECT_FALSE(s.probe_to_send(t += seconds(5)).has_value());
  // Replies to the abandoned probes change nothing.
  s.on_reply(1335, t);
  s.on_reply(1390, t);
  EXPECT_EQ(s.mtu(), 1500u);
  EXPECT_FALSE(s.searching());
}

// What a new TCP connection may be promised (confirmed_mtu) is only ever what the path carries,
// from the first moment of the first round on; mtu() starts optimistic (ceiling).
TEST(PmtuSearch, ConfirmedMtuNeverExceedsThePath) {
  for (uint32_t path : {1420u, 1392u, 1340u, 1328u, 1300u, 1280u}) {
    Simulation sim(1280, 1420, Path{path});
    EXPECT_EQ(sim.search().confirmed_mtu(), 1280u);
    EXPECT_EQ(sim.search().mtu(), 1420u);
    sim.run(seconds(60), [&] {
      EXPECT_LE(sim.search().confirmed_mtu(), path) << path;
      EXPECT_LE(sim.search().confirmed_mtu(), sim.search().mtu()) << path;
    });
    expect_converged(sim.search(), path);
    EXPECT_EQ(sim.search().confirmed_mtu(), sim.search().mtu()) << path;
  }
  // A good path: the full size is confirmed one round trip after the first probe.
  Simulation good(1280, 1420, Path{1500, millis(30)});
  good.run(millis(50));
  EXPECT_EQ(good.search().confirmed_mtu(), 1420u);
}

// A round re-checks what it relied on: until that is confirmed again, only the floor is
// promised, while mtu() keeps the old value (on a path that has not changed, for a round trip).
TEST(PmtuSearch, RestartPromisesOnlyWhatItConfirmsAgain) {
  Simulation sim(1280, 1420, Path{1340});
  sim.run_until_idle();
  const uint32_t settled = sim.search().mtu();
  sim.search().restart(sim.now());
  EXPECT_EQ(sim.search().mtu(), settled);
  EXPECT_EQ(sim.search().confirmed_mtu(), 1280u);
  sim.run(millis(50));
  EXPECT_EQ(sim.search().confirmed_mtu(), settled);
}

// A late reply reopens the sizes above it, but the size the round started with, which failed,
// is not reported again: it has to be confirmed first.
TEST(PmtuSearch, LateReplyDoesNotBringBackAFailedStartingSize) {
  PmtuSearch s(1280, 1420);
  Nanos t = seconds(10);
  ASSERT_EQ(s.probe_to_send(t), 1420u);
  ASSERT_EQ(s.probe_to_send(t += seconds(1)), 1420u);
  ASSERT_EQ(s.probe_to_send(t += seconds(1)), 1350u);  // 1420 failed
  EXPECT_EQ(s.mtu(), 1280u);
  ASSERT_EQ(s.probe_to_send(t += seconds(1)), 1350u);
  ASSERT_EQ(s.probe_to_send(t += seconds(1)), 1315u);  // 1350 failed
  // The path was only slow: the reply to 1350 arrives now.
  s.on_reply(1350, t += millis(300));
  EXPECT_EQ(s.mtu(), 1350u);
  EXPECT_EQ(s.confirmed_mtu(), 1350u);
  EXPECT_TRUE(s.searching());
  // Above 1350 is unknown again, 1420 included: probed, but not reported meanwhile.
  EXPECT_EQ(s.probe_to_send(t += millis(10)), 1420u);
  EXPECT_EQ(s.mtu(), 1350u);
  EXPECT_EQ(s.probe_to_send(t += seconds(1)), 1420u);
  EXPECT_EQ(s.mtu(), 1350u);
}

TEST(PmtuSearch, PeriodicReprobeFindsGrownPath) {
  Simulation sim(1280, 1500, Path{1400});
  sim.run_until_idle();
  expect_converged(sim.search(), 1400);
  const uint32_t before = sim.search().mtu();

  sim.path().mtu = 1500;
  const size_t sent_before = sim.sent().size();
  sim.run(PmtuSearch::kReprobeInterval + seconds(1),
          [&] { EXPECT_GE(sim.search().mtu(), before); });
  sim.run_until_idle();
  EXPECT_EQ(sim.search().mtu(), 1500u);
  // Checked what it relied on, then the ceiling: two probes.
  EXPECT_EQ(std::vector<uint32_t>(sim.sent().begin() + long(sent_before), sim.sent().end()),
            std::vector<uint32_t>({before, 1500}));
}

TEST(PmtuSearch, PeriodicReprobeOfUnchangedPathIsCheap) {
  Simulation sim(1280, 1500, Path{1412});
  sim.run_until_idle();
  const uint32_t settled = sim.search().mtu();
  const size_t sent_before = sim.sent().size();
  sim.run(PmtuSearch::kReprobeInterval + seconds(30),
          [&] { EXPECT_EQ(sim.search().mtu(), settled); });
  EXPECT_FALSE(sim.search().searching());
  const std::set<uint32_t> sizes(sim.sent().begin() + long(sent_before), sim.sent().end());
  // The settled size, the ceiling, and the smallest size that failed last time; nothing else.
  EXPECT_EQ(sizes.size(), 3u);
  EXPECT_TRUE(sizes.count(settled) == 1 && sizes.count(1500) == 1);
  EXPECT_LE(sim.sent().size() - sent_before, 5u);
}

TEST(PmtuSearch, OnDemandRestartAfterPathShrinks) {
  Simulation sim(1280, 1500, Path{1500});
  sim.run_until_idle();
  ASSERT_EQ(sim.search().mtu(), 1500u);

  sim.path().mtu = 1300;
  sim.search().restart(sim.now());
  EXPECT_TRUE(sim.search().searching());
  sim.search().restart(sim.now());  // already searching: no effect
  const Nanos restarted = sim.now();
  sim.run(seconds(30), [&] {
    if (sim.now() - restarted > PmtuSearch::kAttempts * PmtuSearch::kProbeTimeout + millis(20)) {
      EXPECT_LE(sim.search().mtu(), 1300u);
    }
  });
  expect_converged(sim.search(), 1300);
}

TEST(PmtuSearch, CeilingChanges) {
  Simulation sim(1280, 1500, Path{1500});
  sim.run_until_idle();
  sim.search().set_ceiling(1400);
  EXPECT_EQ(sim.search().mtu(), 1400u);
  EXPECT_FALSE(sim.search().searching());

  // Raised again with nothing known to fail: reported at once, and verified.
  sim.search().set_ceiling(1500);
  EXPECT_EQ(sim.search().mtu(), 1500u);
  EXPECT_TRUE(sim.search().searching());
  sim.run_until_idle();
  EXPECT_EQ(sim.search().mtu(), 1500u);

  // Raised after a failure below the old ceiling: the path, not the interface, is the limit.
  Simulation narrow(1280, 1500, Path{1420});
  narrow.run_until_idle();
  const uint32_t settled = narrow.search().mtu();
  narrow.search().set_ceiling(9000);
  EXPECT_FALSE(narrow.search().searching());
  EXPECT_EQ(narrow.search().mtu(), settled);
  EXPECT_EQ(narrow.search().ceiling(), 9000u);

  // Lowered below the floor: clamped to it.
  narrow.search().set_ceiling(1000);
  EXPECT_EQ(narrow.search().mtu(), 1280u);
}

TEST(PmtuSearch, CeilingAtFloorNeedsNoProbe) {
  PmtuSearch s(1280, 1000);
  EXPECT_EQ(s.ceiling(), 1280u);
  EXPECT_EQ(s.mtu(), 1280u);
  EXPECT_FALSE(s.probe_to_send(seconds(1)).has_value());
  EXPECT_FALSE(s.searching());
}

TEST(PmtuSearch, NextWakeup) {
  PmtuSearch s(1280, 1500);
  EXPECT_LE(s.next_wakeup(), seconds(1));  // a probe is due now
  ASSERT_EQ(s.probe_to_send(seconds(1)), 1500u);
  EXPECT_EQ(s.next_wakeup(), seconds(2));
  EXPECT_FALSE(s.probe_to_send(seconds(2) - 1).has_value());
  EXPECT_EQ(s.probe_to_send(seconds(2)), 1500u);  // retry
  EXPECT_FALSE(s.probe_to_send(seconds(3) - 1).has_value());
  EXPECT_EQ(s.mtu(), 1500u);
  const std::optional<uint32_t> next = s.probe_to_send(seconds(3));  // 1500 failed: bisect
  EXPECT_EQ(s.mtu(), 1280u);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, 1280u + (1500 - 1280) / 2);
}

// --- Probe packets ------------------------------------------------------------------------------

uint16_t be16(const Bytes& b, size_t at) {
  return uint16_t(b[at] << 8 | b[at + 1]);
}

uint16_t reference_checksum(const Bytes& data) {
  uint32_t sum = 0;
  for (size_t i = 0; i < data.size(); i += 2) {
    sum += uint32_t(data[i]) << 8 | (i + 1 < data.size() ? data[i + 1] : 0);
  }
  while (sum > 0xffff) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return uint16_t(~sum);
}

// The checksum of the ICMP / ICMPv6 message in `p` (no extension headers), field taken as 0.
uint16_t icmp_checksum_from_scratch(const Bytes& p) {
  const bool v6 = (p[0] >> 4) == 6;
  const size_t header = v6 ? 40 : 20;
  Bytes buffer;
  if (v6) {
    const size_t length = p.size() - 40;
    buffer.insert(buffer.end(), p.begin() + 8, p.begin() + 40);
    buffer.insert(buffer.end(), {0, 0, uint8_t(length >> 8), uint8_t(length), 0, 0, 0, 58});
  }
  const size_t at = buffer.size();
  buffer.insert(buffer.end(), p.begin() + long(header), p.end());
  if (buffer.size() < at + 4) return 0;  // (also tells GCC's -O3 range analysis the bound)
  buffer[at + 2] = buffer[at + 3] = 0;
  return reference_checksum(buffer);
}

const net::IpAddress kSrc4 = *net::IpAddress::parse("10.0.0.1");
const net::IpAddress kDst4 = *net::IpAddress::parse("10.0.0.2");
const net::IpAddress kSrc6 = *net::IpAddress::parse("fd00::1");
const net::IpAddress kDst6 = *net::IpAddress::parse("fd00::2");

Bytes probe(uint32_t size, bool v6, uint16_t id = 0x5750, uint16_t seq = 7) {
  Bytes p(size + 16, 0xee);
  const uint32_t n = build_probe(p.data(), size, v6 ? kSrc6 : kSrc4, v6 ? kDst6 : kDst4, id, seq);
  EXPECT_TRUE(std::all_of(p.begin() + size, p.end(), [](uint8_t b) { return b == 0xee; }));
  p.resize(n);
  return p;
}

// What a stock peer sends back: addresses swapped, echo reply type, checksums redone. An IPv4
// reply carries its own identification and no DF, as Linux does.
Bytes reply_to(Bytes p) {
  const bool v6 = (p[0] >> 4) == 6;
  const size_t header = v6 ? 40 : 20;
  if (v6) {
    std::swap_ranges(p.begin() + 8, p.begin() + 24, p.begin() + 24);
    p[40] = 129;
  } else {
    std::swap_ranges(p.begin() + 12, p.begin() + 16, p.begin() + 16);
    p[4] = 0x42;
    p[6] = 0;
    p[10] = p[11] = 0;
    const uint16_t c = reference_checksum(Bytes(p.begin(), p.begin() + 20));
    p[10] = uint8_t(c >> 8);
    p[11] = uint8_t(c);
    p[20] = 0;
  }
  const uint16_t c = icmp_checksum_from_scratch(p);
  p[header + 2] = uint8_t(c >> 8);
  p[header + 3] = uint8_t(c);
  return p;
}

TEST(Probe, BuildV4) {
  const Bytes p = probe(1420, false, 0x1234, 9);
  ASSERT_EQ(p.size(), 1420u);
  EXPECT_EQ(p[0], 0x45);
  EXPECT_EQ(be16(p, 2), 1420);
  EXPECT_EQ(be16(p, 6), 0x4000);  // DF
  EXPECT_EQ(p[8], 64);
  EXPECT_EQ(p[9], 1);
  EXPECT_EQ(be16(p, 10), reference_checksum([&] {
              Bytes h(p.begin(), p.begin() + 20);
              h[10] = h[11] = 0;
              return h;
            }()));
  EXPECT_EQ(Bytes(p.begin() + 12, p.begin() + 20), Bytes({10, 0, 0, 1, 10, 0, 0, 2}));
  EXPECT_EQ(p[20], 8);
  EXPECT_EQ(p[21], 0);
  EXPECT_EQ(be16(p, 22), icmp_checksum_from_scratch(p));
  EXPECT_EQ(be16(p, 24), 0x1234);
  EXPECT_EQ(be16(p, 26), 9);
  EXPECT_EQ(Bytes(p.begin() + 28, p.begin() + 36), Bytes({'W', 'P', 'M', 'T', 0, 0, 0x05, 0x8c}));
  for (size_t i = 36; i < p.size(); ++i) {
    ASSERT_EQ(p[i], uint8_t(i - 36));
  }
  // Recognized by the rest of the data plane as an echo request that will never be clamped.
  const std::optional<TransportHeader> l4 = find_transport_header(p.data(), uint32_t(p.size()));
  ASSERT_TRUE(l4.has_value());
  EXPECT_EQ(l4->protocol, kIpProtoIcmp);
}

TEST(Probe, BuildV6) {
  const Bytes p = probe(1400, true, 0x1234, 10);
  ASSERT_EQ(p.size(), 1400u);
  EXPECT_EQ(p[0] >> 4, 6);
  EXPECT_EQ(be16(p, 4), 1360);
  EXPECT_EQ(p[6], 58);
  EXPECT_EQ(p[7], 64);
  EXPECT_EQ(Bytes(p.begin() + 8, p.begin() + 24), Bytes(kSrc6.bytes.begin(), kSrc6.bytes.end()));
  EXPECT_EQ(Bytes(p.begin() + 24, p.begin() + 40), Bytes(kDst6.bytes.begin(), kDst6.bytes.end()));
  EXPECT_EQ(p[40], 128);
  EXPECT_EQ(be16(p, 42), icmp_checksum_from_scratch(p));
  EXPECT_EQ(be16(p, 44), 0x1234);
  EXPECT_EQ(be16(p, 46), 10);
  EXPECT_EQ(Bytes(p.begin() + 48, p.begin() + 56), Bytes({'W', 'P', 'M', 'T', 0, 0, 0x05, 0x78}));
}

TEST(Probe, SizeLimits) {
  EXPECT_TRUE(probe(kProbeMinSizeV4 - 1, false).empty());
  EXPECT_EQ(probe(kProbeMinSizeV4, false).size(), kProbeMinSizeV4);
  EXPECT_TRUE(probe(kProbeMinSizeV6 - 1, true).empty());
  EXPECT_EQ(probe(kProbeMinSizeV6, true).size(), kProbeMinSizeV6);
  EXPECT_EQ(probe(kProbeMaxSize, true).size(), kProbeMaxSize);
  EXPECT_TRUE(probe(kProbeMaxSize + 1, false).empty());
  uint8_t out[100];
  EXPECT_EQ(build_probe(out, 100, kSrc4, kDst6, 1, 1), 0u);
  EXPECT_EQ(build_probe(nullptr, 100, kSrc4, kDst4, 1, 1), 0u);
}

TEST(Probe, ReplyRecognized) {
  for (bool v6 : {false, true}) {
    for (uint32_t size : {kProbeMinSizeV6, 1280u, 1419u, 1500u, 9000u}) {
      const Bytes r = reply_to(probe(size, v6, 0x5750, uint16_t(size)));
      const std::optional<ProbeReply> got = parse_probe_reply(r.data(), uint32_t(r.size()), 0x5750);
      ASSERT_TRUE(got.has_value()) << v6 << " " << size;
      EXPECT_EQ(got->seq, uint16_t(size));
      EXPECT_EQ(got->size, size);
    }
  }
}

TEST(Probe, OtherPacketsNotTakenForReplies) {
  for (bool v6 : {false, true}) {
    const Bytes request = probe(1400, v6);
    const Bytes reply = reply_to(request);
    const size_t icmp = v6 ? 40 : 20;
    auto parse = [](const Bytes& p, uint16_t id = 0x5750) {
      return parse_probe_reply(p.data(), uint32_t(p.size()), id).has_value();
    };
    EXPECT_TRUE(parse(reply));
    EXPECT_FALSE(parse(reply, 0x5751)) << "other identifier";
    EXPECT_FALSE(parse(request)) << "our own request";
    Bytes corrupt = reply;
    corrupt[700] ^= 1;
    EXPECT_FALSE(parse(corrupt)) << "bad checksum";
    Bytes no_marker = reply;
    no_marker[icmp + 8] = 'X';
    no_marker[icmp + 2] = 0;
    no_marker[icmp + 3] = 0;
    const uint16_t c = icmp_checksum_from_scratch(no_marker);
    no_marker[icmp + 2] = uint8_t(c >> 8);
    no_marker[icmp + 3] = uint8_t(c);
    EXPECT_FALSE(parse(no_marker)) << "no marker";
    const Bytes truncated(reply.begin(), reply.end() - 1);
    EXPECT_FALSE(parse(truncated)) << "truncated";
    EXPECT_FALSE(parse(Bytes(reply.begin(), reply.begin() + long(icmp) + 10))) << "header only";
  }
  // A reply whose length differs from the size in its payload (the peer trimmed it).
  Bytes trimmed = probe(1400, false);
  trimmed.resize(1300);
  trimmed[2] = 1300 >> 8;
  trimmed[3] = 1300 & 0xff;
  trimmed = reply_to(trimmed);
  EXPECT_FALSE(parse_probe_reply(trimmed.data(), uint32_t(trimmed.size()), 0x5750));
  // A fragmented reply (first fragment, MF) is not a probe reply.
  Bytes fragmented = probe(1400, false);
  fragmented = reply_to(fragmented);
  fragmented[6] = 0x20;
  EXPECT_FALSE(parse_probe_reply(fragmented.data(), uint32_t(fragmented.size()), 0x5750));
  // An IPv6 reply behind a fragment header with M set is only the start of the reply.
  Bytes v6 = reply_to(probe(1400, true));
  ASSERT_TRUE(parse_probe_reply(v6.data(), uint32_t(v6.size()), 0x5750));
  const Bytes fragment_header = {58, 0, 0, 1, 0, 0, 0, 1};
  v6.insert(v6.begin() + 40, fragment_header.begin(), fragment_header.end());
  v6[6] = 44;
  v6[5] += 8;
  EXPECT_FALSE(parse_probe_reply(v6.data(), uint32_t(v6.size()), 0x5750));
  // A real ping reply (Linux ping -s 100, id 10022): ours by identifier, but not a probe.
  const Bytes ping =
      hex("45000080e2c10000400199b97f0000017f0000010000d00827260001a73f026b00000000f69705000000"
          "0000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738"
          "393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263");
  ASSERT_EQ(ping.size(), 128u);
  EXPECT_FALSE(parse_probe_reply(ping.data(), uint32_t(ping.size()), 0x2726));
  EXPECT_FALSE(parse_probe_reply(nullptr, 0, 0));
}

// --- LargePacketLossDetector --------------------------------------------------------------------

// A TCP data segment of `total` bytes (IPv4 or IPv6, 20-byte TCP header).
Bytes segment(uint32_t seq, uint32_t total = 1420, uint16_t sport = 40000, bool v6 = false,
              uint8_t flags = 0x18) {
  const size_t header = v6 ? 40 : 20;
  Bytes p(total, 0);
  if (v6) {
    p[0] = 0x60;
    p[4] = uint8_t((total - 40) >> 8);
    p[5] = uint8_t(total - 40);
    p[6] = 6;
    p[8] = 0xfd;
    p[39] = 2;
  } else {
    p[0] = 0x45;
    p[2] = uint8_t(total >> 8);
    p[3] = uint8_t(total);
    p[9] = 6;
    p[12] = 10;
    p[19] = 2;
  }
  p[header] = uint8_t(sport >> 8);
  p[header + 1] = uint8_t(sport);
  p[header + 3] = 80;
  for (int i = 0; i < 4; ++i) {
    p[header + 4 + i] = uint8_t(seq >> (24 - 8 * i));
  }
  p[header + 12] = 0x50;
  p[header + 13] = flags;
  return p;
}

void feed(LargePacketLossDetector& d, const Bytes& p, Nanos t) {
  d.on_tcp_segment(p.data(), uint32_t(p.size()), t);
}

TEST(LargePacketLossDetector, BlackholeSignature) {
  LargePacketLossDetector d;
  // A window of large segments, then the first retransmitted on timeout, twice.
  for (uint32_t i = 0; i < 10; ++i) {
    feed(d, segment(1000 + i * 1380), millis(i));
  }
  EXPECT_FALSE(d.suspect());
  feed(d, segment(1000), millis(300));
  EXPECT_FALSE(d.suspect());
  feed(d, segment(1000), millis(900));
  EXPECT_TRUE(d.suspect());

  // Once the caller has reacted, the same stuck segment must be seen three more times.
  d.clear();
  EXPECT_FALSE(d.suspect());
  feed(d, segment(1000), millis(2100));
  feed(d, segment(1000), millis(4500));
  EXPECT_FALSE(d.suspect());
  feed(d, segment(1000), millis(9300));
  EXPECT_TRUE(d.suspect());
}

TEST(LargePacketLossDetector, SingleSegmentInFlight) {
  LargePacketLossDetector d;
  feed(d, segment(5), 0);
  feed(d, segment(5), seconds(1));
  EXPECT_FALSE(d.suspect());
  feed(d, segment(5), seconds(3));
  EXPECT_TRUE(d.suspect());
}

TEST(LargePacketLossDetector, OrdinaryLossIsNotABlackhole) {
  LargePacketLossDetector d;
  Nanos t = 0;
  uint32_t seq = 1;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 8; ++i) {
      feed(d, segment(seq + uint32_t(i) * 1380), t += millis(1));
    }
    // Tail loss probe: the last segment once more; then a fast retransmit of the first.
    feed(d, segment(seq + 7 * 1380), t += millis(20));
    feed(d, segment(seq), t += millis(5));
    seq += 8 * 1380;  // and the flow moves on
  }
  EXPECT_FALSE(d.suspect());
}

TEST(LargePacketLossDetector, SmallOrEmptySegmentsIgnored) {
  LargePacketLossDetector d;
  for (int i = 0; i < 5; ++i) {
    feed(d, segment(77, 1280), seconds(i));  // at the threshold: the floor covers it
    feed(d, segment(78, 1400, 40000, false, 0x02), seconds(i));  // SYN
    feed(d, segment(79, 1400, 40000, false, 0x04), seconds(i));  // RST
    feed(d, segment(80, 40), seconds(i));                        // pure ACK
    const Bytes whole = segment(81);
    feed(d, Bytes(whole.begin(), whole.begin() + 30), seconds(i));  // truncated
  }
  EXPECT_FALSE(d.suspect());
  LargePacketLossDetector high(1500);
  for (int i = 0; i < 5; ++i) {
    feed(high, segment(5), seconds(i));
  }
  EXPECT_FALSE(high.suspect());
  high.set_threshold(1400);
  for (int i = 0; i < 3; ++i) {
    feed(high, segment(5), seconds(10 + i));
  }
  EXPECT_TRUE(high.suspect());
}

TEST(LargePacketLossDetector, RetransmissionsFarApartDoNotCount) {
  LargePacketLossDetector d;
  feed(d, segment(5), 0);
  feed(d, segment(5), seconds(6));
  feed(d, segment(5), seconds(12));  // > kWindow after the first: starts over
  EXPECT_FALSE(d.suspect());
}

TEST(LargePacketLossDetector, FlowsTrackedSeparately) {
  LargePacketLossDetector d;
  // A healthy IPv4 flow interleaved with a stuck IPv6 one.
  uint32_t seq = 1;
  for (int i = 0; i < 3; ++i) {
    feed(d, segment(seq += 1380, 1420, 1000), seconds(i));
    feed(d, segment(42, 1420, 2000, true), seconds(i));
    feed(d, segment(seq += 1380, 1420, 1000), seconds(i));
  }
  EXPECT_TRUE(d.suspect());

  // More flows than slots, all making progress: evictions, no false alarm.
  LargePacketLossDetector many;
  for (int round = 0; round < 5; ++round) {
    for (uint16_t port = 0; port < 3 * LargePacketLossDetector::kFlows; ++port) {
      feed(many, segment(uint32_t(round) * 2000, 1420, port), seconds(round));
    }
  }
  EXPECT_FALSE(many.suspect());
}

}  // namespace
}  // namespace waypost::dataplane
