// `waypost ipsec diagnose`: what the IKE code found wrong with each connection (ike/diagnosis.h),
// newest first, beside what its SAs are doing now, and what the data plane counts that a person
// should know (packets dropped by replay checking).
#include <ctime>

#include <fmt/format.h>

#include "ike/ts_narrowing.h"
#include "ipsec/instance.h"

namespace waypost::ipsec {

namespace {

constexpr size_t kKeptPerConnection = 10;

nlohmann::json finding_json(int64_t at, const std::string& remote, const ike::Diagnosis& d) {
  return {{"time", at},
          {"remote", remote},
          {"cause", std::string(ike::to_string(d.cause))},
          {"side", std::string(ike::to_string(d.side))},
          {"sentence", d.sentence},
          {"fix", d.fix}};
}

}  // namespace

void Instance::diagnosed(ike::IkeSa& ike, const ike::Diagnosis& d) {
  diagnosed_without_sa(ike.connection(), ike.remote(), d);
}

void Instance::diagnosed_without_sa(const ike::Connection& conn, const net::Endpoint& remote,
                                    const ike::Diagnosis& d) {
  auto& list = diagnoses_[conn.name];
  list.push_front({int64_t(std::time(nullptr)), remote.to_string(), d});
  while (list.size() > kKeptPerConnection) list.pop_back();
}

Result<nlohmann::json> Instance::diagnose_json(const std::string& conn) const {
  bool found = conn.empty();
  nlohmann::json conns = nlohmann::json::array();
  for (const ike::Connection& c : options_.config.connections) {
    if (c.retired || (!conn.empty() && c.name != conn)) continue;
    found = true;
    nlohmann::json j;
    j["name"] = c.name;
    // Now: its IKE SAs and their CHILD SAs, one line each.
    nlohmann::json now = nlohmann::json::array();
    nlohmann::json findings = nlohmann::json::array();
    for (const auto& sa : manager_->sas()) {
      if (&sa->connection() != &c) continue;
      std::string line = fmt::format("IKE_SA {} with {} ('{}')", ike::to_string(sa->state()),
                                     sa->remote().to_string(), sa->remote_id());
      for (const auto& child : sa->children()) {
        line +=
            fmt::format("; CHILD_SA {} INSTALLED {} === {}", child.name,
                        ike::selectors_text(child.local_ts), ike::selectors_text(child.remote_ts));
        // The data plane's view of it: packets the replay window threw away.
        auto it = children_.find(child.spi_in);
        if (it == children_.end() || it->second.sa == nullptr) continue;
        const uint64_t replayed = it->second.sa->counters().replayed;
        if (replayed == 0) continue;
        ike::Diagnosis d{
            ike::Cause::kReplayDrops, ike::Side::kPath,
            fmt::format("{} ESP packet(s) of CHILD_SA {} ({:08x}_i) were dropped by replay "
                        "checking: duplicated or badly reordered on the way, or sent again "
                        "by a peer that restarted without a new SA.",
                        replayed, child.name, child.spi_in),
            "Fix: usually nothing (a few are normal on a reordering path); many point at a "
            "path that duplicates packets, or at a peer that should be restarted cleanly "
            "(waypost ipsec replace)."};
        findings.push_back(finding_json(int64_t(std::time(nullptr)), sa->remote().to_string(), d));
      }
      now.push_back(line);
    }
    if (now.empty()) now.push_back("no IKE_SA");
    j["now"] = std::move(now);
    if (auto it = diagnoses_.find(c.name); it != diagnoses_.end()) {
      for (const RecordedDiagnosis& r : it->second) {
        findings.push_back(finding_json(r.at_unix, r.remote, r.diagnosis));
      }
    }
    j["findings"] = std::move(findings);
    conns.push_back(std::move(j));
  }
  if (!found) return make_error(ErrorKind::kNotFound, "no connection named '{}'", conn);
  return nlohmann::json{{"connections", std::move(conns)}};
}

}  // namespace waypost::ipsec
