// Rekeying the IKE SA (RFC 7296 1.3.2, 2.18): a CREATE_CHILD_SA whose SA payload proposes IKE,
// with the new SA's SPI in the proposal and a key exchange.
//
//   initiator (of the rekey)                       responder
//   HDR, SK {SA(IKE, new SPIi), Ni, KEi}       -->
//                                              <--  HDR, SK {SA(IKE, new SPIr), Nr, KEr}
//   the initiator then deletes the old IKE SA:
//   HDR, SK {D(IKE)} (on the old SA)           -->
//                                              <--  HDR, SK {}
//
// SKEYSEED = prf_old(SK_d_old, g^ir | Ni | Nr); the new SA's keys follow as in IKE_SA_INIT with
// the new SPIs. Whoever started the rekey is the new SA's initiator, and its message IDs start
// at zero. The CHILD SAs move to the successor unchanged (their keys do not depend on the IKE
// SA's), so traffic is not interrupted.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/bytes.h"
#include "ike/ike_sa_exchanges.h"

namespace waypost::ike {

namespace {

constexpr Nanos kRetry = seconds(30);
constexpr Nanos kRetireAfter = seconds(30);

}  // namespace

void IkeSa::schedule_ike_rekey() {
  ike_rekey_at_ = kNever;
  if (conn_->rekey_time.count() <= 0) return;
  const int64_t rand = conn_->rand_time.count();
  const int64_t jitter = rand > 0 ? int64_t(env_.random.below(uint64_t(rand) + 1)) : 0;
  ike_rekey_at_ =
      env_.clock.now() + seconds(std::max<int64_t>(1, conn_->rekey_time.count() - jitter));
}

std::unique_ptr<IkeSa> IkeSa::make_successor(bool we_initiated, uint64_t spi_i, uint64_t spi_r,
                                             ChosenProposal proposal, const IkeSaKeys& keys) {
  auto prf = Prf::create(proposal.algorithms.prf);
  auto ciphers = make_sk_ciphers(proposal.algorithms, keys, we_initiated, env_.random);
  if (!prf || !ciphers) return nullptr;
  std::unique_ptr<IkeSa> s(new IkeSa(env_, we_initiated, *conn_, local_, remote_));
  s->spi_i_ = spi_i;
  s->spi_r_ = spi_r;
  s->ike_proposal_ = std::move(proposal);
  s->prf_ = *prf;
  s->ciphers_.emplace(std::move(*ciphers));
  s->sk_d_ = keys.sk_d;
  s->nat_local_ = nat_local_;
  s->nat_remote_ = nat_remote_;
  s->fragmentation_ = fragmentation_;
  s->mobike_ = mobike_;
  s->original_initiator_ = original_initiator_;
  s->address_update_due_ = address_update_due_ || address_update_sent_;
  s->reauth_at_ = reauth_at_;  // reauthentication counts from the authentication, not the rekey
  s->local_id_text_ = local_id_text_;
  s->remote_id_text_ = remote_id_text_;
  s->vips_ = vips_;
  s->dns_ = dns_;
  s->children_ = std::move(children_);
  children_.clear();
  s->queued_children_ = std::move(queued_children_);  // children still to be set up
  queued_children_.clear();
  s->queued_child_at_ = queued_child_at_;
  s->state_ = IkeSaState::kEstablished;
  s->established_at_ = env_.clock.now();
  s->last_inbound_ = env_.clock.now();
  s->schedule_liveness();
  s->schedule_ike_rekey();
  // A deadline set by reauth_time counts from the authentication, like reauth_at_; one set by
  // rekeying (or over_time alone) starts again with the new keys.
  if (conn_->reauth_time.count() > 0 && conn_->reauth_time >= conn_->rekey_time) {
    s->expire_at_ = expire_at_;
  } else {
    s->schedule_hard_expiry();
  }
  return s;
}

// --- initiator --------------------------------------------------------------------------------

bool IkeSa::rekey_ike() {
  if (state_ != IkeSaState::kEstablished || request_ || rekey_ || ike_rekey_) return false;
  auto st = std::make_unique<IkeRekeyState>();
  st->new_spi = nonzero_spi(env_.random);
  st->offered = offer_proposals(conn_->proposals, ProtocolId::kIke, be64_bytes(st->new_spi),
                                KeExchange::kKeep);
  // The group in use first: the responder accepted it once already.
  st->group = ike_proposal_.group;
  auto dh = new_key_pair(st->group);
  if (!dh) {
    spdlog::warn("{}: cannot rekey the IKE_SA: {}", describe(), dh.error().message);
    ike_rekey_at_ = env_.clock.now() + kRetry;
    return false;
  }
  st->dh.emplace(std::move(*dh));
  st->nonce_i.resize(kNonceSize);
  env_.random.fill(st->nonce_i);
  Payloads p;
  p.push_back(Payload::of(SaPayload{st->offered}));
  p.push_back(Payload::of(NoncePayload{st->nonce_i}));
  const auto pub = st->dh->public_value();
  p.push_back(Payload::of(KePayload{st->group, std::vector<uint8_t>(pub.begin(), pub.end())}));
  spdlog::info("{}: rekeying the IKE_SA", describe());
  ike_rekey_at_ = kNever;
  ike_rekey_ = std::move(st);
  send_request(ExchangeType::kCreateChildSa, p, true);
  return true;
}

void IkeSa::process_ike_rekey_response(const Payloads& inner) {
  std::unique_ptr<IkeRekeyState> st = std::move(ike_rekey_);
  auto retry_later = [&](const std::string& why, Nanos delay = kRetry) {
    spdlog::warn("{}: rekeying the IKE_SA failed: {}; trying again in {} ms", describe(), why,
                 delay / kNanosPerMilli);
    ike_rekey_at_ = env_.clock.now() + delay;
  };
  if (const NotifyPayload* n = find_error_notify(inner)) {
    retry_later(to_string(n->type) + " from the peer", n->type == NotifyType::kTemporaryFailure
                                                           ? collision_retry_delay(env_.random)
                                                           : kRetry);
    return;
  }
  const auto* sa = find_body<SaPayload>(inner);
  const auto* nonce = find_body<NoncePayload>(inner);
  const auto* ke = find_body<KePayload>(inner);
  if (sa == nullptr || nonce == nullptr || ke == nullptr || nonce->nonce.size() < kMinNonceSize ||
      nonce->nonce.size() > kMaxNonceSize) {
    retry_later("SA, nonce or KE missing in the response");
    return;
  }
  auto chosen = accept_chosen_proposal(st->offered, *sa, ProtocolId::kIke, KeExchange::kKeep);
  if (!chosen || chosen->wire.spi.size() != 8 || chosen->group != st->group ||
      ke->group != st->group) {
    retry_later(chosen ? "the responder's SPI or group does not fit" : chosen.error().message);
    return;
  }
  const uint64_t spi_r = load_be64(chosen->wire.spi.data());
  auto shared = st->dh->shared_secret(ke->data);
  auto skeyseed = shared ? rekey_skeyseed(ike_proposal_.algorithms.prf, sk_d_.span(),
                                          shared->span(), st->nonce_i, nonce->nonce)
                         : Result<SecretBytes>(shared.error());
  const auto i = be64_bytes(st->new_spi);
  const auto r = be64_bytes(spi_r);
  auto keys = skeyseed
                  ? derive_ike_sa_keys(chosen->algorithms, skeyseed->span(), st->nonce_i,
                                       nonce->nonce, SpiBytes(i.data(), 8), SpiBytes(r.data(), 8))
                  : Result<IkeSaKeys>(skeyseed.error());
  std::unique_ptr<IkeSa> successor =
      keys ? make_successor(true, st->new_spi, spi_r, std::move(*chosen), *keys) : nullptr;
  if (!successor) {
    retry_later(keys ? "cannot set up the new SA's ciphers" : keys.error().message);
    return;
  }
  spdlog::info("{}: IKE_SA rekeyed as {} ({:016x}_i {:016x}_r)", describe(), successor->describe(),
               st->new_spi, spi_r);
  rekeyed_ = true;
  env_.host.ike_sa_rekeyed(*this, std::move(successor));
  // The old SA goes now: a DELETE on it, answered or not within 10 s.
  state_ = IkeSaState::kDeleting;
  failure_ = "rekeyed";
  liveness_at_ = kNever;
  DeletePayload d;
  d.protocol = ProtocolId::kIke;
  send_request(ExchangeType::kInformational, {Payload::of(d)}, true);
  request_->give_up_at = env_.clock.now() + seconds(10);
}

// --- responder --------------------------------------------------------------------------------

void IkeSa::process_ike_rekey_request(const Message& request, const Payloads& inner) {
  auto refuse = [&](NotifyPayload n, const std::string& why) {
    spdlog::info("{}: IKE_SA rekey refused: {}", describe(), why);
    send_response(request.header, {Payload::of(std::move(n))}, true);
  };
  if (request_ || rekey_ || ike_rekey_) {
    // Our own exchange is under way (RFC 7296 2.25: the peer retries later).
    refuse(notify(NotifyType::kTemporaryFailure), "another exchange is under way");
    return;
  }
  const auto* sa = find_body<SaPayload>(inner);
  const auto* nonce = find_body<NoncePayload>(inner);
  const auto* ke = find_body<KePayload>(inner);
  if (sa == nullptr || nonce == nullptr || ke == nullptr || nonce->nonce.size() < kMinNonceSize ||
      nonce->nonce.size() > kMaxNonceSize) {
    refuse(notify(NotifyType::kInvalidSyntax), "SA, nonce or KE missing");
    return;
  }
  auto chosen =
      select_proposal(conn_->proposals, sa->proposals, ProtocolId::kIke, KeExchange::kKeep);
  if (!chosen || chosen->wire.spi.size() != 8) {
    refuse(notify(NotifyType::kNoProposalChosen), "no IKE proposal matches ours");
    return;
  }
  if (ke->group != chosen->group) {
    refuse(invalid_ke_notify(chosen->group),
           fmt::format("key exchange group {} wanted (INVALID_KE_PAYLOAD)", int(chosen->group)));
    return;
  }
  auto exchange = answer_key_exchange(chosen->group, ke->data);
  std::vector<uint8_t> nonce_r(kNonceSize);
  env_.random.fill(nonce_r);
  auto skeyseed = exchange ? rekey_skeyseed(ike_proposal_.algorithms.prf, sk_d_.span(),
                                            exchange->second.span(), nonce->nonce, nonce_r)
                           : Result<SecretBytes>(exchange.error());
  const uint64_t spi_i = load_be64(chosen->wire.spi.data());
  const uint64_t spi_r = nonzero_spi(env_.random);
  const auto i = be64_bytes(spi_i);
  const auto r = be64_bytes(spi_r);
  auto keys = skeyseed ? derive_ike_sa_keys(chosen->algorithms, skeyseed->span(), nonce->nonce,
                                            nonce_r, SpiBytes(i.data(), 8), SpiBytes(r.data(), 8))
                       : Result<IkeSaKeys>(skeyseed.error());
  if (!keys) {
    refuse(notify(NotifyType::kNoProposalChosen), keys.error().message);
    return;
  }
  Payloads out;
  ChosenProposal answer = *chosen;
  answer.wire.spi = r;
  out.push_back(Payload::of(SaPayload{{answer.wire}}));
  out.push_back(Payload::of(NoncePayload{std::move(nonce_r)}));
  const auto pub = exchange->first.public_value();
  out.push_back(
      Payload::of(KePayload{chosen->group, std::vector<uint8_t>(pub.begin(), pub.end())}));
  std::unique_ptr<IkeSa> successor = make_successor(false, spi_i, spi_r, std::move(answer), *keys);
  if (!successor) {
    refuse(notify(NotifyType::kNoProposalChosen), "cannot set up the new SA's ciphers");
    return;
  }
  send_response(request.header, out, true);
  spdlog::info("{}: IKE_SA rekeyed by the peer as {} ({:016x}_i {:016x}_r)", describe(),
               successor->describe(), spi_i, spi_r);
  rekeyed_ = true;
  env_.host.ike_sa_rekeyed(*this, std::move(successor));
  // The peer deletes this SA next; it goes by itself if that never comes.
  state_ = IkeSaState::kRekeyed;
  liveness_at_ = kNever;
  ike_rekey_at_ = kNever;
  retire_at_ = env_.clock.now() + kRetireAfter;
}

}  // namespace waypost::ike
