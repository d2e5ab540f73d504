// What keeps an instance's tunnels up: start_action (start, trap), dpd_action and close_action
// (restart, trap), keyingtries with back-off, and `initiate` itself. A connection's start
// children share one IKE SA, and whatever brings it back brings back all the children it had.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "ike/credentials.h"
#include "ipsec/endpoints.h"
#include "ipsec/instance.h"
#include "ipsec/local_address.h"
#include "ipsec/range_prefixes.h"

namespace waypost::ipsec {

void Instance::install_trap(const ike::Connection& conn, const ike::Child& child) {
  if (find_trap(conn.name, child.name) != nullptr) return;
  std::vector<net::Prefix> remote;
  for (const auto& ts : child.remote_ts) {
    if (ts.dynamic) continue;  // the peer's address or virtual IP: unknown until it connects
    for (const auto& p : range_to_prefixes(ts.range.first, ts.range.last)) remote.push_back(p);
  }
  if (remote.empty()) {
    spdlog::warn("{}: child {} cannot be trapped: its remote_ts names no subnet", conn.name,
                 child.name);
    return;
  }
  traps_.push_back(std::make_unique<Trap>(
      conn.name, child.name, std::move(remote), options_.mtu, [this](Trap& t) {
        spdlog::info("{}: trap: a packet for child {}; initiating", t.conn(), t.child());
        if (auto r = initiate(t.conn(), t.child()); !r) {
          spdlog::error("{}: {}", t.conn(), r.error().message);
          t.drop_queued();
          t.initiation_done();
        }
      }));
  spdlog::info("{}: child {} trapped: the first packet to its remote subnet starts it", conn.name,
               child.name);
  rebuild_routing_table();
  dirty_ = true;
}

Trap* Instance::find_trap(const std::string& conn, const std::string& child) {
  for (auto& t : traps_) {
    if (t->conn() == conn && (child.empty() || t->child() == child)) return t.get();
  }
  return nullptr;
}

void Instance::initiate_start_children() {
  for (const auto& c : options_.config.connections) {
    if (!c.retired) start_connection(c);
  }
}

void Instance::start_connection(const ike::Connection& c) {
  std::vector<std::string> start;
  for (const auto& ch : c.children) {
    if (ch.start_action == ike::ChildAction::kTrap) install_trap(c, ch);
    if (ch.start_action == ike::ChildAction::kStart) start.push_back(ch.name);
  }
  // One IKE SA carries them all, as strongSwan does: the first child in IKE_AUTH, the others
  // each with a CREATE_CHILD_SA once the IKE SA is up.
  if (start.empty()) return;
  if (auto r = initiate_children(c.name, start); !r) {
    spdlog::error("{}: cannot start: {}", c.name, r.error().message);
  }
}

void Instance::stop_connection(const std::string& name, std::string_view why) {
  for (auto it = pending_initiations_.begin(); it != pending_initiations_.end();) {
    it = it->second.first == name ? pending_initiations_.erase(it) : std::next(it);
  }
  failed_tries_.erase(name);
  const size_t n = manager_->terminate(name, why);
  const size_t before = traps_.size();
  std::erase_if(traps_, [&](const std::unique_ptr<Trap>& t) { return t->conn() == name; });
  if (traps_.size() != before) rebuild_routing_table();
  if (n > 0 || traps_.size() != before) {
    spdlog::info("{}: {} IKE SA(s) deleted, {} trap(s) removed ({})", name, n,
                 before - traps_.size(), why);
  }
  dirty_ = true;
}

bool Instance::initiation_complete(const ike::IkeSa& sa, const std::vector<std::string>& children) {
  auto installed = [&](const std::string& name) {
    return std::any_of(sa.children().begin(), sa.children().end(),
                       [&](const ike::ChildSaInfo& c) { return c.name == name; });
  };
  if (children.empty()) return !sa.children().empty();
  return std::all_of(children.begin(), children.end(), installed);
}

Result<uint32_t> Instance::initiate(const std::string& conn, const std::string& child) {
  if (child.empty()) return initiate_children(conn, {});
  return initiate_children(conn, {child});
}

Result<uint32_t> Instance::initiate_children(const std::string& conn,
                                             const std::vector<std::string>& children) {
  auto c = std::find_if(options_.config.connections.begin(), options_.config.connections.end(),
                        [&](const ike::Connection& x) { return x.name == conn && !x.retired; });
  if (c == options_.config.connections.end()) {
    return make_error(ErrorKind::kNotFound, "no connection named '{}'", conn);
  }
  // An IKE SA of the connection that is up (or coming up) carries the children too, each with a
  // CREATE_CHILD_SA: a trap that fires or an `initiate --child` beside a running child does not
  // make a second IKE SA to the same peer.
  auto existing = manager_->add_children(conn, children);
  if (!existing) return existing.take_error();
  if (*existing != nullptr) {
    const ike::IkeSa& sa = **existing;
    Initiation in{conn, children, "pending", ""};
    if (in.children.empty() && !c->children.empty()) {
      in.children.push_back(c->children.front().name);
    }
    if (initiation_complete(sa, in.children)) in.state = "up";
    initiations_[sa.unique_id()] = std::move(in);
    dirty_ = true;
    return sa.unique_id();
  }
  auto remote_ip = remote_address(*c);
  if (!remote_ip) return remote_ip.take_error();
  std::optional<net::IpAddress> local_ip;
  for (const auto& spec : c->local_addrs) {
    if (spec.kind == ike::AddressSpec::Kind::kRange && spec.range.first == spec.range.last &&
        spec.range.first.family == remote_ip->family) {
      local_ip = spec.range.first;
      break;
    }
  }
  if (!local_ip) local_ip = local_toward(*remote_ip);
  if (!local_ip) {
    return make_error("{}: no route to {}", conn, remote_ip->to_string());
  }
  auto sa =
      manager_->initiate_children(conn, children, net::Endpoint::from(*local_ip, c->local_port),
                                  net::Endpoint::from(*remote_ip, c->remote_port));
  if (!sa) return sa.take_error();
  dirty_ = true;
  const uint32_t id = (*sa)->unique_id();
  initiations_[id] = {conn, children, "pending", ""};
  // Finished initiations are kept for a while for the CLI to read; a bound keeps them few.
  while (initiations_.size() > 256) initiations_.erase(initiations_.begin());
  return id;
}

void Instance::schedule_initiation(const std::string& conn, std::vector<std::string> children,
                                   Nanos delay, std::string_view why) {
  for (const auto& [when, p] : pending_initiations_) {
    if (p.first == conn) return;  // one pending initiation per connection
  }
  spdlog::info("{}: initiating again in {} ms ({})", conn, delay / kNanosPerMilli, why);
  pending_initiations_.emplace(clock_.now() + delay, std::make_pair(conn, std::move(children)));
}

void Instance::after_ike_sa_end(const ike::IkeSa& ike) {
  if (stopping_ || ike.rekeyed()) return;
  const ike::Connection& c = ike.connection();
  if (!remote_address(c)) return;  // nobody to initiate to (a responder-only connection)
  const ike::IkeSaEnd end = ike.end_cause();
  // The children the SA carried (or was to carry); one that had none is judged by all of the
  // connection's children, as before there was more than one per IKE SA.
  const std::vector<std::string> had = ike.child_names();
  auto carried = [&](const ike::Child& ch) {
    return had.empty() || std::find(had.begin(), had.end(), ch.name) != had.end();
  };
  // What to bring back, as each child's dpd_action / close_action says: those to restart come
  // back together on one new IKE SA.
  std::vector<std::string> restart;
  std::string_view why;
  for (const ike::Child& ch : c.children) {
    if (!carried(ch)) continue;
    if (end == ike::IkeSaEnd::kDeadPeer && ch.dpd_action == ike::DpdAction::kRestart) {
      restart.push_back(ch.name);
      why = "dpd_action = restart: the peer stopped answering";
    } else if (end == ike::IkeSaEnd::kPeerDeleted && ch.close_action == ike::ChildAction::kStart) {
      restart.push_back(ch.name);
      why = "close_action = start: the peer closed it";
    } else if ((end == ike::IkeSaEnd::kDeadPeer && ch.dpd_action == ike::DpdAction::kTrap) ||
               (end == ike::IkeSaEnd::kPeerDeleted && ch.close_action == ike::ChildAction::kTrap)) {
      install_trap(c, ch);
    }
  }
  if (!restart.empty()) {
    schedule_initiation(c.name, std::move(restart), 0, why);
    return;
  }
  // An initiation that failed is retried keyingtries times in all (0: forever), backing off
  // from 1 s to a minute so that a peer that is down is not hammered.
  if (end != ike::IkeSaEnd::kFailed || !ike.initiator() || ike.established_at() != 0) return;
  const unsigned tries = ++failed_tries_[c.name];
  if (c.keyingtries != 0 && tries >= c.keyingtries) {
    if (c.keyingtries > 1) {
      spdlog::warn("{}: giving up after {} tries (keyingtries = {})", c.name, tries, c.keyingtries);
    }
    failed_tries_.erase(c.name);
    return;
  }
  const Nanos backoff = std::min<Nanos>(seconds(60), seconds(1) << std::min(tries - 1, 6u));
  const Nanos jitter = Nanos(random_.u32() % 1000) * kNanosPerMilli / 4;
  // The retry asks for what the failed attempt asked for: every start child, say.
  schedule_initiation(
      c.name, had, backoff + jitter,
      fmt::format("try {} of {} failed", tries,
                  c.keyingtries == 0 ? std::string("unlimited") : std::to_string(c.keyingtries)));
}

Status Instance::reload_credentials() {
  if (options_.credentials_dir.empty()) {
    return make_error("this instance has no credentials directory to reload from");
  }
  auto creds = ike::Credentials::load(options_.config, options_.credentials_dir);
  if (!creds) return creds.take_error();
  // Authentications read the credentials through this pointer between events only, so the old
  // set can go now.
  options_.config.credentials = std::move(*creds);
  spdlog::info("certificates, keys and CRLs reloaded from {}", options_.credentials_dir);
  return {};
}

}  // namespace waypost::ipsec
