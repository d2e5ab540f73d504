#include "doctor/path_mtu_check.h"

#include <fmt/format.h>

#include <algorithm>

namespace waypost::doctor {

namespace {

uint32_t route_limit(const PathMtuContext& ctx) {
  uint32_t m = ctx.link_mtu != 0 ? ctx.link_mtu : 1500;
  if (ctx.route_mtu != 0) m = std::min(m, ctx.route_mtu);
  return m;
}

// The advice for a path MTU m: Algo's reduce_mtu and the wg-quick MTU line.
void add_advice(Finding& f, uint32_t m, bool v4) {
  const uint32_t reduce = reduce_mtu_for(m);
  const uint32_t client = client_mtu_for(m);
  f.data["reduce_mtu"] = reduce;
  f.data["client_mtu"] = client;
  f.data["mtu_line"] = fmt::format("MTU = {}", client);
  const net::Family outer = v4 ? net::Family::kV4 : net::Family::kV6;
  f.detail += fmt::format(
      "{sep}A WireGuard packet adds {wg} bytes (header and tag) + {udp} (UDP) + {ip} (IP{fam}) = "
      "{total} bytes to what it carries. Algo-style profiles budget {budget} bytes so that one "
      "profile works over IPv4 and IPv6: client MTU = {base} - reduce_mtu must be at most {m} - "
      "{budget} = {room}, so reduce_mtu = max(0, {base} - ({m} - {budget})) = {reduce}, i.e. "
      "MTU = {client}.",
      fmt::arg("sep", f.detail.empty() ? "" : " "), fmt::arg("wg", wireguard::kTransportOverhead),
      fmt::arg("udp", dataplane::kUdpHeaderSize),
      fmt::arg("ip", v4 ? dataplane::kIpv4HeaderSize : dataplane::kIpv6HeaderSize),
      fmt::arg("fam", v4 ? "v4" : "v6"), fmt::arg("total", tunnel_overhead(outer)),
      fmt::arg("budget", kAlgoOverhead), fmt::arg("base", kAlgoBaseMtu), fmt::arg("m", m),
      fmt::arg("room", m > kAlgoOverhead ? m - kAlgoOverhead : 0), fmt::arg("reduce", reduce),
      fmt::arg("client", client));
  if (reduce == 0) return;
  f.fix = fmt::format(
      "On a Waypost or Algo server: reduce_mtu: {} in config.yaml (then regenerate or re-import "
      "the client profiles).\n"
      "In a wg-quick / WireGuard app config: MTU = {} in the [Interface] section.",
      reduce, client);
}

}  // namespace

uint32_t max_echo_payload(const PathMtuContext& ctx) {
  uint32_t m = route_limit(ctx);
  uint32_t h = echo_header(ctx.address.family);
  return m > h ? m - h : 0;
}

Finding path_mtu_finding(const PathMtuContext& ctx, const MtuSearchResult& r) {
  Finding f;
  f.id = "path_mtu";
  const bool v4 = ctx.address.is_v4();
  const uint32_t header = echo_header(ctx.address.family);
  const uint32_t limit = route_limit(ctx);
  const std::string target = ctx.host == ctx.address.to_string()
                                 ? ctx.host
                                 : fmt::format("{} ({})", ctx.host, ctx.address.to_string());
  f.data = {{"host", ctx.host}, {"address", ctx.address.to_string()},
            {"via", ctx.via},   {"route_mtu", limit},
            {"header", header}, {"probes", r.probes}};
  if (ctx.fwmark != 0) f.data["fwmark"] = ctx.fwmark;
  std::string context;
  if (!ctx.tunnel.empty()) {
    context = fmt::format(
        "The route to {} goes through the Waypost tunnel {}, so this measured the path inside "
        "the tunnel, not the path the tunnel's own packets take. ",
        target, ctx.tunnel);
  }
  switch (r.kind) {
    case MtuSearchResult::Kind::kFound: {
      f.data["outcome"] = "found";
      f.data["largest_payload"] = r.largest_payload;
      f.data["path_mtu"] = r.path_mtu;
      f.data["exact"] = r.exact;
      if (r.exact) {
        f.summary = fmt::format(
            "Path MTU to {} is {}: the largest ping that crossed unfragmented carried {} bytes, "
            "and {} + {} = {}{}.",
            target, r.path_mtu, r.largest_payload, r.largest_payload, header, r.path_mtu,
            r.smallest_failed == 0 ? fmt::format(" (the most the route via {} allows)",
                                                 ctx.via.empty() ? "it" : ctx.via)
                                   : "");
      } else {
        f.summary = fmt::format(
            "Path MTU to {} is at least {} (largest ping payload that crossed: {} + {}); sizes "
            "from {} up were not all excluded within the probe budget.",
            target, r.path_mtu, r.largest_payload, header, r.smallest_failed + header);
      }
      f.detail = context;
      add_advice(f, r.path_mtu, v4);
      f.status = reduce_mtu_for(r.path_mtu) == 0 ? Status::kOk : Status::kWarn;
      if (f.status == Status::kWarn) {
        f.detail +=
            " Waypost itself copes with a narrow path (it measures the tunnel and clamps TCP), "
            "but peers running the stock WireGuard apps do not: large packets get lost and "
            "connections hang while small ones work.";
      }
      return f;
    }
    case MtuSearchResult::Kind::kBelowFloor: {
      f.status = Status::kFail;
      f.data["outcome"] = "below_floor";
      f.data["largest_payload"] = r.largest_payload;
      f.summary = fmt::format(
          "Pings to {} cross only when small: even {} bytes ({} + {}) do not, so the path MTU is "
          "below {}.",
          target, r.smallest_failed + header, r.smallest_failed, header,
          r.smallest_failed + header);
      f.detail = context +
                 "A tunnel over such a path has an MTU below 1148, too small to carry IPv6 (which "
                 "needs 1280). Something on the way (a PPPoE or mobile link, another VPN) is "
                 "unusually narrow.";
      f.fix = "Find the narrow link (tracepath " + ctx.address.to_string() +
              " shows where the MTU drops) and remove the extra encapsulation if you can; "
              "otherwise set the tunnel MTU by trial, e.g. MTU = 1100, and turn IPv6 in the "
              "tunnel off.";
      return f;
    }
    case MtuSearchResult::Kind::kNoAnswer: {
      f.status = Status::kWarn;
      f.data["outcome"] = "no_answer";
      f.data["path_mtu"] = limit;
      f.summary = fmt::format(
          "{} did not answer any ping ({}), so the path MTU could not be measured; assuming the "
          "route MTU {}.",
          target,
          r.message.empty() ? "no answer, not even to a small one" : "no answer; " + r.message,
          limit);
      f.detail = context +
                 "This is not a fault of the path: many hosts and networks filter ICMP echo. It "
                 "only means this check cannot see the path MTU.";
      add_advice(f, limit, v4);
      f.fix =
          std::string(
              "Name a host on the same path that answers pings: waypost doctor --host "
              "<host>. If large transfers through the tunnel hang while small ones work, "
              "lower the MTU step by step (reduce_mtu: 40, 80, ... or MTU = 1380, 1340, "
              "...).") +
          (f.fix.empty() ? ""
                         : fmt::format("\nIf the route MTU {} is the path MTU:\n", limit) + f.fix);
      return f;
    }
    case MtuSearchResult::Kind::kError:
      break;
  }
  f.status = Status::kWarn;
  f.data["outcome"] = "error";
  f.summary = fmt::format("The path MTU to {} could not be measured: {}.", target, r.message);
  f.fix =
      "Run as root (sudo waypost doctor ...), and allow outgoing ICMP echo in the local "
      "firewall.";
  return f;
}

}  // namespace waypost::doctor
