#include "doctor/dns.h"

#include <fmt/format.h>

#include <array>

#include "common/bytes.h"
#include "dns/message.h"

namespace waypost::doctor {

Result<std::string> build_dns_query(uint16_t id, std::string_view name, uint16_t qtype) {
  std::array<uint8_t, 512> buf{};
  const size_t n = dns::build_query(id, name, qtype, buf);
  if (n == 0) return make_error(ErrorKind::kParse, "'{}' is not a valid DNS name", name);
  return std::string(reinterpret_cast<const char*>(buf.data()), n);
}

Result<DnsReply> parse_dns_reply(std::string_view reply, uint16_t id) {
  dns::ReplyHeader h;
  if (!dns::parse_reply_header(as_bytes(reply), h)) {
    return make_error(ErrorKind::kProtocol, "reply too short ({} bytes)", reply.size());
  }
  if (h.id != id) {
    return make_error(ErrorKind::kProtocol, "reply id {} does not match query id {}", h.id, id);
  }
  if (!h.is_response()) return make_error(ErrorKind::kProtocol, "not a response (QR bit clear)");
  DnsReply r;
  r.id = h.id;
  r.truncated = h.truncated();
  r.rcode = uint8_t(h.rcode);
  r.answers = h.answers;
  return r;
}

std::string_view rcode_name(uint8_t rcode) {
  switch (rcode) {
    case 0:
      return "NOERROR";
    case 1:
      return "FORMERR";
    case 2:
      return "SERVFAIL";
    case 3:
      return "NXDOMAIN";
    case 4:
      return "NOTIMP";
    case 5:
      return "REFUSED";
    default:
      return "error";
  }
}

std::vector<net::IpAddress> parse_resolv_conf(std::string_view text) {
  std::vector<net::IpAddress> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? nl : nl - start);
    start = nl == std::string_view::npos ? text.size() : nl + 1;
    if (size_t c = line.find_first_of("#;"); c != std::string_view::npos) line = line.substr(0, c);
    auto next_word = [&line]() {
      size_t b = line.find_first_not_of(" \t\r");
      if (b == std::string_view::npos) return std::string_view();
      size_t e = line.find_first_of(" \t\r", b);
      std::string_view w = line.substr(b, e == std::string_view::npos ? e : e - b);
      line = e == std::string_view::npos ? std::string_view() : line.substr(e);
      return w;
    };
    if (next_word() != "nameserver") continue;
    std::string_view addr = next_word();
    if (size_t pct = addr.find('%'); pct != std::string_view::npos) addr = addr.substr(0, pct);
    if (auto a = net::IpAddress::parse(addr)) out.push_back(*a);
  }
  return out;
}

}  // namespace waypost::doctor

namespace waypost::doctor {

bool is_local_network_address(const net::IpAddress& a) {
  const auto& b = a.bytes;
  if (a.is_v4()) {
    return b[0] == 10 || b[0] == 127 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
           (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254);
  }
  bool loopback = b[15] == 1;
  for (int i = 0; i < 15; ++i) loopback = loopback && b[i] == 0;
  return loopback || (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

Finding dns_finding(const DnsObservation& o) {
  Finding f;
  const std::string addr = o.server.to_string();
  f.id = "dns:" + addr;
  bool through = false;
  std::string tunnel;
  for (const auto& t : o.tunnels) {
    if (t == o.route_dev) {
      through = true;
      tunnel = t;
    }
  }
  const bool loopback = o.route_dev == "lo";
  f.data = {{"server", addr},           {"source", o.source},        {"name", o.name},
            {"route_dev", o.route_dev}, {"through_tunnel", through}, {"answered", o.answered}};
  const std::string where =
      o.route_dev.empty() ? (o.route_error.empty() ? std::string() : " (" + o.route_error + ")")
                          : (through ? " through the tunnel " + tunnel : " via " + o.route_dev);
  if (!o.answered) {
    f.status = Status::kFail;
    f.summary = fmt::format("DNS server {} ({}) did not answer a query for {}{}: {}.", addr,
                            o.source, o.name, where, o.error);
    if (through && o.source == "/etc/resolv.conf" && is_local_network_address(o.server) &&
        !o.in_tunnel_subnet) {
      f.detail =
          "This looks like the local network's resolver, but with all traffic going into the "
          "tunnel its queries now travel to the VPN server, which cannot reach it.";
      f.fix =
          "Set DNS = <a resolver the VPN server reaches> (e.g. the server's tunnel address "
          "when it runs one, or 1.1.1.1) in the [Interface] section, and install openresolv "
          "so that waypost up applies it.";
    } else if (through) {
      f.detail =
          "The query went into the tunnel: either the tunnel does not pass traffic (see the "
          "handshake finding) or nothing answers DNS at that address on the other side.";
      f.fix = "Check that the server runs a resolver on " + addr +
              " (or point DNS= at one it can reach, e.g. 1.1.1.1), and that the handshake "
              "succeeds.";
    } else {
      f.detail = "The query did not use a Waypost tunnel.";
      f.fix = "Check this machine's network connection and the resolver at " + addr +
              ", or use another one.";
    }
    return f;
  }
  f.data["rcode"] = std::string(rcode_name(o.reply.rcode));
  f.data["answers"] = o.reply.answers;
  if (o.reply.rcode != 0 && o.reply.rcode != 3) {
    f.status = Status::kWarn;
    f.summary = fmt::format("DNS server {} ({}) is reachable{} but answered {} for {}.", addr,
                            o.source, where, rcode_name(o.reply.rcode), o.name);
    f.detail = o.reply.rcode == 5
                   ? "REFUSED usually means the resolver only serves some source addresses: "
                     "queries arriving from the tunnel's addresses are not among them."
                   : "SERVFAIL means the resolver could not reach the authoritative servers "
                     "(its own upstream is broken or blocked).";
    f.fix = o.reply.rcode == 5 ? "Allow the tunnel's subnet in the resolver's access list, or "
                                 "use another resolver."
                               : "Check the resolver's upstream connectivity, or use another "
                                 "resolver.";
    return f;
  }
  if (o.expect_tunnel && !through && !loopback) {
    f.status = Status::kWarn;
    f.summary = fmt::format(
        "DNS server {} ({}) answered, but queries to it leave{} outside the tunnel: a DNS leak.",
        addr, o.source, where);
    f.detail =
        "With all traffic routed into the tunnel, name lookups going elsewhere reveal what you "
        "look up to the local network.";
    f.fix =
        "Set DNS = <a resolver reached through the tunnel> in the [Interface] section and install "
        "openresolv so that waypost up makes it the system's resolver.";
    return f;
  }
  f.status = Status::kOk;
  f.summary = fmt::format("DNS server {} ({}) answered a query for {} ({}, {} answer{}){}.", addr,
                          o.source, o.name, rcode_name(o.reply.rcode), o.reply.answers,
                          o.reply.answers == 1 ? "" : "s", loopback ? " on this host" : where);
  if (loopback) {
    f.detail =
        "A local resolver (systemd-resolved, dnsmasq, unbound...) answered; which upstream it "
        "uses, and whether that goes through the tunnel, is its own configuration (resolvectl "
        "status).";
  }
  return f;
}

}  // namespace waypost::doctor
