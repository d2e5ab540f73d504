#pragma once
// What the router hands inner packets to: a WireGuard peer today, an IPsec child SA later. A
// tunnel seals packets (in place, using the packet headroom/tailroom) and sends them on its own
// transport; on the way in, it opens datagrams and asks the router to accept the inner packets.

#include <span>
#include <string>

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

 protected:
  ~Tunnel() = default;
};

}  // namespace waypost::dataplane
