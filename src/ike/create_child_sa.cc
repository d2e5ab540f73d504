// CREATE_CHILD_SA for CHILD SAs (RFC 7296 1.3.1, 1.3.3): a new CHILD SA, or a rekey of one.
// As initiator, new CHILD SAs are the connection's further children (add_child), set up one
// after the other once IKE_AUTH has brought up the first, as strongSwan does.
//
//   initiator                                       responder
//   HDR, SK {[N(REKEY_SA)], SA, Ni, [KEi], TSi, TSr} -->
//                                                <--  HDR, SK {SA, Nr, [KEr], TSi, TSr}
//   then, for a rekey, the initiator deletes the old SA:
//   HDR, SK {D(ESP, old inbound SPI)}            -->
//                                                <--  HDR, SK {D(ESP, its old inbound SPI)}
//
// Make-before-break: the new SA is installed as soon as the exchange completes and the old one
// stays until the DELETE, so packets in flight on the old SPIs still arrive. KE payloads give
// perfect forward secrecy when the ESP proposals name a group. KEYMAT's "initiator" is the
// initiator of this exchange, not of the IKE SA.
//
// A request whose SA proposes IKE rekeys the IKE SA itself (ike_rekey.cc). When both ends rekey
// one CHILD SA at once, both exchanges complete and one of the two new SAs is redundant (RFC 7296
// 2.8.1): the one whose exchange used the lowest of the four nonces is deleted by the end that
// made it, and the maker of the survivor deletes the old SA. Both ends reach the same verdict
// from the same four nonces, without another round trip, so the tunnel never stops. A peer that
// answers TEMPORARY_FAILURE instead is tried again after a random 1-10 s (RFC 7296 2.25).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/bytes.h"
#include "ike/child_negotiation.h"
#include "ike/ike_sa_exchanges.h"
#include "ike/ts_narrowing.h"

namespace waypost::ike {

namespace {

constexpr Nanos kRekeyRetry = seconds(30);

}  // namespace

ChildSaInfo initiated_child(std::string name, uint32_t spi_in, const ChosenProposal& chosen,
                            const TsPayload& ts_i, const TsPayload& ts_r, ChildSaKeys keys) {
  ChildSaInfo child;
  child.name = std::move(name);
  child.spi_in = spi_in;
  child.spi_out = load_be32(chosen.wire.spi.data());
  child.algorithms = chosen.algorithms;
  child.esn = chosen.esn;
  child.local_ts = ts_i.selectors;
  child.remote_ts = ts_r.selectors;
  child.keys = std::move(keys);
  child.we_initiated = true;
  return child;
}

const Child* IkeSa::child_config(const std::string& name) const {
  for (const Child& c : conn_->children) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

void IkeSa::schedule_child_rekey(ChildSaInfo& child, const Child* config) {
  const Nanos now = env_.clock.now();
  child.installed_at = now;
  if (config == nullptr) return;
  if (config->life_time.count() > 0) child.expire_at = now + seconds(config->life_time.count());
  if (config->rekey_time.count() > 0) {
    // Jitter keeps both ends (and many clients) from rekeying at the same moment.
    const int64_t rand = config->rand_time.count();
    const int64_t jitter = rand > 0 ? int64_t(env_.random.below(uint64_t(rand) + 1)) : 0;
    child.rekey_at = now + seconds(std::max<int64_t>(1, config->rekey_time.count() - jitter));
  }
}

void IkeSa::install_child(ChildSaInfo child) {
  schedule_child_rekey(child, child_config(child.name));
  std::string ts_l;
  std::string ts_r;
  for (const auto& ts : child.local_ts) ts_l += (ts_l.empty() ? "" : " ") + to_string(ts);
  for (const auto& ts : child.remote_ts) ts_r += (ts_r.empty() ? "" : " ") + to_string(ts);
  spdlog::info("{}: CHILD_SA {} established with SPIs {:08x}_i {:08x}_o and TS {} === {}",
               describe(), child.name, child.spi_in, child.spi_out, ts_l, ts_r);
  children_.push_back(std::move(child));
  env_.host.child_sa_up(*this, children_.back());
}

// --- initiator --------------------------------------------------------------------------------

Status IkeSa::add_nonce_and_ke(RekeyState& st, const Child& config, Payloads& p) {
  st.nonce_i.resize(kNonceSize);
  env_.random.fill(st.nonce_i);
  p.push_back(Payload::of(NoncePayload{st.nonce_i}));
  const std::vector<DhGroup> groups = offered_groups(config.esp_proposals);
  if (groups.empty()) return {};
  st.group = groups.front();
  auto dh = new_key_pair(st.group);
  if (!dh) return dh.take_error();
  st.dh.emplace(std::move(*dh));
  const auto pub = st.dh->public_value();
  p.push_back(Payload::of(KePayload{st.group, std::vector<uint8_t>(pub.begin(), pub.end())}));
  return {};
}

bool IkeSa::rekey_child(uint32_t spi_in) {
  if (state_ != IkeSaState::kEstablished || request_ || rekey_) return false;
  auto it = std::find_if(children_.begin(), children_.end(),
                         [&](const ChildSaInfo& c) { return c.spi_in == spi_in; });
  if (it == children_.end()) return false;
  const Child* config = child_config(it->name);
  if (config == nullptr) return false;
  auto st = std::make_unique<RekeyState>();
  st->old_spi_in = spi_in;
  st->child = it->name;
  st->new_spi_in = env_.host.allocate_spi();
  st->offered = offer_proposals(config->esp_proposals, ProtocolId::kEsp, be32_bytes(st->new_spi_in),
                                KeExchange::kKeep);
  Payloads p;
  p.push_back(
      Payload::of(NotifyPayload{ProtocolId::kEsp, be32_bytes(spi_in), NotifyType::kRekeySa, {}}));
  p.push_back(Payload::of(SaPayload{st->offered}));
  if (auto ke = add_nonce_and_ke(*st, *config, p); !ke) {
    spdlog::warn("{}: cannot rekey CHILD_SA {}: {}", describe(), it->name, ke.error().message);
    it->rekey_at = env_.clock.now() + kRekeyRetry;
    return false;
  }
  p.push_back(Payload::of(PayloadType::kTsInitiator, TsPayload{it->local_ts}));
  p.push_back(Payload::of(PayloadType::kTsResponder, TsPayload{it->remote_ts}));
  spdlog::info("{}: rekeying CHILD_SA {} ({:08x}_i)", describe(), it->name, spi_in);
  it->rekey_at = kNever;
  rekey_ = std::move(st);
  send_request(ExchangeType::kCreateChildSa, p, true);
  return true;
}

bool IkeSa::add_child(const Child& child) {
  if (state_ == IkeSaState::kDeleting || state_ == IkeSaState::kDestroying ||
      state_ == IkeSaState::kRekeyed) {
    return false;
  }
  queued_children_.push_back(child.name);
  start_queued_child();
  return true;
}

void IkeSa::start_queued_child() {
  // One exchange at a time (the window of one); the next child goes when this one is answered.
  while (state_ == IkeSaState::kEstablished && !request_ && !rekey_ && !ike_rekey_ &&
         !queued_children_.empty() && env_.clock.now() >= queued_child_at_) {
    const std::string name = queued_children_.front();
    queued_children_.erase(queued_children_.begin());
    const Child* config = child_config(name);
    if (config == nullptr) {
      spdlog::warn("{}: CHILD_SA {} not created: the connection has no such child", describe(),
                   name);
      continue;
    }
    if (request_new_child(*config)) return;
  }
}

bool IkeSa::request_new_child(const Child& config) {
  auto st = std::make_unique<RekeyState>();
  st->child = config.name;
  st->new_spi_in = env_.host.allocate_spi();
  ChildOffer offer =
      make_child_offer(config, st->new_spi_in, local_.ip(), remote_.ip(), {}, KeExchange::kKeep);
  // Once the peer assigned us virtual IPs, "dynamic" on our side means them (as in IKE_AUTH's
  // narrowed answer), not the address IKE runs on.
  if (!vips_.empty()) offer.ts_i = resolve_ts(config.local_ts, vips_);
  st->offered = offer.proposals;
  st->ts_i = offer.ts_i;
  st->ts_r = offer.ts_r;
  Payloads p;
  p.push_back(Payload::of(SaPayload{std::move(offer.proposals)}));
  if (auto ke = add_nonce_and_ke(*st, config, p); !ke) {
    spdlog::warn("{}: CHILD_SA {} not created: {}", describe(), config.name, ke.error().message);
    return false;
  }
  p.push_back(Payload::of(PayloadType::kTsInitiator, TsPayload{std::move(offer.ts_i)}));
  p.push_back(Payload::of(PayloadType::kTsResponder, TsPayload{std::move(offer.ts_r)}));
  spdlog::info("{}: establishing CHILD_SA {} (CREATE_CHILD_SA)", describe(), config.name);
  rekey_ = std::move(st);
  send_request(ExchangeType::kCreateChildSa, p, true);
  return true;
}

Result<IkeSa::ChildExchange> IkeSa::complete_child_exchange(const RekeyState& st,
                                                            const Payloads& inner) const {
  const auto* sa = find_body<SaPayload>(inner);
  const auto* nonce = find_body<NoncePayload>(inner);
  const auto* ke = find_body<KePayload>(inner);
  ChildExchange out;
  out.ts_i = find_body<TsPayload>(inner, PayloadType::kTsInitiator);
  out.ts_r = find_body<TsPayload>(inner, PayloadType::kTsResponder);
  if (sa == nullptr || nonce == nullptr || out.ts_i == nullptr || out.ts_r == nullptr ||
      nonce->nonce.size() < kMinNonceSize || nonce->nonce.size() > kMaxNonceSize) {
    return make_error(ErrorKind::kProtocol, "SA, nonce or TS missing in the response");
  }
  auto chosen = accept_chosen_proposal(st.offered, *sa, ProtocolId::kEsp, KeExchange::kKeep);
  if (!chosen) return chosen.take_error();
  if (chosen->wire.spi.size() != 4) {
    return make_error(ErrorKind::kProtocol, "the peer's SPI is not 4 bytes");
  }
  SecretBytes shared;
  if (chosen->group != DhGroup::kNone) {
    if (ke == nullptr || ke->group != chosen->group || !st.dh || st.group != chosen->group) {
      return make_error(ErrorKind::kProtocol, "key exchange does not match the chosen proposal");
    }
    auto s = st.dh->shared_secret(ke->data);
    if (!s) return s.take_error();
    shared = std::move(*s);
  }
  auto keys = derive_child_sa_keys(ike_proposal_.algorithms.prf, sk_d_.span(), chosen->algorithms,
                                   shared.span(), st.nonce_i, nonce->nonce);
  if (!keys) return keys.take_error();
  out.chosen = std::move(*chosen);
  out.keys = std::move(*keys);
  return out;
}

void IkeSa::process_new_child_response(const RekeyState& st, const Payloads& inner) {
  const Child* config = child_config(st.child);
  if (const NotifyPayload* n = find_error_notify(inner)) {
    if (n->type == NotifyType::kTemporaryFailure) {
      // The peer is busy with another exchange of this SA (a rekey): try again shortly.
      const Nanos delay = collision_retry_delay(env_.random);
      spdlog::info("{}: CHILD_SA {}: TEMPORARY_FAILURE from the peer; trying again in {} ms",
                   describe(), st.child, delay / kNanosPerMilli);
      queued_children_.insert(queued_children_.begin(), st.child);
      queued_child_at_ = env_.clock.now() + delay;
      return;
    }
    if (config != nullptr) diagnose_child_refusal(*config, n->type);
    spdlog::warn("{}: CHILD_SA {} not created: {} from the peer", describe(), st.child,
                 to_string(n->type));
    env_.host.child_sa_failed(*this, st.child, to_string(n->type) + " from the peer");
    return;
  }
  auto done = complete_child_exchange(st, inner);
  if (!done) {
    spdlog::warn("{}: CHILD_SA {} not created: {}", describe(), st.child, done.error().message);
    env_.host.child_sa_failed(*this, st.child, done.error().message);
    return;
  }
  if (done->ts_i->selectors.empty() || done->ts_r->selectors.empty() ||
      !within(done->ts_i->selectors, st.ts_i) || !within(done->ts_r->selectors, st.ts_r)) {
    spdlog::warn(
        "{}: CHILD_SA {} not created: the responder's traffic selectors are not within ours",
        describe(), st.child);
    env_.host.child_sa_failed(*this, st.child,
                              "the responder's traffic selectors are not within ours");
    return;
  }
  install_child(initiated_child(st.child, st.new_spi_in, done->chosen, *done->ts_i, *done->ts_r,
                                std::move(done->keys)));
}

void IkeSa::process_create_child_response(const Payloads& inner) {
  std::unique_ptr<RekeyState> st = std::move(rekey_);
  if (!st) return;
  if (st->old_spi_in == 0) {
    process_new_child_response(*st, inner);
    return;
  }
  auto old = std::find_if(children_.begin(), children_.end(),
                          [&](const ChildSaInfo& c) { return c.spi_in == st->old_spi_in; });
  auto retry_later = [&](const std::string& why, Nanos delay = kRekeyRetry) {
    spdlog::warn("{}: rekeying CHILD_SA {} failed: {}; trying again in {} ms", describe(),
                 st->child, why, delay / kNanosPerMilli);
    if (old != children_.end()) old->rekey_at = env_.clock.now() + delay;
  };
  if (const NotifyPayload* n = find_error_notify(inner)) {
    // The peer refused; an SA it made by rekeying the same one in the meantime simply stays (it
    // deletes the old SA itself), so there is nothing to retry.
    if (st->collision && children_have(st->collision->spi_in)) {
      spdlog::info("{}: rekeying CHILD_SA {} refused ({}), the peer's own rekey replaced it",
                   describe(), st->child, to_string(n->type));
      return;
    }
    retry_later(to_string(n->type) + " from the peer", n->type == NotifyType::kTemporaryFailure
                                                           ? collision_retry_delay(env_.random)
                                                           : kRekeyRetry);
    return;
  }
  auto done = complete_child_exchange(*st, inner);
  if (!done) {
    retry_later(done.error().message);
    return;
  }
  const std::vector<uint8_t>& nonce_r = find_body<NoncePayload>(inner)->nonce;
  install_child(initiated_child(st->child, st->new_spi_in, done->chosen, *done->ts_i, *done->ts_r,
                                std::move(done->keys)));
  if (st->collision && children_have(st->collision->spi_in)) {
    // Both rekeys completed: the exchange with the lowest nonce made the redundant SA.
    const auto below = [](const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
      return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
    };
    const std::vector<uint8_t>& ours = below(st->nonce_i, nonce_r) ? st->nonce_i : nonce_r;
    const std::vector<uint8_t>& theirs = below(st->collision->nonce_i, st->collision->nonce_r)
                                             ? st->collision->nonce_i
                                             : st->collision->nonce_r;
    if (below(ours, theirs)) {
      spdlog::info(
          "{}: CHILD_SA {} was rekeyed by both ends at once; ours ({:08x}_i) has the "
          "lowest nonce and goes, the peer's stays (RFC 7296 2.8.1)",
          describe(), st->child, st->new_spi_in);
      delete_child(st->new_spi_in);  // the peer deletes the old one
      return;
    }
    spdlog::info(
        "{}: CHILD_SA {} was rekeyed by both ends at once; ours ({:08x}_i) stays, the "
        "peer deletes its own (RFC 7296 2.8.1)",
        describe(), st->child, st->new_spi_in);
  }
  delete_child(st->old_spi_in);
}

std::vector<std::string> IkeSa::child_names() const {
  std::vector<std::string> out;
  auto add = [&](const std::string& name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  // Never established: the child IKE_AUTH was to carry.
  if (first_child_ != nullptr && established_at_ == 0) add(first_child_->name);
  for (const ChildSaInfo& c : children_) add(c.name);
  for (const std::string& n : ended_with_) add(n);
  for (const std::string& n : queued_children_) add(n);
  return out;
}

bool IkeSa::has_or_wants_child(const std::string& name) const {
  if (first_child_ != nullptr && established_at_ == 0 && first_child_->name == name) return true;
  if (rekey_ && rekey_->old_spi_in == 0 && rekey_->child == name) return true;
  return std::any_of(children_.begin(), children_.end(),
                     [&](const ChildSaInfo& c) { return c.name == name; }) ||
         std::find(queued_children_.begin(), queued_children_.end(), name) !=
             queued_children_.end();
}

bool IkeSa::children_have(uint32_t spi_in) const {
  return std::any_of(children_.begin(), children_.end(),
                     [&](const ChildSaInfo& c) { return c.spi_in == spi_in; });
}

void IkeSa::delete_child(uint32_t spi_in) {
  if (request_) return;  // the window is busy; the SA expires at its life_time anyway
  DeletePayload d;
  d.protocol = ProtocolId::kEsp;
  d.spi_size = 4;
  d.spis.push_back(be32_bytes(spi_in));
  deleting_child_ = spi_in;
  send_request(ExchangeType::kInformational, {Payload::of(std::move(d))}, true);
}

// --- responder --------------------------------------------------------------------------------

void IkeSa::process_create_child_request(const Message& request, const Payloads& inner) {
  auto refuse = [&](NotifyPayload n, const std::string& why) {
    spdlog::info("{}: CREATE_CHILD_SA refused: {}", describe(), why);
    send_response(request.header, {Payload::of(std::move(n))}, true);
  };
  const auto* sa = find_body<SaPayload>(inner);
  const auto* nonce = find_body<NoncePayload>(inner);
  const auto* ke = find_body<KePayload>(inner);
  const auto* tsi = find_body<TsPayload>(inner, PayloadType::kTsInitiator);
  const auto* tsr = find_body<TsPayload>(inner, PayloadType::kTsResponder);
  if (sa == nullptr || nonce == nullptr || nonce->nonce.size() < kMinNonceSize ||
      nonce->nonce.size() > kMaxNonceSize) {
    refuse(notify(NotifyType::kInvalidSyntax), "no SA or nonce");
    return;
  }
  if (std::any_of(sa->proposals.begin(), sa->proposals.end(),
                  [](const Proposal& p) { return p.protocol == ProtocolId::kIke; })) {
    process_ike_rekey_request(request, inner);
    return;
  }
  if (tsi == nullptr || tsr == nullptr) {
    refuse(notify(NotifyType::kInvalidSyntax), "no traffic selectors");
    return;
  }

  // A rekey names the SA by the SPI it receives on, our outbound SPI.
  ChildSaInfo* old = nullptr;
  if (const NotifyPayload* rekey = find_notify(inner, NotifyType::kRekeySa)) {
    if (rekey->protocol != ProtocolId::kEsp || rekey->spi.size() != 4) {
      refuse(notify(NotifyType::kInvalidSyntax), "REKEY_SA for no ESP SA");
      return;
    }
    const uint32_t spi = load_be32(rekey->spi.data());
    for (ChildSaInfo& c : children_) {
      if (c.spi_out == spi) old = &c;
    }
    if (old == nullptr) {
      NotifyPayload n = notify(NotifyType::kChildSaNotFound);
      n.protocol = ProtocolId::kEsp;
      n.spi = rekey->spi;
      refuse(std::move(n), fmt::format("REKEY_SA for unknown SPI {:08x}", spi));
      return;
    }
  }

  const Child* config = nullptr;
  std::optional<ChosenProposal> chosen;
  std::vector<TrafficSelector> ts_i;
  std::vector<TrafficSelector> ts_r;
  if (old != nullptr) {
    config = child_config(old->name);
    if (config != nullptr) {
      chosen = select_proposal(config->esp_proposals, sa->proposals, ProtocolId::kEsp,
                               KeExchange::kKeep);
    }
    ts_i = old->remote_ts;  // the exchange initiator's side is the peer's
    ts_r = old->local_ts;
  } else {
    std::vector<net::IpAddress> remote_dynamic = vips_;
    if (remote_dynamic.empty()) remote_dynamic.push_back(remote_.ip());
    auto answer =
        select_child(*conn_, *sa, *tsi, *tsr, local_.ip(), remote_dynamic, KeExchange::kKeep);
    if (!answer) {
      refuse(notify(NotifyType(answer.error().code)), answer.error().message);
      return;
    }
    config = answer->child;
    chosen = std::move(answer->proposal);
    ts_i = std::move(answer->ts_i);
    ts_r = std::move(answer->ts_r);
  }
  if (config == nullptr || !chosen || chosen->wire.spi.size() != 4) {
    refuse(notify(NotifyType::kNoProposalChosen), "no ESP proposal matches ours");
    return;
  }
  if (old != nullptr) old->rekey_at = kNever;  // the peer's rekey replaces ours

  Payloads out;
  SecretBytes shared;
  std::optional<crypto::DhKeyPair> dh;
  if (chosen->group != DhGroup::kNone) {
    if (ke == nullptr || ke->group != chosen->group) {
      refuse(invalid_ke_notify(chosen->group),
             fmt::format("key exchange group {} wanted (INVALID_KE_PAYLOAD)", int(chosen->group)));
      return;
    }
    auto answer = answer_key_exchange(chosen->group, ke->data);
    if (!answer) {
      refuse(notify(NotifyType::kNoProposalChosen), answer.error().message);
      return;
    }
    dh.emplace(std::move(answer->first));
    shared = std::move(answer->second);
  }
  std::vector<uint8_t> nonce_r(kNonceSize);
  env_.random.fill(nonce_r);
  const std::vector<uint8_t> nonce_r_copy = nonce_r;
  auto keys = derive_child_sa_keys(ike_proposal_.algorithms.prf, sk_d_.span(), chosen->algorithms,
                                   shared.span(), nonce->nonce, nonce_r);
  if (!keys) {
    refuse(notify(NotifyType::kNoProposalChosen), keys.error().message);
    return;
  }
  ChildSaInfo child;
  child.name = config->name;
  child.spi_out = load_be32(chosen->wire.spi.data());
  child.spi_in = env_.host.allocate_spi();
  child.algorithms = chosen->algorithms;
  child.esn = chosen->esn;
  child.local_ts = ts_r;
  child.remote_ts = ts_i;
  child.keys = std::move(*keys);
  child.we_initiated = false;
  chosen->wire.spi = be32_bytes(child.spi_in);
  out.push_back(Payload::of(SaPayload{{chosen->wire}}));
  out.push_back(Payload::of(NoncePayload{std::move(nonce_r)}));
  if (dh) {
    const auto pub = dh->public_value();
    out.push_back(
        Payload::of(KePayload{chosen->group, std::vector<uint8_t>(pub.begin(), pub.end())}));
  }
  out.push_back(Payload::of(PayloadType::kTsInitiator, TsPayload{std::move(ts_i)}));
  out.push_back(Payload::of(PayloadType::kTsResponder, TsPayload{std::move(ts_r)}));
  // Our own rekey of the same SA is out: remember this exchange for the verdict of RFC 7296
  // 2.8.1, taken when our answer arrives.
  if (old != nullptr && rekey_ && rekey_->old_spi_in == old->spi_in) {
    rekey_->collision = RekeyState::Collision{nonce->nonce, nonce_r_copy, child.spi_in};
    spdlog::info("{}: the peer rekeys CHILD_SA {} while we do too: both complete, one goes",
                 describe(), child.name);
  }
  send_response(request.header, out, true);
  // The peer deletes the old SA once it has the new one; until then both stay installed.
  install_child(std::move(child));
}

}  // namespace waypost::ike
