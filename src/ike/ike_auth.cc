// IKE_AUTH (RFC 7296 1.2, 2.15, 2.19): identities and authentication, virtual IPs, and the first
// CHILD SA, all inside SK.
//
//   initiator                                      responder
//   HDR, SK {IDi, [IDr], AUTH, [CP(CFG_REQUEST)],
//            [N(INITIAL_CONTACT)], SAi2, TSi, TSr,
//            [N(MOBIKE_SUPPORTED)]}            -->
//                                              <--  HDR, SK {IDr, AUTH, [CP(CFG_REPLY)], SAr2,
//                                                            TSi, TSr, [N(MOBIKE_SUPPORTED)]}
//                                              <--  or HDR, SK {N(AUTHENTICATION_FAILED)}
//
// A CHILD SA that cannot be made (no common ESP proposal, selectors that do not fit) does not fail
// the IKE SA: the responder answers with the notify instead of SA and TS (RFC 7296 1.2).
//
// Each side authenticates as its configured round says: a pre-shared key (AUTH = prf(prf(key,
// "Key Pad for IKEv2"), octets)) or a certificate (CERT payloads and a signature over the octets,
// pubkey_auth.h); the two sides may differ.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/bytes.h"
#include "ike/auth_octets.h"
#include "ike/child_negotiation.h"
#include "ike/identity_wire.h"
#include "ike/ike_sa_exchanges.h"
#include "ike/pubkey_auth.h"
#include "ike/ts_narrowing.h"

namespace waypost::ike {

namespace {

// The identity a round presents: the configured one, or the IKE address (swanctl.conf's default).
Identity own_identity(const AuthRound& round, const net::Endpoint& local) {
  if (!round.id.any) return round.id;
  Identity id;
  id.any = false;
  const net::IpAddress ip = local.ip();
  id.type = ip.is_v4() ? IdType::kIpv4 : IdType::kIpv6;
  id.value = ip.to_string();
  id.text = id.value;
  return id;
}

ConfigAttribute address_attribute(const net::IpAddress& a) {
  ConfigAttribute attr;
  if (a.is_v4()) {
    attr.type = uint16_t(CfgAttribute::kInternalIp4Address);
    attr.value.assign(a.bytes.begin(), a.bytes.begin() + 4);
  } else {
    attr.type = uint16_t(CfgAttribute::kInternalIp6Address);
    attr.value.assign(a.bytes.begin(), a.bytes.end());
    attr.value.push_back(128);  // prefix length (RFC 7296 3.15.1)
  }
  return attr;
}

}  // namespace

Result<IkeSa::OwnAuth> IkeSa::authenticate_self(const AuthRound& round, const Identity& peer,
                                                const std::vector<uint8_t>& sa_init,
                                                const std::vector<uint8_t>& peer_nonce,
                                                const SecretBytes& sk_p) {
  OwnAuth out;
  if (round.auth == AuthClass::kPubkey) {
    const LocalCredential* cred =
        env_.config.credentials ? env_.config.credentials->local(round) : nullptr;
    if (cred == nullptr) {
      return make_error("{}: certificate authentication needs a certificate (certs = ...)",
                        round.section);
    }
    if (round.id.any) {
      out.id = subject_id(*cred);
    } else {
      auto id = id_payload_of(round.id);
      if (!id) return id.take_error();
      out.id = std::move(*id);
      if (!vouches_for(cred->cert, out.id)) {
        return make_error("our certificate {} does not contain our identity '{}'",
                          cred->cert.subject(), round.id.text);
      }
    }
    auto octets = signed_octets(*prf_, sa_init, peer_nonce, sk_p.span(), out.id);
    if (!octets) return octets.take_error();
    auto auth = sign_auth(*cred, init_->peer_hashes, *octets);
    if (!auth) return auth.take_error();
    out.auth = std::move(*auth);
    if (conn_->send_cert != SendCert::kNever) out.certs = cert_payloads(*cred);
    return out;
  }
  const Identity me = own_identity(round, local_);
  auto id = id_payload_of(me);
  if (!id) return id.take_error();
  out.id = std::move(*id);
  const Secret* secret = find_ike_secret(env_.config, me, peer);
  if (secret == nullptr) {
    return make_error("no shared key found for '{}' - '{}'", me.text,
                      peer.any ? "%any" : peer.text);
  }
  auto octets = signed_octets(*prf_, sa_init, peer_nonce, sk_p.span(), out.id);
  auto mic =
      octets ? psk_auth(*prf_, secret->secret.span(), *octets) : Result<Bytes>(octets.error());
  if (!mic) return mic.take_error();
  out.auth = AuthPayload{AuthMethod::kSharedKeyMic, std::move(*mic)};
  return out;
}

Status IkeSa::check_peer_auth(const AuthRound& remote, const AuthRound& local,
                              const Payloads& inner, const IdPayload& id, const AuthPayload& auth,
                              const std::vector<uint8_t>& sa_init,
                              const std::vector<uint8_t>& our_nonce, const SecretBytes& sk_p) {
  auto octets = signed_octets(*prf_, sa_init, our_nonce, sk_p.span(), id);
  if (!octets) return octets.take_error();
  const std::string who = identity_text(id);
  if (remote.auth == AuthClass::kPubkey) {
    if (!env_.config.credentials) return make_error("no certificates are loaded");
    auto subject = verify_pubkey_auth(*env_.config.credentials, remote, inner, id, auth, *octets);
    if (!subject) {
      Error e = subject.take_error();
      e.code = int(Cause::kCertificate);
      return e;
    }
    spdlog::info("{}: '{}' authenticated with certificate '{}'", describe(), who, *subject);
    return {};
  }
  if (auth.method != AuthMethod::kSharedKeyMic) {
    return make_error("'{}' authenticated with method {}, but a pre-shared key is expected", who,
                      int(auth.method));
  }
  const Secret* secret = find_ike_secret(env_.config, own_identity(local, local_), identity_of(id));
  if (secret == nullptr) return make_error("no shared key found for '{}'", who);
  if (!psk_auth_verifies(*prf_, secret->secret.span(), *octets, auth.data)) {
    Error e = make_error("'{}' failed pre-shared key authentication (wrong key?)", who);
    e.code = int(Cause::kPskMismatch);
    return e;
  }
  return {};
}

void IkeSa::diagnose_peer_auth(const Error& e) {
  if (e.code == int(Cause::kPskMismatch)) {
    diagnose({Cause::kPskMismatch, Side::kEither,
              fmt::format("the pre-shared key of the peer {} ('{}') does not match ours: its "
                          "AUTH payload does not verify with our secret.",
                          remote_.to_string(), remote_id_text_),
              "Fix: make the secrets equal on both sides (secrets { ike-... } here, "
              "ipsec.secrets on the peer); a typo or trailing blank is the usual cause."});
  } else if (e.code == int(Cause::kCertificate)) {
    // OpenSSL's verification reason says which of the three usual cases this is.
    const auto has = [&](std::string_view part) {
      return e.message.find(part) != std::string::npos;
    };
    Side side = Side::kEither;
    std::string fix =
        "Fix: an untrusted certificate needs its CA in x509ca/ (remote.cacerts); an expired or "
        "revoked one needs a new certificate on the peer.";
    if (has("revoked")) {
      side = Side::kPeer;
      fix =
          "Fix: the CA revoked it (our CRL in x509crl/ says so): issue the peer a new "
          "certificate, or, if the revocation was a mistake, a CRL without it.";
    } else if (has("expired") || has("not yet valid")) {
      side = Side::kPeer;
      fix =
          "Fix: issue the peer a new certificate; if it should still be valid, check the clocks "
          "of both hosts (date).";
    } else if (has("local issuer") || has("self-signed") || has("self signed")) {
      side = Side::kLocal;
      fix =
          "Fix: put the CA that issued it in x509ca/ here (remote.cacerts), or give the peer a "
          "certificate from a CA we trust.";
    }
    diagnose({Cause::kCertificate, side,
              fmt::format("the peer {}: {}.", remote_.to_string(), e.message), fix});
  } else if (e.message.find("no shared key") != std::string::npos) {
    diagnose({Cause::kPskMismatch, Side::kLocal,
              fmt::format("we have no pre-shared key for the peer {} ('{}').", remote_.to_string(),
                          remote_id_text_),
              "Fix: add a secrets { ike-... { id = ..., secret = ... } } entry for its identity."});
  }
}

void IkeSa::diagnose_child_mismatch(const SaPayload& sa, const TsPayload& tsi, const TsPayload& tsr,
                                    const Error& e) {
  std::string ours;
  for (const Child& c : conn_->children) {
    ours += fmt::format("{}{}: {} === {}", ours.empty() ? "" : "; ", c.name,
                        selectors_text(c.local_ts), selectors_text(c.remote_ts));
  }
  if (e.code == int(NotifyType::kTsUnacceptable)) {
    diagnose({Cause::kSelectorMismatch, Side::kEither,
              fmt::format("the traffic selectors of the peer {} ({} === {}, its side first) fit "
                          "none of ours ({}).",
                          remote_.to_string(), selectors_text(tsi.selectors),
                          selectors_text(tsr.selectors), ours),
              "Fix: make the subnets mirror each other: local_ts / remote_ts here against "
              "leftsubnet / rightsubnet (or its local_ts / remote_ts) on the peer."});
    return;
  }
  std::string esp;
  for (const Child& c : conn_->children) {
    esp += (esp.empty() ? "" : "; ") + format_proposals(c.esp_proposals, ProposalProtocol::kEsp);
  }
  diagnose({Cause::kProposalMismatch, Side::kEither,
            fmt::format("the peer {} proposed ESP {}; none matches ours ({}) (NO_PROPOSAL_CHOSEN).",
                        remote_.to_string(),
                        wire_proposals_text(sa.proposals, ProposalProtocol::kEsp), esp),
            "Fix: make one ESP proposal the same on both sides (esp_proposals here, esp= on a "
            "strongSwan or Libreswan peer)."});
}

void IkeSa::diagnose_child_refusal(const Child& child, NotifyType refusal) {
  if (refusal == NotifyType::kTsUnacceptable) {
    diagnose({Cause::kSelectorMismatch, Side::kEither,
              fmt::format("the peer {} accepts none of our traffic selectors for {} ({} === {}, "
                          "our side first) (TS_UNACCEPTABLE).",
                          remote_.to_string(), child.name, selectors_text(child.local_ts),
                          selectors_text(child.remote_ts)),
              "Fix: make the subnets mirror each other: local_ts / remote_ts here against "
              "leftsubnet / rightsubnet on the peer; its log lists its own."});
  } else if (refusal == NotifyType::kNoProposalChosen) {
    diagnose({Cause::kProposalMismatch, Side::kEither,
              fmt::format("the peer {} accepts none of our ESP proposals for {} ({}) "
                          "(NO_PROPOSAL_CHOSEN).",
                          remote_.to_string(), child.name,
                          format_proposals(child.esp_proposals, ProposalProtocol::kEsp)),
              "Fix: make one ESP proposal the same on both sides (esp_proposals here, esp= on "
              "the peer); its log lists what it wanted."});
  } else if (refusal == NotifyType::kInternalAddressFailure ||
             refusal == NotifyType::kFailedCpRequired) {
    diagnose({Cause::kPoolExhausted, Side::kPeer,
              fmt::format("the peer {} has no virtual IP for us ({}).", remote_.to_string(),
                          to_string(refusal)),
              "Fix: on the peer, enlarge the pool or free addresses."});
  }
}

// --- initiator --------------------------------------------------------------------------------

void IkeSa::send_auth_request() {
  auth_ = std::make_unique<AuthState>();
  const AuthRound& local_round = conn_->local.front();
  const AuthRound& remote_round = conn_->remote.front();
  auto mine = authenticate_self(local_round, remote_round.id, init_->request_bytes, init_->nonce_r,
                                init_->sk_pi);
  if (!mine) {
    fail(mine.error().message);
    return;
  }
  local_id_text_ = identity_text(mine->id);
  Payloads p;
  p.push_back(Payload::of(PayloadType::kIdInitiator, mine->id));
  for (Payload& c : mine->certs) p.push_back(std::move(c));
  if (remote_round.auth == AuthClass::kPubkey && env_.config.credentials && conn_->send_certreq) {
    auto cas = env_.config.credentials->certreq(remote_round);
    if (!cas.empty()) {
      p.push_back(Payload::of(CertReqPayload{CertEncoding::kX509Signature, std::move(cas)}));
    }
  }
  if (!remote_round.id.any) {
    if (auto idr = id_payload_of(remote_round.id)) {
      p.push_back(Payload::of(PayloadType::kIdResponder, *idr));
    }
  }
  p.push_back(Payload::of(std::move(mine->auth)));
  std::vector<net::Family> vip_families;
  if (!conn_->vips.empty()) {
    ConfigPayload cp;
    cp.type = CfgType::kRequest;
    for (const net::IpAddress& vip : conn_->vips) {
      ConfigAttribute a = address_attribute(vip);
      const bool any =
          std::all_of(vip.bytes.begin(), vip.bytes.end(), [](uint8_t b) { return b == 0; });
      if (any) a.value.clear();  // 0.0.0.0 / :: ask for any address
      cp.attributes.push_back(std::move(a));
      cp.attributes.push_back(ConfigAttribute{
          uint16_t(vip.is_v4() ? CfgAttribute::kInternalIp4Dns : CfgAttribute::kInternalIp6Dns),
          {}});
      vip_families.push_back(vip.family);
    }
    auth_->asked_vips = true;
    p.push_back(Payload::of(std::move(cp)));
  }
  if (conn_->unique != Unique::kNever && initial_contact_) {
    p.push_back(Payload::of(notify(NotifyType::kInitialContact)));
  }
  if (first_child_ != nullptr) {
    auth_->spi_in = env_.host.allocate_spi();
    ChildOffer offer = make_child_offer(*first_child_, auth_->spi_in, local_.ip(), remote_.ip(),
                                        vip_families, KeExchange::kStrip);
    auth_->esp_offered = offer.proposals;
    auth_->ts_i = offer.ts_i;
    auth_->ts_r = offer.ts_r;
    p.push_back(Payload::of(SaPayload{std::move(offer.proposals)}));
    p.push_back(Payload::of(PayloadType::kTsInitiator, TsPayload{std::move(offer.ts_i)}));
    p.push_back(Payload::of(PayloadType::kTsResponder, TsPayload{std::move(offer.ts_r)}));
  }
  if (conn_->mobike) p.push_back(Payload::of(notify(NotifyType::kMobikeSupported)));
  send_request(ExchangeType::kIkeAuth, p, true);
}

void IkeSa::process_auth_response(const Payloads& inner) {
  for (const Payload& payload : inner) {
    const auto* n = payload.get<NotifyPayload>();
    if (n != nullptr &&
        (n->type == NotifyType::kAuthenticationFailed || n->type == NotifyType::kInvalidSyntax)) {
      if (n->type == NotifyType::kAuthenticationFailed) {
        const AuthRound& mine = conn_->local.front();
        const bool psk = mine.auth == AuthClass::kPsk;
        diagnose({Cause::kAuthRefused, Side::kEither,
                  fmt::format("the peer {} refused our authentication (AUTHENTICATION_FAILED): "
                              "{}",
                              remote_.to_string(),
                              psk ? fmt::format("its pre-shared key for us ('{}') differs from "
                                                "ours, or it expects another identity from us",
                                                local_id_text_)
                                  : fmt::format("it does not trust our certificate ('{}'), or "
                                                "expects another identity from us",
                                                local_id_text_)),
                  psk ? "Fix: make the secrets equal on both sides and check the peer's rightid "
                        "/ remote.id; its log names which."
                      : "Fix: give the peer our CA certificate and check its rightid / "
                        "remote.id; its log names which."});
      }
      fail(fmt::format("IKE_AUTH refused: {} from the peer", to_string(n->type)));
      return;
    }
  }
  const auto* idr = find_body<IdPayload>(inner, PayloadType::kIdResponder);
  const auto* auth = find_body<AuthPayload>(inner);
  if (idr == nullptr || auth == nullptr) {
    fail("IKE_AUTH response without IDr or AUTH");
    return;
  }
  const AuthRound& remote_round = conn_->remote.front();
  remote_id_text_ = identity_text(*idr);
  if (!identity_matches(remote_round.id, *idr)) {
    diagnose({Cause::kUnknownIdentity, Side::kEither,
              fmt::format("the peer {} presented the identity '{}', but we expect '{}' "
                          "(remote.id of {}).",
                          remote_.to_string(), remote_id_text_, remote_round.id.text, conn_->name),
              "Fix: set remote.id here to what the peer presents, or the peer's own id (leftid "
              "/ local.id) to what we expect."});
    fail(fmt::format("the responder is '{}', not '{}'", remote_id_text_, remote_round.id.text));
    return;
  }
  mobike_ = conn_->mobike && find_notify(inner, NotifyType::kMobikeSupported) != nullptr;
  if (auto st = check_peer_auth(remote_round, conn_->local.front(), inner, *idr, *auth,
                                init_->response_bytes, init_->nonce_i, init_->sk_pr);
      !st) {
    diagnose_peer_auth(st.error());
    fail("the responder: " + st.error().message);
    return;
  }
  if (!env_.host.admit_peer(*this, false)) {
    fail(fmt::format("unique = keep: '{}' already has an IKE_SA", remote_id_text_));
    return;
  }
  if (const auto* cp = find_body<ConfigPayload>(inner); cp != nullptr && auth_->asked_vips) {
    for (const ConfigAttribute& a : cp->attributes) {
      if (a.type == uint16_t(CfgAttribute::kInternalIp4Address) && a.value.size() == 4) {
        vips_.push_back(net::IpAddress::v4_bytes(a.value.data()));
      } else if (a.type == uint16_t(CfgAttribute::kInternalIp6Address) && a.value.size() == 17) {
        vips_.push_back(net::IpAddress::v6_bytes(a.value.data()));
      } else if (a.type == uint16_t(CfgAttribute::kInternalIp4Dns) && a.value.size() == 4) {
        dns_.push_back(net::IpAddress::v4_bytes(a.value.data()));
      } else if (a.type == uint16_t(CfgAttribute::kInternalIp6Dns) && a.value.size() == 16) {
        dns_.push_back(net::IpAddress::v6_bytes(a.value.data()));
      }
    }
    if (!dns_.empty()) {
      std::string list;
      for (const auto& d : dns_) list += (list.empty() ? "" : ", ") + d.to_string();
      spdlog::info("{}: the peer assigned DNS servers {}", describe(), list);
    }
  }
  const std::vector<uint8_t> nonce_i = init_->nonce_i;
  const std::vector<uint8_t> nonce_r = init_->nonce_r;
  become_established();
  if (auth_->asked_vips && vips_.empty()) {
    spdlog::warn("{}: the responder assigned no virtual IP", describe());
    if (find_notify(inner, NotifyType::kInternalAddressFailure) != nullptr) {
      diagnose({Cause::kPoolExhausted, Side::kPeer,
                fmt::format("the peer {} has no virtual IP for us (INTERNAL_ADDRESS_FAILURE): "
                            "its pool is exhausted or it has none for our identity '{}'.",
                            remote_.to_string(), local_id_text_),
                "Fix: on the peer, enlarge the pool (rightsourceip / pools) or free addresses; "
                "or remove vips here if no virtual IP is needed."});
    }
  }
  if (first_child_ == nullptr) return;

  // The first CHILD SA.
  if (const NotifyPayload* n = find_error_notify(inner)) {
    diagnose_child_refusal(*first_child_, n->type);
    spdlog::warn("{}: CHILD_SA {} not created: {} from the peer", describe(), first_child_->name,
                 to_string(n->type));
    return;
  }
  const auto* sa = find_body<SaPayload>(inner);
  const auto* tsi = find_body<TsPayload>(inner, PayloadType::kTsInitiator);
  const auto* tsr = find_body<TsPayload>(inner, PayloadType::kTsResponder);
  if (sa == nullptr || tsi == nullptr || tsr == nullptr) {
    spdlog::warn("{}: CHILD_SA {} not created: no SA or TS in the response", describe(),
                 first_child_->name);
    return;
  }
  auto chosen =
      accept_chosen_proposal(auth_->esp_offered, *sa, ProtocolId::kEsp, KeExchange::kStrip);
  if (!chosen || chosen->wire.spi.size() != 4) {
    spdlog::warn("{}: CHILD_SA {} not created: {}", describe(), first_child_->name,
                 chosen ? "the peer's SPI is not 4 bytes" : chosen.error().message);
    return;
  }
  if (tsi->selectors.empty() || tsr->selectors.empty() || !within(tsi->selectors, auth_->ts_i) ||
      !within(tsr->selectors, auth_->ts_r)) {
    spdlog::warn(
        "{}: CHILD_SA {} not created: the responder's traffic selectors are not within ours",
        describe(), first_child_->name);
    return;
  }
  auto keys = derive_child_sa_keys(ike_proposal_.algorithms.prf, sk_d_.span(), chosen->algorithms,
                                   {}, nonce_i, nonce_r);
  if (!keys) {
    spdlog::warn("{}: CHILD_SA {} not created: {}", describe(), first_child_->name,
                 keys.error().message);
    return;
  }
  install_child(
      initiated_child(first_child_->name, auth_->spi_in, *chosen, *tsi, *tsr, std::move(*keys)));
}

namespace {

std::string pools_text(const std::vector<std::string>& pools) {
  std::string out;
  for (const auto& p : pools) out += (out.empty() ? "" : ", ") + p;
  return out;
}

}  // namespace

// --- responder --------------------------------------------------------------------------------

void IkeSa::process_auth_request(const Message& request, const Payloads& inner) {
  auto refuse = [&](const std::string& why) {
    spdlog::warn("{}: IKE_AUTH from {} refused: {}", describe(), remote_.to_string(), why);
    send_response(request.header, {Payload::of(notify(NotifyType::kAuthenticationFailed))}, true);
    failure_ = why;
    end(IkeSaEnd::kFailed, why);
  };
  const auto* idi = find_body<IdPayload>(inner, PayloadType::kIdInitiator);
  const auto* idr = find_body<IdPayload>(inner, PayloadType::kIdResponder);
  const auto* auth = find_body<AuthPayload>(inner);
  if (idi == nullptr || auth == nullptr) {
    refuse("no IDi or AUTH (EAP is not supported)");
    return;
  }
  remote_id_text_ = identity_text(*idi);
  const Identity peer = identity_of(*idi);

  // The connection: the first candidate whose remote identity accepts the peer's and whose local
  // identity is the one the peer asked for (IDr), if it asked.
  const Connection* chosen = nullptr;
  for (const Connection* c : init_->candidates) {
    if (c->remote.empty() || c->local.empty()) continue;
    if (!identity_matches(c->remote.front().id, *idi)) continue;
    if (idr != nullptr && !c->local.front().id.any &&
        !identity_matches(c->local.front().id, *idr)) {
      continue;
    }
    chosen = c;
    break;
  }
  if (chosen == nullptr) {
    std::string expected;
    for (const Connection* c : init_->candidates) {
      if (c->remote.empty()) continue;
      expected += fmt::format("{}{}: '{}'", expected.empty() ? "" : ", ", c->name,
                              c->remote.front().id.any ? "%any" : c->remote.front().id.text);
    }
    diagnose(
        {Cause::kUnknownIdentity, Side::kEither,
         fmt::format("the peer {} presented the identity '{}', which no connection expects "
                     "(remote ids: {}).",
                     remote_.to_string(), remote_id_text_, expected.empty() ? "none" : expected),
         "Fix: set remote.id here to that identity, or the peer's own id (leftid / "
         "local.id) to the one expected."});
    refuse(fmt::format("no connection accepts the identity '{}'", remote_id_text_));
    return;
  }
  conn_ = chosen;
  if (auto st = check_peer_auth(conn_->remote.front(), conn_->local.front(), inner, *idi, *auth,
                                init_->request_bytes, init_->nonce_r, init_->sk_pi);
      !st) {
    diagnose_peer_auth(st.error());
    refuse(st.error().message);
    return;
  }
  // Uniqueness before anything is handed out: a restarted peer's stale SA (and its virtual IP)
  // goes first.
  if (!env_.host.admit_peer(*this, find_notify(inner, NotifyType::kInitialContact) != nullptr)) {
    refuse(fmt::format("unique = keep: '{}' already has an IKE_SA", remote_id_text_));
    return;
  }
  auto mine = authenticate_self(conn_->local.front(), peer, init_->response_bytes, init_->nonce_i,
                                init_->sk_pr);
  if (!mine) {
    refuse(mine.error().message);
    return;
  }
  local_id_text_ = identity_text(mine->id);

  Payloads out;
  out.push_back(Payload::of(PayloadType::kIdResponder, mine->id));
  for (Payload& c : mine->certs) out.push_back(std::move(c));
  out.push_back(Payload::of(std::move(mine->auth)));

  // Virtual IPs from the connection's pools, one per family asked for.
  if (const auto* cp = find_body<ConfigPayload>(inner);
      cp != nullptr && cp->type == CfgType::kRequest) {
    ConfigPayload reply;
    reply.type = CfgType::kReply;
    std::vector<net::IpAddress> dns;
    for (const ConfigAttribute& a : cp->attributes) {
      const bool v4 = a.type == uint16_t(CfgAttribute::kInternalIp4Address);
      const bool v6 = a.type == uint16_t(CfgAttribute::kInternalIp6Address);
      if (!v4 && !v6) continue;
      const net::Family family = v4 ? net::Family::kV4 : net::Family::kV6;
      if (std::any_of(vips_.begin(), vips_.end(),
                      [&](const auto& x) { return x.family == family; })) {
        continue;
      }
      for (const std::string& name : conn_->pools) {
        const Pool* pool = env_.config.pool(name);
        if (pool == nullptr || pool->addrs.first.family != family) continue;
        if (auto lease = env_.host.lease_address(*pool, remote_id_text_, family)) {
          vips_.push_back(*lease);
          reply.attributes.push_back(address_attribute(*lease));
          for (const auto& d : pool->dns) {
            if (std::find(dns.begin(), dns.end(), d) == dns.end()) dns.push_back(d);
          }
          break;
        }
      }
    }
    for (const net::IpAddress& d : dns) {
      ConfigAttribute a;
      a.type = uint16_t(d.is_v4() ? CfgAttribute::kInternalIp4Dns : CfgAttribute::kInternalIp6Dns);
      a.value.assign(d.bytes.begin(), d.bytes.begin() + long(d.byte_length()));
      reply.attributes.push_back(std::move(a));
    }
    if (!reply.attributes.empty()) out.push_back(Payload::of(std::move(reply)));
    if (vips_.empty()) {
      spdlog::warn("{}: '{}' asked for a virtual IP, but no pool of {} has one", describe(),
                   remote_id_text_, conn_->name);
      diagnose({Cause::kPoolExhausted, Side::kLocal,
                fmt::format("'{}' asked for a virtual IP, but the pools of {} ({}) have none "
                            "left.",
                            remote_id_text_, conn_->name,
                            conn_->pools.empty() ? std::string("none configured")
                                                 : pools_text(conn_->pools)),
                "Fix: enlarge the pool (pools { ... addrs }) or free addresses (terminate stale "
                "SAs); unique = replace frees a restarted peer's old address at once."});
    }
  }

  // The first CHILD SA.
  std::optional<ChildSaInfo> child;
  const auto* sa = find_body<SaPayload>(inner);
  const auto* tsi = find_body<TsPayload>(inner, PayloadType::kTsInitiator);
  const auto* tsr = find_body<TsPayload>(inner, PayloadType::kTsResponder);
  if (sa != nullptr && tsi != nullptr && tsr != nullptr) {
    std::vector<net::IpAddress> remote_dynamic = vips_;
    if (remote_dynamic.empty()) remote_dynamic.push_back(remote_.ip());
    auto answer =
        select_child(*conn_, *sa, *tsi, *tsr, local_.ip(), remote_dynamic, KeExchange::kStrip);
    if (!answer) {
      diagnose_child_mismatch(*sa, *tsi, *tsr, answer.error());
      spdlog::warn("{}: CHILD_SA not created: {}", describe(), answer.error().message);
      out.push_back(Payload::of(notify(NotifyType(answer.error().code))));
    } else {
      auto keys =
          derive_child_sa_keys(ike_proposal_.algorithms.prf, sk_d_.span(),
                               answer->proposal.algorithms, {}, init_->nonce_i, init_->nonce_r);
      if (!keys) {
        spdlog::warn("{}: CHILD_SA not created: {}", describe(), keys.error().message);
        out.push_back(Payload::of(notify(NotifyType::kNoProposalChosen)));
      } else {
        ChildSaInfo info;
        info.name = answer->child->name;
        info.spi_out = load_be32(answer->proposal.wire.spi.data());
        info.spi_in = env_.host.allocate_spi();
        info.algorithms = answer->proposal.algorithms;
        info.esn = answer->proposal.esn;
        info.local_ts = answer->ts_r;
        info.remote_ts = answer->ts_i;
        info.keys = std::move(*keys);
        info.we_initiated = false;
        answer->proposal.wire.spi.assign(4, 0);
        store_be32(answer->proposal.wire.spi.data(), info.spi_in);
        out.push_back(Payload::of(SaPayload{{answer->proposal.wire}}));
        out.push_back(Payload::of(PayloadType::kTsInitiator, TsPayload{answer->ts_i}));
        out.push_back(Payload::of(PayloadType::kTsResponder, TsPayload{answer->ts_r}));
        child = std::move(info);
      }
    }
  }
  if (conn_->mobike && find_notify(inner, NotifyType::kMobikeSupported) != nullptr) {
    out.push_back(Payload::of(notify(NotifyType::kMobikeSupported)));
    mobike_ = true;
  }
  send_response(request.header, out, true);
  become_established();
  if (child) install_child(std::move(*child));
}

}  // namespace waypost::ike
