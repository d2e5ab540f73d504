#include "ike/ike_manager.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace waypost::ike {

namespace {

bool address_fits(const std::vector<AddressSpec>& specs, const net::IpAddress& ip) {
  if (specs.empty()) return true;
  return std::any_of(specs.begin(), specs.end(), [&](const AddressSpec& s) {
    switch (s.kind) {
      case AddressSpec::Kind::kAny:
        return !s.family || *s.family == ip.family;
      case AddressSpec::Kind::kRange:
        return s.range.contains(ip);
      case AddressSpec::Kind::kHostname:
        return true;  // resolved when initiating; as a responder, a name accepts any address
    }
    return false;
  });
}

}  // namespace

IkeManager::IkeManager(const Clock& clock, crypto::Random& random, IkeManagerHost& host,
                       const IpsecConfig& config, HalfOpenLimits limits)
    : clock_(clock),
      random_(random),
      host_(host),
      config_(config),
      limits_(limits),
      cookies_(clock, random) {}

size_t IkeManager::half_open() const {
  return size_t(std::count_if(sas_.begin(), sas_.end(), [](const auto& sa) {
    return !sa->initiator() && sa->state() == IkeSaState::kConnecting;
  }));
}

bool IkeManager::admit(const Message& request, const net::Endpoint& local,
                       const net::Endpoint& remote) {
  const size_t n = half_open();
  if (n >= limits_.max_half_open) {
    ++counters_.half_open_full;
    return false;
  }
  if (n < limits_.cookie_threshold) return true;
  const auto* nonce = find_body<NoncePayload>(request.payloads);
  if (nonce == nullptr) return false;  // not a request worth an answer
  // RFC 7296 2.6: the COOKIE comes back as the first payload.
  if (!request.payloads.empty()) {
    const auto* first = request.payloads.front().get<NotifyPayload>();
    if (first != nullptr && first->type == NotifyType::kCookie &&
        cookies_.verify(first->data, nonce->nonce, remote.ip(), request.header.spi_i)) {
      return true;
    }
  }
  Header h = request.header;
  h.spi_r = 0;
  h.response = true;
  h.initiator = false;
  h.higher_version = false;
  NotifyPayload cookie{kNoProtocol,
                       {},
                       NotifyType::kCookie,
                       cookies_.make(nonce->nonce, remote.ip(), request.header.spi_i)};
  const std::vector<uint8_t> bytes = serialize(Message{h, {Payload::of(std::move(cookie))}, {}});
  ++counters_.cookies_sent;
  host_.send_ike(local, remote, bytes);
  return false;
}

IkeManager::~IkeManager() = default;

std::vector<const Connection*> IkeManager::candidates(const net::Endpoint& local,
                                                      const net::Endpoint& remote) const {
  std::vector<const Connection*> out;
  for (const Connection& c : config_.connections) {
    if (c.retired) continue;
    if (address_fits(c.local_addrs, local.ip()) && address_fits(c.remote_addrs, remote.ip())) {
      out.push_back(&c);
    }
  }
  return out;
}

IkeSa* IkeManager::find(const Header& h, const net::Endpoint& remote) {
  for (const auto& sa : sas_) {
    if (sa->state() == IkeSaState::kDestroying || sa->spi_i() != h.spi_i) continue;
    // Our SPI identifies the SA: SPIr for SAs we answered, SPIi for those we started. A
    // retransmitted IKE_SA_INIT request still has SPIr zero: the same initiator SPI from the same
    // address is the SA already made for it.
    if (sa->initiator()) {
      // Until the IKE_SA_INIT response arrives we do not know the responder's SPI.
      if (sa->spi_r() == 0 || h.spi_r == sa->spi_r()) return sa.get();
      continue;
    }
    if (h.spi_r == sa->spi_r()) return sa.get();
    if (h.spi_r == 0 && h.exchange == ExchangeType::kIkeSaInit && sa->remote() == remote) {
      return sa.get();
    }
  }
  return nullptr;
}

void IkeManager::receive(std::span<const uint8_t> message, const net::Endpoint& local,
                         const net::Endpoint& remote) {
  auto parsed = parse_message(message);
  if (!parsed) {
    ++counters_.malformed;
    spdlog::debug("IKE message from {} dropped: {}", remote.to_string(), parsed.error().message);
    if (error_notify(parsed.error()) == NotifyType::kInvalidMajorVersion && message.size() > 17 &&
        (message[17] >> 4) == 1) {
      diagnose_ikev1(local, remote);
    }
    return;
  }
  const Header& h = parsed->header;
  if (IkeSa* sa = find(h, remote)) {
    // This includes a retransmitted IKE_SA_INIT request, answered from the stored response.
    sa->receive(*parsed, message, local, remote);
    sweep();
    return;
  }
  if (h.exchange != ExchangeType::kIkeSaInit || h.response || h.spi_r != 0 || !h.initiator) {
    ++counters_.unknown_sa;
    spdlog::debug("IKE message from {} for no SA of ours ({:016x}_i {:016x}_r)", remote.to_string(),
                  h.spi_i, h.spi_r);
    return;
  }
  std::vector<const Connection*> fit = candidates(local, remote);
  if (fit.empty()) {
    ++counters_.no_connection;
    spdlog::info("IKE_SA_INIT from {} to {}: no connection's addresses fit", remote.to_string(),
                 local.to_string());
    return;
  }
  if (!admit(*parsed, local, remote)) return;
  auto sa = IkeSa::respond({clock_, random_, *this, config_}, std::move(fit), *parsed, message,
                           local, remote);
  if (sa) sas_.push_back(std::move(sa));
  sweep();
}

void IkeManager::diagnose_ikev1(const net::Endpoint& local, const net::Endpoint& remote) {
  const Nanos now = clock_.now();
  auto [it, added] = ikev1_said_.try_emplace(remote.ip(), now);
  if (!added && now - it->second < seconds(60)) return;
  it->second = now;
  if (ikev1_said_.size() > 1024) ikev1_said_.clear();  // bounded, whatever the senders
  const Diagnosis d{
      Cause::kIkeV1Peer, Side::kPeer,
      fmt::format("the peer {} speaks IKEv1 (ISAKMP main or aggressive mode); Waypost speaks "
                  "only IKEv2, so it does not answer.",
                  remote.to_string()),
      "Fix: switch the peer to IKEv2 (strongSwan: keyexchange=ikev2 or version = 2; "
      "Libreswan: ikev2=insist; pfSense and other gateways: key exchange version IKEv2)."};
  spdlog::warn("{} {}", d.sentence, d.fix);
  for (const Connection* c : candidates(local, remote)) host_.diagnosed_without_sa(*c, remote, d);
}

Result<IkeSa*> IkeManager::initiate(const std::string& conn, const std::string& child,
                                    const net::Endpoint& local, const net::Endpoint& remote) {
  if (child.empty()) return initiate_children(conn, {}, local, remote);
  return initiate_children(conn, std::span<const std::string>(&child, 1), local, remote);
}

Result<std::pair<const Connection*, std::vector<const Child*>>> IkeManager::resolve_children(
    const std::string& conn, std::span<const std::string> children) const {
  auto c = std::find_if(config_.connections.begin(), config_.connections.end(),
                        [&](const Connection& x) { return x.name == conn && !x.retired; });
  if (c == config_.connections.end()) {
    return make_error(ErrorKind::kNotFound, "no connection named '{}'", conn);
  }
  // Every name is checked before anything is sent.
  std::vector<const Child*> wanted;
  for (const std::string& name : children) {
    auto ch = std::find_if(c->children.begin(), c->children.end(),
                           [&](const Child& x) { return x.name == name; });
    if (ch == c->children.end()) {
      return make_error(ErrorKind::kNotFound, "connection '{}' has no child '{}'", conn, name);
    }
    if (std::find(wanted.begin(), wanted.end(), &*ch) == wanted.end()) wanted.push_back(&*ch);
  }
  if (wanted.empty() && !c->children.empty()) wanted.push_back(&c->children.front());
  return std::make_pair(&*c, std::move(wanted));
}

Result<IkeSa*> IkeManager::initiate_children(const std::string& conn,
                                             std::span<const std::string> children,
                                             const net::Endpoint& local,
                                             const net::Endpoint& remote) {
  auto resolved = resolve_children(conn, children);
  if (!resolved) return resolved.take_error();
  const auto& [c, wanted] = *resolved;
  const Child* first = wanted.empty() ? nullptr : wanted.front();
  auto sa = IkeSa::initiate({clock_, random_, *this, config_}, *c, first, local, remote);
  if (!sa) return sa.take_error();
  for (size_t i = 1; i < wanted.size(); ++i) (*sa)->add_child(*wanted[i]);
  sas_.push_back(std::move(*sa));
  IkeSa* raw = sas_.back().get();
  sweep();
  return raw;
}

Result<IkeSa*> IkeManager::add_children(const std::string& conn,
                                        std::span<const std::string> children) {
  auto resolved = resolve_children(conn, children);
  if (!resolved) return resolved.take_error();
  const auto& [c, wanted] = *resolved;
  // The newest established SA, else the newest one coming up; never one on its way out, nor a
  // reauthentication's old SA (its successor is the one to use).
  IkeSa* best = nullptr;
  for (const auto& sa : sas_) {
    if (sa->name() != c->name) continue;
    const IkeSaState st = sa->state();
    if (st != IkeSaState::kEstablished && st != IkeSaState::kConnecting) continue;
    const bool replaced = std::any_of(reauth_of_.begin(), reauth_of_.end(),
                                      [&](const auto& r) { return r.second == sa->unique_id(); });
    if (replaced) continue;
    if (best == nullptr || st == IkeSaState::kEstablished ||
        best->state() != IkeSaState::kEstablished) {
      best = sa.get();
    }
  }
  if (best == nullptr) return static_cast<IkeSa*>(nullptr);
  for (const Child* ch : wanted) {
    if (best->has_or_wants_child(ch->name)) {
      spdlog::info("{}: CHILD_SA {} is already up or on its way", best->describe(), ch->name);
      continue;
    }
    spdlog::info("{}: adding CHILD_SA {} to this IKE_SA", best->describe(), ch->name);
    best->add_child(*ch);
  }
  sweep();
  return best;
}

size_t IkeManager::roam(
    const std::function<std::optional<net::IpAddress>(const net::IpAddress&)>& local_toward) {
  size_t moved = 0;
  for (const auto& sa : sas_) {
    if (sa->state() != IkeSaState::kEstablished || !sa->mobike() || !sa->original_initiator()) {
      continue;
    }
    const std::optional<net::IpAddress> now = local_toward(sa->remote().ip());
    if (!now || *now == sa->local().ip()) continue;
    if (!address_fits(sa->connection().local_addrs, *now)) {
      spdlog::info("{}: this host reaches the peer from {} now, which local_addrs does not allow",
                   sa->describe(), now->to_string());
      continue;
    }
    if (sa->move_local(*now)) ++moved;
  }
  sweep();
  return moved;
}

size_t IkeManager::terminate_matching(const std::function<bool(const IkeSa&)>& match,
                                      std::string_view reason) {
  size_t n = 0;
  for (const auto& sa : sas_) {
    if (match(*sa) && sa->state() != IkeSaState::kDestroying) {
      sa->terminate(reason);
      ++n;
    }
  }
  sweep();
  return n;
}

size_t IkeManager::terminate(const std::string& conn, std::string_view reason) {
  return terminate_matching([&](const IkeSa& sa) { return sa.name() == conn; }, reason);
}

size_t IkeManager::terminate_remote(const std::string& remote_id, std::string_view reason) {
  return terminate_matching([&](const IkeSa& sa) { return sa.remote_id() == remote_id; }, reason);
}

Nanos IkeManager::next_timer() const {
  Nanos t = kNever;
  for (const auto& sa : sas_) t = std::min(t, sa->next_timer());
  return t;
}

void IkeManager::on_timer() {
  const Nanos now = clock_.now();
  // SAs' timers neither add nor remove SAs (removal waits for sweep()), so the walk is safe.
  for (const auto& sa : sas_) {
    if (sa->next_timer() <= now) sa->on_timer();
  }
  sweep();
}

void IkeManager::sweep() {
  std::erase_if(sas_, [](const auto& sa) { return sa->state() == IkeSaState::kDestroying; });
  for (auto& s : successors_) sas_.push_back(std::move(s));
  successors_.clear();
}

void IkeManager::ike_sa_rekeyed(IkeSa& /*old*/, std::unique_ptr<IkeSa> successor) {
  successors_.push_back(std::move(successor));
}

void IkeManager::send_ike(const net::Endpoint& local, const net::Endpoint& remote,
                          std::span<const uint8_t> message) {
  host_.send_ike(local, remote, message);
}

uint32_t IkeManager::allocate_spi() {
  return host_.allocate_spi();
}

std::optional<net::IpAddress> IkeManager::lease_address(const Pool& pool,
                                                        const std::string& peer_id,
                                                        net::Family family) {
  return host_.lease_address(pool, peer_id, family);
}

void IkeManager::child_sa_up(IkeSa& ike, const ChildSaInfo& child) {
  host_.child_sa_up(ike, child);
}

void IkeManager::child_sa_down(IkeSa& ike, const ChildSaInfo& child) {
  host_.child_sa_down(ike, child);
}

void IkeManager::ike_sa_down(IkeSa& ike, std::string_view reason) {
  reauth_of_.erase(ike.unique_id());
  host_.ike_sa_down(ike, reason);
}

void IkeManager::reauth_due(IkeSa& ike) {
  const Connection& c = ike.connection();
  // The new SA carries every child the old one does (none: the connection's first).
  const std::vector<std::string> children = ike.child_names();
  const net::Endpoint remote = net::Endpoint::from(ike.remote().ip(), c.remote_port);
  const net::Endpoint local = net::Endpoint::from(ike.local().ip(), c.local_port);
  auto fresh = initiate_children(c.name, children, local, remote);
  if (!fresh) {
    spdlog::warn("{}: reauthentication not started: {}", ike.describe(), fresh.error().message);
    return;
  }
  (*fresh)->set_initial_contact(false);
  reauth_of_[(*fresh)->unique_id()] = ike.unique_id();
}

bool IkeManager::admit_peer(IkeSa& ike, bool initial_contact) {
  // A reauthentication's new SA is up: the old one goes (its CHILD SAs after the new ones are
  // installed, since the DELETE takes a round trip).
  if (auto it = reauth_of_.find(ike.unique_id()); it != reauth_of_.end()) {
    for (const auto& other : sas_) {
      if (other->unique_id() == it->second && other->state() == IkeSaState::kEstablished) {
        other->terminate(fmt::format("reauthenticated as {}", ike.describe()));
      }
    }
    reauth_of_.erase(it);
  }
  const Unique unique = ike.connection().unique;
  if (unique == Unique::kNever) return true;  // several SAs per identity, INITIAL_CONTACT ignored
  auto same_peer = [&](const IkeSa& other) {
    return &other != &ike && other.state() == IkeSaState::kEstablished &&
           other.name() == ike.name() && other.remote_id() == ike.remote_id();
  };
  if (unique == Unique::kKeep) {
    for (const auto& other : sas_) {
      if (same_peer(*other)) {
        spdlog::warn("{}: unique = keep: {} already holds an IKE_SA of '{}'; refusing the new one",
                     ike.describe(), other->describe(), ike.remote_id());
        return false;
      }
    }
    return true;
  }
  for (const auto& other : sas_) {
    if (!same_peer(*other)) continue;
    if (initial_contact) {
      // The peer restarted: its old SAs are stale, and it would not answer a DELETE for them.
      other->abandon(fmt::format("INITIAL_CONTACT from '{}' in {}: the peer restarted",
                                 ike.remote_id(), ike.describe()));
    } else if (unique == Unique::kReplace) {
      other->terminate(fmt::format("unique = replace: {} of '{}' takes its place", ike.describe(),
                                   ike.remote_id()));
    }
  }
  return true;
}

}  // namespace waypost::ike
