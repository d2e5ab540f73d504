// IKE_SA_INIT (RFC 7296 1.2): SA, KE, nonces and NAT detection in the clear; the IKE SA's keys
// follow from them.
//
//   initiator                                   responder
//   HDR, [N(COOKIE)], SAi1, KEi, Ni,
//        N(NAT_DETECTION_*), [N(FRAG_SUP)]  -->
//                                           <--  HDR, SAr1, KEr, Nr, N(NAT_DETECTION_*),
//                                           [N(FRAG_SUP)]
//                                           <--  or HDR, N(INVALID_KE_PAYLOAD | NO_PROPOSAL_CHOSEN
//                                                                | COOKIE)
//
// Waypost always encapsulates ESP in UDP (there may be no kernel ESP at all), so, like strongSwan
// with encap = yes, it sends a NAT_DETECTION_SOURCE_IP that cannot match: the peer believes we
// are behind a NAT and uses port 4500 and UDP encapsulation. The initiator moves to port 4500
// after this exchange whatever the detection said.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "ike/ike_sa_exchanges.h"
#include "ike/nat_detection.h"
#include "ike/pubkey_auth.h"

namespace waypost::ike {

namespace {

constexpr int kMaxRetries = 3;  // INVALID_KE_PAYLOAD and COOKIE answers, each

}  // namespace

// --- both roles -------------------------------------------------------------------------------

Payloads IkeSa::nat_detection_payloads(bool fake_source) {
  Payloads out;
  std::vector<uint8_t> source(kNatHashSize);
  if (fake_source) {
    env_.random.fill(source);
  } else {
    const NatHash h = nat_detection_hash(spi_i_, spi_r_, local_);
    source.assign(h.begin(), h.end());
  }
  const NatHash dest = nat_detection_hash(spi_i_, spi_r_, remote_);
  out.push_back(Payload::of(notify(NotifyType::kNatDetectionSourceIp, std::move(source))));
  out.push_back(Payload::of(notify(NotifyType::kNatDetectionDestinationIp,
                                   std::vector<uint8_t>(dest.begin(), dest.end()))));
  return out;
}

bool IkeSa::update_nat_state(const Payloads& payloads, uint64_t spi_r) {
  std::vector<const std::vector<uint8_t>*> sources;
  std::vector<const std::vector<uint8_t>*> dests;
  for (const NotifyPayload* n : find_notifies(payloads, NotifyType::kNatDetectionSourceIp)) {
    sources.push_back(&n->data);
  }
  for (const NotifyPayload* n : find_notifies(payloads, NotifyType::kNatDetectionDestinationIp)) {
    dests.push_back(&n->data);
  }
  if (sources.empty() || dests.empty()) return false;
  nat_remote_ = !nat_hash_matches(sources, spi_i_, spi_r, remote_);
  nat_local_ = !nat_hash_matches(dests, spi_i_, spi_r, local_);
  return true;
}

void IkeSa::detect_nat(const Payloads& payloads) {
  // The request's hashes were made before the responder had an SPI.
  if (!update_nat_state(payloads, initiator_ ? spi_r_ : 0)) {
    // The peer does not do NAT traversal, so it will send ESP bare (IP protocol 50), while
    // Waypost, with no kernel ESP to rely on, sends and receives ESP only inside UDP 4500: the
    // tunnel comes up and carries nothing. Said now, before anyone wonders why.
    const uint16_t port = remote_.port();
    const std::string nat =
        port != kPort && port != kNatTPort
            ? fmt::format(", and its packets arrive from port {}, so a NAT is in the way", port)
            : std::string();
    diagnose({Cause::kNatWithoutNatT, Side::kPeer,
              fmt::format("the peer {} sent no NAT_DETECTION payloads: it does not do NAT "
                          "traversal (ESP in UDP, RFC 3948){}; Waypost carries ESP only in UDP "
                          "4500, so the tunnel would come up and carry nothing.",
                          remote_.to_string(), nat),
              "Fix: turn on NAT traversal with forced encapsulation on the peer (strongSwan: "
              "encap = yes or forceencaps = yes; Libreswan: encapsulation = yes; other "
              "gateways: NAT-T / UDP encapsulation)."});
  }
}

Status IkeSa::derive_keys(std::span<const uint8_t> peer_ke) {
  auto shared = init_->dh->shared_secret(peer_ke);
  if (!shared) return shared.take_error().context("key exchange");
  const auto i = be64_bytes(spi_i_);
  const auto r = be64_bytes(spi_r_);
  auto keys =
      derive_ike_sa_keys_from_dh(ike_proposal_.algorithms, shared->span(), init_->nonce_i,
                                 init_->nonce_r, SpiBytes(i.data(), 8), SpiBytes(r.data(), 8));
  if (!keys) return keys.take_error();
  auto prf = Prf::create(ike_proposal_.algorithms.prf);
  if (!prf) return prf.take_error();
  auto ciphers = make_sk_ciphers(ike_proposal_.algorithms, *keys, initiator_, env_.random);
  if (!ciphers) return ciphers.take_error();
  prf_ = *prf;
  ciphers_.emplace(std::move(*ciphers));
  sk_d_ = std::move(keys->sk_d);
  init_->sk_pi = std::move(keys->sk_pi);
  init_->sk_pr = std::move(keys->sk_pr);
  return {};
}

// --- initiator --------------------------------------------------------------------------------

Result<std::unique_ptr<IkeSa>> IkeSa::initiate(IkeSaEnv env, const Connection& conn,
                                               const Child* child, const net::Endpoint& local,
                                               const net::Endpoint& remote) {
  std::unique_ptr<IkeSa> sa(new IkeSa(env, true, conn, local, remote));
  sa->first_child_ = child;
  sa->spi_i_ = nonzero_spi(env.random);
  if (auto started = sa->start_init(); !started) return started.take_error();
  return sa;
}

Status IkeSa::start_init() {
  init_ = std::make_unique<InitState>();
  init_->offered = offer_proposals(conn_->proposals, ProtocolId::kIke, {}, KeExchange::kKeep);
  const std::vector<DhGroup> groups = offered_groups(conn_->proposals);
  if (init_->offered.empty() || groups.empty()) {
    return make_error(ErrorKind::kParse, "{}: no IKE proposal with a key exchange group",
                      conn_->name);
  }
  init_->group = groups.front();
  init_->nonce_i.resize(kNonceSize);
  env_.random.fill(init_->nonce_i);
  state_ = IkeSaState::kConnecting;
  spdlog::info("{}: initiating IKE_SA to {}", describe(), remote_.to_string());
  return send_init_request();
}

Status IkeSa::send_init_request() {
  auto dh = new_key_pair(init_->group);
  if (!dh) return dh.take_error();
  init_->dh.emplace(std::move(*dh));
  spi_r_ = 0;
  Payloads p;
  if (!init_->cookie.empty()) p.push_back(Payload::of(notify(NotifyType::kCookie, init_->cookie)));
  p.push_back(Payload::of(SaPayload{init_->offered}));
  const auto pub = init_->dh->public_value();
  p.push_back(Payload::of(KePayload{init_->group, std::vector<uint8_t>(pub.begin(), pub.end())}));
  p.push_back(Payload::of(NoncePayload{init_->nonce_i}));
  for (Payload& n : nat_detection_payloads(true)) p.push_back(std::move(n));
  if (conn_->fragmentation != Fragmentation::kNo) {
    p.push_back(Payload::of(notify(NotifyType::kIkev2FragmentationSupported)));
  }
  p.push_back(
      Payload::of(notify(NotifyType::kSignatureHashAlgorithms, signature_hash_notify_data())));
  request_.reset();
  send_request(ExchangeType::kIkeSaInit, p, false);
  init_->request_bytes = request_->bytes;
  return {};
}

void IkeSa::process_init_response(const Message& response, std::span<const uint8_t> raw) {
  const Payloads& p = response.payloads;
  if (const NotifyPayload* cookie = find_notify(p, NotifyType::kCookie)) {
    if (init_->cookie_retries++ >= kMaxRetries || cookie->data.empty()) {
      fail("the responder keeps asking for a COOKIE");
      return;
    }
    spdlog::info("{}: the responder asked for a COOKIE; sending it back", describe());
    init_->cookie = cookie->data;
    if (auto sent = send_init_request(); !sent) fail(sent.error().message);
    return;
  }
  if (const NotifyPayload* ke = find_notify(p, NotifyType::kInvalidKePayload)) {
    const std::vector<DhGroup> groups = offered_groups(conn_->proposals);
    const DhGroup wanted =
        ke->data.size() == 2 ? DhGroup(load_be16(ke->data.data())) : DhGroup::kNone;
    if (init_->ke_retries++ >= kMaxRetries ||
        std::find(groups.begin(), groups.end(), wanted) == groups.end()) {
      fail(fmt::format("the responder wants key exchange group {}, which we did not offer",
                       int(wanted)));
      return;
    }
    spdlog::info("{}: the responder wants key exchange group {}; retrying with it", describe(),
                 int(wanted));
    init_->group = wanted;
    if (auto sent = send_init_request(); !sent) fail(sent.error().message);
    return;
  }
  if (const NotifyPayload* n = find_error_notify(p)) {
    if (n->type == NotifyType::kNoProposalChosen) {
      diagnose({Cause::kProposalMismatch, Side::kEither,
                fmt::format("the peer {} accepts none of our IKE proposals ({}) "
                            "(NO_PROPOSAL_CHOSEN).",
                            remote_.to_string(),
                            format_proposals(conn_->proposals, ProposalProtocol::kIke)),
                "Fix: make one proposal the same on both sides (proposals here, ike= on a "
                "strongSwan or Libreswan peer); its log lists what it wanted."});
    }
    fail(fmt::format("IKE_SA_INIT refused: {} from the peer", to_string(n->type)));
    return;
  }
  const auto* sa = find_body<SaPayload>(p);
  const auto* ke = find_body<KePayload>(p);
  const auto* nonce = find_body<NoncePayload>(p);
  if (sa == nullptr || ke == nullptr || nonce == nullptr || response.header.spi_r == 0) {
    fail("IKE_SA_INIT response without SA, KE or nonce");
    return;
  }
  auto chosen = accept_chosen_proposal(init_->offered, *sa, ProtocolId::kIke, KeExchange::kKeep);
  if (!chosen) {
    fail("IKE_SA_INIT response: " + chosen.error().message);
    return;
  }
  if (chosen->group != init_->group || ke->group != init_->group) {
    fail("IKE_SA_INIT response: key exchange group differs from the one we sent");
    return;
  }
  if (nonce->nonce.size() < kMinNonceSize || nonce->nonce.size() > kMaxNonceSize) {
    fail("IKE_SA_INIT response: nonce size out of range");
    return;
  }
  spi_r_ = response.header.spi_r;
  ike_proposal_ = std::move(*chosen);
  init_->nonce_r = nonce->nonce;
  init_->response_bytes.assign(raw.begin(), raw.end());
  init_->peer_fragmentation = find_notify(p, NotifyType::kIkev2FragmentationSupported) != nullptr;
  fragmentation_ = init_->peer_fragmentation && conn_->fragmentation != Fragmentation::kNo;
  if (const auto* n = find_notify(p, NotifyType::kSignatureHashAlgorithms)) {
    init_->peer_hashes = parse_signature_hashes(n->data);
  }
  if (auto keys = derive_keys(ke->data); !keys) {
    fail("IKE_SA_INIT: " + keys.error().message);
    return;
  }
  detect_nat(p);
  request_.reset();
  ++next_request_id_;
  // ESP goes in UDP, so IKE moves to the NAT-T port now (RFC 7296 2.23).
  if (remote_.port() == kPort) {
    remote_ = net::Endpoint::from(remote_.ip(), kNatTPort);
    local_ = net::Endpoint::from(local_.ip(), kNatTPort);
  }
  send_auth_request();
}

// --- responder --------------------------------------------------------------------------------

std::unique_ptr<IkeSa> IkeSa::respond(IkeSaEnv env, std::vector<const Connection*> candidates,
                                      const Message& request, std::span<const uint8_t> raw,
                                      const net::Endpoint& local, const net::Endpoint& remote) {
  if (candidates.empty()) return nullptr;
  std::unique_ptr<IkeSa> sa(new IkeSa(env, false, *candidates.front(), local, remote));
  sa->spi_i_ = request.header.spi_i;
  if (!sa->process_init_request(request, raw, candidates)) return nullptr;
  return sa;
}

bool IkeSa::process_init_request(const Message& request, std::span<const uint8_t> raw,
                                 const std::vector<const Connection*>& candidates) {
  init_ = std::make_unique<InitState>();
  const Payloads& p = request.payloads;
  // Refusals go out with SPIr zero and the SA is forgotten (RFC 7296 2.6, 2.7).
  auto refuse = [&](NotifyPayload n, const std::string& why) {
    spdlog::info("{}: IKE_SA_INIT from {} refused: {}", describe(), remote_.to_string(), why);
    spi_r_ = 0;
    send_response(request.header, {Payload::of(std::move(n))}, false);
    return false;
  };
  const auto* sa = find_body<SaPayload>(p);
  const auto* ke = find_body<KePayload>(p);
  const auto* nonce = find_body<NoncePayload>(p);
  if (sa == nullptr || ke == nullptr || nonce == nullptr || request.header.spi_r != 0 ||
      request.header.message_id != 0) {
    return refuse(notify(NotifyType::kInvalidSyntax), "SA, KE or nonce missing");
  }
  if (nonce->nonce.size() < kMinNonceSize || nonce->nonce.size() > kMaxNonceSize) {
    return refuse(notify(NotifyType::kInvalidSyntax), "nonce size out of range");
  }
  std::optional<ChosenProposal> chosen;
  for (const Connection* c : candidates) {
    chosen = select_proposal(c->proposals, sa->proposals, ProtocolId::kIke, KeExchange::kKeep);
    if (chosen) {
      conn_ = c;
      break;
    }
  }
  if (!chosen) {
    // Connections sharing one proposal list (the usual case) name it once.
    std::vector<std::string> lists;
    for (const Connection* c : candidates) {
      std::string list = format_proposals(c->proposals, ProposalProtocol::kIke);
      if (std::find(lists.begin(), lists.end(), list) == lists.end()) lists.push_back(list);
    }
    const std::string ours = fmt::format("{}", fmt::join(lists, "; "));
    diagnose({Cause::kProposalMismatch, Side::kEither,
              fmt::format("the peer {} proposed IKE {}; none matches ours ({}) "
                          "(NO_PROPOSAL_CHOSEN).",
                          remote_.to_string(),
                          wire_proposals_text(sa->proposals, ProposalProtocol::kIke), ours),
              "Fix: make one proposal the same on both sides (proposals here, ike= on a "
              "strongSwan or Libreswan peer)."});
    return refuse(notify(NotifyType::kNoProposalChosen),
                  "no proposal matches ours (NO_PROPOSAL_CHOSEN)");
  }
  // Later candidates with the same IKE proposals stay eligible for IKE_AUTH.
  for (const Connection* c : candidates) {
    if (c == conn_ ||
        select_proposal(c->proposals, {chosen->wire}, ProtocolId::kIke, KeExchange::kKeep)) {
      init_->candidates.push_back(c);
    }
  }
  if (ke->group != chosen->group) {
    return refuse(invalid_ke_notify(chosen->group),
                  fmt::format("key exchange group {} instead of {} (INVALID_KE_PAYLOAD)",
                              int(ke->group), int(chosen->group)));
  }
  auto dh = new_key_pair(chosen->group);
  if (!dh) return refuse(notify(NotifyType::kNoProposalChosen), dh.error().message);
  init_->dh.emplace(std::move(*dh));
  init_->group = chosen->group;
  init_->nonce_i = nonce->nonce;
  init_->nonce_r.resize(kNonceSize);
  env_.random.fill(init_->nonce_r);
  init_->request_bytes.assign(raw.begin(), raw.end());
  init_->peer_fragmentation = find_notify(p, NotifyType::kIkev2FragmentationSupported) != nullptr;
  const auto* hashes = find_notify(p, NotifyType::kSignatureHashAlgorithms);
  if (hashes != nullptr) init_->peer_hashes = parse_signature_hashes(hashes->data);
  spi_r_ = nonzero_spi(env_.random);
  ike_proposal_ = std::move(*chosen);
  if (auto keys = derive_keys(ke->data); !keys) {
    return refuse(notify(NotifyType::kInvalidSyntax), keys.error().message);
  }
  detect_nat(p);

  Payloads out;
  out.push_back(Payload::of(SaPayload{{ike_proposal_.wire}}));
  const auto pub = init_->dh->public_value();
  out.push_back(Payload::of(KePayload{init_->group, std::vector<uint8_t>(pub.begin(), pub.end())}));
  out.push_back(Payload::of(NoncePayload{init_->nonce_r}));
  for (Payload& n : nat_detection_payloads(true)) out.push_back(std::move(n));
  if (init_->peer_fragmentation && conn_->fragmentation != Fragmentation::kNo) {
    out.push_back(Payload::of(notify(NotifyType::kIkev2FragmentationSupported)));
    fragmentation_ = true;
  }
  // RFC 7427 4: announced in the response only to an initiator that announced it.
  if (hashes != nullptr) {
    out.push_back(
        Payload::of(notify(NotifyType::kSignatureHashAlgorithms, signature_hash_notify_data())));
  }
  // Asking for the initiator's certificate up front, by the CAs we trust, when a connection it
  // may end up on authenticates peers with certificates.
  if (env_.config.credentials) {
    for (const Connection* c : init_->candidates) {
      if (!c->remote.empty() && c->remote.front().auth == AuthClass::kPubkey) {
        auto hashes_of_cas = env_.config.credentials->certreq(c->remote.front());
        if (!hashes_of_cas.empty()) {
          out.push_back(Payload::of(CertReqPayload{CertEncoding::kX509Signature, hashes_of_cas}));
        }
        break;
      }
    }
  }
  state_ = IkeSaState::kConnecting;
  half_open_until_ = env_.clock.now() + kHalfOpenTimeout;
  expected_peer_id_ = 1;
  send_response(request.header, out, false);
  init_->response_bytes = last_response_->bytes;
  spdlog::info("{}: IKE_SA_INIT from {} answered ({})", describe(), remote_.to_string(),
               nat_detected() ? "NAT detected" : "no NAT");
  return true;
}

}  // namespace waypost::ike
