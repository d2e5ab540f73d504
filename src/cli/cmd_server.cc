// server init / up / status and users add / remove / show / list.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/daemonize.h"
#include "common/atomic_file.h"
#include "common/log.h"
#include "control/json_session.h"
#include "crypto/random.h"
#include "daemon/interface_daemon.h"
#include "daemon/notify.h"
#include "daemon/paths.h"
#include "platform/netlink.h"
#include "server/bundles.h"
#include "server/config.h"
#include "server/ipsec_pki.h"
#include "server/ipsec_profiles.h"
#include "server/server_daemon.h"
#include "server/server_ipsec.h"
#include "server/state.h"
#include "server/status.h"
#include "server/user_changes.h"
#include "web/auth.h"
#include "web/store.h"

namespace waypost::cli {

namespace {

constexpr const char* kDefaultDir = "/etc/waypost";

struct InitOptions {
  std::string dir = kDefaultDir;
  std::string endpoint;
  std::string users = "phone";
  std::string interface_name;
  int port = 0;
  std::string ipv6;  // "on" / "off" / "" (default)
  bool force = false;
  std::string admin;  // --admin: the web admin's first account (owner), with a setup link
};

}  // namespace

// What Algo calls the server's public IP on a single-homed VM.
Result<std::string> guess_endpoint() {
  auto nl = platform::Netlink::open();
  if (!nl) return nl.take_error();
  for (auto family : {net::Family::kV4, net::Family::kV6}) {
    auto r = nl->default_route(family);
    if (!r) continue;
    if (r->prefsrc) return r->prefsrc->to_string();
    auto addrs = nl->addresses(r->ifindex, family);
    if (addrs && !addrs->empty()) return addrs->front().address.to_string();
  }
  return make_error("cannot guess the public address (no default route); pass --endpoint");
}

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',') {
      while (!cur.empty() && cur.back() == ' ') cur.pop_back();
      size_t b = cur.find_first_not_of(' ');
      if (b != std::string::npos) out.push_back(cur.substr(b));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  return out;
}

// Where the IKEv2 profiles are and the .p12 password that opens them (Algo prints it too).
void print_ipsec_summary(const std::string& dir, const server::ServerConfig& c) {
  if (!c.ipsec_enabled) return;
  auto pw = server::p12_password(dir);
  std::printf("IKEv2 profiles (iOS, macOS, Windows, Android, Linux): %s/\n",
              server::ipsec_bundle_dir(dir, c.endpoint).c_str());
  if (pw) std::printf("  the .p12 password: %s\n", pw->c_str());
}

int server_init(const InitOptions& o, bool quiet_if_exists = false) {
  if (std::filesystem::exists(server::config_path(o.dir)) && !o.force) {
    if (quiet_if_exists) return 0;
    return fail(
        server::config_path(o.dir) +
        " already exists (the server is initialised; edit it, or use --force to start over)");
  }
  server::ServerConfig c;
  c.users = split_list(o.users);
  for (const auto& u : c.users) {
    if (auto st = server::validate_user_name(u); !st) return fail(st.error().message);
  }
  if (!o.admin.empty()) {
    // Checked before anything is written: a bad name must not leave a half-made server.
    if (auto st = web::validate_admin_name(o.admin); !st) {
      return fail("--admin: " + st.error().message);
    }
  }
  if (o.endpoint.empty()) {
    auto guessed = guess_endpoint();
    if (!guessed) return fail(guessed.error().message);
    c.endpoint = *guessed;
    std::printf("waypost: using %s as the endpoint clients connect to (override with --endpoint)\n",
                c.endpoint.c_str());
  } else {
    c.endpoint = o.endpoint;
  }
  if (!o.interface_name.empty()) c.wireguard_interface = o.interface_name;
  if (o.port != 0) c.wireguard_port = uint16_t(o.port);
  if (o.ipv6 == "off") c.ipv6 = false;
  c.wireguard_network_ipv6 = server::random_ula48();
  c.strongswan_network_ipv6 = server::random_ula48();
  if (c.ipsec_enabled) {
    if (auto st = server::check_pool_routes(c); !st) return fail(st.error().message);
  }
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  if (ec) return fail("cannot create " + o.dir + ": " + ec.message());
  ::chmod(o.dir.c_str(), 0700);
  auto lock = server::DirLock::acquire(o.dir);
  if (!lock) return fail(lock.error().message);
  if (o.force) std::filesystem::remove(server::state_path(o.dir), ec);
  // Validate by round trip before writing anything.
  std::string text = server::render_server_config(c);
  if (auto parsed = server::parse_server_config(text); !parsed) {
    return fail("internal error: generated config does not parse: " + parsed.error().message);
  }
  if (auto st = write_file_atomic(server::config_path(o.dir), text, 0600); !st) {
    return fail(st.error().message);
  }
  auto loaded = server::load_and_reconcile(o.dir);
  if (!loaded) return fail(loaded.error().message);
  std::printf("waypost: server initialised in %s for %zu user(s)\n", o.dir.c_str(),
              loaded->state.users.size());
  for (const auto& [name, u] : loaded->state.users) {
    std::printf("  %-12s %s  %s\n", name.c_str(), u.ipv4.to_string().c_str(),
                server::conf_path(o.dir, loaded->config, name).c_str());
  }
  print_ipsec_summary(o.dir, loaded->config);
  if (!o.admin.empty()) {
    if (int rc = add_admin(o.dir, o.admin); rc != 0) return rc;
  }
  std::printf("start it with: waypost server up%s\n",
              o.dir == kDefaultDir ? "" : (" --dir " + o.dir).c_str());
  return 0;
}

struct UpOptions {
  std::string dir = kDefaultDir;
  bool init_if_needed = false;
  bool show_qr = false;
  std::string endpoint;
  std::string users = "phone";
  std::string log_level = "info";
  std::string log_file;
};

int print_user_qr(const std::string& dir, const std::string& user);

int server_up(const UpOptions& o) {
  if (o.init_if_needed) {
    InitOptions io;
    io.dir = o.dir;
    io.endpoint = o.endpoint;
    io.users = o.users;
    if (int rc = server_init(io, /*quiet_if_exists=*/true); rc != 0) return rc;
  }
  if (int rc = upgrade_if_needed(o.dir); rc != 0) return rc;
  // The QR code is printed before the daemon starts, with the daemon's logging.
  const DaemonRun run{"server", o.log_level, o.log_file, ""};
  return run_in_foreground(run, [&o]() -> Result<std::function<Status()>> {
    if (o.show_qr) {
      auto c = server::load_config(o.dir);
      if (c && !c->users.empty()) print_user_qr(o.dir, c->users.front());
    }
    auto d = server::ServerDaemon::start(o.dir);
    if (!d) return d.take_error();
    std::shared_ptr<server::ServerDaemon> running(std::move(*d));
    return std::function<Status()>([running]() { return running->run(); });
  });
}

std::string control_path(const server::ServerConfig& c) {
  return daemon::control_socket_path(c.wireguard_interface);
}

int server_status(const std::string& dir, bool json) {
  auto config = server::load_config(dir);
  if (!config) return fail(config.error().message);
  auto r = control::json_request(control_path(*config), {{"cmd", "status"}});
  server::ServerStatus s;
  if (r && r->value("ok", false)) {
    s = server::server_status_from_json(*r);
    s.running = true;
  } else {
    auto state = server::load_state(dir);
    if (!state) return fail(state.error().message);
    s.interface = config->wireguard_interface;
    s.endpoint = config->endpoint;
    s.port = config->wireguard_port;
    if (!state->private_key.is_zero()) {
      s.public_key = crypto::key_to_base64(crypto::public_from_private(state->private_key));
    }
    for (const auto& [name, u] : state->users) {
      server::UserStatus us;
      us.name = name;
      us.public_key = crypto::key_to_base64(u.public_key);
      us.ipv4 = u.ipv4.to_string();
      if (config->ipv6 && u.ipv6) us.ipv6 = u.ipv6->to_string();
      s.users.push_back(std::move(us));
    }
  }
  if (json) {
    std::printf("%s\n", to_json(s, true).dump(2).c_str());
    return 0;
  }
  std::fputs(render_text(s).c_str(), stdout);
  return 0;
}

// Says what the running server did with a change; fine if none is running.
void report_running_server(const server::UserChangeResult& r) {
  if (r.server.empty()) return;
  if (r.server_applied) {
    std::printf("waypost: the running server applied the change (no restart needed)\n");
  } else {
    std::fprintf(stderr, "waypost: warning: %s\n", r.server.c_str());
  }
}

// Asks a running server to pick up a hand-edited config.yaml; fine if none is running.
void sync_running_server(const server::ServerConfig& c) {
  server::UserChangeResult r;
  server::tell_running_server(c, r);
  report_running_server(r);
}

// Adds or removes users (server/user_changes.h) and says what happened.
int change_users(const std::string& dir, const std::vector<std::string>& add,
                 const std::vector<std::string>& remove) {
  if (int rc = upgrade_if_needed(dir); rc != 0) return rc;
  auto r = server::change_users(dir, add, remove);
  if (!r) return fail(r.error().message);
  auto config = server::load_config(dir);
  if (!config) return fail(config.error().message);
  auto state = server::load_state(dir);
  if (!state) return fail(state.error().message);
  for (const auto& name : r->added) {
    auto it = state->users.find(name);
    if (it == state->users.end()) continue;
    const auto& u = it->second;
    std::printf("waypost: added %s (%s%s)\n  profile: %s\n", name.c_str(),
                u.ipv4.to_string().c_str(),
                u.ipv6 && config->ipv6 ? (", " + u.ipv6->to_string()).c_str() : "",
                server::conf_path(dir, *config, name).c_str());
  }
  if (!r->added.empty()) print_ipsec_summary(dir, *config);
  for (const auto& name : r->removed) std::printf("waypost: removed %s\n", name.c_str());
  report_running_server(*r);
  return 0;
}

// `users disable` / `users enable`.
int set_users_enabled(const std::string& dir, const std::vector<std::string>& names, bool enabled) {
  if (int rc = upgrade_if_needed(dir); rc != 0) return rc;
  auto r = server::set_users_enabled(dir, names, enabled);
  if (!r) return fail(r.error().message);
  for (const auto& name : r->disabled) {
    std::printf("waypost: disabled %s: its sessions end, it cannot connect until enabled\n",
                name.c_str());
  }
  for (const auto& name : r->enabled) std::printf("waypost: enabled %s\n", name.c_str());
  for (const auto& name : names) {
    if (std::find(r->disabled.begin(), r->disabled.end(), name) == r->disabled.end() &&
        std::find(r->enabled.begin(), r->enabled.end(), name) == r->enabled.end()) {
      std::printf("waypost: %s is %s already\n", name.c_str(), enabled ? "enabled" : "disabled");
    }
  }
  report_running_server(*r);
  return 0;
}

int rename_user(const std::string& dir, const std::string& from, const std::string& to) {
  if (int rc = upgrade_if_needed(dir); rc != 0) return rc;
  auto r = server::rename_user(dir, from, to);
  if (!r) return fail(r.error().message);
  std::printf(
      "waypost: renamed %s to %s: its WireGuard key and addresses stay; its files are now "
      "named %s\n",
      from.c_str(), to.c_str(), to.c_str());
  // The web admin's notes, limits and traffic history follow the user.
  const std::string db = dir + "/web.db";
  if (::access(db.c_str(), F_OK) == 0) {
    auto store = web::Store::open(db);
    Status moved = store ? (*store)->rename_user_data(from, to) : Status(store.error());
    if (!moved) {
      std::fprintf(stderr, "waypost: warning: web.db keeps %s's page settings: %s\n", from.c_str(),
                   moved.error().message.c_str());
    }
  }
  report_running_server(*r);
  return 0;
}

int print_user_qr(const std::string& dir, const std::string& user) {
  auto config = server::load_config(dir);
  if (!config) return fail(config.error().message);
  auto state = server::load_state(dir);
  if (!state) return fail(state.error().message);
  auto it = state->users.find(user);
  if (it == state->users.end()) return fail("no user named '" + user + "'");
  if (!server::has_client_profile(it->second)) {
    return fail("no profile for " + user + ": " + std::string(server::kNoPrivateKey));
  }
  auto qr = server::qr_terminal(server::client_conf(*config, *state, user));
  if (!qr) return fail(qr.error().message);
  std::printf("%s\nScan with the WireGuard app to add the tunnel for %s.\n", qr->c_str(),
              user.c_str());
  std::fflush(stdout);
  return 0;
}

struct ShowOptions {
  std::string dir = kDefaultDir;
  std::string user;
  bool qr = false;
  std::string mobileconfig;  // "ios" / "macos"
  bool paths = false;
  bool p12_password = false;
};

int users_show(const ShowOptions& o) {
  if (o.qr) return print_user_qr(o.dir, o.user);
  auto config = server::load_config(o.dir);
  if (!config) return fail(config.error().message);
  auto state = server::load_state(o.dir);
  if (!state) return fail(state.error().message);
  auto user_it = state->users.find(o.user);
  if (user_it == state->users.end()) return fail("no user named '" + o.user + "'");
  const bool wg_profile = server::has_client_profile(user_it->second);
  if (!wg_profile && !o.p12_password && !o.paths) {
    return fail("no WireGuard profile for " + o.user + ": " + std::string(server::kNoPrivateKey));
  }
  if (o.p12_password) {
    if (!config->ipsec_enabled) return fail("IKEv2 is off (ipsec_enabled: false): no .p12 files");
    auto pw = server::p12_password(o.dir);
    if (!pw) return fail(pw.error().message);
    std::printf("%s\n", pw->c_str());
    return 0;
  }
  if (!o.mobileconfig.empty()) {
    if (o.mobileconfig != "ios" && o.mobileconfig != "macos") {
      return fail("--mobileconfig takes ios or macos");
    }
    auto os = o.mobileconfig == "ios" ? server::AppleOs::kIos : server::AppleOs::kMacos;
    std::fputs(server::apple_mobileconfig(*config, *state, o.user, os).c_str(), stdout);
    return 0;
  }
  if (o.paths) {
    std::printf("%s\n%s\n%s\n%s\n", server::conf_path(o.dir, *config, o.user).c_str(),
                server::png_path(o.dir, *config, o.user).c_str(),
                server::mobileconfig_path(o.dir, *config, o.user, server::AppleOs::kIos).c_str(),
                server::mobileconfig_path(o.dir, *config, o.user, server::AppleOs::kMacos).c_str());
    if (config->ipsec_enabled) {
      const std::string b = server::ipsec_bundle_dir(o.dir, config->endpoint);
      for (const std::string& rel :
           {std::string("manual/cacert.pem"), "manual/" + o.user + ".p12",
            "manual/" + o.user + ".conf", "manual/" + o.user + ".secrets",
            "apple/" + o.user + ".mobileconfig", "swanctl/" + o.user + ".conf",
            "android/" + o.user + ".sswan", "windows/" + o.user + ".ps1"}) {
        std::printf("%s/%s\n", b.c_str(), rel.c_str());
      }
    }
    return 0;
  }
  std::fputs(server::client_conf(*config, *state, o.user).c_str(), stdout);
  return 0;
}

int users_sync(const std::string& dir) {
  if (int rc = upgrade_if_needed(dir); rc != 0) return rc;
  server::ServerConfig config;
  {
    auto lock = server::DirLock::acquire(dir);
    if (!lock) return fail(lock.error().message);
    auto loaded = server::load_and_reconcile(dir);
    if (!loaded) return fail(loaded.error().message);
    for (const auto& n : loaded->changes.added) std::printf("waypost: added %s\n", n.c_str());
    for (const auto& n : loaded->changes.removed) std::printf("waypost: removed %s\n", n.c_str());
    config = loaded->config;
  }
  sync_running_server(config);
  return 0;
}

int users_list(const std::string& dir) {
  auto config = server::load_config(dir);
  if (!config) return fail(config.error().message);
  auto state = server::load_state(dir);
  if (!state) return fail(state.error().message);
  for (const auto& name : config->users) {
    auto it = state->users.find(name);
    std::printf("%-16s %s\n", name.c_str(),
                it == state->users.end() ? "(no keys yet)" : it->second.ipv4.to_string().c_str());
  }
  return 0;
}

}  // namespace

void register_server_commands(CLI::App& app) {
  auto* server_cmd = app.add_subcommand("server", "Run a VPN server with per-user client profiles");
  server_cmd->require_subcommand(1);
  register_server_backup_commands(*server_cmd);
  register_server_import_commands(*server_cmd);

  auto init = std::make_shared<InitOptions>();
  auto* init_cmd =
      server_cmd->add_subcommand("init", "Create config.yaml, keys and client profiles");
  init_cmd->add_option("--dir", init->dir, "State directory")->capture_default_str();
  init_cmd->add_option("--endpoint", init->endpoint,
                       "Host name or IP clients connect to (default: the default route's address)");
  init_cmd->add_option("--users", init->users, "Comma-separated user names")->capture_default_str();
  init_cmd->add_option("--interface", init->interface_name, "Interface name (default wp0)");
  init_cmd->add_option("--port", init->port, "UDP port (default 51820)");
  init_cmd->add_option("--ipv6", init->ipv6, "IPv6 inside the tunnel: on or off")
      ->check(CLI::IsMember({"on", "off"}));
  init_cmd->add_flag("--force", init->force, "Start over: new keys for everyone");
  init_cmd->add_option("--admin", init->admin,
                       "The web admin's first account (owner); prints its one-time setup link");
  init_cmd->callback([init]() { std::exit(server_init(*init)); });

  auto up = std::make_shared<UpOptions>();
  auto* up_cmd = server_cmd->add_subcommand("up", "Run the server in the foreground");
  up_cmd->add_option("--dir", up->dir, "State directory")->capture_default_str();
  up_cmd->add_flag("--init-if-needed", up->init_if_needed, "Initialise on first run");
  up_cmd->add_option("--endpoint", up->endpoint, "With --init-if-needed: the endpoint");
  up_cmd->add_option("--users", up->users, "With --init-if-needed: the users");
  up_cmd->add_flag("--show-qr", up->show_qr, "Print the first user's QR code before starting");
  up_cmd->add_option("--log-level", up->log_level, "trace, debug, info, warn, error");
  up_cmd->add_option("--log-file", up->log_file, "Log file (default: stderr)");
  up_cmd->callback([up]() { std::exit(server_up(*up)); });

  auto status_dir = std::make_shared<std::string>(kDefaultDir);
  auto status_json = std::make_shared<bool>(false);
  auto* status_cmd = server_cmd->add_subcommand("status", "Users, handshakes, endpoints, traffic");
  status_cmd->add_option("--dir", *status_dir, "State directory")->capture_default_str();
  status_cmd->add_flag("--json", *status_json, "Machine-readable output");
  status_cmd->callback(
      [status_dir, status_json]() { std::exit(server_status(*status_dir, *status_json)); });

  auto* users_cmd = app.add_subcommand("users", "Add, remove and show VPN users");
  users_cmd->require_subcommand(1);

  auto add_dir = std::make_shared<std::string>(kDefaultDir);
  auto add_names = std::make_shared<std::vector<std::string>>();
  auto* add_cmd = users_cmd->add_subcommand("add", "Add users (live: no restart)");
  add_cmd->add_option("names", *add_names, "User names")->required();
  add_cmd->add_option("--dir", *add_dir, "State directory")->capture_default_str();
  add_cmd->callback([add_dir, add_names]() { std::exit(change_users(*add_dir, *add_names, {})); });

  auto rm_dir = std::make_shared<std::string>(kDefaultDir);
  auto rm_names = std::make_shared<std::vector<std::string>>();
  auto* rm_cmd = users_cmd->add_subcommand("remove", "Remove users (their sessions end at once)");
  rm_cmd->add_option("names", *rm_names, "User names")->required();
  rm_cmd->add_option("--dir", *rm_dir, "State directory")->capture_default_str();
  rm_cmd->callback([rm_dir, rm_names]() { std::exit(change_users(*rm_dir, {}, *rm_names)); });

  for (const bool enable : {false, true}) {
    auto dir = std::make_shared<std::string>(kDefaultDir);
    auto names = std::make_shared<std::vector<std::string>>();
    auto* cmd = users_cmd->add_subcommand(
        enable ? "enable" : "disable",
        enable ? "Let disabled users connect again"
               : "Stop users from connecting, keeping their keys and files (sessions end now)");
    cmd->add_option("names", *names, "User names")->required();
    cmd->add_option("--dir", *dir, "State directory")->capture_default_str();
    cmd->callback([dir, names, enable]() { std::exit(set_users_enabled(*dir, *names, enable)); });
  }

  auto rename_dir = std::make_shared<std::string>(kDefaultDir);
  auto rename_names = std::make_shared<std::vector<std::string>>();
  auto* rename_cmd = users_cmd->add_subcommand(
      "rename", "Rename a user (WireGuard clients keep working; IKEv2 gets a new certificate)");
  rename_cmd->add_option("names", *rename_names, "OLD NEW")->required()->expected(2);
  rename_cmd->add_option("--dir", *rename_dir, "State directory")->capture_default_str();
  rename_cmd->callback([rename_dir, rename_names]() {
    std::exit(rename_user(*rename_dir, (*rename_names)[0], (*rename_names)[1]));
  });

  auto show = std::make_shared<ShowOptions>();
  auto* show_cmd = users_cmd->add_subcommand("show", "Print a user's client config, QR or profile");
  show_cmd->add_option("name", show->user, "User name")->required();
  show_cmd->add_option("--dir", show->dir, "State directory")->capture_default_str();
  show_cmd->add_flag("--qr", show->qr, "QR code in the terminal");
  show_cmd->add_option("--mobileconfig", show->mobileconfig, "Apple profile: ios or macos");
  show_cmd->add_flag("--paths", show->paths, "Where the profile files are");
  show_cmd->add_flag("--p12-password", show->p12_password,
                     "The password of the user's IKEv2 .p12 (one per server)");
  show_cmd->callback([show]() { std::exit(users_show(*show)); });

  auto sync_dir = std::make_shared<std::string>(kDefaultDir);
  auto* sync_cmd = users_cmd->add_subcommand(
      "sync", "Apply a hand-edited config.yaml users list (keys, profiles, running server)");
  sync_cmd->add_option("--dir", *sync_dir, "State directory")->capture_default_str();
  sync_cmd->callback([sync_dir]() { std::exit(users_sync(*sync_dir)); });

  auto list_dir = std::make_shared<std::string>(kDefaultDir);
  auto* list_cmd = users_cmd->add_subcommand("list", "List users and their addresses");
  list_cmd->add_option("--dir", *list_dir, "State directory")->capture_default_str();
  list_cmd->callback([list_dir]() { std::exit(users_list(*list_dir)); });
}

}  // namespace waypost::cli
