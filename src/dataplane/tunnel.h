#pragma once
// What the router hands inner packets to: a WireGuard peer today, an IPsec child SA later. A
// tunnel seals packets (in place, using the packet headroom/tailroom) and sends them on its own
// transport; on the way in, it opens datagrams and asks the router to accept the inner packets.
//
// Path MTU is the data plane's business (path_prober.h): a tunnel only says how many bytes it
// adds around an inner packet, seals a probe on request, and keeps one timer for the prober.

#include <cstdint>
#include <span>
#include <string>

#include "common/clock.h"
#include "dataplane/packet.h"
#include "dataplane/path_mtu.h"

namespace waypost::dataplane {

class Tunnel {
 public:
  // Seals and queues packets the router chose this tunnel for.
  virtual void send(std::span<Packet> packets) = 0;
  // Short human-readable identity for logs ("peer AbCd…= (1.2.3.4:51820)").
  virtual std::string describe() const = 0;
  // What this tunnel's path carries (never null).
  virtual PathMtu& path() = 0;
  // Bytes the tunnel adds around an inner packet on the wire, outer IP and UDP headers
  // included, for its current outer address family (the larger, IPv6, if it has none yet).
  virtual uint32_t overhead() const = 0;
  // Seals one packet (with kHeadroom/kTailroom around it) and sends it now, as a control packet:
  // the tunnel's dead-session detection must not count a lost probe. False if there is no
  // session to carry it.
  virtual bool send_probe(Packet packet) = 0;
  // Calls PathProber::on_wakeup(*this) after `delay`, on the tunnel's own timers. One wakeup is
  // pending at a time; a new request replaces it.
  virtual void schedule_probe(Nanos delay) = 0;

 protected:
  ~Tunnel() = default;
};

}  // namespace waypost::dataplane
