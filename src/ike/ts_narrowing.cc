#include "ike/ts_narrowing.h"

#include <algorithm>

#include <fmt/format.h>

namespace waypost::ike {

namespace {

net::IpAddress family_end(net::Family family) {
  net::IpAddress a;
  a.family = family;
  std::fill(a.bytes.begin(), a.bytes.begin() + long(a.byte_length()), uint8_t(0xff));
  return a;
}

net::IpAddress family_start(net::Family family) {
  net::IpAddress a;
  a.family = family;
  return a;
}

// The prefix length if [start, end] is exactly one prefix, else -1.
int prefix_length(const net::IpAddress& start, const net::IpAddress& end) {
  const int bits = start.bit_length();
  for (int len = 0; len <= bits; ++len) {
    bool ok = true;
    for (int bit = 0; bit < bits && ok; ++bit) {
      const auto mask = uint8_t(0x80 >> (bit % 8));
      const bool s = (start.bytes[size_t(bit / 8)] & mask) != 0;
      const bool e = (end.bytes[size_t(bit / 8)] & mask) != 0;
      ok = bit < len ? s == e : (!s && e);
    }
    if (ok) return len;
  }
  return -1;
}

}  // namespace

TrafficSelector whole_family(net::Family family) {
  TrafficSelector ts;
  ts.start = family_start(family);
  ts.end = family_end(family);
  return ts;
}

std::vector<TrafficSelector> resolve_ts(const std::vector<TrafficSelectorSpec>& specs,
                                        std::span<const net::IpAddress> dynamic) {
  std::vector<TrafficSelector> out;
  auto add = [&](TrafficSelector ts, const TrafficSelectorSpec& spec) {
    ts.ip_protocol = spec.protocol;
    if (spec.opaque) {
      ts.start_port = 0xffff;  // RFC 4301 OPAQUE
      ts.end_port = 0;
    } else {
      ts.start_port = spec.from_port;
      ts.end_port = spec.to_port;
    }
    if (std::find(out.begin(), out.end(), ts) == out.end()) out.push_back(ts);
  };
  for (const TrafficSelectorSpec& spec : specs) {
    if (spec.dynamic) {
      for (const net::IpAddress& a : dynamic) add(TrafficSelector{0, 0, 65535, a, a}, spec);
    } else {
      add(TrafficSelector{0, 0, 65535, spec.range.first, spec.range.last}, spec);
    }
  }
  return out;
}

std::optional<TrafficSelector> intersect(const TrafficSelector& a, const TrafficSelector& b) {
  if (a.start.family != b.start.family) return std::nullopt;
  TrafficSelector out;
  if (a.ip_protocol != 0 && b.ip_protocol != 0 && a.ip_protocol != b.ip_protocol) {
    return std::nullopt;
  }
  out.ip_protocol = a.ip_protocol != 0 ? a.ip_protocol : b.ip_protocol;
  out.start_port = std::max(a.start_port, b.start_port);
  out.end_port = std::min(a.end_port, b.end_port);
  if (out.start_port > out.end_port) return std::nullopt;
  out.start = std::max(a.start, b.start);
  out.end = std::min(a.end, b.end);
  if (out.start > out.end) return std::nullopt;
  return out;
}

std::vector<TrafficSelector> narrow(const std::vector<TrafficSelector>& proposed,
                                    const std::vector<TrafficSelector>& ours) {
  std::vector<TrafficSelector> out;
  for (const TrafficSelector& mine : ours) {
    for (const TrafficSelector& theirs : proposed) {
      auto ts = intersect(theirs, mine);
      if (ts && std::find(out.begin(), out.end(), *ts) == out.end()) out.push_back(*ts);
    }
  }
  return out;
}

bool within(const std::vector<TrafficSelector>& reply,
            const std::vector<TrafficSelector>& proposed) {
  return std::all_of(reply.begin(), reply.end(), [&](const TrafficSelector& r) {
    return std::any_of(proposed.begin(), proposed.end(), [&](const TrafficSelector& p) {
      auto i = intersect(r, p);
      return i && *i == r;
    });
  });
}

std::string to_string(const TrafficSelector& ts) {
  std::string out;
  const int len = prefix_length(ts.start, ts.end);
  if (len >= 0) {
    out = fmt::format("{}/{}", ts.start.to_string(), len);
  } else {
    out = fmt::format("{}..{}", ts.start.to_string(), ts.end.to_string());
  }
  const bool any_port = ts.start_port == 0 && ts.end_port == 65535;
  if (ts.ip_protocol == 0 && any_port) return out;
  std::string proto = ts.ip_protocol == 6    ? "tcp"
                      : ts.ip_protocol == 17 ? "udp"
                      : ts.ip_protocol == 1  ? "icmp"
                                             : fmt::format("{}", ts.ip_protocol);
  if (any_port) return fmt::format("{}[{}]", out, proto);
  if (ts.start_port == ts.end_port) return fmt::format("{}[{}/{}]", out, proto, ts.start_port);
  return fmt::format("{}[{}/{}-{}]", out, proto, ts.start_port, ts.end_port);
}

}  // namespace waypost::ike
