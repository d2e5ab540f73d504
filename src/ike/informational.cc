// INFORMATIONAL (RFC 7296 1.4): liveness checks and DELETE.
//
//   HDR, SK {}                      -->   <--  HDR, SK {}                  (liveness, "DPD")
//   HDR, SK {D(IKE)}                -->   <--  HDR, SK {}                  (the IKE SA goes)
//   HDR, SK {D(ESP, SPIs)}          -->   <--  HDR, SK {D(ESP, our SPIs)}  (CHILD SAs go)
//
// A liveness check is sent when nothing authenticated has come from the peer for dpd_delay. An
// unanswered one ends the SA after the retransmission schedule or, when dpd_timeout is set,
// after dpd_timeout (strongSwan applies dpd_timeout to IKEv1 only; here it bounds IKEv2 too).
// With dpd_delay and dpd_timeout set, any request of an established SA (a rekey, a new child)
// is bounded the same way (IkeSa::send_request), so a peer that dies mid-rekey is cleared as
// soon as one that dies while idle.
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
      end(IkeSaEnd::kPeerDeleted, "deleted by the peer");
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
  if (find_notify(inner, NotifyType::kUpdateSaAddresses) != nullptr) {
    move_to_request_addresses(inner, out);
  }
  // COOKIE2 is echoed (RFC 4555 3.8), whatever else the request was.
  if (const NotifyPayload* c2 = find_notify(inner, NotifyType::kCookie2)) {
    out.push_back(Payload::of(notify(NotifyType::kCookie2, c2->data)));
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

void IkeSa::move_to_request_addresses(const Payloads& inner, Payloads& out) {
  if (!mobike_) {
    spdlog::info("{}: UPDATE_SA_ADDRESSES ignored: MOBIKE was not negotiated", describe());
    return;
  }
  if (!(request_from_ == remote_) || !(request_to_ == local_)) {
    spdlog::info("{}: MOBIKE: the peer moved from {} to {}; the SAs follow", describe(),
                 remote_.to_string(), request_from_.to_string());
    remote_ = request_from_;
    local_ = request_to_;
  }
  // NAT detection again, with both SPIs now (RFC 4555 3.5). Our own source hash stays a random
  // one, as in IKE_SA_INIT, so that the peer keeps ESP in UDP.
  if (update_nat_state(inner, spi_r_)) {
    for (Payload& n : nat_detection_payloads(true)) out.push_back(std::move(n));
  }
}

bool IkeSa::move_local(const net::IpAddress& address) {
  if (!mobike_ || !original_initiator_ || state_ != IkeSaState::kEstablished) return false;
  if (address == local_.ip()) return false;
  spdlog::info("{}: MOBIKE: this host moved from {} to {}; updating the SA's addresses", describe(),
               local_.ip().to_string(), address.to_string());
  local_ = net::Endpoint::from(address, local_.port());
  address_update_due_ = true;
  send_address_update();
  return true;
}

void IkeSa::send_address_update() {
  if (!address_update_due_ || request_ || state_ != IkeSaState::kEstablished) return;
  address_update_due_ = false;
  // RFC 4555 3.5: UPDATE_SA_ADDRESSES from the new address, with NAT detection over both SPIs.
  // Our source hash is a random one, as in IKE_SA_INIT, so the peer keeps ESP in UDP.
  Payloads p;
  p.push_back(Payload::of(notify(NotifyType::kUpdateSaAddresses)));
  for (Payload& n : nat_detection_payloads(true)) p.push_back(std::move(n));
  address_update_sent_ = true;
  send_request(ExchangeType::kInformational, p, true);
  if (conn_->dpd_timeout.count() > 0) {
    request_->give_up_at = env_.clock.now() + seconds(conn_->dpd_timeout.count());
  }
}

void IkeSa::process_address_update_response(const Payloads& inner) {
  address_update_sent_ = false;
  update_nat_state(inner, spi_r_);
  spdlog::info("{}: MOBIKE: the peer moved the SAs to {} - {}{}", describe(), local_.to_string(),
               remote_.to_string(), nat_local_ ? " (this host is behind a NAT now)" : "");
}

void IkeSa::process_informational_response(const Payloads& inner) {
  if (state_ == IkeSaState::kDeleting) {
    destroy(failure_.empty() ? "deleted" : failure_);
    return;
  }
  if (address_update_sent_) process_address_update_response(inner);
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
