#include "server/web_users.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "control/json_session.h"
#include "daemon/paths.h"
#include "server/bundles.h"
#include "server/config.h"
#include "server/ipsec_profiles.h"
#include "server/state.h"
#include "server/status.h"
#include "server/user_changes.h"

namespace waypost::server {

namespace {

// A WireGuard client sends a keepalive or a handshake at least every 2 minutes while it has
// traffic (REKEY_AFTER_TIME); 3 minutes without one means it is gone.
constexpr int64_t kOnlineHandshakeAge = 180;

// The running server's view of its users, by name; empty when it does not answer (then nobody
// is online, and the list still shows everyone from the files).
std::map<std::string, UserStatus> sessions(const ServerConfig& config) {
  std::map<std::string, UserStatus> out;
  auto r = control::json_request(daemon::control_socket_path(config.wireguard_interface),
                                 {{"cmd", "status"}});
  if (!r || !r->value("ok", false)) return out;
  ServerStatus s = server_status_from_json(*r);
  for (auto& u : s.users) out[u.name] = std::move(u);
  return out;
}

web::UserView view_of(const ServerConfig& config, const ServerState& state,
                      const std::map<std::string, UserStatus>& live, const std::string& name) {
  web::UserView v;
  v.name = name;
  v.wireguard = config.wireguard_enabled;
  v.ikev2 = config.ipsec_enabled;
  if (auto it = state.users.find(name); it != state.users.end()) {
    v.ipv4 = it->second.ipv4.to_string();
    if (config.ipv6 && it->second.ipv6) v.ipv6 = it->second.ipv6->to_string();
  }
  v.enabled = !user_disabled(config, name);
  if (!v.enabled) v.disabled_reason = "disabled by an admin";
  if (auto it = live.find(name); it != live.end()) {
    const UserStatus& s = it->second;
    v.live = true;
    v.last_handshake = s.latest_handshake;
    v.endpoint = s.endpoint;
    v.rx_bytes = s.rx_bytes;
    v.tx_bytes = s.tx_bytes;
    if (s.session) v.sources.push_back({"wg", s.rx_bytes, s.tx_bytes});
    v.online = s.handshake_age && *s.handshake_age <= kOnlineHandshakeAge;
    for (const IkeSession& ike : s.ike_sessions) {
      v.online = true;
      v.rx_bytes += ike.rx_bytes;
      v.tx_bytes += ike.tx_bytes;
      for (const auto& c : ike.children) {
        v.sources.push_back({"esp:" + c.spi_in, c.rx_bytes, c.tx_bytes});
      }
      if (v.endpoint.empty()) v.endpoint = ike.remote;
    }
  }
  return v;
}

// The download name of each of a user's files -> its path. WireGuard's keep their names; the
// IKEv2 ones are prefixed with their folder ("ikev2-apple-phone.mobileconfig"), since both
// protocols have a "<user>.conf".
std::map<std::string, std::string> file_paths(const std::string& dir, const ServerConfig& config,
                                              const std::string& user) {
  std::map<std::string, std::string> out;
  auto base_name = [](const std::string& path) { return path.substr(path.rfind('/') + 1); };
  if (config.wireguard_enabled) {
    for (const std::string& p : {conf_path(dir, config, user), png_path(dir, config, user),
                                 mobileconfig_path(dir, config, user, AppleOs::kIos),
                                 mobileconfig_path(dir, config, user, AppleOs::kMacos)}) {
      std::string name = base_name(p);
      if (p.find("/apple/macos/") != std::string::npos) name.insert(0, "macos-");
      if (p.find("/apple/ios/") != std::string::npos) name.insert(0, "ios-");
      out[name] = p;
    }
  }
  if (config.ipsec_enabled) {
    const std::string base = ipsec_bundle_dir(dir, config.endpoint) + "/";
    for (const std::string& p : ipsec_user_file_paths(dir, config.endpoint, user)) {
      std::string rel = p.substr(base.size());
      std::replace(rel.begin(), rel.end(), '/', '-');
      out["ikev2-" + rel] = p;
    }
  }
  // Only the files that exist (an imported user without its private key has no .conf).
  for (auto it = out.begin(); it != out.end();) {
    struct stat st {};
    it =
        ::stat(it->second.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? std::next(it) : out.erase(it);
  }
  return out;
}

struct Files {
  ServerConfig config;
  ServerState state;
};
Result<Files> load(const std::string& dir) {
  auto config = load_config(dir);
  if (!config) return config.take_error();
  auto state = load_state(dir);
  if (!state) return state.take_error();
  return Files{std::move(*config), std::move(*state)};
}

Status known(const ServerConfig& config, const std::string& name) {
  if (std::find(config.users.begin(), config.users.end(), name) == config.users.end()) {
    return make_error(ErrorKind::kNotFound, "no user named '{}'", name);
  }
  return {};
}

// A change the files took but the running server did not: an error, so the page says so.
Status applied(const UserChangeResult& r) {
  if (!r.server.empty() && !r.server_applied) return make_error("{}", r.server);
  return {};
}

}  // namespace

Result<std::vector<web::UserView>> WebUsers::list() {
  auto f = load(dir_);
  if (!f) return f.take_error();
  const auto live = sessions(f->config);
  std::vector<web::UserView> out;
  out.reserve(f->config.users.size());
  for (const auto& name : f->config.users) out.push_back(view_of(f->config, f->state, live, name));
  return out;
}

Result<web::UserView> WebUsers::one(const std::string& name) {
  auto f = load(dir_);
  if (!f) return f.take_error();
  if (auto st = known(f->config, name); !st) return st.take_error();
  return view_of(f->config, f->state, sessions(f->config), name);
}

Result<web::UserView> WebUsers::add(const std::string& name) {
  auto r = change_users(dir_, {name}, {});
  if (!r) return r.take_error();
  if (auto st = applied(*r); !st) return st.take_error();
  return one(name);
}

Status WebUsers::remove(const std::string& name) {
  auto r = change_users(dir_, {}, {name});
  if (!r) return r.take_error();
  return applied(*r);
}

Result<web::UserView> WebUsers::set_enabled(const std::string& name, bool enabled) {
  auto r = set_users_enabled(dir_, {name}, enabled);
  if (!r) return r.take_error();
  if (auto st = applied(*r); !st) return st.take_error();
  return one(name);
}

Result<web::UserView> WebUsers::rename(const std::string& name, const std::string& new_name) {
  auto r = rename_user(dir_, name, new_name);
  if (!r) return r.take_error();
  if (auto st = applied(*r); !st) return st.take_error();
  return one(new_name);
}

Result<std::vector<web::ProfileFile>> WebUsers::files(const std::string& name) {
  auto f = load(dir_);
  if (!f) return f.take_error();
  if (auto st = known(f->config, name); !st) return st.take_error();
  std::vector<web::ProfileFile> out;
  for (const auto& [file_name, path] : file_paths(dir_, f->config, name)) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) out.push_back({file_name, uint64_t(st.st_size)});
  }
  return out;
}

Result<std::string> WebUsers::file(const std::string& name, const std::string& file_name) {
  auto f = load(dir_);
  if (!f) return f.take_error();
  if (auto st = known(f->config, name); !st) return st.take_error();
  const auto paths = file_paths(dir_, f->config, name);
  auto it = paths.find(file_name);
  if (it == paths.end()) {
    return make_error(ErrorKind::kNotFound, "{} has no file named '{}'", name, file_name);
  }
  return read_file(it->second);
}

Result<std::string> WebUsers::qr_svg(const std::string& name) {
  auto f = load(dir_);
  if (!f) return f.take_error();
  if (auto st = known(f->config, name); !st) return st.take_error();
  const std::string conf = client_conf(f->config, f->state, name);
  if (conf.empty()) {
    return make_error(ErrorKind::kNotFound, "no WireGuard profile for {}: {}", name, kNoPrivateKey);
  }
  return server::qr_svg(conf);
}

}  // namespace waypost::server
