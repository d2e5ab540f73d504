#include "esp/sad.h"

#include "common/bytes.h"

namespace waypost::esp {

UdpKind classify(std::span<const uint8_t> payload) {
  if (payload.size() == 1 && payload[0] == 0xff) return UdpKind::kKeepalive;
  if (payload.size() < 4) return UdpKind::kInvalid;
  if (load_be32(payload.data()) == 0) {
    // The marker, then at least an IKE header's worth of bytes (the IKE parser checks the rest).
    return payload.size() > 4 ? UdpKind::kIke : UdpKind::kInvalid;
  }
  return UdpKind::kEsp;
}

void Sad::remove(const ChildSa& sa) {
  auto it = by_spi_.find(sa.spi_in());
  if (it != by_spi_.end() && it->second == &sa) by_spi_.erase(it);
}

void Sad::receive(std::span<dataplane::Datagram> datagrams, dataplane::Router& router,
                  dataplane::PathProber& prober,
                  const std::function<void(dataplane::Datagram&)>& ike) {
  for (dataplane::Datagram& d : datagrams) {
    switch (classify({d.data, d.size})) {
      case UdpKind::kKeepalive:
        ++counters_.keepalives;
        continue;
      case UdpKind::kInvalid:
        ++counters_.invalid;
        continue;
      case UdpKind::kIke: {
        dataplane::Datagram message{d.data + 4, d.size - 4, d.from};
        if (ike) ike(message);
        continue;
      }
      case UdpKind::kEsp:
        break;
    }
    ChildSa* sa = find(load_be32(d.data));
    if (sa == nullptr) {
      ++counters_.unknown_spi;
      continue;
    }
    dataplane::Packet inner;
    const ChildSa::Opened opened = sa->open(d.data, d.size, inner);
    if (opened == ChildSa::Opened::kDropped) ++counters_.dropped;
    if (opened != ChildSa::Opened::kPacket) continue;
    if (prober.intercept(*sa, inner.data, inner.size)) continue;
    ChildSa& owner = sa->successor() != nullptr ? *sa->successor() : *sa;
    if (!router.accept(owner, inner)) ++counters_.source_rejected;
  }
}

}  // namespace waypost::esp
