#pragma once
// The inbound side of ESP-in-UDP: what arrives on the NAT-T port (4500) and which child SA it
// belongs to. RFC 3948 2 puts three things on that port: a single 0xFF byte (a NAT keepalive,
// only there to keep a mapping open), IKE messages behind a four-byte zero "non-ESP marker",
// and ESP packets, whose first four bytes are a non-zero SPI that the SA database maps to the
// child SA that opens them.

#include <cstdint>
#include <functional>
#include <span>
#include <unordered_map>

#include "dataplane/packet.h"
#include "dataplane/path_prober.h"
#include "dataplane/router.h"
#include "esp/child_sa.h"

namespace waypost::esp {

enum class UdpKind : uint8_t { kKeepalive, kIke, kEsp, kInvalid };
UdpKind classify(std::span<const uint8_t> payload);

struct SadCounters {
  uint64_t unknown_spi = 0;
  uint64_t invalid = 0;  // neither keepalive, IKE nor an ESP packet of plausible size
  uint64_t keepalives = 0;
  uint64_t dropped = 0;          // opened by its SA but refused (authentication, replay, trailer)
  uint64_t source_rejected = 0;  // the inner source is not within the SA's traffic selectors
};

class Sad {
 public:
  // Registers `sa` under its inbound SPI (replacing nothing: SPIs are chosen unique).
  void add(ChildSa& sa) { by_spi_[sa.spi_in()] = &sa; }
  void remove(const ChildSa& sa);
  ChildSa* find(uint32_t spi) const {
    auto it = by_spi_.find(spi);
    return it == by_spi_.end() ? nullptr : it->second;
  }
  size_t size() const { return by_spi_.size(); }

  // Datagrams from the NAT-T socket. ESP is opened by its SA; the inner packet goes to the path
  // prober (probes and their replies) or the router (which checks the source against the SA's
  // selectors). IKE messages, with the marker stripped, go to `ike`. Call router.flush() after.
  void receive(std::span<dataplane::Datagram> datagrams, dataplane::Router& router,
               dataplane::PathProber& prober, const std::function<void(dataplane::Datagram&)>& ike);
  const SadCounters& counters() const { return counters_; }

 private:
  std::unordered_map<uint32_t, ChildSa*> by_spi_;
  SadCounters counters_;
};

}  // namespace waypost::esp
