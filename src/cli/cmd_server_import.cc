// server import-algo / import-wg: a new server directory from an Algo VPN or WireGuard server.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "common/atomic_file.h"
#include "common/secret.h"
#include "crypto/random.h"
#include "server/import_algo.h"
#include "server/import_plan.h"
#include "server/import_wg.h"
#include "server/wg_easy.h"

namespace waypost::cli {

namespace {

constexpr const char* kDefaultDir = "/etc/waypost";

struct CommonOptions {
  std::string dir = kDefaultDir;
  bool dry_run = false;
  bool force = false;
};

// Prints the plan, then writes it unless this is a dry run.
int finish(const CommonOptions& o, const server::ImportPlan& plan) {
  std::fputs(server::describe_plan(plan).c_str(), stdout);
  if (o.dry_run) {
    std::printf("dry run: nothing written (without --dry-run this creates the server in %s)\n",
                o.dir.c_str());
    return 0;
  }
  auto notes = server::write_import(plan, o.dir, o.force);
  if (!notes) return fail(notes.error().message);
  for (const auto& n : *notes) std::printf("  - %s\n", n.c_str());
  std::printf("waypost: imported into %s; start it with: waypost server up%s\n", o.dir.c_str(),
              o.dir == kDefaultDir ? "" : (" --dir " + o.dir).c_str());
  return 0;
}

struct AlgoOptions {
  CommonOptions common;
  server::AlgoImportOptions algo;
  std::string ca_password_file;
};

int import_algo(AlgoOptions o) {
  if (!o.ca_password_file.empty()) {
    auto text = read_file(o.ca_password_file, 4096);
    if (!text) return fail(text.error().message);
    std::string_view pw = *text;
    while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.remove_suffix(1);
    o.algo.ca_password = std::string(pw);
    secure_wipe(text->data(), text->size());
  }
  auto plan = server::plan_algo_import(o.algo);
  secure_wipe(o.algo.ca_password.data(), o.algo.ca_password.size());
  if (!plan) return fail(plan.error().message);
  return finish(o.common, *plan);
}

struct WgOptions {
  CommonOptions common;
  std::string conf;
  std::string wg_easy_db;
  std::string endpoint;
  bool skip_disabled = false;
};

int import_wg(const WgOptions& o) {
  server::WgImportInputs in;
  in.conf_file = o.conf;
  in.skip_disabled = o.skip_disabled;
  auto text = read_file(o.conf);
  if (!text) return fail(text.error().message);
  auto conf = server::parse_wg_server_conf(*text, o.conf);
  secure_wipe(text->data(), text->size());
  if (!conf) return fail(conf.error().message);
  in.conf = std::move(*conf);
  if (!o.wg_easy_db.empty()) {
    auto db = server::read_wg_easy(o.wg_easy_db);
    if (!db) return fail(db.error().message);
    in.wg_easy = std::move(*db);
  }
  in.endpoint = o.endpoint;
  if (in.endpoint.empty() && (!in.wg_easy || in.wg_easy->host.empty())) {
    auto guessed = guess_endpoint();
    if (!guessed) return fail(guessed.error().message);
    in.endpoint = *guessed;
    std::printf("waypost: using %s as the endpoint clients connect to (override with --endpoint)\n",
                in.endpoint.c_str());
  }
  auto plan = server::plan_wg_import(in, crypto::system_random());
  if (!plan) return fail(plan.error().message);
  return finish(o.common, *plan);
}

void add_common(CLI::App* cmd, CommonOptions& o) {
  cmd->add_option("--dir", o.dir, "Server directory to create")->capture_default_str();
  cmd->add_flag("--dry-run", o.dry_run, "Print what would be created; write nothing");
  cmd->add_flag("--force", o.force,
                "Replace an existing server (its files are moved to <dir>/.pre-import-<time>/)");
}

}  // namespace

void register_server_import_commands(CLI::App& server_cmd) {
  auto algo = std::make_shared<AlgoOptions>();
  auto* algo_cmd = server_cmd.add_subcommand(
      "import-algo", "Take over an Algo VPN server from its configs/<server>/ directory");
  algo_cmd->add_option("tree", algo->algo.tree, "Algo's configs/<server>/ directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  add_common(algo_cmd, algo->common);
  algo_cmd->add_option("--config-cfg", algo->algo.config_cfg,
                       "Algo's config.cfg (default: the one of the checkout the tree is in)");
  algo_cmd->add_option("--ca-password", algo->algo.ca_password,
                       "The CA password Algo printed (to keep issuing IKEv2 certificates)");
  algo_cmd->add_option("--ca-password-file", algo->ca_password_file,
                       "Read the CA password from a file instead");
  algo_cmd->add_option("--p12-password", algo->algo.p12_password,
                       "The .p12 password Algo printed (reads manual/<user>.p12 without the PKI; "
                       "Waypost's new .p12 files keep it)");
  algo_cmd->add_option("--wg-conf", algo->algo.server_wg_conf,
                       "The Algo server's /etc/wireguard/wg0.conf, for its key when the tree has "
                       "no .pki (default: that file when it exists)");
  algo_cmd->add_option("--ipsec-dir", algo->algo.server_ipsec_dir,
                       "The Algo server's /etc/ipsec.d, for its IKEv2 certificate when the tree "
                       "has no .pki (default: that directory when it exists)");
  algo_cmd->callback([algo]() { std::exit(import_algo(*algo)); });

  auto wg = std::make_shared<WgOptions>();
  auto* wg_cmd = server_cmd.add_subcommand(
      "import-wg", "Take over a WireGuard server from its wg-quick .conf (wg-easy, PiVPN, ...)");
  wg_cmd->add_option("conf", wg->conf, "The server's wg-quick file, e.g. /etc/wireguard/wg0.conf")
      ->required()
      ->check(CLI::ExistingFile);
  add_common(wg_cmd, wg->common);
  wg_cmd
      ->add_option("--wg-easy-db", wg->wg_easy_db,
                   "wg-easy's wg0.json (v14 and older) or wg-easy.db (v15): names, client keys "
                   "and disabled clients")
      ->check(CLI::ExistingFile);
  wg_cmd->add_option("--endpoint", wg->endpoint,
                     "Host name or IP clients connect to (default: wg-easy's host, else the "
                     "default route's address)");
  wg_cmd->add_flag("--skip-disabled", wg->skip_disabled,
                   "Leave out clients disabled in wg-easy (default: import them, with a note)");
  wg_cmd->callback([wg]() { std::exit(import_wg(*wg)); });
}

}  // namespace waypost::cli
