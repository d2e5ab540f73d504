#include "ike/child_negotiation.h"

#include "common/bytes.h"
#include "ike/ts_narrowing.h"

namespace waypost::ike {

ChildOffer make_child_offer(const Child& child, uint32_t spi_in, const net::IpAddress& local,
                            const net::IpAddress& remote, std::span<const net::Family> vip_families,
                            KeExchange ke) {
  ChildOffer offer;
  std::vector<uint8_t> spi(4);
  store_be32(spi.data(), spi_in);
  offer.proposals = offer_proposals(child.esp_proposals, ProtocolId::kEsp, spi, ke);
  if (vip_families.empty()) {
    const net::IpAddress dyn[] = {local};
    offer.ts_i = resolve_ts(child.local_ts, dyn);
  } else {
    for (const TrafficSelectorSpec& spec : child.local_ts) {
      if (!spec.dynamic) {
        for (const auto& ts : resolve_ts({spec}, {})) offer.ts_i.push_back(ts);
        continue;
      }
      for (net::Family f : vip_families) {
        TrafficSelector ts = whole_family(f);
        ts.ip_protocol = spec.protocol;
        ts.start_port = spec.from_port;
        ts.end_port = spec.to_port;
        offer.ts_i.push_back(ts);
      }
    }
  }
  const net::IpAddress rdyn[] = {remote};
  offer.ts_r = resolve_ts(child.remote_ts, rdyn);
  return offer;
}

Result<ChildAnswer> select_child(const Connection& conn, const SaPayload& sa, const TsPayload& ts_i,
                                 const TsPayload& ts_r, const net::IpAddress& local,
                                 std::span<const net::IpAddress> remote_dynamic, KeExchange ke) {
  const net::IpAddress ldyn[] = {local};
  bool ts_matched = false;
  for (const Child& child : conn.children) {
    if (child.mode != ChildMode::kTunnel) continue;
    // From the responder's side the initiator's selectors are the remote ones.
    const auto remote_ts = resolve_ts(child.remote_ts, remote_dynamic);
    const auto local_ts = resolve_ts(child.local_ts, ldyn);
    std::vector<TrafficSelector> narrowed_i = narrow(ts_i.selectors, remote_ts);
    std::vector<TrafficSelector> narrowed_r = narrow(ts_r.selectors, local_ts);
    if (narrowed_i.empty() || narrowed_r.empty()) continue;
    ts_matched = true;
    auto chosen = select_proposal(child.esp_proposals, sa.proposals, ProtocolId::kEsp, ke);
    if (!chosen) continue;
    if (chosen->wire.spi.size() != 4) continue;
    return ChildAnswer{&child, std::move(*chosen), std::move(narrowed_i), std::move(narrowed_r)};
  }
  if (!ts_matched) {
    Error e =
        make_error(ErrorKind::kProtocol, "no child's traffic selectors fit the proposed ones");
    e.code = int(NotifyType::kTsUnacceptable);
    return e;
  }
  Error e = make_error(ErrorKind::kProtocol, "no ESP proposal matches ours");
  e.code = int(NotifyType::kNoProposalChosen);
  return e;
}

}  // namespace waypost::ike
