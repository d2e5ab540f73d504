#include "ike/ike_sa.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "ike/ike_sa_exchanges.h"

namespace waypost::ike {

namespace {

uint32_t next_unique_id() {
  static uint32_t counter = 0;
  return ++counter;
}

}  // namespace

std::string_view to_string(IkeSaState state) {
  switch (state) {
    case IkeSaState::kCreated:
      return "CREATED";
    case IkeSaState::kConnecting:
      return "CONNECTING";
    case IkeSaState::kEstablished:
      return "ESTABLISHED";
    case IkeSaState::kRekeyed:
      return "REKEYED";
    case IkeSaState::kDeleting:
      return "DELETING";
    case IkeSaState::kDestroying:
      return "DESTROYING";
  }
  return "UNKNOWN";
}

std::pair<const SecretBytes*, const SecretBytes*> ChildSaInfo::inbound_keys() const {
  // KEYMAT's first half protects initiator -> responder traffic.
  if (we_initiated) return {&keys.encryption_r, &keys.integrity_r};
  return {&keys.encryption_i, &keys.integrity_i};
}

std::pair<const SecretBytes*, const SecretBytes*> ChildSaInfo::outbound_keys() const {
  if (we_initiated) return {&keys.encryption_i, &keys.integrity_i};
  return {&keys.encryption_r, &keys.integrity_r};
}

IkeSa::IkeSa(IkeSaEnv env, bool initiator, const Connection& conn, const net::Endpoint& local,
             const net::Endpoint& remote)
    : env_(env),
      initiator_(initiator),
      conn_(&conn),
      local_(local),
      remote_(remote),
      unique_id_(next_unique_id()) {
  original_initiator_ = initiator;
  last_inbound_ = env_.clock.now();
}

IkeSa::~IkeSa() = default;

const std::string& IkeSa::name() const {
  return conn_->name;
}

std::string IkeSa::describe() const {
  return fmt::format("{}[{}]", conn_->name, unique_id_);
}

// --- sending ----------------------------------------------------------------------------------

std::vector<uint8_t> IkeSa::seal(const Header& header, const Payloads& inner) {
  const std::vector<uint8_t> plaintext = serialize_payload_chain(inner);
  const size_t body_size = ciphers_->outbound.body_size(plaintext.size());
  Message m;
  m.header = header;
  m.payloads.push_back(
      Payload::of(EncryptedPayload{first_payload_type(inner), std::vector<uint8_t>(body_size, 0)}));
  std::vector<uint8_t> bytes = serialize(m);
  const std::span<uint8_t> all(bytes);
  const std::span<uint8_t> body = all.last(body_size);
  if (!ciphers_->outbound.encrypt(all.first(all.size() - body_size), plaintext, body)) {
    return {};
  }
  return bytes;
}

namespace {
// IKE message sizes for fragments: 1280 bytes of IP packet (what IPv6 guarantees and most paths
// carry) at first; once a transmission went unanswered, the 576 bytes every IPv4 path carries
// (RFC 7383 2.5.1, 2.5.2), less IP (IPv6: 40), UDP and the non-ESP marker.
constexpr size_t kFragmentMessage = 1280 - 40 - 8 - 4;
constexpr size_t kSmallFragmentMessage = 576 - 20 - 8 - 4;
}  // namespace

std::vector<std::vector<uint8_t>> IkeSa::seal_fragments(const Header& header, const Payloads& inner,
                                                        size_t max_message) {
  const std::vector<uint8_t> plaintext = serialize_payload_chain(inner);
  // The largest share of plaintext whose fragment fits: header (28), SKF header (4 + 4), body.
  constexpr size_t kFixed = 28 + 8;
  size_t share = max_message > kFixed ? max_message - kFixed : 1;
  while (share > 1 && kFixed + ciphers_->outbound.body_size(share) > max_message) --share;
  const size_t total = (plaintext.size() + share - 1) / share;
  std::vector<std::vector<uint8_t>> out;
  if (total == 0 || total > FragmentReassembler::kMaxFragments) return out;
  for (size_t i = 0; i < total; ++i) {
    const std::span<const uint8_t> part = std::span<const uint8_t>(plaintext).subspan(
        i * share, std::min(share, plaintext.size() - i * share));
    const size_t body_size = ciphers_->outbound.body_size(part.size());
    Message m;
    m.header = header;
    m.payloads.push_back(Payload::of(EncryptedFragmentPayload{
        i == 0 ? first_payload_type(inner) : PayloadType::kNone, uint16_t(i + 1), uint16_t(total),
        std::vector<uint8_t>(body_size, 0)}));
    std::vector<uint8_t> bytes = serialize(m);
    const std::span<uint8_t> all(bytes);
    if (!ciphers_->outbound.encrypt(all.first(all.size() - body_size), part, all.last(body_size))) {
      return {};
    }
    out.push_back(std::move(bytes));
  }
  return out;
}

IkeSa::Sealed IkeSa::seal_message(const Header& header, const Payloads& inner) {
  Sealed s;
  s.bytes = seal(header, inner);
  if (fragmentation_ && s.bytes.size() > kFragmentMessage) {
    s.fragments = seal_fragments(header, inner, kFragmentMessage);
    s.header = header;
    s.inner = inner;
  }
  return s;
}

void IkeSa::refragment_small(Sealed& sealed) {
  if (sealed.fragments.empty() || sealed.small) return;
  sealed.small = true;
  auto smaller = seal_fragments(sealed.header, sealed.inner, kSmallFragmentMessage);
  if (!smaller.empty()) {
    spdlog::debug("{}: no answer yet; fragmenting for a 576-byte path ({} fragments)", describe(),
                  smaller.size());
    sealed.fragments = std::move(smaller);
  }
}

void IkeSa::transmit(const Sealed& sealed) {
  if (sealed.fragments.empty()) {
    transmit(sealed.bytes);
    return;
  }
  for (const auto& f : sealed.fragments) transmit(f);
}

Result<Payloads> IkeSa::open(const Message& message, std::span<const uint8_t> raw) {
  if (!ciphers_) return make_error(ErrorKind::kProtocol, "no keys yet");
  if (message.payloads.empty()) return make_error(ErrorKind::kProtocol, "no SK payload");
  if (message.payloads.size() != 1) {
    return make_error(ErrorKind::kProtocol, "payloads outside the SK payload");
  }
  if (const auto* skf = message.payloads.back().get<EncryptedFragmentPayload>()) {
    // Each fragment is authenticated on its own (RFC 7383 2.5), then kept until the message is
    // whole; a fragment of another message replaces an unfinished one.
    auto plaintext = ciphers_->inbound.decrypt(raw.first(raw.size() - skf->body.size()), skf->body);
    if (!plaintext) return plaintext.take_error();
    const bool response = message.header.response;
    if (!reassembly_ || reassembly_->response != response ||
        reassembly_->message_id != message.header.message_id) {
      // Every member given: clang does not default-construct a nested struct with member
      // initializers inside its still-incomplete enclosing class.
      reassembly_ = Reassembly{response, message.header.message_id, FragmentReassembler()};
    }
    auto added = reassembly_->fragments.add(
        {skf->number, skf->total, skf->number == 1 ? skf->first_inner : PayloadType::kNone,
         ByteSpan(*plaintext)});
    if (!added) return added.take_error();
    if (added->status != FragmentStatus::kComplete || !added->message) {
      return make_error(ErrorKind::kOther, "fragment {} of {} stored", skf->number, skf->total);
    }
    const ReassembledChain chain = std::move(*added->message);
    reassembly_.reset();
    return parse_payload_chain(chain.first_inner, chain.chain);
  }
  const auto* sk = message.payloads.back().get<EncryptedPayload>();
  if (sk == nullptr) {
    return make_error(ErrorKind::kProtocol, "unprotected {} message",
                      to_string(message.header.exchange));
  }
  auto plaintext = ciphers_->inbound.decrypt(raw.first(raw.size() - sk->body.size()), sk->body);
  if (!plaintext) return plaintext.take_error();
  return parse_payload_chain(sk->first_inner, *plaintext);
}

void IkeSa::transmit(std::span<const uint8_t> bytes) {
  env_.host.send_ike(local_, remote_, bytes);
}

void IkeSa::transmit_response(const Sealed& sealed) {
  // A response goes back where its request came from (RFC 7296 2.11), which is not where the SA
  // points while a MOBIKE peer probes a new path (RFC 4555 3.5).
  const bool moved = request_from_.valid() && !(request_from_ == remote_);
  if (!moved) {
    transmit(sealed);
    return;
  }
  if (sealed.fragments.empty()) {
    env_.host.send_ike(request_to_, request_from_, sealed.bytes);
    return;
  }
  for (const auto& f : sealed.fragments) env_.host.send_ike(request_to_, request_from_, f);
}

void IkeSa::send_request(ExchangeType exchange, const Payloads& payloads, bool encrypted) {
  Header h;
  h.spi_i = spi_i_;
  h.spi_r = spi_r_;
  h.exchange = exchange;
  h.initiator = initiator_;
  h.response = false;
  h.message_id = next_request_id_;
  Outstanding out;
  out.message_id = next_request_id_;
  out.exchange = exchange;
  if (encrypted) {
    out.sealed = seal_message(h, payloads);
    out.bytes = out.sealed.bytes;
  } else {
    out.bytes = serialize(Message{h, payloads, {}});
    out.sealed.bytes = out.bytes;
  }
  out.sent = 1;
  out.next_at = env_.clock.now() + retransmit_.first;
  // With DPD on, no request of an established SA waits longer than dpd_timeout for its answer:
  // a rekey or a new CHILD_SA sent just before the peer died holds off the liveness check, and
  // would otherwise keep the dead SA for the whole retransmission schedule (about 165 s).
  if (state_ == IkeSaState::kEstablished && conn_->dpd_delay.count() > 0 &&
      conn_->dpd_timeout.count() > 0) {
    out.give_up_at = env_.clock.now() + seconds(conn_->dpd_timeout.count());
  }
  request_ = std::move(out);
  transmit(request_->sealed);
}

void IkeSa::send_response(const Header& request, const Payloads& payloads, bool encrypted) {
  Header h = request;
  h.spi_i = spi_i_;
  h.spi_r = spi_r_;
  h.initiator = initiator_;
  h.response = true;
  h.higher_version = false;
  LastResponse r;
  r.message_id = request.message_id;
  if (encrypted) {
    r.sealed = seal_message(h, payloads);
    r.bytes = r.sealed.bytes;
  } else {
    r.bytes = serialize(Message{h, payloads, {}});
    r.sealed.bytes = r.bytes;
  }
  last_response_ = std::move(r);
  transmit_response(last_response_->sealed);
}

// --- receiving --------------------------------------------------------------------------------

void IkeSa::receive(const Message& message, std::span<const uint8_t> raw,
                    const net::Endpoint& local, const net::Endpoint& remote) {
  if (state_ == IkeSaState::kDestroying) return;
  // The original initiator sets I in every message it sends (RFC 7296 3.1); a message whose I
  // flag says it came from our own role is a reflection, not the peer's.
  if (message.header.initiator == initiator_) return;
  if (message.header.response) {
    handle_response(message, raw);
  } else {
    // Requests may come from a new address (NAT rebinding, the initiator's move to port 4500):
    // answer where they came from. MOBIKE's explicit moves are UPDATE_SA_ADDRESSES.
    if (!initiator_ && state_ != IkeSaState::kEstablished) {
      local_ = local;
      remote_ = remote;
    }
    request_from_ = remote;
    request_to_ = local;
    handle_request(message, raw);
  }
}

void IkeSa::handle_response(const Message& message, std::span<const uint8_t> raw) {
  if (!request_ || message.header.message_id != request_->message_id) return;  // late or forged
  if (message.header.exchange != request_->exchange) return;
  if (request_->exchange == ExchangeType::kIkeSaInit) {
    process_init_response(message, raw);
    return;
  }
  auto inner = open(message, raw);
  if (!inner) {
    spdlog::debug("{}: {} response dropped: {}", describe(), to_string(message.header.exchange),
                  inner.error().message);
    return;
  }
  last_inbound_ = env_.clock.now();
  const ExchangeType exchange = request_->exchange;
  request_.reset();
  ++next_request_id_;
  switch (exchange) {
    case ExchangeType::kIkeAuth:
      process_auth_response(*inner);
      break;
    case ExchangeType::kInformational:
      process_informational_response(*inner);
      break;
    case ExchangeType::kCreateChildSa:
      if (ike_rekey_) {
        process_ike_rekey_response(*inner);
      } else {
        process_create_child_response(*inner);
      }
      break;
    default:
      break;
  }
  // The window is free again (unless the answer sent a request): a pending address update,
  // then the next queued child.
  send_address_update();
  start_queued_child();
}

void IkeSa::handle_request(const Message& message, std::span<const uint8_t> raw) {
  const uint32_t id = message.header.message_id;
  if (last_response_ && id == last_response_->message_id && id + 1 == expected_peer_id_) {
    // A retransmission: the peer did not get our answer. Answer again, byte for byte (once per
    // retransmitted message: for a fragmented one, on its first fragment).
    const auto* skf = message.payloads.empty()
                          ? nullptr
                          : message.payloads.back().get<EncryptedFragmentPayload>();
    if (skf == nullptr || skf->number == 1) {
      // The peer did not get our fragments: smaller ones from now on.
      refragment_small(last_response_->sealed);
      transmit_response(last_response_->sealed);
    }
    return;
  }
  if (id != expected_peer_id_) return;  // outside the window of one (RFC 7296 2.3)
  if (message.header.exchange == ExchangeType::kIkeSaInit) return;  // handled by respond()
  auto inner = open(message, raw);
  if (!inner) {
    // Unauthenticated garbage gets no answer (RFC 7296 2.21.1).
    spdlog::debug("{}: {} request dropped: {}", describe(), to_string(message.header.exchange),
                  inner.error().message);
    return;
  }
  last_inbound_ = env_.clock.now();
  ++expected_peer_id_;
  // A peer behind a NAT whose mapping changed: its authenticated requests say where it is now
  // (RFC 7296 2.23). A MOBIKE peer says so explicitly instead (UPDATE_SA_ADDRESSES).
  if (state_ == IkeSaState::kEstablished && nat_remote_ && !mobike_ && request_from_.valid() &&
      !(request_from_ == remote_)) {
    spdlog::info("{}: the peer's NAT mapping moved from {} to {}", describe(), remote_.to_string(),
                 request_from_.to_string());
    remote_ = request_from_;
    local_ = request_to_;
  }
  switch (message.header.exchange) {
    case ExchangeType::kIkeAuth:
      process_auth_request(message, *inner);
      break;
    case ExchangeType::kInformational:
      process_informational_request(message, *inner);
      break;
    case ExchangeType::kCreateChildSa:
      process_create_child_request(message, *inner);
      break;
    default:
      break;
  }
}

// --- timers -----------------------------------------------------------------------------------

Nanos IkeSa::next_timer() const {
  if (state_ == IkeSaState::kDestroying) return kNever;
  Nanos t = liveness_at_;
  if (state_ == IkeSaState::kConnecting) t = std::min(t, half_open_until_);
  if (state_ == IkeSaState::kEstablished) {
    t = std::min({t, ike_rekey_at_, reauth_at_, expire_at_});
    for (const ChildSaInfo& c : children_) t = std::min({t, c.rekey_at, c.expire_at});
    if (!queued_children_.empty() && !request_ && !rekey_ && !ike_rekey_) {
      t = std::min(t, queued_child_at_);
    }
  }
  if (state_ == IkeSaState::kRekeyed) t = std::min(t, retire_at_);
  if (request_) t = std::min({t, request_->next_at, request_->give_up_at});
  return t;
}

void IkeSa::on_timer() {
  const Nanos now = env_.clock.now();
  if (state_ == IkeSaState::kDestroying) return;
  if (state_ == IkeSaState::kRekeyed && now >= retire_at_) {
    end(IkeSaEnd::kRekeyed, "rekeyed (the peer never deleted the old SA)");
    return;
  }
  if (state_ == IkeSaState::kConnecting && now >= half_open_until_) {
    end(IkeSaEnd::kFailed, "half-open: no IKE_AUTH within 30 s of IKE_SA_INIT");
    return;
  }
  if (request_ && (now >= request_->next_at || now >= request_->give_up_at)) {
    if (request_->sent > retransmit_.tries || now >= request_->give_up_at) {
      const bool liveness = request_->exchange == ExchangeType::kInformational;
      diagnose_no_answer(request_->exchange, request_->sent);
      // An established SA whose peer went silent is a dead peer, whatever the exchange was.
      end(state_ == IkeSaState::kEstablished ? IkeSaEnd::kDeadPeer : IkeSaEnd::kFailed,
          liveness ? "the peer did not answer a liveness check (dead peer)"
                   : fmt::format("no answer to {} after {} tries", to_string(request_->exchange),
                                 request_->sent));
      return;
    }
    refragment_small(request_->sealed);  // unanswered: fragments for the smallest path
    transmit(request_->sealed);
    ++request_->sent;
    // A silent peer takes minutes to give up on; who is waiting for the tunnel should know
    // within seconds that nothing comes back, so the finding is recorded early as well.
    if (request_->sent == kTriesBeforeEarlyDiagnosis &&
        request_->exchange == ExchangeType::kIkeSaInit) {
      diagnose({Cause::kNoAnswer, Side::kPath,
                fmt::format("the peer {} has not answered IKE_SA_INIT ({} tries so far, still "
                            "trying): is UDP 500/4500 reaching it?",
                            remote_.to_string(), request_->sent),
                "Fix: check remote_addrs, that the peer's IKE daemon runs, and that firewalls on "
                "the way and on the peer let UDP 500 and 4500 in."});
    }
    const double factor = std::pow(retransmit_.base, request_->sent - 1);
    request_->next_at = now + Nanos(double(retransmit_.first) * factor);
  }
  if (state_ == IkeSaState::kEstablished && now >= expire_at_) {
    expire_at_ = kNever;
    terminate("hard lifetime reached (nobody rekeyed or reauthenticated it in time)");
    return;
  }
  if (state_ == IkeSaState::kEstablished) {
    // Expired CHILD SAs go (a rekey that kept failing); one due for rekeying is rekeyed when no
    // other exchange is under way.
    for (size_t i = 0; i < children_.size();) {
      if (now >= children_[i].expire_at) {
        const ChildSaInfo gone = std::move(children_[i]);
        children_.erase(children_.begin() + long(i));
        spdlog::info("{}: CHILD_SA {} expired ({:08x}_i)", describe(), gone.name, gone.spi_in);
        env_.host.child_sa_down(*this, gone);
        continue;
      }
      ++i;
    }
    if (now >= reauth_at_) {
      reauth_at_ = kNever;
      spdlog::info("{}: reauthenticating (reauth_time): a new IKE_SA first, then this one goes",
                   describe());
      env_.host.reauth_due(*this);
      if (state_ != IkeSaState::kEstablished) return;
    }
    send_address_update();
    start_queued_child();  // further children before any rekey
    if (now >= ike_rekey_at_ && !request_ && !rekey_ && !ike_rekey_) {
      if (!rekey_ike()) ike_rekey_at_ = now + seconds(1);
    }
    for (ChildSaInfo& c : children_) {
      if (now >= c.rekey_at && !request_ && !rekey_ && !ike_rekey_) {
        if (!rekey_child(c.spi_in)) c.rekey_at = now + seconds(1);
        break;  // rekey_child may have sent; the window of one holds the rest back
      }
    }
  }
  if (now >= liveness_at_) {
    liveness_at_ = kNever;
    if (state_ == IkeSaState::kEstablished && !request_) {
      if (now - last_inbound_ >= seconds(conn_->dpd_delay.count())) {
        send_liveness_check();
      }
    }
    schedule_liveness();
  }
}

void IkeSa::schedule_liveness() {
  if (state_ != IkeSaState::kEstablished || conn_->dpd_delay.count() <= 0) return;
  liveness_at_ = std::max(last_inbound_, env_.clock.now() - seconds(conn_->dpd_delay.count())) +
                 seconds(conn_->dpd_delay.count());
  if (liveness_at_ <= env_.clock.now()) liveness_at_ = env_.clock.now() + seconds(1);
}

// --- life and death ---------------------------------------------------------------------------

void IkeSa::diagnose_no_answer(ExchangeType exchange, int tries) {
  if (state_ == IkeSaState::kEstablished) {
    diagnose({Cause::kDeadPeer, Side::kPath,
              fmt::format("the peer {} stopped answering ({} unanswered after {} tries): it is "
                          "down, or UDP {} no longer reaches it.",
                          remote_.to_string(), to_string(exchange), tries, remote_.port()),
              "Fix: check that the peer runs and that nothing on the way drops UDP 500/4500; "
              "dpd_action = restart (or start_action = trap) brings the tunnel back by itself."});
  } else if (exchange == ExchangeType::kIkeSaInit) {
    diagnose({Cause::kNoAnswer, Side::kPath,
              fmt::format("the peer {} did not answer IKE_SA_INIT ({} tries): is UDP 500/4500 "
                          "reaching it?",
                          remote_.to_string(), tries),
              "Fix: check remote_addrs, that the peer's IKE daemon runs, and that firewalls on "
              "the way and on the peer let UDP 500 and 4500 in."});
  } else if (exchange == ExchangeType::kIkeAuth) {
    diagnose({Cause::kNoAnswer, Side::kPath,
              fmt::format("the peer {} answered IKE_SA_INIT but not IKE_AUTH ({} tries): large "
                          "IKE_AUTH messages (certificates) are often lost as IP fragments.",
                          remote_.to_string(), tries),
              "Fix: fragmentation = yes on both sides (IKEv2 fragmentation, RFC 7383), or allow "
              "IP fragments of UDP 4500 on the way."});
  }
}

void IkeSa::diagnose(Diagnosis d) {
  const ScopedLogFields fields(log_fields());
  spdlog::warn("{}: {} {}", describe(), d.sentence, d.fix);
  env_.host.diagnosed(*this, d);
}

LogFields IkeSa::log_fields() const {
  return {{}, remote_id_text_, "ikev2", remote_.to_string()};
}

void IkeSa::become_established() {
  const ScopedLogFields fields(log_fields());
  state_ = IkeSaState::kEstablished;
  established_at_ = env_.clock.now();
  init_.reset();
  spdlog::info("{}: IKE_SA established between {}[{}]...{}[{}]", describe(), local_.to_string(),
               local_id_text_, remote_.to_string(), remote_id_text_);
  schedule_liveness();
  schedule_ike_rekey();
  // Reauthentication is started by the side that can reach the other: ours if we initiated.
  if (initiator_ && conn_->reauth_time.count() > 0) {
    const int64_t rand = conn_->rand_time.count();
    const int64_t jitter = rand > 0 ? int64_t(env_.random.below(uint64_t(rand) + 1)) : 0;
    reauth_at_ =
        env_.clock.now() + seconds(std::max<int64_t>(1, conn_->reauth_time.count() - jitter));
  }
  schedule_hard_expiry();
}

void IkeSa::schedule_hard_expiry() {
  // strongSwan's rule: over_time after the longer of rekey_time and reauth_time. With neither,
  // strongSwan has no hard lifetime; Waypost then takes a non-zero over_time (only ever written
  // explicitly: its default is 10% of 0) as the lifetime itself, which is how a responder that
  // leaves rekeying to its clients still bounds an SA's life (the server's 12 h).
  const int64_t soft = std::max(conn_->rekey_time.count(), conn_->reauth_time.count());
  const int64_t over = conn_->over_time.count();
  if (over <= 0) {
    expire_at_ = kNever;
    return;
  }
  expire_at_ = env_.clock.now() + seconds(soft + over);
}

void IkeSa::fail(std::string reason) {
  const ScopedLogFields fields(log_fields());
  spdlog::warn("{}: {}", describe(), reason);
  failure_ = std::move(reason);
  end(IkeSaEnd::kFailed, failure_);
}

void IkeSa::end(IkeSaEnd cause, std::string_view reason) {
  if (end_ == IkeSaEnd::kNone) end_ = cause;
  destroy(reason);
}

void IkeSa::destroy(std::string_view reason) {
  if (state_ == IkeSaState::kDestroying) return;
  const ScopedLogFields fields(log_fields());
  spdlog::info("{}: IKE_SA gone: {}", describe(), reason);
  state_ = IkeSaState::kDestroying;
  request_.reset();
  liveness_at_ = kNever;
  for (const ChildSaInfo& child : children_) {
    ended_with_.push_back(child.name);
    env_.host.child_sa_down(*this, child);
  }
  children_.clear();
  if (failure_.empty()) failure_ = std::string(reason);
  env_.host.ike_sa_down(*this, reason);
}

void IkeSa::terminate(std::string_view reason) {
  if (state_ == IkeSaState::kDestroying) return;
  if (end_ == IkeSaEnd::kNone) end_ = IkeSaEnd::kLocal;
  if (state_ != IkeSaState::kEstablished || !ciphers_) {
    destroy(reason);
    return;
  }
  spdlog::info("{}: deleting IKE_SA ({})", describe(), reason);
  state_ = IkeSaState::kDeleting;
  failure_ = std::string(reason);
  DeletePayload d;
  d.protocol = ProtocolId::kIke;
  request_.reset();  // a pending exchange is moot once the SA goes
  send_request(ExchangeType::kInformational, {Payload::of(d)}, true);
  // A delete is not retried for long: the SA goes either way.
  request_->give_up_at = env_.clock.now() + seconds(10);
}

}  // namespace waypost::ike
