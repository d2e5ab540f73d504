// INFORMATIONAL (RFC 7296 1.4): liveness checks and DELETE.
//
//   HDR, SK {}                      -->   <--  HDR, SK {}                  (liveness, "DPD")
//   HDR, SK {D(IKE)}                -->   <--  HDR, SK {}                  (the IKE SA goes)
//   HDR, SK {D(ESP, SPIs)}          -->   <--  HDR, SK {D(ESP, our SPIs)}  (CHILD SAs go)
//
// A liveness check is sent when nothing authenticated has come from the peer for dpd_delay. An
// unanswered one ends the SA after the retransmission schedule or, when dpd_timeout is set,
// after dpd_timeout (strongSwan applies dpd_timeout to IKEv1 only; here it bounds IKEv2 too).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/bytes.h"
#include "ike/ike_sa_exchanges.h"

namespace waypost::ike {

void IkeSa::send_liveness_check() {
  spdlog::debug("{}: sending a liveness check", describe());
  send_request(ExchangeType::kInformational, {}, true);
  if (conn_->dpd_timeout.count() > 0) {
    request_->give_up_at = env_.clock.now() + seconds(conn_->dpd_timeout.count());
  }
}

void IkeSa::process_informational_request(const Message& request, const Payloads& inner) {
  Payloads out;
  std::vector<Bytes> deleted_spis;
  for (const Payload& payload : inner) {
    const auto* d = payload.get<DeletePayload>();
    if (d == nullptr) continue;
    if (d->protocol == ProtocolId::kIke) {
      spdlog::info("{}: the peer deleted the IKE_SA", describe());
      send_response(request.header, {}, true);
      destroy("deleted by the peer");
      return;
    }
    if (d->protocol != ProtocolId::kEsp) continue;
    for (const Bytes& spi : d->spis) {
      if (spi.size() != 4) continue;
      const uint32_t out_spi = load_be32(spi.data());
      auto it = std::find_if(children_.begin(), children_.end(),
                             [&](const ChildSaInfo& c) { return c.spi_out == out_spi; });
      if (it == children_.end()) continue;
      spdlog::info("{}: the peer deleted CHILD_SA {} ({:08x}_i {:08x}_o)", describe(), it->name,
                   it->spi_in, it->spi_out);
      Bytes ours(4);
      store_be32(ours.data(), it->spi_in);
      deleted_spis.push_back(std::move(ours));
      const ChildSaInfo gone = std::move(*it);
      children_.erase(it);
      env_.host.child_sa_down(*this, gone);
    }
  }
  if (!deleted_spis.empty()) {
    DeletePayload d;
    d.protocol = ProtocolId::kEsp;
    d.spi_size = 4;
    d.spis = std::move(deleted_spis);
    out.push_back(Payload::of(std::move(d)));
  }
  send_response(request.header, out, true);
}

void IkeSa::process_informational_response(const Payloads& /*inner*/) {
  if (state_ == IkeSaState::kDeleting) {
    destroy(failure_.empty() ? "deleted" : failure_);
    return;
  }
  if (deleting_child_ != 0) {
    auto it = std::find_if(children_.begin(), children_.end(),
                           [&](const ChildSaInfo& c) { return c.spi_in == deleting_child_; });
    deleting_child_ = 0;
    if (it != children_.end()) {
      const ChildSaInfo gone = std::move(*it);
      children_.erase(it);
      spdlog::info("{}: CHILD_SA {} deleted ({:08x}_i {:08x}_o)", describe(), gone.name,
                   gone.spi_in, gone.spi_out);
      env_.host.child_sa_down(*this, gone);
    }
  }
  schedule_liveness();
}

}  // namespace waypost::ike
