// What the control socket answers: status (IKE and CHILD SAs, like swanctl --list-sas),
// list-conns (the loaded connections, like swanctl --list-conns), the recent log, and the
// commands that change something (initiate, terminate, down), which need root.
#include <fmt/format.h>

#include "ike/proposals.h"
#include "ike/ts_narrowing.h"
#include "ipsec/instance.h"

namespace waypost::ipsec {

namespace {

int64_t whole_seconds(Nanos n) {
  return n / kNanosPerSecond;
}

std::string algorithms_text(const ike::NegotiatedAlgorithms& a, ike::DhGroup group, bool ike) {
  using ike::TransformSpec;
  using ike::TransformType;
  std::vector<std::string> parts;
  const bool has_key_length = a.encryption != ike::EncryptionId::kChaCha20Poly1305;
  parts.push_back(
      ike::transform_name(TransformSpec{TransformType::kEncryption, uint16_t(a.encryption),
                                        uint16_t(has_key_length ? a.key_bits : 0)}));
  if (a.integrity != ike::IntegrityId::kNone) {
    parts.push_back(
        ike::transform_name(TransformSpec{TransformType::kIntegrity, uint16_t(a.integrity), 0}));
  }
  if (ike) {
    parts.push_back(ike::transform_name(TransformSpec{TransformType::kPrf, uint16_t(a.prf), 0}));
  }
  if (group != ike::DhGroup::kNone) {
    parts.push_back(
        ike::transform_name(TransformSpec{TransformType::kKeyExchange, uint16_t(group), 0}));
  }
  return fmt::format("{}", fmt::join(parts, "-"));
}

nlohmann::json ts_list(const std::vector<ike::TrafficSelector>& list) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& ts : list) out.push_back(ike::to_string(ts));
  return out;
}

nlohmann::json ip_list(const std::vector<net::IpAddress>& list) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : list) out.push_back(a.to_string());
  return out;
}

std::string_view action_name(ike::ChildAction a) {
  switch (a) {
    case ike::ChildAction::kNone:
      return "none";
    case ike::ChildAction::kTrap:
      return "trap";
    case ike::ChildAction::kStart:
      return "start";
  }
  return "none";
}

std::string_view dpd_action_name(ike::DpdAction a) {
  switch (a) {
    case ike::DpdAction::kClear:
      return "clear";
    case ike::DpdAction::kTrap:
      return "trap";
    case ike::DpdAction::kRestart:
      return "restart";
  }
  return "clear";
}

std::string_view unique_name(ike::Unique u) {
  switch (u) {
    case ike::Unique::kNo:
      return "no";
    case ike::Unique::kNever:
      return "never";
    case ike::Unique::kReplace:
      return "replace";
    case ike::Unique::kKeep:
      return "keep";
  }
  return "no";
}

nlohmann::json rounds_json(const std::vector<ike::AuthRound>& rounds) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rounds) {
    nlohmann::json j;
    j["auth"] = r.auth == ike::AuthClass::kPsk ? "psk" : "pubkey";
    j["id"] = r.id.any ? "%any" : r.id.text;
    j["certs"] = r.certs;
    j["cacerts"] = r.cacerts;
    out.push_back(std::move(j));
  }
  return out;
}

nlohmann::json address_specs(const std::vector<ike::AddressSpec>& specs) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : specs) out.push_back(s.text.empty() ? "%any" : s.text);
  if (out.empty()) out.push_back("%any");
  return out;
}

nlohmann::json ts_specs(const std::vector<ike::TrafficSelectorSpec>& specs) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : specs) out.push_back(s.text);
  if (out.empty()) out.push_back("dynamic");
  return out;
}

}  // namespace

nlohmann::json Instance::status_json() const {
  const Nanos now = clock_.now();
  nlohmann::json sas = nlohmann::json::array();
  for (const auto& sa : manager_->sas()) {
    nlohmann::json j;
    j["name"] = sa->name();
    j["uniqueid"] = sa->unique_id();
    j["state"] = std::string(ike::to_string(sa->state()));
    j["initiator"] = sa->initiator();
    j["local_addr"] = sa->local().ip().to_string();
    j["local_port"] = sa->local().port();
    j["remote_addr"] = sa->remote().ip().to_string();
    j["remote_port"] = sa->remote().port();
    j["local_id"] = sa->local_id();
    j["remote_id"] = sa->remote_id();
    j["initiator_spi"] = fmt::format("{:016x}", sa->spi_i());
    j["responder_spi"] = fmt::format("{:016x}", sa->spi_r());
    // ESP is always in UDP here (the kernel has no ESP); NAT is reported on its own.
    j["encap"] = true;
    j["nat_local"] = sa->behind_nat();
    j["nat_remote"] = sa->nat_detected() && !sa->behind_nat();
    j["virtual_ips"] = ip_list(sa->virtual_ips());
    if (sa->state() == ike::IkeSaState::kEstablished || sa->state() == ike::IkeSaState::kRekeyed) {
      j["established_s"] = whole_seconds(now - sa->established_at());
      j["algorithms"] = algorithms_text(sa->proposal().algorithms, sa->proposal().group, true);
    }
    nlohmann::json children = nlohmann::json::array();
    for (const auto& c : sa->children()) {
      nlohmann::json cj;
      cj["name"] = c.name;
      auto it = children_.find(c.spi_in);
      cj["state"] = it != children_.end() ? "INSTALLED" : "FAILED";
      cj["mode"] = "TUNNEL";
      cj["protocol"] = "ESP";
      cj["encap"] = true;
      cj["spi_in"] = fmt::format("{:08x}", c.spi_in);
      cj["spi_out"] = fmt::format("{:08x}", c.spi_out);
      cj["algorithms"] = algorithms_text(c.algorithms, ike::DhGroup::kNone, false);
      cj["local_ts"] = ts_list(c.local_ts);
      cj["remote_ts"] = ts_list(c.remote_ts);
      cj["virtual_ips"] = ip_list(sa->virtual_ips());
      cj["install_s"] = whole_seconds(now - c.installed_at);
      if (c.rekey_at != kNever) {
        cj["rekey_in_s"] = std::max<int64_t>(0, whole_seconds(c.rekey_at - now));
      }
      if (c.expire_at != kNever) {
        cj["life_in_s"] = std::max<int64_t>(0, whole_seconds(c.expire_at - now));
      }
      uint64_t bytes_in = 0, bytes_out = 0, packets_in = 0, packets_out = 0;
      if (it != children_.end()) {
        const auto& k = it->second.sa->counters();
        bytes_in = k.bytes_in;
        bytes_out = k.bytes_out;
        packets_in = k.packets_in;
        packets_out = k.packets_out;
        cj["auth_failed"] = k.auth_failed;
        cj["replayed"] = k.replayed;
        cj["path_mtu"] = it->second.sa->path().mtu();
      }
      cj["bytes_in"] = bytes_in;
      cj["bytes_out"] = bytes_out;
      cj["packets_in"] = packets_in;
      cj["packets_out"] = packets_out;
      if (const KeepAlive::State* ka = keep_alive_.state({sa->connection().name, c.name})) {
        nlohmann::json k{{"address", ka->to.to_string()},
                         {"interval_s", whole_seconds(ka->interval)},
                         {"sent", ka->sent},
                         {"answered", ka->answered},
                         {"unanswered_in_a_row", ka->misses}};
        if (ka->last_reply != 0) k["last_reply_s"] = whole_seconds(now - ka->last_reply);
        cj["keep_alive"] = std::move(k);
      }
      children.push_back(std::move(cj));
    }
    j["child_sas"] = std::move(children);
    sas.push_back(std::move(j));
  }
  nlohmann::json traps = nlohmann::json::array();
  for (const auto& t : traps_) {
    nlohmann::json tj;
    tj["conn"] = t->conn();
    tj["child"] = t->child();
    nlohmann::json remote = nlohmann::json::array();
    for (const auto& p : t->remote()) remote.push_back(p.to_string());
    tj["remote_ts"] = std::move(remote);
    tj["triggered"] = t->triggered();
    tj["dropped"] = t->dropped();
    traps.push_back(std::move(tj));
  }
  nlohmann::json out;
  out["name"] = options_.name;
  out["uptime_s"] = whole_seconds(now - started_at_);
  out["ike_sas"] = std::move(sas);
  out["traps"] = std::move(traps);
  const auto& ic = manager_->counters();
  const auto& sc = sad_.counters();
  const auto& rc = router_.counters();
  out["counters"] = {
      {"ike_malformed", ic.malformed},
      {"ike_unknown_sa", ic.unknown_sa},
      {"ike_no_connection", ic.no_connection},
      {"ike_cookies_sent", ic.cookies_sent},
      {"ike_half_open_full", ic.half_open_full},
      {"ike_half_open", manager_->half_open()},
      {"esp_unknown_spi", sc.unknown_spi},
      {"esp_invalid", sc.invalid},
      {"esp_dropped", sc.dropped},
      {"nat_keepalives_received", sc.keepalives},
      {"rx_source_rejected", sc.source_rejected},
      {"tx_no_route", rc.no_route},
      {"mss_clamped", rc.mss_clamped},
      {"icmp_too_big_sent", rc.too_big},
      {"fragmented", rc.fragmented},
      {"udp_send_errors", natt_->send_errors() + ike_->send_errors()},
      {"tun_write_errors", tun_->write_errors()},
  };
  return out;
}

nlohmann::json Instance::list_conns_json() const {
  nlohmann::json conns = nlohmann::json::array();
  for (const auto& c : options_.config.connections) {
    if (c.retired) continue;
    nlohmann::json j;
    j["name"] = c.name;
    j["version"] = "IKEv2";
    j["local_addrs"] = address_specs(c.local_addrs);
    j["remote_addrs"] = address_specs(c.remote_addrs);
    j["local_port"] = c.local_port;
    j["remote_port"] = c.remote_port;
    j["proposals"] = ike::format_proposals(c.proposals, ike::ProposalProtocol::kIke);
    j["vips"] = ip_list(c.vips);
    j["pools"] = c.pools;
    j["encap"] = c.encap;
    j["dpd_delay_s"] = c.dpd_delay.count();
    j["dpd_timeout_s"] = c.dpd_timeout.count();
    j["rekey_time_s"] = c.rekey_time.count();
    j["reauth_time_s"] = c.reauth_time.count();
    j["unique"] = std::string(unique_name(c.unique));
    j["mobike"] = c.mobike;
    j["keyingtries"] = c.keyingtries;
    j["local"] = rounds_json(c.local);
    j["remote"] = rounds_json(c.remote);
    nlohmann::json children = nlohmann::json::array();
    for (const auto& ch : c.children) {
      nlohmann::json cj;
      cj["name"] = ch.name;
      cj["mode"] = ch.mode == ike::ChildMode::kPass ? "PASS" : "TUNNEL";
      cj["local_ts"] = ts_specs(ch.local_ts);
      cj["remote_ts"] = ts_specs(ch.remote_ts);
      cj["esp_proposals"] = ike::format_proposals(ch.esp_proposals, ike::ProposalProtocol::kEsp);
      cj["start_action"] = std::string(action_name(ch.start_action));
      cj["close_action"] = std::string(action_name(ch.close_action));
      cj["dpd_action"] = std::string(dpd_action_name(ch.dpd_action));
      cj["rekey_time_s"] = ch.rekey_time.count();
      cj["life_time_s"] = ch.life_time.count();
      children.push_back(std::move(cj));
    }
    j["children"] = std::move(children);
    conns.push_back(std::move(j));
  }
  return {{"name", options_.name}, {"connections", std::move(conns)}};
}

nlohmann::json Instance::handle_control(const nlohmann::json& request, bool admin) {
  const std::string cmd = request.value("cmd", "");
  const bool read_only = cmd == "status" || cmd == "list-conns" || cmd == "diagnose";
  if (!admin && !read_only) {
    return {{"ok", false}, {"error", fmt::format("'{}' needs root", cmd)}};
  }
  nlohmann::json out;
  if (cmd == "status") {
    out = status_json();
  } else if (cmd == "list-conns") {
    out = list_conns_json();
  } else if (cmd == "diagnose") {
    auto d = diagnose_json(request.value("conn", ""));
    if (!d) return {{"ok", false}, {"error", d.error().message}};
    out = std::move(*d);
  } else if (cmd == "log") {
    nlohmann::json lines = nlohmann::json::array();
    const uint64_t since = request.value("since", uint64_t(0));
    for (const auto& l : log_ring_->read(since, request.value("filter", ""), 500)) {
      lines.push_back({{"seq", l.seq}, {"text", l.text}});
    }
    out["lines"] = std::move(lines);
    out["next"] = log_ring_->next_seq();
  } else if (cmd == "initiate") {
    std::string conn = request.value("ike", "");
    const std::string child = request.value("child", "");
    if (conn.empty()) {
      // The connection that has this child.
      for (const auto& c : options_.config.connections) {
        for (const auto& ch : c.children) {
          if (ch.name == child && conn.empty() && !c.retired) conn = c.name;
        }
      }
      if (conn.empty()) return {{"ok", false}, {"error", "no child named '" + child + "'"}};
    }
    const uint64_t log_from = log_ring_->next_seq();
    auto id = initiate(conn, child);
    if (!id) return {{"ok", false}, {"error", id.error().message}};
    out["id"] = *id;
    out["conn"] = conn;
    out["log_from"] = log_from;
  } else if (cmd == "initiate-result") {
    auto it = initiations_.find(request.value("id", uint32_t(0)));
    if (it == initiations_.end()) return {{"ok", false}, {"error", "no such initiation"}};
    out["state"] = it->second.state;
    out["reason"] = it->second.reason;
  } else if (cmd == "terminate" && request.contains("remote_id")) {
    // A peer's SAs, whatever connection they use (`waypost users remove`).
    const std::string id = request.value("remote_id", "");
    out["terminated"] = manager_->terminate_remote(id, "terminated by the administrator");
    dirty_ = true;
  } else if (cmd == "reload") {
    auto r = reload(request.value("secrets", false));
    if (!r) return {{"ok", false}, {"error", r.error().message}};
    out = std::move(*r);
  } else if (cmd == "replace") {
    if (auto st = replace(request.value("conn", "")); !st) {
      return {{"ok", false}, {"error", st.error().message}};
    }
  } else if (cmd == "reload-credentials") {
    if (auto st = reload_credentials(); !st) return {{"ok", false}, {"error", st.error().message}};
  } else if (cmd == "terminate") {
    const std::string conn = request.value("ike", "");
    // The administrator's word: no automatic re-initiation of this connection either.
    for (auto it = pending_initiations_.begin(); it != pending_initiations_.end();) {
      it = it->second.first == conn ? pending_initiations_.erase(it) : std::next(it);
    }
    const size_t n = manager_->terminate(conn, "terminated by the administrator");
    if (n == 0) return {{"ok", false}, {"error", "no IKE SA of connection '" + conn + "'"}};
    out["terminated"] = n;
    dirty_ = true;
  } else if (cmd == "rekey") {
    // swanctl --rekey: the CHILD SAs of a connection (or one of them) rekeyed now, or with
    // "ike_sa": true the IKE SA itself.
    const std::string conn = request.value("ike", "");
    const std::string child = request.value("child", "");
    const bool ike_sa = request.value("ike_sa", false);
    size_t started = 0, busy = 0, found = 0;
    for (const auto& sa : manager_->sas()) {
      if (sa->state() != ike::IkeSaState::kEstablished || sa->name() != conn) continue;
      if (ike_sa) {
        ++found;
        (sa->rekey_ike() ? started : busy) += 1;
        continue;
      }
      std::vector<uint32_t> spis;
      for (const auto& c : sa->children()) {
        if (child.empty() || c.name == child) spis.push_back(c.spi_in);
      }
      for (uint32_t spi : spis) {
        ++found;
        // One exchange at a time per IKE SA: the others rekey at their next timer.
        (sa->rekey_child(spi) ? started : busy) += 1;
      }
    }
    if (found == 0) {
      return {
          {"ok", false},
          {"error", child.empty() ? "no established IKE SA of connection '" + conn + "'"
                                  : "no CHILD SA '" + child + "' of connection '" + conn + "'"}};
    }
    out["rekeying"] = started;
    out["busy"] = busy;
    dirty_ = true;
  } else if (cmd == "down") {
    stop("down requested over the control socket");
  } else {
    return {{"ok", false}, {"error", "unknown command '" + cmd + "'"}};
  }
  out["ok"] = true;
  return out;
}

}  // namespace waypost::ipsec
