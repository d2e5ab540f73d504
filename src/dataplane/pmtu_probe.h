#pragma once
// In-tunnel path MTU discovery toward one peer, in the style of packetization-layer PMTUD
// (RFC 4821 / RFC 8899) but with ICMP echo as the probe, because stock peers (wireguard-go, the
// kernel module, phones) answer pings to their tunnel address and need nothing new. A probe is a
// DF echo request of a chosen total size; its reply proves that size crosses the tunnel both
// ways. Silence proves nothing by itself, so a size is declared failed only after kAttempts
// tries, each given kProbeTimeout.
//
// Pieces, all pure and driven by the caller with time values (common/clock.h):
//   PmtuSearch               the per-peer search state machine: which size to probe, when;
//   build_probe / parse_probe_reply   the echo request and the recognition of its reply;
//   LargePacketLossDetector  notices repeated retransmission of large TCP segments (what a
//                            blackhole looks like from here) so the caller can restart the search.

#include <array>
#include <cstdint>
#include <optional>

#include "common/clock.h"
#include "net/ip.h"

namespace waypost::dataplane {

// The search, over inner IP packet sizes in [floor, ceiling]:
//
//   searching ──(confirmed and failed sizes within kResolution)──> idle
//       ^                                                            │
//       └─────── restart(): every kReprobeInterval, or on demand ────┘
//
// Within a round, probes go in this order: the size currently reported (if not yet confirmed in
// this round: is what we rely on still true?), then the ceiling (has the path grown back to
// full size?), then the smallest size that failed in the previous round (is it still too big?),
// then bisection between the largest confirmed and the smallest failed size. The floor is taken
// on faith: it is never probed.
//
// What mtu() reports: the size the round started with (the ceiling for the first round, so a
// good path loses nothing while the search runs) until that size, or a smaller one, fails;
// from then on the largest confirmed size, which rises as probes succeed. So a blackhole costs at
// most kAttempts * kProbeTimeout before the reported MTU drops to a safe value. A size that
// failed is never reported again in that round, even if a late reply reopens the search.
//
// What confirmed_mtu() reports: only what this round has confirmed (the floor until the first
// reply). That is what promises which outlive the round must use, above all the MSS of a new TCP
// connection: clamped once, on its SYN, it holds for the connection's life, and a connection
// promised the unverified starting size right after a handshake would send segments that
// vanish, and stay dead until its sender, backing off, retransmits after the verdict and gets an
// ICMP error from us (3 s for a connection opened with the session).
//
// Replies count whenever they arrive: a reply after its size was declared failed overturns the
// verdict (the path was just slow), and the search continues from there.
class PmtuSearch {
 public:
  static constexpr uint32_t kDefaultFloor = 1280;
  static constexpr uint32_t kResolution = 8;  // stop when confirmed and failed are this close
  static constexpr int kAttempts = 2;
  static constexpr Nanos kProbeTimeout = seconds(1);
  static constexpr Nanos kReprobeInterval = seconds(600);

  // `ceiling` is the interface MTU; it is raised to `floor` if smaller. The first round starts
  // with the first probe_to_send().
  PmtuSearch(uint32_t floor, uint32_t ceiling);

  // The size of the probe to send now, if one is due (a new size, or a retry of the one in
  // flight after kProbeTimeout). Also declares timed-out sizes failed, ends a round that has
  // converged, and starts the periodic re-probe. Call it when next_wakeup() has passed.
  std::optional<uint32_t> probe_to_send(Nanos now);
  // A reply to a probe of `size` bytes arrived (at any time, even late).
  void on_reply(uint32_t size, Nanos now);

  // The MTU to use for this peer now (see above). Always within [floor, ceiling].
  uint32_t mtu() const;
  // The largest size confirmed in this round (see above): <= mtu(), equal to it once the size
  // the round started with has been confirmed or has failed.
  uint32_t confirmed_mtu() const { return confirmed_; }
  // Starts a new round unless one is under way: periodically, and when the caller suspects
  // large-packet loss (LargePacketLossDetector). The round checks the current value and also
  // looks upward, since paths grow as well as shrink.
  void restart(Nanos now);
  bool searching() const { return searching_; }
  // The interface MTU changed. Lowering it clamps everything at once; raising it starts a round
  // (at the next probe_to_send) if nothing had failed below the new ceiling, in which case the
  // new ceiling is reported until a probe says otherwise, as for the first round.
  void set_ceiling(uint32_t ceiling);

  // When probe_to_send() next has something to do; a time <= now means now.
  Nanos next_wakeup() const;
  uint32_t floor() const { return floor_; }
  uint32_t ceiling() const { return ceiling_; }
  Nanos round_started() const { return round_started_; }

 private:
  uint32_t next_size() const;
  bool converged() const { return failed_ - confirmed_ <= kResolution; }
  void finish(Nanos now);

  uint32_t floor_;
  uint32_t ceiling_;
  uint32_t confirmed_;            // largest size confirmed in this round (floor_ to start with)
  uint32_t failed_;               // smallest size failed in this round; ceiling_ + 1 if none
  uint32_t assumed_;              // reported until something at or below it fails
  uint32_t previous_failed_ = 0;  // the last round's smallest failure, 0 if none
  bool searching_ = true;
  uint32_t probe_size_ = 0;  // in flight; 0 if none
  int attempts_ = 0;
  Nanos sent_at_ = 0;
  Nanos reprobe_at_ = kNever;
  Nanos round_started_ = 0;
};

// --- Probe packets ------------------------------------------------------------------------------

// Payload of a probe, after the 8-byte ICMP header: the marker "WPMT", the probe's total size
// (big-endian 32 bits), then bytes counting up from 0 (mod 256) — easy to spot in a capture.
constexpr uint32_t kProbeMarker = 0x57504d54;  // "WPMT"
constexpr uint32_t kProbeMinSizeV4 = 20 + 8 + 8;
constexpr uint32_t kProbeMinSizeV6 = 40 + 8 + 8;
constexpr uint32_t kProbeMaxSize = 65535;

// Builds in `out` (room for `size` bytes) an ICMP echo request from `src` to `dst` (same
// family) of exactly `size` bytes in total: IPv4 with DF set and TTL 64, or ICMPv6 with hop limit
// 64 (IPv6 is never fragmented on the way). Returns `size`, or 0 if the families differ or size is
// outside [kProbeMinSizeV4/V6, kProbeMaxSize].
uint32_t build_probe(uint8_t* out, uint32_t size, const net::IpAddress& src,
                     const net::IpAddress& dst, uint16_t id, uint16_t seq);

struct ProbeReply {
  uint16_t seq = 0;
  uint32_t size = 0;  // total IP length of the reply, equal to the probe's
};

// Recognizes the echo reply to one of our probes: ICMP echo reply (v4 type 0 / v6 type 129)
// with identifier `id`, not fragmented, a valid checksum, and a payload that starts with the
// marker and the packet's own total length. Anything else returns nullopt and is ordinary
// traffic for the TUN device.
std::optional<ProbeReply> parse_probe_reply(const uint8_t* packet, uint32_t size, uint16_t id);

// --- Blackhole detection ----------------------------------------------------------------------

// Watches TCP segments sent toward one peer for the signature of a PMTU blackhole: the same
// large segment (same 4-tuple and sequence number, IP packet larger than `threshold`)
// transmitted kTransmissions times (the original and two retransmissions) within kWindow.
//
// One slot per flow holds the flow's most recent large segment seen: a higher sequence number
// is progress and replaces it (count 1); the same one counts up; a lower one is a retransmission
// of earlier data (a sender only goes back to resend), so it replaces the slot with count 2. A
// single loss repaired by one retransmission, or a tail loss probe resending the last segment
// once, therefore never reaches 3; a blackhole, where every retransmission of the oldest
// unacknowledged segment vanishes too, reaches 3 at the second timeout (well within kWindow
// even with exponential backoff from a 1 s RTO). Segments without payload, SYNs and RSTs are
// ignored, and so are packets at or below the threshold, which the floor of the search covers.
//
// kFlows slots, least recently used replaced; flows are identified by a 64-bit hash of the
// addresses and ports, so a collision merely merges two flows' tracking (at worst an extra
// re-probe, which is harmless). Cost per large segment: a scan of kFlows slots.
class LargePacketLossDetector {
 public:
  static constexpr int kFlows = 32;
  static constexpr uint32_t kTransmissions = 3;
  static constexpr Nanos kWindow = seconds(10);

  explicit LargePacketLossDetector(uint32_t threshold = PmtuSearch::kDefaultFloor)
      : threshold_(threshold) {}

  // `packet` is an IPv4/IPv6 packet going into the tunnel; non-TCP packets are ignored.
  void on_tcp_segment(const uint8_t* packet, uint32_t size, Nanos now);
  // True once a blackhole is suspected, until clear().
  bool suspect() const { return suspect_; }
  // The caller reacted (restarted the search): forget everything, so that a segment still stuck
  // has to be retransmitted kTransmissions more times before it counts again.
  void clear();
  void set_threshold(uint32_t threshold) { threshold_ = threshold; }
  uint32_t threshold() const { return threshold_; }

 private:
  struct Slot {
    uint64_t flow = 0;  // 0: empty
    uint32_t seq = 0;
    uint32_t count = 0;
    Nanos first_seen = 0;
    Nanos last_seen = 0;
  };

  uint32_t threshold_;
  bool suspect_ = false;
  std::array<Slot, kFlows> slots_{};
};

}  // namespace waypost::dataplane
