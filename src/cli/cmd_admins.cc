// admins add / reset / list / remove: the web admin's accounts in <dir>/web.db (docs/WEB.md).
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "common/clock.h"
#include "crypto/random.h"
#include "server/config.h"
#include "server/state.h"
#include "web/auth.h"
#include "web/store.h"

namespace waypost::cli {

namespace {

constexpr const char* kDefaultDir = "/etc/waypost";

struct AdminOptions {
  std::string dir = kDefaultDir;
  std::string name;
  std::string role;  // empty: owner for the first admin, admin after that
};

Result<std::unique_ptr<web::Store>> open_store(const std::string& dir) {
  return web::Store::open(dir + "/web.db");
}

// The link the new admin opens: the token travels in the fragment, which browsers never send to
// the server or put in a Referer header, so it stays out of logs; the page reads it with script.
Result<std::string> setup_link(const std::string& dir, const std::string& token) {
  auto config = server::load_config(dir);
  if (!config) return config.take_error();
  std::string host = config->endpoint;
  if (host.empty()) {
    auto guessed = guess_endpoint();
    if (!guessed) return guessed.take_error();
    host = *guessed;
  }
  if (host.find(':') != std::string::npos) host = "[" + host + "]";  // an IPv6 literal
  if (!config->web_enabled) {
    std::fprintf(stderr,
                 "waypost: note: the web admin is off in config.yaml (web_enabled: false); the "
                 "link works once it is on\n");
  }
  return fmt::format("https://{}:{}/setup#{}", host, config->web_port, token);
}

int print_link(const std::string& dir, const std::string& name, const std::string& token) {
  auto link = setup_link(dir, token);
  if (!link) return fail(link.error().message);
  std::printf(
      "One-time setup link for %s (valid for 24 hours, works once; send it privately):\n\n  %s\n\n"
      "Opening it sets a password and a TOTP authenticator app.\n",
      name.c_str(), link->c_str());
  return 0;
}

int admins_add(const AdminOptions& o) {
  // The config is read first: without a server there is no address to put in the link.
  if (auto config = server::load_config(o.dir); !config) return fail(config.error().message);
  auto store = open_store(o.dir);
  if (!store) return fail(store.error().message);
  web::Role role = web::Role::kAdmin;
  if (o.role.empty()) {
    auto admins = (*store)->list_admins();
    if (!admins) return fail(admins.error().message);
    if (admins->empty()) role = web::Role::kOwner;
  } else {
    role = *web::parse_role(o.role);  // CLI11 checked the spelling
  }
  web::Auth auth(**store, SystemClock{}, crypto::system_random());
  auto token = auth.add_admin(o.name, role, web::kCliActor);
  if (!token) return fail(token.error().message);
  std::printf("waypost: added admin %s (%s)\n", o.name.c_str(),
              std::string(to_string(role)).c_str());
  return print_link(o.dir, o.name, *token);
}

int admins_reset(const AdminOptions& o) {
  if (auto config = server::load_config(o.dir); !config) return fail(config.error().message);
  auto store = open_store(o.dir);
  if (!store) return fail(store.error().message);
  web::Auth auth(**store, SystemClock{}, crypto::system_random());
  auto token = auth.reset_admin(o.name, web::kCliActor);
  if (!token) return fail(token.error().message);
  std::printf(
      "waypost: %s's password, TOTP and recovery codes are forgotten and their sessions ended\n",
      o.name.c_str());
  return print_link(o.dir, o.name, *token);
}

int admins_remove(const AdminOptions& o) {
  auto store = open_store(o.dir);
  if (!store) return fail(store.error().message);
  web::Auth auth(**store, SystemClock{}, crypto::system_random());
  if (auto st = auth.remove_admin(o.name, web::kCliActor); !st) return fail(st.error().message);
  std::printf("waypost: removed admin %s\n", o.name.c_str());
  return 0;
}

int admins_set_disabled(const AdminOptions& o, bool disabled) {
  auto store = open_store(o.dir);
  if (!store) return fail(store.error().message);
  web::Auth auth(**store, SystemClock{}, crypto::system_random());
  if (auto st = auth.set_admin_disabled(o.name, disabled, web::kCliActor); !st) {
    return fail(st.error().message);
  }
  std::printf(disabled ? "waypost: disabled admin %s: their sessions ended and their API tokens "
                         "stop working until enabled\n"
                       : "waypost: enabled admin %s\n",
              o.name.c_str());
  return 0;
}

std::string date_of(int64_t unix_time) {
  const auto t = static_cast<time_t>(unix_time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

int admins_list(const std::string& dir) {
  auto store = open_store(dir);
  if (!store) return fail(store.error().message);
  auto admins = (*store)->list_admins();
  if (!admins) return fail(admins.error().message);
  if (admins->empty()) {
    std::printf("no admins yet; add one with: waypost admins add NAME\n");
    return 0;
  }
  std::printf("%-24s %-7s %-14s %s\n", "NAME", "ROLE", "STATE", "CREATED");
  for (const auto& a : *admins) {
    const char* state = a.disabled ? "disabled" : a.set_up() ? "active" : "setup pending";
    std::printf("%-24s %-7s %-14s %s\n", a.name.c_str(), std::string(to_string(a.role)).c_str(),
                state, date_of(a.created).c_str());
  }
  return 0;
}

}  // namespace

int add_admin(const std::string& dir, const std::string& name) {
  AdminOptions o;
  o.dir = dir;
  o.name = name;
  return admins_add(o);
}

void register_admin_commands(CLI::App& app) {
  auto* admins_cmd = app.add_subcommand("admins", "Manage the web admin page's accounts");
  admins_cmd->require_subcommand(1);
  const auto roles = CLI::IsMember({"owner", "admin", "viewer"});

  auto add = std::make_shared<AdminOptions>();
  auto* add_cmd = admins_cmd->add_subcommand("add", "Add an admin; prints a one-time setup link");
  add_cmd->add_option("name", add->name, "Admin name")->required();
  add_cmd
      ->add_option("--role", add->role,
                   "owner (everything), admin (VPN users) or viewer (read-only); "
                   "default: owner for the first admin, admin after that")
      ->check(roles);
  add_cmd->add_option("--dir", add->dir, "State directory")->capture_default_str();
  add_cmd->callback([add]() { std::exit(admins_add(*add)); });

  auto reset = std::make_shared<AdminOptions>();
  auto* reset_cmd = admins_cmd->add_subcommand(
      "reset", "New setup link for a lost password or TOTP device (ends their sessions)");
  reset_cmd->add_option("name", reset->name, "Admin name")->required();
  reset_cmd->add_option("--dir", reset->dir, "State directory")->capture_default_str();
  reset_cmd->callback([reset]() { std::exit(admins_reset(*reset)); });

  auto rm = std::make_shared<AdminOptions>();
  auto* rm_cmd = admins_cmd->add_subcommand("remove", "Remove an admin (not the last owner)");
  rm_cmd->add_option("name", rm->name, "Admin name")->required();
  rm_cmd->add_option("--dir", rm->dir, "State directory")->capture_default_str();
  rm_cmd->callback([rm]() { std::exit(admins_remove(*rm)); });

  for (const bool disable : {true, false}) {
    auto o = std::make_shared<AdminOptions>();
    auto* cmd = admins_cmd->add_subcommand(
        disable ? "disable" : "enable",
        disable ? "Stop an admin from signing in, keeping the account (not the last owner)"
                : "Let a disabled admin sign in again");
    cmd->add_option("name", o->name, "Admin name")->required();
    cmd->add_option("--dir", o->dir, "State directory")->capture_default_str();
    cmd->callback([o, disable]() { std::exit(admins_set_disabled(*o, disable)); });
  }

  auto list_dir = std::make_shared<std::string>(kDefaultDir);
  auto* list_cmd = admins_cmd->add_subcommand("list", "List admins, their roles and state");
  list_cmd->add_option("--dir", *list_dir, "State directory")->capture_default_str();
  list_cmd->callback([list_dir]() { std::exit(admins_list(*list_dir)); });
}

}  // namespace waypost::cli
