// Fuzzes the raw-packet MTU code (dataplane/mtu.h, dataplane/pmtu_probe.h) with arbitrary bytes
// and checks what must hold for any input, with checksums recomputed here independently:
//   clamp_tcp_mss       changes nothing or only MSS values (to max_mss) and the checksum, and a
//                       TCP checksum that was valid stays valid;
//   make_packet_too_big stays within 576 / 1280 bytes and the capacity, carries valid checksums,
//                       goes back to the packet's source, and quotes the packet verbatim;
//   fragment_ipv4       emits nothing when it fails; otherwise fragments within the MTU, with
//                       valid header checksums, that reassemble to the input;
//   parse_probe_reply   only accepts what it claims; build_probe's replies always parse;
//   PmtuSearch          keeps its MTU within [floor, ceiling] under any sequence of events;
//   parse_echo_reply    (the IPsec keep-alive's raw sockets) returns a payload inside the input,
//                       and make_echo_request's replies parse back to their id and sequence.
// Input: 8 parameter bytes (MTU, max MSS, probe id, flags, op seed), then the packet.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "dataplane/mtu.h"
#include "dataplane/pmtu_probe.h"
#include "net/icmp_echo.h"

namespace {

namespace dp = waypost::dataplane;
namespace net = waypost::net;
using Bytes = std::vector<uint8_t>;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "ip_headers_fuzz: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) {
    fail(what);
  }
}

uint16_t be16(const uint8_t* p) {
  return uint16_t(p[0] << 8 | p[1]);
}

// One's-complement sum, the plain way, independent of the code under test.
uint32_t sum16(uint32_t sum, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i += 2) {
    sum += uint32_t(p[i]) << 8 | (i + 1 < n ? p[i + 1] : 0);
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return sum;
}

// True if the upper-layer checksum over [l4, end) with the pseudo-header verifies.
bool l4_checksum_valid(const uint8_t* p, uint32_t l4, uint32_t end, uint8_t protocol) {
  const uint32_t length = end - l4;
  uint32_t sum = 0;
  if ((p[0] >> 4) == 4) {
    sum = sum16(sum, p + 12, 8);
  } else {
    sum = sum16(sum, p + 8, 32);
    sum += length >> 16;
  }
  sum += protocol + (length & 0xffff);
  sum = sum16(sum, p + l4, length);
  while (sum > 0xffff) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return sum == 0xffff;
}

bool ipv4_header_valid(const uint8_t* p) {
  uint32_t sum = sum16(0, p, (p[0] & 0x0f) * 4u);
  return sum == 0xffff;
}

void fuzz_clamp(const uint8_t* packet, uint32_t size, uint16_t max_mss) {
  Bytes buffer(packet, packet + size);
  const std::optional<dp::TransportHeader> l4 = dp::find_transport_header(packet, size);
  const bool checkable =
      l4 && l4->protocol == dp::kIpProtoTcp && !l4->fragment && l4->end - l4->offset >= 20;
  const bool valid_before = checkable && l4_checksum_valid(packet, l4->offset, l4->end, 6);
  const bool changed = dp::clamp_tcp_mss(buffer.data(), size, max_mss);
  if (!changed) {
    check(buffer == Bytes(packet, packet + size), "clamp changed bytes but said no");
    return;
  }
  check(l4.has_value() && l4->protocol == dp::kIpProtoTcp, "clamped a non-TCP packet");
  const uint32_t t = l4->offset;
  check((packet[t + 13] & 0x02) != 0, "clamped a segment without SYN");
  const uint32_t options_end = t + (packet[t + 12] >> 4) * 4u;
  for (uint32_t i = 0; i < size; ++i) {
    if (buffer[i] == packet[i] || i == t + 16 || i == t + 17) {
      continue;
    }
    check(i >= t + 20 && i < options_end, "clamp wrote outside the options");
  }
  if (valid_before) {
    check(l4_checksum_valid(buffer.data(), t, l4->end, 6), "clamp broke a valid checksum");
  }
  // Clamping again changes nothing: every MSS is now at most max_mss.
  check(!dp::clamp_tcp_mss(buffer.data(), size, max_mss), "clamp not idempotent");
}

void fuzz_too_big(const uint8_t* packet, uint32_t size, uint32_t mtu, bool from_v6,
                  uint32_t capacity) {
  static const net::IpAddress kFrom6 = *net::IpAddress::parse("fd00::1");
  const net::IpAddress from = from_v6 ? kFrom6 : net::IpAddress::v4(0x0a000001);
  Bytes out(capacity);
  const uint32_t n = dp::make_packet_too_big(packet, size, mtu, from, out.data(), capacity);
  if (n == 0) {
    return;
  }
  check(n <= capacity, "error larger than the buffer");
  const std::optional<dp::TransportHeader> l4 = dp::find_transport_header(packet, size);
  check(l4.has_value(), "error for a malformed packet");
  check(l4->end > mtu, "error for a packet that fits");
  if ((packet[0] >> 4) == 4) {
    check(!from_v6 && (packet[6] & 0x40) != 0, "v4 error without DF or from v6");
    check(n >= 28 && n <= 576 && (out[0] >> 4) == 4 && be16(&out[2]) == n, "v4 error length");
    check(ipv4_header_valid(out.data()), "v4 error header checksum");
    check(sum16(0, &out[20], n - 20) == 0xffff, "ICMP checksum");
    check(std::memcmp(&out[16], packet + 12, 4) == 0, "v4 error not to the source");
    check(std::memcmp(&out[28], packet, n - 28) == 0, "v4 quote differs");
    check(n - 28 >= std::min<uint32_t>(l4->end, l4->offset + 8), "v4 quote too short");
  } else {
    check(from_v6, "v6 error from v4");
    check(n >= 48 && n <= 1280 && be16(&out[4]) == n - 40, "v6 error length");
    check(l4_checksum_valid(out.data(), 40, n, 58), "ICMPv6 checksum");
    check(std::memcmp(&out[24], packet + 8, 16) == 0, "v6 error not to the source");
    check(std::memcmp(&out[48], packet, n - 48) == 0, "v6 quote differs");
  }
}

void fuzz_fragment(const uint8_t* packet, uint32_t size, uint32_t mtu, uint32_t scratch_size) {
  Bytes scratch(scratch_size);
  std::vector<Bytes> fragments;
  const uint8_t* first_pointer = nullptr;
  const bool ok = dp::fragment_ipv4(packet, size, mtu, scratch.data(), scratch_size,
                                    [&](const uint8_t* f, uint32_t n) {
                                      if (fragments.empty()) {
                                        first_pointer = f;
                                      }
                                      fragments.emplace_back(f, f + n);
                                    });
  if (!ok) {
    check(fragments.empty(), "emitted fragments and then failed");
    return;
  }
  check(!fragments.empty(), "succeeded without emitting");
  check(size >= 20 && (packet[0] >> 4) == 4, "fragmented a non-IPv4 packet");
  const uint32_t total = be16(packet + 2);
  const uint32_t ihl = (packet[0] & 0x0f) * 4u;
  if (total <= mtu) {
    check(fragments.size() == 1 && first_pointer == packet && fragments[0].size() == total,
          "fitting packet not passed through");
    return;
  }
  const uint32_t limit = std::min(mtu, scratch_size);
  check((be16(packet + 6) & 0x4000) == 0 && limit >= 68, "fragmented despite DF or tiny MTU");
  // Reassemble: payloads by offset, contiguous from the input's offset, MF on all but the last.
  const uint32_t base = (be16(packet + 6) & 0x1fff) * 8u;
  uint32_t expected_offset = base;
  Bytes payload;
  for (size_t i = 0; i < fragments.size(); ++i) {
    const Bytes& f = fragments[i];
    check(f.size() <= limit && f.size() >= 20, "fragment size");
    const uint32_t h = (f[0] & 0x0f) * 4u;
    check((f[0] >> 4) == 4 && h >= 20 && h <= f.size() && be16(&f[2]) == f.size(),
          "fragment header");
    check(ipv4_header_valid(f.data()), "fragment header checksum");
    check(std::memcmp(&f[4], packet + 4, 2) == 0 && std::memcmp(&f[8], packet + 8, 2) == 0 &&
              std::memcmp(&f[12], packet + 12, 8) == 0 && f[1] == packet[1],
          "fragment fields not kept");
    const uint16_t field = be16(&f[6]);
    check((field & 0x1fff) * 8u == expected_offset, "fragment offset");
    const bool last = i + 1 == fragments.size();
    const bool more = (field & 0x2000) != 0;
    check(last ? more == ((be16(packet + 6) & 0x2000) != 0) : more, "MF flag");
    if (!last) {
      check((f.size() - h) % 8 == 0, "non-last fragment payload not a multiple of 8");
    }
    if (i == 0) {
      check(h == ihl && std::memcmp(f.data() + 20, packet + 20, ihl - 20) == 0,
            "first fragment options");
    }
    payload.insert(payload.end(), f.begin() + h, f.end());
    expected_offset += uint32_t(f.size() - h);
  }
  check(payload.size() == total - ihl &&
            std::memcmp(payload.data(), packet + ihl, payload.size()) == 0,
        "reassembled payload differs");
}

void fuzz_probe(const uint8_t* packet, uint32_t size, uint16_t id, uint32_t probe_size, bool v6) {
  if (std::optional<dp::ProbeReply> r = dp::parse_probe_reply(packet, size, id)) {
    const std::optional<dp::TransportHeader> l4 = dp::find_transport_header(packet, size);
    check(l4 && !l4->fragment && r->size == l4->end && r->size <= size, "bogus probe reply");
    check(packet[l4->offset] == ((packet[0] >> 4) == 6 ? 129 : 0), "probe reply of the wrong type");
  }
  // Round trip: our probe, answered as a peer would, is recognized; the request itself is not.
  static const net::IpAddress kA6 = *net::IpAddress::parse("fd00::1");
  static const net::IpAddress kB6 = *net::IpAddress::parse("fd00::2");
  const net::IpAddress a = v6 ? kA6 : net::IpAddress::v4(0x0a000001);
  const net::IpAddress b = v6 ? kB6 : net::IpAddress::v4(0x0a000002);
  Bytes p(probe_size);
  const uint32_t n = dp::build_probe(p.data(), probe_size, a, b, id, uint16_t(size));
  const uint32_t minimum = v6 ? dp::kProbeMinSizeV6 : dp::kProbeMinSizeV4;
  check((n != 0) == (probe_size >= minimum && probe_size <= dp::kProbeMaxSize) &&
            (n == 0 || n == probe_size),
        "build_probe size");
  if (n == 0) {
    return;
  }
  check(!dp::parse_probe_reply(p.data(), n, id), "request taken for a reply");
  const uint32_t icmp = v6 ? 40 : 20;
  p[icmp] = v6 ? 129 : 0;
  // The type is the high byte of the first word: 8 -> 0 lowers the sum by 0x0800, 128 -> 129
  // raises it by 0x0100; the checksum (its complement) moves the other way, one's-complement.
  uint32_t c = be16(&p[icmp + 2]) + (v6 ? 0xfeffu : 0x0800u);
  c = (c & 0xffff) + (c >> 16);
  p[icmp + 2] = uint8_t(c >> 8);
  p[icmp + 3] = uint8_t(c);
  const std::optional<dp::ProbeReply> r = dp::parse_probe_reply(p.data(), n, id);
  check(r && r->size == n && r->seq == uint16_t(size), "own probe reply not recognized");
}

void fuzz_search(const uint8_t* data, uint32_t size, uint8_t seed) {
  dp::PmtuSearch s(1280, 1280 + seed * 32u);
  waypost::Nanos now = waypost::seconds(1);
  uint32_t last_probe = 0;
  for (uint32_t i = 0; i < size && i < 512; ++i) {
    const uint8_t b = data[i];
    switch (b & 3) {
      case 0:
        now += waypost::millis(10) * (b >> 2);
        if (std::optional<uint32_t> p = s.probe_to_send(now)) {
          check(*p > s.floor() && *p <= s.ceiling(), "probe size outside (floor, ceiling]");
          last_probe = *p;
        }
        break;
      case 1:
        s.on_reply((b & 4) != 0 ? last_probe : 1280 + (b >> 3) * 37u, now);
        break;
      case 2:
        if ((b & 4) != 0) {
          s.restart(now);
        } else {
          now += waypost::seconds(b >> 3) * 30;
        }
        break;
      default:
        s.set_ceiling(1200 + (b >> 2) * 16u);
        break;
    }
    check(s.mtu() >= s.floor() && s.mtu() <= s.ceiling(), "search MTU out of range");
    check(s.ceiling() >= s.floor(), "ceiling below floor");
  }
}

void fuzz_echo(const uint8_t* packet, uint32_t n, uint16_t id) {
  for (net::Family f : {net::Family::kV4, net::Family::kV6}) {
    auto r = net::parse_echo_reply(f, {packet, n});
    if (r && (r->payload.data() < packet || r->payload.data() + r->payload.size() > packet + n)) {
      fail("parse_echo_reply: payload outside the input");
    }
  }
  // A request turned into a reply (type 0 / 129) parses back, over ICMPv6 as a raw socket
  // delivers it (no IP header).
  Bytes m = net::make_echo_request(net::Family::kV6, id, uint16_t(n), {packet, std::min(n, 64u)});
  m[0] = 129;
  auto r = net::parse_echo_reply(net::Family::kV6, m);
  if (!r || r->id != id || r->seq != uint16_t(n)) fail("echo request/reply round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8 || size > 70000) {
    return 0;
  }
  const uint32_t mtu = be16(data) % 9300;
  const uint16_t max_mss = be16(data + 2);
  const uint16_t id = be16(data + 4);
  const uint8_t flags = data[6];
  const uint8_t seed = data[7];
  const uint8_t* packet = data + 8;
  const auto n = uint32_t(size - 8);

  // Copies keep sanitizers watching the exact packet bounds.
  const Bytes exact(packet, packet + n);
  fuzz_clamp(exact.data(), n, max_mss);
  const uint32_t capacity = (flags & 2) != 0 ? 40 + seed : 2000;
  fuzz_too_big(exact.data(), n, mtu, (flags & 1) != 0, capacity);
  fuzz_fragment(exact.data(), n, mtu, (flags & 4) != 0 ? 60 + seed * 4u : 9200);
  fuzz_probe(exact.data(), n, id, mtu, (flags & 8) != 0);
  fuzz_search(exact.data(), n, seed);
  fuzz_echo(exact.data(), n, id);
  dp::LargePacketLossDetector detector;
  for (int i = 0; i < 3; ++i) {
    detector.on_tcp_segment(exact.data(), n, waypost::seconds(i));
  }
  return 0;
}
