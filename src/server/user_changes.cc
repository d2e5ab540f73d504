#include "server/user_changes.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "control/json_session.h"
#include "crypto/random.h"
#include "daemon/paths.h"
#include "server/bundles.h"
#include "server/config.h"
#include "server/ipsec_pki.h"
#include "server/state.h"

namespace waypost::server {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& name) {
  return std::find(v.begin(), v.end(), name) != v.end();
}

// Reads config.yaml under the lock held by the caller.
struct ConfigText {
  std::string text;
  ServerConfig config;
};
Result<ConfigText> read_config(const std::string& dir) {
  auto text = read_file(config_path(dir));
  if (!text) {
    if (!text.error().is(ErrorKind::kNotFound)) return text.take_error();
    return make_error("{} (run `waypost server init` first)", text.error().message);
  }
  auto config = parse_server_config(*text);
  if (!config) return make_error("{}: {}", config_path(dir), config.error().message);
  return ConfigText{std::move(*text), std::move(*config)};
}

// Writes the new config.yaml text after state.json and the PKI agree with it. A crash in
// between leaves a state that the next load reconciles back to the old config (state.h).
Result<ReconcileResult> commit(const std::string& dir, const std::string& new_text,
                               const ServerConfig& new_config) {
  auto state = load_state(dir);
  if (!state) return state.take_error();
  auto changes = reconcile(*state, new_config, crypto::system_random(), std::time(nullptr));
  if (!changes) return changes.take_error();
  if (auto st = save_state(dir, *state); !st) return st.take_error();
  if (new_config.ipsec_enabled) {
    // Certificates are revoked (removed users) or put on hold (disabled ones) in a new CRL
    // before config.yaml says so and before the server is told.
    auto pki = reconcile_pki(dir, new_config, crypto::system_random(), std::time(nullptr));
    if (!pki) return make_error("IKEv2 certificates: {}", pki.error().message);
  }
  if (auto st = write_file_atomic(config_path(dir), new_text, 0600); !st) return st.take_error();
  for (const auto& name : changes->removed) remove_bundles(dir, new_config, name);
  for (const auto& name : changes->added) {
    if (auto st = write_bundles(dir, new_config, *state, name); !st) return st.take_error();
  }
  return changes;
}

}  // namespace

void tell_running_server(const ServerConfig& c, UserChangeResult& out) {
  const std::string path = daemon::control_socket_path(c.wireguard_interface);
  if (::access(path.c_str(), F_OK) != 0) return;
  auto r = control::json_request(path, {{"cmd", "sync"}});
  if (!r) {
    out.server = "could not reach the running server: " + r.error().message;
  } else if (!r->value("ok", false)) {
    out.server = "the running server did not apply the change: " + r->value("error", "");
  } else {
    out.server = "applied";
    out.server_applied = true;
  }
}

Result<UserChangeResult> change_users(const std::string& dir, const std::vector<std::string>& add,
                                      const std::vector<std::string>& remove) {
  auto lock = DirLock::acquire(dir);
  if (!lock) return lock.take_error();
  auto current = read_config(dir);
  if (!current) return current.take_error();
  std::vector<std::string> users = current->config.users;
  for (const auto& name : add) {
    if (auto st = validate_user_name(name); !st) {
      return make_error(ErrorKind::kParse, "{}", st.error().message);
    }
    if (contains(users, name)) {
      Error e = make_error(ErrorKind::kParse, "user '{}' already exists", name);
      e.code = EEXIST;  // taken, rather than malformed: the web API answers 409
      return e;
    }
    users.push_back(name);
  }
  for (const auto& name : remove) {
    auto it = std::find(users.begin(), users.end(), name);
    if (it == users.end()) return make_error(ErrorKind::kNotFound, "no user named '{}'", name);
    users.erase(it);
  }
  auto new_text = rewrite_users(current->text, users);
  if (!new_text) return new_text.take_error();
  // A removed user leaves disabled_users too: a user added later under the same name starts
  // enabled.
  std::vector<std::string> disabled;
  for (const auto& name : current->config.disabled_users) {
    if (!contains(remove, name)) disabled.push_back(name);
  }
  if (disabled != current->config.disabled_users) {
    new_text = rewrite_disabled_users(*new_text, disabled);
    if (!new_text) return new_text.take_error();
  }
  auto new_config = parse_server_config(*new_text);
  if (!new_config) return new_config.take_error();
  auto changes = commit(dir, *new_text, *new_config);
  if (!changes) return changes.take_error();
  UserChangeResult out;
  out.added = changes->added;
  out.removed = changes->removed;
  tell_running_server(*new_config, out);
  return out;
}

Result<UserChangeResult> rename_user(const std::string& dir, const std::string& from,
                                     const std::string& to) {
  auto lock = DirLock::acquire(dir);
  if (!lock) return lock.take_error();
  auto current = read_config(dir);
  if (!current) return current.take_error();
  if (!contains(current->config.users, from)) {
    return make_error(ErrorKind::kNotFound, "no user named '{}'", from);
  }
  if (auto st = validate_user_name(to); !st) {
    return make_error(ErrorKind::kParse, "{}", st.error().message);
  }
  if (contains(current->config.users, to)) {
    Error e = make_error(ErrorKind::kParse, "user '{}' already exists", to);
    e.code = EEXIST;
    return e;
  }
  std::vector<std::string> users = current->config.users;
  std::replace(users.begin(), users.end(), from, to);
  std::vector<std::string> disabled = current->config.disabled_users;
  std::replace(disabled.begin(), disabled.end(), from, to);
  auto new_text = rewrite_users(current->text, users);
  if (!new_text) return new_text.take_error();
  if (disabled != current->config.disabled_users) {
    new_text = rewrite_disabled_users(*new_text, disabled);
    if (!new_text) return new_text.take_error();
  }
  auto new_config = parse_server_config(*new_text);
  if (!new_config) return new_config.take_error();

  // The keys and addresses move before reconciling, which then sees nothing to add or remove
  // (a crash right after this leaves state.json ahead of config.yaml; the next load gives the
  // old name new keys, the same as removing and adding it).
  auto state = load_state(dir);
  if (!state) return state.take_error();
  if (auto it = state->users.find(from); it != state->users.end()) {
    auto node = state->users.extract(it);
    node.key() = to;
    state->users.insert(std::move(node));
    if (auto st = save_state(dir, *state); !st) return st.take_error();
  }
  auto changes = commit(dir, *new_text, *new_config);
  if (!changes) return changes.take_error();
  remove_bundles(dir, current->config, from);
  auto fresh = load_state(dir);
  if (!fresh) return fresh.take_error();
  if (auto st = write_bundles(dir, *new_config, *fresh, to); !st) return st.take_error();
  UserChangeResult out;
  out.removed = {from};
  out.added = {to};
  tell_running_server(*new_config, out);
  return out;
}

Result<UserChangeResult> set_users_enabled(const std::string& dir,
                                           const std::vector<std::string>& names, bool enabled) {
  auto lock = DirLock::acquire(dir);
  if (!lock) return lock.take_error();
  auto current = read_config(dir);
  if (!current) return current.take_error();
  std::vector<std::string> disabled = current->config.disabled_users;
  UserChangeResult out;
  for (const auto& name : names) {
    if (!contains(current->config.users, name)) {
      return make_error(ErrorKind::kNotFound, "no user named '{}'", name);
    }
    const bool off = contains(disabled, name);
    if (enabled && off) {
      disabled.erase(std::find(disabled.begin(), disabled.end(), name));
      out.enabled.push_back(name);
    } else if (!enabled && !off) {
      disabled.push_back(name);
      out.disabled.push_back(name);
    }
  }
  if (out.enabled.empty() && out.disabled.empty()) return out;
  auto new_text = rewrite_disabled_users(current->text, disabled);
  if (!new_text) return new_text.take_error();
  auto new_config = parse_server_config(*new_text);
  if (!new_config) return new_config.take_error();
  if (auto changes = commit(dir, *new_text, *new_config); !changes) return changes.take_error();
  tell_running_server(*new_config, out);
  return out;
}

}  // namespace waypost::server
