// `waypost ipsec reload` and `replace`: changes that touch only what changed (FreeS/WAN's
// `ipsec auto --replace`, `--rereadsecrets`). The file is read and checked completely before
// anything is applied, so a file with an error changes nothing. Connections are compared by
// their fingerprint (the section as written, references resolved) and the fingerprints of the
// pools they use: an unchanged connection keeps its SAs, SPIs and traffic; a changed one is torn
// down and started again from its new definition; a removed one is torn down; a new one starts.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>

#include "common/atomic_file.h"
#include "ike/credentials.h"
#include "ipsec/instance.h"

namespace waypost::ipsec {

namespace {

// What a connection's definition depends on besides its own section: the pools it names.
std::string pools_fingerprint(const ike::IpsecConfig& config, const ike::Connection& c) {
  std::string out;
  for (const auto& name : c.pools) {
    const ike::Pool* p = config.pool(name);
    out += p != nullptr ? p->fingerprint : "(missing " + name + ")";
    out += '|';
  }
  return out;
}

Result<ike::IpsecConfig> read_config(const InstanceOptions& o) {
  ike::DiskConfFiles files;
  auto config = ike::parse_swanctl_file(o.config_path, files);
  if (!config) return config.take_error();
  if (ike::uses_certificates(*config)) {
    const std::string dir = o.credentials_dir.empty()
                                ? std::filesystem::absolute(o.config_path).parent_path().string()
                                : o.credentials_dir;
    auto creds = ike::Credentials::load(*config, dir);
    if (!creds) return creds.take_error();
    config->credentials = std::move(*creds);
  }
  if (!config->secrets.empty()) {
    if (auto st = check_private_file(o.config_path); !st) return st.take_error();
  }
  return config;
}

}  // namespace

Result<nlohmann::json> Instance::reload(bool secrets_only) {
  if (options_.config_path.empty()) return make_error("this instance has no file to reload");
  auto next = read_config(options_);
  if (!next) {
    spdlog::error("reload: {}: nothing changed", next.error().message);
    return next.take_error();
  }
  ike::IpsecConfig& cur = options_.config;
  nlohmann::json out;
  // Secrets and certificates apply to authentications from now on; established SAs keep the
  // keys they have.
  cur.secrets = next->secrets;
  cur.authorities = next->authorities;
  cur.credentials = next->credentials;
  if (secrets_only) {
    spdlog::info("reload --secrets: {} secret(s), certificates and CRLs read again",
                 cur.secrets.size());
    out["secrets"] = cur.secrets.size();
    return out;
  }

  std::map<std::string, const ike::Connection*> wanted;
  for (const auto& c : next->connections) wanted[c.name] = &c;
  nlohmann::json added = nlohmann::json::array(), changed = nlohmann::json::array(),
                 removed = nlohmann::json::array(), unchanged = nlohmann::json::array();
  std::vector<ike::Connection*> to_start;
  for (auto& c : cur.connections) {
    if (c.retired) continue;
    auto it = wanted.find(c.name);
    if (it == wanted.end()) {
      stop_connection(c.name, "removed from the file by a reload");
      c.retired = true;
      removed.push_back(c.name);
      continue;
    }
    const ike::Connection& n = *it->second;
    if (n.fingerprint == c.fingerprint &&
        pools_fingerprint(*next, n) == pools_fingerprint(cur, c)) {
      unchanged.push_back(c.name);
    } else {
      stop_connection(c.name, "changed in the file; starting it again");
      c = n;  // in place: the deque slot stays where pointers expect it
      changed.push_back(c.name);
      to_start.push_back(&c);
    }
    wanted.erase(it);
  }
  for (const auto& n : next->connections) {
    if (wanted.count(n.name) == 0) continue;  // handled above
    // A name that was removed by an earlier reload comes back in its old slot.
    ike::Connection* slot = nullptr;
    for (auto& c : cur.connections) {
      if (c.retired && c.name == n.name) slot = &c;
    }
    if (slot != nullptr) {
      *slot = n;
    } else {
      cur.connections.push_back(n);
      slot = &cur.connections.back();
    }
    added.push_back(n.name);
    to_start.push_back(slot);
  }
  // Pools: leases are kept by pool name; the new ranges hand out addresses from now on.
  cur.pools = next->pools;
  for (auto& w : next->warnings) spdlog::warn("{}", w);
  for (auto* c : to_start) start_connection(*c);
  spdlog::info("reload: {} added, {} changed, {} removed, {} unchanged", added.size(),
               changed.size(), removed.size(), unchanged.size());
  out["added"] = std::move(added);
  out["changed"] = std::move(changed);
  out["removed"] = std::move(removed);
  out["unchanged"] = std::move(unchanged);
  dirty_ = true;
  return out;
}

Status Instance::replace(const std::string& conn) {
  for (auto& c : options_.config.connections) {
    if (c.retired || c.name != conn) continue;
    stop_connection(c.name, "replace requested");
    start_connection(c);
    return {};
  }
  return make_error(ErrorKind::kNotFound, "no connection named '{}'", conn);
}

}  // namespace waypost::ipsec
