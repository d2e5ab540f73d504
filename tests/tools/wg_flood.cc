// wg_flood: a bounded UDP packet generator for the namespace denial-of-service tests.
//
//   wg_flood initiations --pubkey B64 --target IP:PORT [options]
//       WireGuard handshake initiations (148 bytes, type 1): random sender index, ephemeral,
//       encrypted static and timestamp, a VALID MAC1 for the target's public key (so they pass
//       the responder's cheap check and reach its handshake queue), MAC2 zero.
//   wg_flood garbage --target IP:PORT [--min-size N] [--max-size N] [options]
//       Random payloads of random sizes.
//   wg_flood ike-init --target IP:500 [--ike-proposals TEXT] [options]
//       IKEv2 IKE_SA_INIT requests (RFC 7296 1.2) that a responder accepts as new: a fresh random
//       SPIi and nonce each, an SA payload offering TEXT (swanctl syntax; default
//       aes128gcm16-prfsha256-x25519) and a real public value of its first group (one for the
//       whole run: a responder computes with it only for requests it admits, and a COOKIE does
//       not depend on it). From forged sources they stand for a half-open SA flood.
//   wg_flood replay FILE --target IP:PORT [--repeat N] [--dport P] [options]
//       Re-sends recorded datagrams, in order, N passes (default 1; 0: until --duration or
//       --count). FILE is a classic pcap file as written by `tcpdump -w` (Ethernet, Linux cooked
//       v1/v2 or raw IP link types; the UDP payloads of IPv4/IPv6 packets are taken, only those
//       to port P with --dport; truncated packets are skipped), or a text file with one datagram
//       per line in hex ('#' starts a comment).
//
// Options:
//   --rate PPS          packets per second (default 1000; 0 = as fast as possible)
//   --duration S        stop after S seconds (default 10, at most 600)
//   --count N           stop after N packets (default: rate * duration; never more than 2e8)
//   --spoof-from PFX    random source addresses (and ports) within PFX (e.g. 203.0.113.0/24 or
//                       fd00:f::/64), sent through a raw socket (IP_HDRINCL / IPV6_HDRINCL) with
//                       computed UDP checksums; the family must match the target's
//   --bind IP[:PORT]    source for the normal UDP socket (without --spoof-from)
//   --batch N           datagrams per sendmmsg call (default 64, at most 1024)
//   --seed N            PRNG seed (default: from getrandom)
//   --ike-proposals S   ike-init: the IKE proposals offered (swanctl syntax)
//
// Every run is bounded by --duration and by the packet cap; SIGINT or SIGTERM ends it early. At the
// end (also after a signal) one JSON line goes to
// stdout: {"mode","sent","errors","bytes","seconds","pps","types":{"1":n,...}} where "types"
// counts datagrams by their first byte (the WireGuard message type) when it is 1..4 (not for
// ike-init, whose first byte is the random SPI).
// Exit status: 0 when at least one datagram was sent, 1 otherwise, 2 on usage errors.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <csignal>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/encoding.h"
#include "crypto/blake2s.h"
#include "crypto/dh.h"
#include "crypto/keys.h"
#include "ike/algorithms.h"
#include "ike/message.h"
#include "ike/payloads.h"
#include "ike/proposal_match.h"
#include "ike/proposals.h"
#include "wireguard/cookie.h"
#include "wireguard/messages.h"

#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif

namespace {

using waypost::load_be16;
using waypost::store_be16;
using waypost::store_be32;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

constexpr double kMaxDuration = 600;
constexpr uint64_t kMaxPackets = 200'000'000;
constexpr size_t kMaxPayload = 65'000;
constexpr size_t kMaxBatch = 1024;
constexpr size_t kIp4Header = 20, kIp6Header = 40, kUdpHeader = 8;

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "wg_flood: %s\n"
               "usage: wg_flood initiations --pubkey B64 --target IP:PORT [options]\n"
               "       wg_flood garbage --target IP:PORT [--min-size N] [--max-size N] [options]\n"
               "       wg_flood replay FILE --target IP:PORT [--repeat N] [--dport P] [options]\n"
               "       wg_flood ike-init --target IP:500 [--ike-proposals TEXT] [options]\n"
               "options: --rate PPS (0 = max) --duration S --count N --spoof-from PREFIX\n"
               "         --bind IP[:PORT] --batch N --seed N\n",
               why);
  std::exit(2);
}

double now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// xoshiro256**: fast, good enough for junk bytes, seeded from getrandom.
class Prng {
 public:
  explicit Prng(uint64_t seed) {
    uint64_t x = seed ? seed : 0x9e3779b97f4a7c15ULL;
    for (auto& w : s_) {  // splitmix64 expansion
      x += 0x9e3779b97f4a7c15ULL;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      w = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  uint64_t below(uint64_t bound) { return next() % bound; }
  void fill(uint8_t* p, size_t n) {
    while (n >= 8) {
      const uint64_t v = next();
      std::memcpy(p, &v, 8);
      p += 8;
      n -= 8;
    }
    if (n > 0) {
      const uint64_t v = next();
      std::memcpy(p, &v, n);
    }
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<uint64_t, 4> s_{};
};

// --- addresses ---------------------------------------------------------------------------------

struct Address {
  int family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};
  uint16_t port = 0;
};

std::optional<Address> parse_ip(std::string_view text) {
  Address a;
  std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return std::nullopt;
}

std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + unsigned(c - '0');
  }
  if (v > 65535) return std::nullopt;
  return uint16_t(v);
}

// "IP:PORT", "[IPv6]:PORT"; with allow_no_port also a bare address (port 0).
std::optional<Address> parse_endpoint(std::string_view text, bool allow_no_port) {
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    auto a = parse_ip(text.substr(1, close - 1));
    if (!a) return std::nullopt;
    std::string_view rest = text.substr(close + 1);
    if (rest.empty() && allow_no_port) return a;
    if (rest.size() < 2 || rest.front() != ':') return std::nullopt;
    auto p = parse_port(rest.substr(1));
    if (!p) return std::nullopt;
    a->port = *p;
    return a;
  }
  if (auto a = parse_ip(text); a && allow_no_port) return a;
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto a = parse_ip(text.substr(0, colon));
  auto p = parse_port(text.substr(colon + 1));
  if (!a || !p || a->family != AF_INET) return std::nullopt;  // bare IPv6 needs brackets
  a->port = *p;
  return a;
}

struct Prefix {
  Address base;
  int length = 0;
};

std::optional<Prefix> parse_prefix(std::string_view text) {
  const size_t slash = text.find('/');
  auto a = parse_ip(text.substr(0, slash));
  if (!a) return std::nullopt;
  Prefix p{*a, a->family == AF_INET ? 32 : 128};
  if (slash != std::string_view::npos) {
    auto len = parse_port(text.substr(slash + 1));
    if (!len || *len > p.length) return std::nullopt;
    p.length = *len;
  }
  return p;
}

// A random address within the prefix: the prefix bits kept, the host bits random.
void random_in_prefix(const Prefix& p, Prng& rng, uint8_t* out) {
  const size_t n = p.base.family == AF_INET ? 4 : 16;
  uint8_t rnd[16];
  rng.fill(rnd, n);
  for (size_t i = 0; i < n; ++i) {
    const int bits_kept = std::clamp(p.length - int(i) * 8, 0, 8);
    const auto mask = uint8_t(0xff00 >> bits_kept);
    out[i] = uint8_t((p.base.bytes[i] & mask) | (rnd[i] & ~mask));
  }
}

sockaddr_storage to_sockaddr(const Address& a, uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (a.family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, a.bytes.data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, a.bytes.data(), 16);
    len = sizeof(sockaddr_in6);
  }
  return ss;
}

// --- checksums ---------------------------------------------------------------------------------

uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc) {
  for (; n >= 2; p += 2, n -= 2) acc += uint32_t(p[0]) << 8 | p[1];
  if (n) acc += uint32_t(p[0]) << 8;
  return acc;
}

uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return uint16_t(~acc & 0xffff);
}

// UDP checksum with the IPv4 or IPv6 pseudo-header; `udp` points at the UDP header, whose
// checksum field must be zero. 0 is sent as 0xffff.
uint16_t udp_checksum(int family, const uint8_t* src, const uint8_t* dst, const uint8_t* udp,
                      size_t udp_len) {
  const size_t alen = family == AF_INET ? 4 : 16;
  uint32_t acc = sum16(src, alen, 0);
  acc = sum16(dst, alen, acc);
  acc += 17;  // protocol (IPv4: zero, proto; IPv6: next header in a 32-bit word)
  acc += uint32_t(udp_len & 0xffff) + uint32_t(udp_len >> 16);
  acc = sum16(udp, udp_len, acc);
  const uint16_t c = fold(acc);
  return c == 0 ? 0xffff : c;
}

// --- recorded datagrams ------------------------------------------------------------------------

bool parse_hex_line(std::string_view line, std::vector<uint8_t>& out) {
  out.clear();
  int hi = -1;
  for (char c : line) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else if (c == ' ' || c == '\t' || c == ':' || c == '\r') {
      continue;
    } else {
      return false;
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(uint8_t(hi << 4 | v));
      hi = -1;
    }
  }
  return hi < 0;
}

// The UDP payload of an IP packet, if it is an unfragmented UDP datagram to `dport` (-1: any).
bool udp_payload(const uint8_t* ip, size_t len, int dport, std::vector<uint8_t>& out) {
  if (len < 1) return false;
  const uint8_t* udp = nullptr;
  size_t avail = 0;
  if ((ip[0] >> 4) == 4) {
    if (len < kIp4Header) return false;
    const size_t ihl = size_t(ip[0] & 0x0f) * 4;
    if (ihl < kIp4Header || len < ihl + kUdpHeader || ip[9] != 17) return false;
    if ((load_be16(ip + 6) & 0x3fff) != 0) return false;  // a fragment
    udp = ip + ihl;
    avail = std::min<size_t>(len, load_be16(ip + 2)) - ihl;
  } else if ((ip[0] >> 4) == 6) {
    if (len < kIp6Header + kUdpHeader || ip[6] != 17) return false;
    udp = ip + kIp6Header;
    avail = std::min<size_t>(len - kIp6Header, load_be16(ip + 4));
  } else {
    return false;
  }
  const size_t ulen = load_be16(udp + 4);
  if (ulen < kUdpHeader || ulen > avail) return false;  // truncated capture
  if (dport >= 0 && load_be16(udp + 2) != dport) return false;
  out.assign(udp + kUdpHeader, udp + ulen);
  return true;
}

bool load_pcap(const std::vector<uint8_t>& f, int dport, std::vector<std::vector<uint8_t>>& out,
               std::string& err) {
  if (f.size() < 24) {
    err = "pcap file too short";
    return false;
  }
  uint32_t magic;
  std::memcpy(&magic, f.data(), 4);
  bool swap;
  if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
    swap = false;
  } else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
    swap = true;
  } else {
    err = "not a classic pcap file";
    return false;
  }
  auto u32 = [&](size_t off) {
    uint32_t v;
    std::memcpy(&v, f.data() + off, 4);
    return swap ? __builtin_bswap32(v) : v;
  };
  const uint32_t linktype = u32(20) & 0x0fffffff;
  size_t pos = 24;
  std::vector<uint8_t> payload;
  while (pos + 16 <= f.size()) {
    const uint32_t incl = u32(pos + 8);
    pos += 16;
    if (incl > f.size() - pos) break;  // truncated file
    const uint8_t* p = f.data() + pos;
    size_t n = incl;
    pos += incl;
    size_t skip;
    uint16_t proto;
    switch (linktype) {
      case 1:  // Ethernet
        if (n < 14) continue;
        proto = load_be16(p + 12);
        skip = 14;
        if (proto == 0x8100 && n >= 18) {
          proto = load_be16(p + 16);
          skip = 18;
        }
        break;
      case 113:  // Linux cooked v1
        if (n < 16) continue;
        proto = load_be16(p + 14);
        skip = 16;
        break;
      case 276:  // Linux cooked v2
        if (n < 20) continue;
        proto = load_be16(p);
        skip = 20;
        break;
      case 12:
      case 101:  // raw IP
        proto = (n > 0 && (p[0] >> 4) == 6) ? 0x86dd : 0x0800;
        skip = 0;
        break;
      case 228:
        proto = 0x0800;
        skip = 0;
        break;
      case 229:
        proto = 0x86dd;
        skip = 0;
        break;
      default:
        err = "unsupported pcap link type " + std::to_string(linktype);
        return false;
    }
    if (proto != 0x0800 && proto != 0x86dd) continue;
    if (udp_payload(p + skip, n - skip, dport, payload)) out.push_back(payload);
  }
  return true;
}

bool load_replay(const std::string& path, int dport, std::vector<std::vector<uint8_t>>& out,
                 std::string& err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err = "cannot open " + path;
    return false;
  }
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() >= 4) {
    uint32_t magic;
    std::memcpy(&magic, data.data(), 4);
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d || magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
      return load_pcap(data, dport, out, err);
    }
  }
  std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  std::vector<uint8_t> dg;
  size_t lineno = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++lineno;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    if (!parse_hex_line(line, dg) || dg.empty() || dg.size() > kMaxPayload) {
      err = path + ":" + std::to_string(lineno) + ": not a hex datagram";
      return false;
    }
    out.push_back(dg);
  }
  return true;
}

// --- IKE_SA_INIT requests ------------------------------------------------------------------------

// The nonce the template is built with: 32 bytes that occur nowhere else in it, so that its
// offset can be found in the serialized message.
constexpr std::string_view kNonceMarker = "wg_flood ike-init nonce marker..";
static_assert(kNonceMarker.size() == 32);

// An IKE_SA_INIT request offering `proposals`; per packet, the SPIi (bytes 0..7) and the
// nonce at `nonce_at` are overwritten with random bytes.
bool ike_init_template(const std::string& proposals, std::vector<uint8_t>& out, size_t& nonce_at,
                       std::string& err) {
  namespace ike = waypost::ike;
  auto specs = ike::parse_proposals(proposals, ike::ProposalProtocol::kIke);
  if (!specs) {
    err = specs.error().message;
    return false;
  }
  const std::vector<ike::DhGroup> groups = ike::offered_groups(*specs);
  if (groups.empty()) {
    err = "the IKE proposals name no key exchange group";
    return false;
  }
  auto kind = ike::dh_kind(groups.front());
  if (!kind) {
    err = kind.error().message;
    return false;
  }
  auto pair = waypost::crypto::DhKeyPair::generate(*kind);
  if (!pair) {
    err = pair.error().message;
    return false;
  }
  const auto pub = pair->public_value();
  ike::Message m;
  m.header.spi_i = 1;
  m.header.exchange = ike::ExchangeType::kIkeSaInit;
  m.header.initiator = true;
  m.payloads.push_back(ike::Payload::of(ike::SaPayload{
      ike::offer_proposals(*specs, ike::ProtocolId::kIke, {}, ike::KeExchange::kKeep)}));
  m.payloads.push_back(ike::Payload::of(
      ike::KePayload{groups.front(), std::vector<uint8_t>(pub.begin(), pub.end())}));
  m.payloads.push_back(ike::Payload::of(
      ike::NoncePayload{std::vector<uint8_t>(kNonceMarker.begin(), kNonceMarker.end())}));
  out = ike::serialize(m);
  const auto at = std::search(out.begin(), out.end(), kNonceMarker.begin(), kNonceMarker.end());
  if (at == out.end() || out.size() > 1472) {
    err = "cannot build the IKE_SA_INIT template";
    return false;
  }
  nonce_at = size_t(at - out.begin());
  return true;
}

// --- options -----------------------------------------------------------------------------------

struct Options {
  std::string mode;
  std::string replay_file;
  std::optional<Address> target;
  std::optional<Address> bind;
  std::optional<Prefix> spoof;
  std::string pubkey;
  std::string ike_proposals = "aes128gcm16-prfsha256-x25519";
  double rate = 1000;
  double duration = 10;
  uint64_t count = 0;
  size_t min_size = 1, max_size = 1400;
  uint64_t repeat = 1;
  int dport = -1;
  size_t batch = 64;
  uint64_t seed = 0;
};

double parse_number(const char* s, const char* what) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !std::isfinite(v) || v < 0) {
    usage((std::string("bad ") + what + ": " + s).c_str());
  }
  return v;
}

Options parse_options(int argc, char** argv) {
  Options o;
  if (argc < 2) usage("no mode");
  o.mode = argv[1];
  int i = 2;
  if (o.mode == "replay") {
    if (argc < 3) usage("replay needs a FILE");
    o.replay_file = argv[2];
    i = 3;
  } else if (o.mode != "initiations" && o.mode != "garbage" && o.mode != "ike-init") {
    usage(("unknown mode " + o.mode).c_str());
  }
  for (; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + std::string(a)).c_str());
    const char* v = argv[++i];
    if (a == "--target") {
      o.target = parse_endpoint(v, false);
      if (!o.target || o.target->port == 0) usage("bad --target (IP:PORT or [IPv6]:PORT)");
    } else if (a == "--bind") {
      o.bind = parse_endpoint(v, true);
      if (!o.bind) usage("bad --bind");
    } else if (a == "--spoof-from") {
      o.spoof = parse_prefix(v);
      if (!o.spoof) usage("bad --spoof-from prefix");
    } else if (a == "--pubkey") {
      o.pubkey = v;
    } else if (a == "--ike-proposals") {
      o.ike_proposals = v;
    } else if (a == "--rate") {
      o.rate = parse_number(v, "--rate");
    } else if (a == "--duration") {
      o.duration = parse_number(v, "--duration");
    } else if (a == "--count") {
      o.count = uint64_t(parse_number(v, "--count"));
    } else if (a == "--min-size") {
      o.min_size = size_t(parse_number(v, "--min-size"));
    } else if (a == "--max-size") {
      o.max_size = size_t(parse_number(v, "--max-size"));
    } else if (a == "--repeat") {
      o.repeat = uint64_t(parse_number(v, "--repeat"));
    } else if (a == "--dport") {
      o.dport = int(parse_number(v, "--dport"));
    } else if (a == "--batch") {
      o.batch = size_t(parse_number(v, "--batch"));
    } else if (a == "--seed") {
      o.seed = uint64_t(parse_number(v, "--seed"));
    } else {
      usage(("unknown option " + std::string(a)).c_str());
    }
  }
  if (!o.target) usage("--target is required");
  if (o.duration <= 0 || o.duration > kMaxDuration) usage("--duration must be in (0, 600]");
  if (o.batch < 1 || o.batch > kMaxBatch) usage("--batch must be in [1, 1024]");
  if (o.min_size < 1 || o.max_size < o.min_size || o.max_size > 1472) {
    usage("need 1 <= --min-size <= --max-size <= 1472");
  }
  if (o.spoof && o.spoof->base.family != o.target->family) {
    usage("--spoof-from family differs from --target's");
  }
  if (o.spoof && o.bind) usage("--bind and --spoof-from exclude each other");
  if (o.bind && o.bind->family != o.target->family) usage("--bind family differs from --target's");
  if (o.mode == "initiations" && o.pubkey.empty()) usage("initiations needs --pubkey");
  if (o.dport > 65535) usage("bad --dport");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_options(argc, argv);
  const Address& target = *o.target;
  const bool v4 = target.family == AF_INET;

  std::array<uint8_t, 32> mac1_key{};
  if (o.mode == "initiations") {
    auto pub = waypost::crypto::public_key_from_base64(o.pubkey);
    if (!pub) usage("--pubkey is not a base64 public key");
    mac1_key = waypost::wireguard::derive_label_key(waypost::wireguard::kLabelMac1, *pub);
  }

  std::vector<uint8_t> ike_init;
  size_t ike_nonce_at = 0;
  if (o.mode == "ike-init") {
    std::string err;
    if (!ike_init_template(o.ike_proposals, ike_init, ike_nonce_at, err)) {
      usage(("--ike-proposals: " + err).c_str());
    }
  }

  std::vector<std::vector<uint8_t>> recorded;
  if (o.mode == "replay") {
    std::string err;
    if (!load_replay(o.replay_file, o.dport, recorded, err)) {
      std::fprintf(stderr, "wg_flood: %s\n", err.c_str());
      return 2;
    }
    if (recorded.empty()) {
      std::fprintf(stderr, "wg_flood: no datagrams in %s\n", o.replay_file.c_str());
      return 1;
    }
    for (const auto& d : recorded) {
      if (d.size() > 1472) {
        std::fprintf(stderr, "wg_flood: recorded datagram of %zu bytes is too large\n", d.size());
        return 2;
      }
    }
  }

  uint64_t seed = o.seed;
  if (seed == 0 && getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
    seed = uint64_t(time(nullptr));
  }
  Prng rng(seed);

  // Packet cap: --count, else what the rate allows in the duration; always the hard cap.
  uint64_t cap = o.count;
  if (cap == 0) cap = o.rate > 0 ? uint64_t(std::ceil(o.rate * o.duration)) : kMaxPackets;
  if (o.mode == "replay" && o.repeat > 0) cap = std::min<uint64_t>(cap, recorded.size() * o.repeat);
  cap = std::min(cap, kMaxPackets);

  // Socket.
  int fd;
  if (o.spoof) {
    fd = socket(target.family, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) {
      std::perror("wg_flood: raw socket (needs CAP_NET_RAW)");
      return 1;
    }
    const int on = 1;
    if (v4) {
      if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &on, sizeof(on)) != 0) {
        std::perror("wg_flood: IP_HDRINCL");
        return 1;
      }
    } else if (setsockopt(fd, IPPROTO_IPV6, IPV6_HDRINCL, &on, sizeof(on)) != 0) {
      std::perror("wg_flood: IPV6_HDRINCL");
      return 1;
    }
  } else {
    fd = socket(target.family, SOCK_DGRAM, IPPROTO_UDP);
    if (fd < 0) {
      std::perror("wg_flood: socket");
      return 1;
    }
    if (o.bind) {
      socklen_t blen = 0;
      sockaddr_storage b = to_sockaddr(*o.bind, o.bind->port, blen);
      if (bind(fd, reinterpret_cast<sockaddr*>(&b), blen) != 0) {
        std::perror("wg_flood: bind");
        return 1;
      }
    }
  }
  const int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

  socklen_t dst_len = 0;
  // Raw sockets take the destination from the header; the port in the address must be zero.
  sockaddr_storage dst = to_sockaddr(target, o.spoof ? 0 : target.port, dst_len);

  const size_t hdr = o.spoof ? (v4 ? kIp4Header : kIp6Header) + kUdpHeader : 0;
  const size_t slot = hdr + 1472;
  std::vector<uint8_t> buf(o.batch * slot);
  std::vector<mmsghdr> msgs(o.batch);
  std::vector<iovec> iovs(o.batch);

  uint64_t sent = 0, errors = 0, bytes = 0, replay_pos = 0;
  std::array<uint64_t, 5> types{};
  const double start = now_seconds();
  const double deadline = start + o.duration;
  double now = start;
  auto ip_id = uint16_t(rng.next());

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  while (sent < cap && now < deadline && !g_stop) {
    uint64_t allowed = cap;
    if (o.rate > 0) {
      allowed = std::min<uint64_t>(cap, uint64_t((now - start) * o.rate) + 1);
      if (allowed <= sent) {
        const double next = start + double(sent + 1) / o.rate;
        const double wait = std::min(next, deadline) - now;
        if (wait > 0) {
          timespec ts{time_t(wait), long((wait - std::floor(wait)) * 1e9)};
          nanosleep(&ts, nullptr);
        }
        now = now_seconds();
        continue;
      }
    }
    const size_t n = size_t(std::min<uint64_t>(o.batch, allowed - sent));

    for (size_t k = 0; k < n; ++k) {
      uint8_t* pkt = buf.data() + k * slot;
      uint8_t* payload = pkt + hdr;
      size_t len;
      if (o.mode == "initiations") {
        namespace ini = waypost::wireguard::initiation;
        len = ini::kSize;
        std::memset(payload, 0, len);
        payload[0] = uint8_t(waypost::wireguard::MessageType::kHandshakeInitiation);
        rng.fill(payload + ini::kSender, ini::kMac1 - ini::kSender);
        waypost::crypto::blake2s_mac(
            std::span<uint8_t, waypost::crypto::kMacSize>(payload + ini::kMac1, 16), mac1_key,
            {{payload, ini::kMac1}});
      } else if (o.mode == "garbage") {
        len = o.min_size + size_t(rng.below(o.max_size - o.min_size + 1));
        rng.fill(payload, len);
      } else if (o.mode == "ike-init") {
        len = ike_init.size();
        std::memcpy(payload, ike_init.data(), len);
        do {
          rng.fill(payload, 8);  // SPIi: never zero (RFC 7296 3.1)
        } while (std::all_of(payload, payload + 8, [](uint8_t b) { return b == 0; }));
        rng.fill(payload + ike_nonce_at, kNonceMarker.size());
      } else {
        const auto& d = recorded[replay_pos % recorded.size()];
        ++replay_pos;
        len = d.size();
        std::memcpy(payload, d.data(), len);
      }
      if (o.mode != "ike-init" && len >= 1 && payload[0] >= 1 && payload[0] <= 4) {
        types[payload[0]]++;
      }

      size_t total = len;
      if (o.spoof) {
        uint8_t* udp = pkt + hdr - kUdpHeader;
        const size_t ulen = kUdpHeader + len;
        store_be16(udp, uint16_t(1024 + rng.below(65536 - 1024)));
        store_be16(udp + 2, target.port);
        store_be16(udp + 4, uint16_t(ulen));
        store_be16(udp + 6, 0);
        if (v4) {
          std::memset(pkt, 0, kIp4Header);
          pkt[0] = 0x45;
          store_be16(pkt + 2, uint16_t(kIp4Header + ulen));
          store_be16(pkt + 4, ip_id++);
          pkt[8] = 64;
          pkt[9] = 17;
          random_in_prefix(*o.spoof, rng, pkt + 12);
          std::memcpy(pkt + 16, target.bytes.data(), 4);
          // The kernel fills in the IPv4 header checksum for IP_HDRINCL.
          store_be16(udp + 6, udp_checksum(AF_INET, pkt + 12, pkt + 16, udp, ulen));
        } else {
          std::memset(pkt, 0, kIp6Header);
          store_be32(pkt, 0x60000000u);
          store_be16(pkt + 4, uint16_t(ulen));
          pkt[6] = 17;
          pkt[7] = 64;
          random_in_prefix(*o.spoof, rng, pkt + 8);
          std::memcpy(pkt + 24, target.bytes.data(), 16);
          store_be16(udp + 6, udp_checksum(AF_INET6, pkt + 8, pkt + 24, udp, ulen));
        }
        total = hdr + len;
      }
      iovs[k] = {pkt, total};
      msgs[k] = {};
      msgs[k].msg_hdr.msg_name = &dst;
      msgs[k].msg_hdr.msg_namelen = dst_len;
      msgs[k].msg_hdr.msg_iov = &iovs[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }

    // Send the batch; a full socket buffer is waited out briefly, never beyond the deadline.
    size_t done = 0, failed = 0;
    while (done < n) {
      const int r = sendmmsg(fd, msgs.data() + done, unsigned(n - done), MSG_DONTWAIT);
      if (r > 0) {
        for (size_t k = done; k < done + size_t(r); ++k) bytes += msgs[k].msg_len;
        done += size_t(r);
        continue;
      }
      if (r < 0 && errno == EINTR) {
        if (g_stop) break;
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED ||
                    errno == EHOSTUNREACH || errno == ENETUNREACH || errno == EPERM)) {
        ++errors;
        if (errno == EAGAIN || errno == ENOBUFS) {
          timespec ts{0, 50'000};
          nanosleep(&ts, nullptr);
        } else {
          done += 1;  // skip the datagram that failed
          failed += 1;
        }
        if (now_seconds() >= deadline || g_stop) break;
        continue;
      }
      std::perror("wg_flood: sendmmsg");
      close(fd);
      return 1;
    }
    sent += done - failed;
    now = now_seconds();
  }
  const double seconds = now_seconds() - start;
  close(fd);

  std::printf(
      "{\"mode\": \"%s\", \"sent\": %llu, \"errors\": %llu, \"bytes\": %llu, \"seconds\": %.3f, "
      "\"pps\": %.0f, \"types\": {\"1\": %llu, \"2\": %llu, \"3\": %llu, \"4\": %llu}}\n",
      o.mode.c_str(), (unsigned long long)sent, (unsigned long long)errors,
      (unsigned long long)bytes, seconds, seconds > 0 ? double(sent) / seconds : 0.0,
      (unsigned long long)types[1], (unsigned long long)types[2], (unsigned long long)types[3],
      (unsigned long long)types[4]);
  std::fflush(stdout);
  return sent > 0 ? 0 : 1;
}
