#include "server/import_plan.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "common/atomic_file.h"
#include "crypto/random.h"
#include "crypto/x25519.h"
#include "server/bundles.h"
#include "server/server_daemon.h"

namespace waypost::server {

namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxUserName = 64;

// What an existing server directory holds; any of them present means "a server is here".
const std::vector<std::string>& server_entries() {
  static const auto* entries =
      new std::vector<std::string>{"state.json", "pki", "ipsec", "configs", "config.yaml"};
  return *entries;
}

std::string unique_name(const ImportPlan& plan, const std::string& base) {
  auto taken = [&](const std::string& n) { return plan.state.users.count(n) != 0; };
  if (!taken(base)) return base;
  for (int i = 2;; ++i) {
    std::string suffix = fmt::format("-{}", i);
    std::string n = base.substr(0, kMaxUserName - suffix.size()) + suffix;
    if (!taken(n)) return n;
  }
}

std::string addresses_of(const UserState& u, bool ipv6) {
  std::string out = u.ipv4.to_string();
  if (ipv6 && u.ipv6) out += ", " + u.ipv6->to_string();
  return out;
}

// Moves `from` to `to`, both in the same file system.
Status move(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return make_errno_error(errno, "cannot move {} to {}: {}", from, to, std::strerror(errno));
  }
  return {};
}

}  // namespace

std::string user_name_for_label(std::string_view label) {
  std::string out;
  for (char c : label) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '@' || c == '-';
    const char put = ok ? c : '-';
    if (put == '-' && !out.empty() && out.back() == '-') continue;
    out.push_back(put);
  }
  while (!out.empty() && (out.front() == '.' || out.front() == '-')) out.erase(0, 1);
  if (out.size() > kMaxUserName) out.resize(kMaxUserName);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

Status add_imported_peer(ImportPlan& plan, const ImportedPeer& peer) {
  for (const auto& [name, u] : plan.state.users) {
    if (u.public_key == peer.public_key) {
      return make_error("{}: the same public key as user '{}'", peer.where, name);
    }
  }
  std::string base = user_name_for_label(peer.label);
  if (base.empty()) base = fmt::format("peer{}", plan.state.users.size() + 1);
  const std::string name = unique_name(plan, base);
  if (name != peer.label) {
    plan.notes.push_back(
        peer.label.empty()
            ? fmt::format("{}: no name found, imported as user '{}'", peer.where, name)
            : fmt::format("{}: '{}' imported as user '{}' (Waypost user names are "
                          "letters, digits and _ . @ -, each used once)",
                          peer.where, peer.label, name));
  }
  UserState u;
  u.private_key = peer.private_key;
  u.public_key = peer.public_key;
  if (peer.private_key && crypto::public_from_private(*peer.private_key) != peer.public_key) {
    return make_error("{}: the private key does not belong to the public key", peer.where);
  }
  if (peer.preshared_key) u.preshared_key = *peer.preshared_key;
  u.created = peer.created;
  const ServerConfig& c = plan.config;
  if (peer.ipv4) {
    if (!c.wireguard_network_ipv4.contains(*peer.ipv4) || *peer.ipv4 == server_ipv4(c)) {
      return make_error("{}: address {} is not a client address in {}", peer.where,
                        peer.ipv4->to_string(), c.wireguard_network_ipv4.to_string());
    }
    u.ipv4 = *peer.ipv4;
  }
  if (peer.ipv6) {
    if (!c.wireguard_network_ipv6.contains(*peer.ipv6) || *peer.ipv6 == server_ipv6(c)) {
      return make_error("{}: address {} is not a client address in {}", peer.where,
                        peer.ipv6->to_string(), c.wireguard_network_ipv6.to_string());
    }
    u.ipv6 = *peer.ipv6;
  }
  for (const auto& [other, o] : plan.state.users) {
    if ((peer.ipv4 && o.ipv4 == *peer.ipv4) || (peer.ipv6 && o.ipv6 && *o.ipv6 == *peer.ipv6)) {
      return make_error("{}: the same tunnel address as user '{}'", peer.where, other);
    }
  }
  if (!peer.ipv4) {
    plan.notes.push_back(fmt::format(
        "user {}: no IPv4 tunnel address in the old server; Waypost gives it a new one, so the "
        "device needs a new profile",
        name));
  }
  if (!peer.private_key) {
    plan.notes.push_back(fmt::format(
        "user {}: no private key in the old server's files (the server keeps only public keys); "
        "the device keeps working with its profile, and Waypost writes none for it",
        name));
  }
  if (peer.disabled) {
    plan.notes.push_back(fmt::format(
        "user {}: disabled in wg-easy; imported as a user that can connect (Waypost has no "
        "disabled users): remove it with `waypost users remove {}` if it should not",
        name, name));
  }
  plan.state.users.emplace(name, std::move(u));
  plan.config.users.push_back(name);
  return {};
}

std::string describe_plan(const ImportPlan& plan) {
  const ServerConfig& c = plan.config;
  std::string out = fmt::format("from: {}\n", plan.source);
  out += fmt::format("endpoint: {}   WireGuard port: {}   interface: {}\n", c.endpoint,
                     c.wireguard_port, c.wireguard_interface);
  out += fmt::format("server public key: {}\n", crypto::key_to_base64(plan.state.public_key));
  out += fmt::format("WireGuard pool: {}{}\n", c.wireguard_network_ipv4.to_string(),
                     c.ipv6 ? ", " + c.wireguard_network_ipv6.to_string() : "");
  if (c.ipsec_enabled) {
    out += fmt::format("IKEv2 pool: {}{}\n", c.strongswan_network.to_string(),
                       c.ipv6 ? ", " + c.strongswan_network_ipv6.to_string() : "");
  }
  out += fmt::format("users ({}):\n", c.users.size());
  for (const auto& name : c.users) {
    const UserState& u = plan.state.users.at(name);
    std::string what = has_client_profile(u) ? "profile written" : "no profile (public key only)";
    if (plan.pki) {
      what += plan.pki->users.count(name) != 0 ? ", IKEv2 certificate" : ", no IKEv2 certificate";
    }
    out += fmt::format("  {:<16} {:<36} {}\n", name,
                       c.wireguard_network_ipv4.contains(u.ipv4) ? addresses_of(u, c.ipv6)
                                                                 : std::string("(new address)"),
                       what);
  }
  if (plan.pki) {
    out += fmt::format("IKEv2 CA: Algo's ({}), CA key {}; server certificate: Algo's\n",
                       plan.pki->email_domain,
                       plan.pki->ca_key_pem.empty() ? "NOT available" : "imported");
  } else if (c.ipsec_enabled) {
    out += "IKEv2 CA: a new one (Waypost's)\n";
  }
  if (!plan.notes.empty()) {
    out += "notes:\n";
    for (const auto& n : plan.notes) out += "  - " + n + "\n";
  }
  return out;
}

Result<std::vector<std::string>> write_import(const ImportPlan& plan, const std::string& dir,
                                              bool force) {
  std::error_code ec;
  std::vector<std::string> present;
  for (const auto& e : server_entries()) {
    if (fs::exists(fmt::format("{}/{}", dir, e), ec)) present.push_back(e);
  }
  if (!present.empty() && !force) {
    return make_error(
        "{} holds a server already ({}); refusing to replace it. Use --force to move the old "
        "files aside (to {}/.pre-import-<time>/) and import anyway",
        dir, fmt::join(present, ", "), dir);
  }
  const bool created_dir = !fs::exists(dir, ec);
  if (created_dir) {
    fs::create_directories(dir, ec);
    if (ec) return make_error("cannot create {}: {}", dir, ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  const std::string stage = fmt::format("{}/.import-{}", dir, ::getpid());
  auto fail = [&](Error e) -> Error {
    fs::remove_all(stage, ec);
    if (created_dir) fs::remove_all(dir, ec);
    return e;
  };
  fs::remove_all(stage, ec);
  if (::mkdir(stage.c_str(), 0700) != 0) {
    return fail(make_errno_error(errno, "cannot create {}: {}", stage, std::strerror(errno)));
  }

  // Everything is generated in the staging directory, as `server init` would in a real one.
  const std::string text = render_server_config(plan.config);
  if (auto parsed = parse_server_config(text); !parsed) {
    return fail(make_error("internal error: the imported config does not parse: {}",
                           parsed.error().message));
  }
  if (auto st = write_file_atomic(config_path(stage), text, 0600); !st) {
    return fail(st.take_error());
  }
  if (auto st = save_state(stage, plan.state); !st) return fail(st.take_error());
  if (plan.pki && plan.config.ipsec_enabled) {
    if (auto st =
            install_imported_pki(stage, *plan.pki, plan.config.endpoint, crypto::system_random());
        !st) {
      return fail(st.take_error());
    }
  }
  auto loaded = load_and_reconcile(stage);
  if (!loaded) return fail(loaded.take_error());
  // Saved whatever reconcile did: it also gives addresses to users who had none (a renumbering,
  // which load_and_reconcile does not count as a change).
  if (auto st = save_state(stage, loaded->state); !st) return fail(st.take_error());

  // Into place: the old server's files aside (with --force), then ours, config.yaml last so
  // that a directory with a config.yaml is always complete.
  if (!present.empty()) {
    const std::string backup = fmt::format("{}/.pre-import-{}", dir, std::time(nullptr));
    if (::mkdir(backup.c_str(), 0700) != 0) {
      return fail(make_errno_error(errno, "cannot create {}: {}", backup, std::strerror(errno)));
    }
    for (const auto& e : present) {
      if (auto st = move(fmt::format("{}/{}", dir, e), fmt::format("{}/{}", backup, e)); !st) {
        return fail(st.take_error());
      }
    }
  }
  for (const auto& e : server_entries()) {
    if (!fs::exists(fmt::format("{}/{}", stage, e), ec)) continue;
    if (auto st = move(fmt::format("{}/{}", stage, e), fmt::format("{}/{}", dir, e)); !st) {
      return st.take_error();
    }
  }
  fs::remove_all(stage, ec);
  return loaded->pki.notes;
}

}  // namespace waypost::server
