#pragma once
// The path MTU search that Algo's troubleshooting page has users do by hand with
// `ping -M do -s SIZE`, done automatically: a binary search over ICMP echo payload sizes sent
// with "don't fragment", a few tries per size, a bounded number of probes overall. The probes
// themselves are behind EchoProber so that the search is pure and testable with a fake path.
// Also the MTU arithmetic that turns a path MTU into Algo's reduce_mtu and a wg-quick MTU line.

#include <cstdint>
#include <string>
#include <vector>

#include "net/ip.h"
#include "wireguard/messages.h"

namespace waypost::doctor {

// Bytes in front of an ICMP echo payload: IPv4 header 20 + ICMP header 8, or IPv6 40 + 8.
constexpr uint32_t kEchoHeaderV4 = 28;
constexpr uint32_t kEchoHeaderV6 = 48;
inline uint32_t echo_header(net::Family f) {
  return f == net::Family::kV4 ? kEchoHeaderV4 : kEchoHeaderV6;
}

// WireGuard's overhead on a data packet (wireguard/messages.h): 60 bytes over IPv4, 80 over IPv6.
using wireguard::tunnel_overhead;
// Algo's client MTU before reduce_mtu, and the overhead it budgets (the IPv6 worst case, so that
// one profile works over either family): wg-quick's default MTU.
constexpr uint32_t kAlgoBaseMtu = wireguard::kDefaultMtu;
constexpr uint32_t kAlgoOverhead = wireguard::tunnel_overhead(net::Family::kV6);

// Algo semantics: the client MTU is 1420 - reduce_mtu, and it must be at most path_mtu - 80.
uint32_t reduce_mtu_for(uint32_t path_mtu);
// The MTU the client's tunnel interface should use: 1420 - reduce_mtu_for(path_mtu).
uint32_t client_mtu_for(uint32_t path_mtu);

enum class ProbeOutcome {
  kReply,        // an echo reply to this probe came back
  kTimeout,      // nothing within the timeout
  kTooBig,       // ICMP "fragmentation needed" / "packet too big", or EMSGSIZE locally
  kUnreachable,  // ICMP destination unreachable (other than too big): filtered, no route
  kError,        // the probe could not be sent (EPERM, ENETUNREACH, ...)
};

struct ProbeResult {
  ProbeOutcome outcome = ProbeOutcome::kTimeout;
  uint32_t reported_mtu = 0;  // kTooBig: the MTU the router (or our own stack) named, 0 if none
  std::string message;        // kUnreachable / kError: what happened, for the report
};

class EchoProber {
 public:
  virtual ~EchoProber() = default;
  // Sends one echo request with `payload` bytes of data and DF set; waits for its answer.
  virtual ProbeResult probe(uint32_t payload) = 0;
};

struct MtuSearchParams {
  uint32_t header = kEchoHeaderV4;  // echo_header(family)
  uint32_t min_payload = 1200;      // search floor: smaller paths are reported as below it
  uint32_t max_payload = 1472;      // route (or link) MTU - header
  uint32_t small_payload = 56;      // "does the host answer pings at all?" (ping's default)
  int tries = 2;                    // per size, for timeouts (a too-big answer is definitive)
  int max_probes = 20;
};

struct MtuSearchResult {
  enum class Kind {
    kFound,       // largest_payload answered; exact says whether larger sizes were excluded
    kBelowFloor,  // small pings answer but min_payload does not: path MTU < min + header
    kNoAnswer,    // not even a small ping was answered (ICMP filtered, host down)
    kError,       // probes could not be sent at all
  };
  Kind kind = Kind::kNoAnswer;
  uint32_t largest_payload = 0;  // largest size answered (kFound)
  uint32_t smallest_failed = 0;  // smallest size known not to pass, 0 if none
  uint32_t path_mtu = 0;         // largest_payload + header (kFound)
  bool exact = false;            // smallest_failed == largest_payload + 1, or max answered
  int probes = 0;                // probes sent
  uint32_t reported_mtu = 0;     // the last MTU an ICMP error named, 0 if none
  std::string message;           // kError / kUnreachable text seen
  struct Step {
    uint32_t payload;
    ProbeOutcome outcome;
  };
  std::vector<Step> steps;  // every probe in order
};

MtuSearchResult search_path_mtu(EchoProber& prober, const MtuSearchParams& params);

}  // namespace waypost::doctor
