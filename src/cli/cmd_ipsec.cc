// waypost ipsec up/down/status/list-conns/initiate/terminate/log: IPsec instances configured in
// strongSwan's swanctl.conf format (ipsec/instance.h runs one); waypost ipsec import: an
// ipsec.conf and ipsec.secrets converted into that format (ike/ipsec_conf_import.h).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/daemonize.h"
#include "common/atomic_file.h"
#include "control/json_session.h"
#include "ike/credentials.h"
#include "ike/ipsec_conf_import.h"
#include "ike/swanctl_conf.h"
#include "ipsec/instance.h"
#include "ipsec/local_address.h"
#include "ipsec/paths.h"
#include "wireguard/conf.h"

namespace waypost::cli {

namespace {

struct IpsecUp {
  std::string config_path;
  bool foreground = false;
  std::string log_level = "info";
  std::string log_file;
};

Result<ipsec::InstanceOptions> load_instance(const std::string& path) {
  // The instance and its TUN device are named after the file, as wg-quick names interfaces.
  auto name = wireguard::interface_name_from_path(path);
  if (!name) return name.take_error();
  ike::DiskConfFiles files;
  auto config = ike::parse_swanctl_file(path, files);
  if (!config) return config.take_error();
  // Certificates and keys from the swanctl directory layout beside the file.
  if (ike::uses_certificates(*config)) {
    auto creds =
        ike::Credentials::load(*config, std::filesystem::absolute(path).parent_path().string());
    if (!creds) return creds.take_error();
    config->credentials = std::move(*creds);
  }
  // Pre-shared keys are secrets: refuse a file others can read, as for WireGuard keys.
  if (!config->secrets.empty()) {
    if (auto st = check_private_file(path); !st) return st.take_error();
  }
  ipsec::InstanceOptions o;
  o.name = *name;
  o.config_path = path;
  o.credentials_dir = std::filesystem::absolute(path).parent_path().string();
  o.config = std::move(*config);
  return o;
}

DaemonStart instance_starter(ipsec::InstanceOptions options) {
  auto shared = std::make_shared<ipsec::InstanceOptions>(std::move(options));
  return [shared]() -> Result<std::function<Status()>> {
    auto inst = ipsec::Instance::start(std::move(*shared));
    if (!inst) return inst.take_error();
    std::shared_ptr<ipsec::Instance> running(std::move(*inst));
    return std::function<Status()>([running]() { return running->run(); });
  };
}

int cmd_ipsec_up(const IpsecUp& up) {
  auto options = load_instance(up.config_path);
  if (!options) return fail(options.error().message);
  const std::string name = options->name;
  const DaemonRun run{"IPsec instance " + name, up.log_level, up.log_file,
                      ipsec::ipsec_log_path(name)};
  if (up.foreground) return run_in_foreground(run, instance_starter(std::move(*options)));
  return run_in_background(run, instance_starter(std::move(*options)));
}

// One request to a running instance; the error names the instance when it is not running.
Result<nlohmann::json> ask(const std::string& name, const nlohmann::json& request) {
  const std::string sock = ipsec::ipsec_socket_path(name);
  auto r = control::json_request(sock, request);
  if (!r) {
    if (::access(sock.c_str(), F_OK) != 0) {
      return make_error(ErrorKind::kNotFound, "IPsec instance {} is not running (no {})", name,
                        sock);
    }
    return r.take_error();
  }
  if (!r->value("ok", false)) {
    return make_error("{}: {}", name, r->value("error", std::string("the instance refused")));
  }
  r->erase("ok");
  return r;
}

std::vector<std::string> running_instances() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(ipsec::ipsec_control_dir(), ec)) {
    if (e.path().extension() == ".sock") out.push_back(e.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool process_alive(pid_t pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

int cmd_ipsec_down(const std::string& name) {
  pid_t pid = 0;
  std::ifstream(ipsec::ipsec_pid_path(name)) >> pid;
  auto r = ask(name, {{"cmd", "down"}});
  if (!r) return fail(r.error().message);
  // The instance deletes its SAs (a few seconds at most) and removes its device.
  for (int i = 0; i < 200 && process_alive(pid); ++i) ::usleep(50'000);
  if (process_alive(pid)) return fail("IPsec instance " + name + " is still shutting down");
  std::printf("waypost: IPsec instance %s is down\n", name.c_str());
  return 0;
}

std::string join(const nlohmann::json& list) {
  std::string out;
  for (const auto& v : list) {
    if (!out.empty()) out += " ";
    out += v.get<std::string>();
  }
  return out;
}

// swanctl --list-sas, roughly.
void print_status(const nlohmann::json& s) {
  for (const auto& sa : s["ike_sas"]) {
    std::printf("%s: #%u, %s, IKEv2, %s_i%s %s_r%s\n", sa.value("name", "").c_str(),
                sa.value("uniqueid", 0u), sa.value("state", "").c_str(),
                sa.value("initiator_spi", "").c_str(), sa.value("initiator", false) ? "*" : "",
                sa.value("responder_spi", "").c_str(), sa.value("initiator", false) ? "" : "*");
    std::printf("  local  '%s' @ %s[%d]%s\n", sa.value("local_id", "").c_str(),
                sa.value("local_addr", "").c_str(), sa.value("local_port", 0),
                sa.value("initiator", false) && !sa["virtual_ips"].empty()
                    ? (" [" + join(sa["virtual_ips"]) + "]").c_str()
                    : "");
    std::printf("  remote '%s' @ %s[%d]%s\n", sa.value("remote_id", "").c_str(),
                sa.value("remote_addr", "").c_str(), sa.value("remote_port", 0),
                !sa.value("initiator", false) && !sa["virtual_ips"].empty()
                    ? (" [" + join(sa["virtual_ips"]) + "]").c_str()
                    : "");
    if (sa.contains("algorithms")) std::printf("  %s\n", sa.value("algorithms", "").c_str());
    if (sa.contains("established_s")) {
      std::printf("  established %llds ago\n", sa.value("established_s", 0LL));
    }
    for (const auto& c : sa["child_sas"]) {
      std::printf("  %s: %s, TUNNEL-in-UDP, ESP:%s\n", c.value("name", "").c_str(),
                  c.value("state", "").c_str(), c.value("algorithms", "").c_str());
      std::printf("    installed %llds ago", c.value("install_s", 0LL));
      if (c.contains("rekey_in_s")) std::printf(", rekeying in %llds", c.value("rekey_in_s", 0LL));
      if (c.contains("life_in_s")) std::printf(", expires in %llds", c.value("life_in_s", 0LL));
      std::printf("\n");
      std::printf("    in  %s, %llu bytes, %llu packets\n", c.value("spi_in", "").c_str(),
                  c.value("bytes_in", 0ULL), c.value("packets_in", 0ULL));
      std::printf("    out %s, %llu bytes, %llu packets\n", c.value("spi_out", "").c_str(),
                  c.value("bytes_out", 0ULL), c.value("packets_out", 0ULL));
      std::printf("    local  %s\n", join(c["local_ts"]).c_str());
      std::printf("    remote %s\n", join(c["remote_ts"]).c_str());
    }
  }
}

int cmd_ipsec_status(const std::string& name, bool json) {
  std::vector<std::string> names = name.empty() ? running_instances() : std::vector{name};
  nlohmann::json all = nlohmann::json::array();
  int rc = 0;
  for (const auto& n : names) {
    auto r = ask(n, {{"cmd", "status"}});
    if (!r) {
      if (!name.empty()) return fail(r.error().message);
      std::fprintf(stderr, "waypost: %s\n", r.error().message.c_str());
      rc = 1;
      continue;
    }
    if (json) {
      all.push_back(*r);
    } else {
      print_status(*r);
    }
  }
  if (json) {
    std::printf("%s\n", (name.empty()  ? all
                         : all.empty() ? nlohmann::json()
                                       : all[0])
                            .dump(2)
                            .c_str());
  }
  return rc;
}

int cmd_ipsec_list_conns(const std::string& name, bool json) {
  auto r = ask(name, {{"cmd", "list-conns"}});
  if (!r) return fail(r.error().message);
  if (json) {
    std::printf("%s\n", r->dump(2).c_str());
    return 0;
  }
  for (const auto& c : (*r)["connections"]) {
    std::printf("%s: IKEv2, no reauthentication, rekeying every %llds\n",
                c.value("name", "").c_str(), c.value("rekey_time_s", 0LL));
    std::printf("  local:  %s\n", join(c["local_addrs"]).c_str());
    std::printf("  remote: %s\n", join(c["remote_addrs"]).c_str());
    for (const auto& round : c["local"]) {
      std::printf("  local %s authentication:\n    id: %s\n", round.value("auth", "").c_str(),
                  round.value("id", "").c_str());
    }
    for (const auto& round : c["remote"]) {
      std::printf("  remote %s authentication:\n    id: %s\n", round.value("auth", "").c_str(),
                  round.value("id", "").c_str());
    }
    for (const auto& ch : c["children"]) {
      std::printf("  %s: %s, rekeying every %llds\n", ch.value("name", "").c_str(),
                  ch.value("mode", "").c_str(), ch.value("rekey_time_s", 0LL));
      std::printf("    local:  %s\n", join(ch["local_ts"]).c_str());
      std::printf("    remote: %s\n", join(ch["remote_ts"]).c_str());
    }
  }
  return 0;
}

// Prints the log lines from `from` that contain `filter`; returns where to continue.
uint64_t print_log(const std::string& name, uint64_t from, const std::string& filter) {
  auto r = ask(name, {{"cmd", "log"}, {"since", from}, {"filter", filter}});
  if (!r) return from;
  for (const auto& l : (*r)["lines"]) std::printf("%s\n", l.value("text", "").c_str());
  std::fflush(stdout);
  return r->value("next", from);
}

int cmd_ipsec_initiate(const std::string& name, const std::string& child, const std::string& conn,
                       int timeout_s) {
  if (child.empty() && conn.empty()) return fail("initiate needs --child CHILD or --ike CONN");
  nlohmann::json req = {{"cmd", "initiate"}};
  if (!child.empty()) req["child"] = child;
  if (!conn.empty()) req["ike"] = conn;
  auto r = ask(name, req);
  if (!r) return fail(r.error().message);
  const uint32_t id = r->value("id", 0u);
  // The connection's log lines ("conn[id]: ...") while it comes up.
  const std::string filter = r->value("conn", conn) + "[";
  uint64_t from = r->value("log_from", uint64_t(0));
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    from = print_log(name, from, filter);
    auto res = ask(name, {{"cmd", "initiate-result"}, {"id", id}});
    if (!res) return fail(res.error().message);
    const std::string state = res->value("state", "");
    if (state == "up") {
      print_log(name, from, filter);
      std::printf("initiate completed successfully\n");
      return 0;
    }
    if (state == "failed") {
      print_log(name, from, filter);
      return fail("initiate failed: " + res->value("reason", std::string()));
    }
    // Polled: fast at first (an IKE_SA with its CHILD_SA takes a few milliseconds on a LAN),
    // then gently.
    const auto waited = std::chrono::steady_clock::now() - started;
    std::this_thread::sleep_for(waited < std::chrono::seconds(1) ? std::chrono::milliseconds(2)
                                                                 : std::chrono::milliseconds(50));
  }
  return fail("initiate timed out after " + std::to_string(timeout_s) +
              " s (it goes on in the "
              "background; see waypost ipsec status " +
              name + ")");
}

int cmd_ipsec_terminate(const std::string& name, const std::string& conn) {
  auto r = ask(name, {{"cmd", "terminate"}, {"ike", conn}});
  if (!r) return fail(r.error().message);
  std::printf("terminate: %d IKE SA(s) of %s deleted\n", r->value("terminated", 0), conn.c_str());
  return 0;
}

int cmd_ipsec_rekey(const std::string& name, const std::string& conn, const std::string& child,
                    bool ike_sa) {
  nlohmann::json request{{"cmd", "rekey"}, {"ike", conn}, {"ike_sa", ike_sa}};
  if (!child.empty()) request["child"] = child;
  auto r = ask(name, request);
  if (!r) return fail(r.error().message);
  const int busy = r->value("busy", 0);
  std::printf(
      "rekey: %d %s of %s rekeying%s\n", r->value("rekeying", 0),
      ike_sa ? "IKE SA(s)" : "CHILD SA(s)", conn.c_str(),
      busy > 0 ? fmt::format(", {} waiting for another exchange to finish", busy).c_str() : "");
  return 0;
}

int cmd_ipsec_reload(const std::string& name, bool secrets) {
  auto r = ask(name, {{"cmd", "reload"}, {"secrets", secrets}});
  if (!r) return fail(r.error().message + " (nothing was changed)");
  if (secrets) {
    std::printf(
        "reload --secrets: %d secret(s), certificates and CRLs read again; established "
        "SAs untouched\n",
        r->value("secrets", 0));
    return 0;
  }
  auto names = [&](const char* key) {
    std::string out;
    for (const auto& n : r->value(key, nlohmann::json::array())) {
      out += (out.empty() ? "" : ", ") + n.get<std::string>();
    }
    return out.empty() ? std::string("-") : out;
  };
  std::printf(
      "reload: added: %s\n        changed (restarted): %s\n        removed: %s\n"
      "        unchanged (SAs untouched): %s\n",
      names("added").c_str(), names("changed").c_str(), names("removed").c_str(),
      names("unchanged").c_str());
  return 0;
}

int cmd_ipsec_replace(const std::string& name, const std::string& conn) {
  auto r = ask(name, {{"cmd", "replace"}, {"conn", conn}});
  if (!r) return fail(r.error().message);
  std::printf("replace: %s deleted and started again from its definition\n", conn.c_str());
  return 0;
}

int cmd_ipsec_log(const std::string& name, const std::string& conn, bool follow) {
  const std::string filter = conn.empty() ? "" : conn + "[";
  uint64_t from = print_log(name, 0, filter);
  while (follow) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto r = ask(name, {{"cmd", "status"}});
    if (!r) return 0;  // the instance went down
    from = print_log(name, from, filter);
  }
  return 0;
}

std::string side_text(const std::string& side) {
  if (side == "local") return "this side";
  if (side == "peer") return "the peer";
  if (side == "path") return "the path";
  return "either side";
}

int cmd_ipsec_diagnose(const std::string& name, const std::string& conn, bool json) {
  nlohmann::json request{{"cmd", "diagnose"}};
  if (!conn.empty()) request["conn"] = conn;
  auto r = ask(name, request);
  if (!r) return fail(r.error().message);
  if (json) {
    r->erase("ok");
    std::printf("%s\n", r->dump(2).c_str());
    return 0;
  }
  for (const auto& c : (*r)["connections"]) {
    std::printf("%s:\n", c.value("name", "").c_str());
    for (const auto& line : c["now"]) std::printf("  now: %s\n", line.get<std::string>().c_str());
    if (c["findings"].empty()) {
      std::printf("  no problem recorded\n");
      continue;
    }
    for (const auto& f : c["findings"]) {
      const std::time_t t = f.value("time", int64_t(0));
      std::tm tm{};
      localtime_r(&t, &tm);
      std::printf("  %02d:%02d:%02d [%s] %s\n           %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
                  side_text(f.value("side", "")).c_str(), f.value("sentence", "").c_str(),
                  f.value("fix", "").c_str());
    }
  }
  return 0;
}

struct IpsecImport {
  std::string conf_path;
  std::string secrets_path;
  std::string local = "auto";
  std::string dialect = "auto";
};

int cmd_ipsec_import(const IpsecImport& im) {
  ike::DiskConfFiles files;
  auto conf = ike::parse_ipsec_conf_file(im.conf_path, files);
  if (!conf) return fail(conf.error().message);
  std::vector<ike::StrokeSecret> secrets;
  if (!im.secrets_path.empty()) {
    auto s = ike::parse_ipsec_secrets_file(im.secrets_path, files);
    if (!s) return fail(s.error().message);
    secrets = std::move(*s);
  }
  ike::ImportOptions options;
  options.local = im.local == "left"    ? ike::LocalEnd::kLeft
                  : im.local == "right" ? ike::LocalEnd::kRight
                                        : ike::LocalEnd::kAuto;
  options.dialect = im.dialect == "strongswan"  ? ike::StrokeDialect::kStrongSwan
                    : im.dialect == "libreswan" ? ike::StrokeDialect::kLibreswan
                                                : ike::StrokeDialect::kAuto;
  // Which end is this host, as ipsec starter decides it: by the addresses it has.
  if (options.local == ike::LocalEnd::kAuto) options.host_addresses = ipsec::host_addresses();
  auto result =
      ike::import_ipsec_conf(*conf, im.secrets_path.empty() ? nullptr : &secrets, options);
  if (!result) return fail(result.error().message);
  // `> site.conf` makes a file others can read, which `waypost ipsec up` refuses for secrets:
  // closed before the secrets go in.
  struct stat st {};
  if (result->has_secrets && ::fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) &&
      (st.st_mode & 077) != 0 && ::fchmod(STDOUT_FILENO, 0600) == 0) {
    std::fprintf(stderr, "waypost: ipsec import: the output holds secrets: made it mode 0600\n");
  }
  std::fwrite(result->text.data(), 1, result->text.size(), stdout);
  if (std::fflush(stdout) != 0) {
    return fail(std::string("writing the result: ") + std::strerror(errno));
  }
  for (const std::string& note : result->notes) {
    std::fprintf(stderr, "waypost: ipsec import: %s\n", note.c_str());
  }
  if (!result->check) {
    return fail(
        "the converted file does not load in Waypost as it is: " + result->check.error().message +
        (im.secrets_path.empty() ? " (give its ipsec.secrets as the second argument)" : ""));
  }
  return 0;
}

}  // namespace

void register_ipsec_commands(CLI::App& app) {
  auto* ipsec =
      app.add_subcommand("ipsec", "IKEv2/IPsec instances configured in swanctl.conf format");
  ipsec->require_subcommand(1);

  auto up = std::make_shared<IpsecUp>();
  auto* up_cmd = ipsec->add_subcommand("up", "Start an instance (named after the file)");
  up_cmd->add_option("config", up->config_path, "swanctl.conf-style file")->required();
  up_cmd->add_flag("--foreground,-f", up->foreground,
                   "Stay in the foreground (systemd, debugging)");
  up_cmd->add_option("--log-level", up->log_level, "trace, debug, info, warn, error");
  up_cmd->add_option("--log-file", up->log_file,
                     "Log file (default: stderr in the foreground, /var/log/waypost/<name>.log)");
  up_cmd->callback([up]() { std::exit(cmd_ipsec_up(*up)); });

  auto name = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto child = std::make_shared<std::string>();
  auto conn = std::make_shared<std::string>();
  auto timeout = std::make_shared<int>(30);
  auto follow = std::make_shared<bool>(false);

  auto* down = ipsec->add_subcommand("down", "Delete every SA and stop an instance");
  down->add_option("name", *name, "Instance name")->required();
  down->callback([name]() { std::exit(cmd_ipsec_down(*name)); });

  auto* status = ipsec->add_subcommand("status", "IKE and CHILD SAs (like swanctl --list-sas)");
  status->add_option("name", *name, "Instance name (default: every running instance)");
  status->add_flag("--json", *json, "JSON output");
  status->callback([name, json]() { std::exit(cmd_ipsec_status(*name, *json)); });

  auto* list =
      ipsec->add_subcommand("list-conns", "Loaded connections (like swanctl --list-conns)");
  list->add_option("name", *name, "Instance name")->required();
  list->add_flag("--json", *json, "JSON output");
  list->callback([name, json]() { std::exit(cmd_ipsec_list_conns(*name, *json)); });

  auto* init = ipsec->add_subcommand("initiate", "Bring a connection up, printing its log lines");
  init->add_option("name", *name, "Instance name")->required();
  init->add_option("--child", *child, "The CHILD SA to establish (with its IKE SA)");
  init->add_option("--ike", *conn, "The connection (its first child if --child is not given)");
  init->add_option("--timeout", *timeout, "Seconds to wait (default 30)");
  init->callback([name, child, conn, timeout]() {
    std::exit(cmd_ipsec_initiate(*name, *child, *conn, *timeout));
  });

  auto* term = ipsec->add_subcommand("terminate", "Delete the IKE SAs of a connection");
  term->add_option("name", *name, "Instance name")->required();
  term->add_option("--ike", *conn, "Connection name")->required();
  term->callback([name, conn]() { std::exit(cmd_ipsec_terminate(*name, *conn)); });

  auto rekey_ike = std::make_shared<bool>(false);
  auto* rekey =
      ipsec->add_subcommand("rekey", "Rekey a connection's CHILD SAs (or its IKE SA) now");
  rekey->add_option("name", *name, "Instance name")->required();
  rekey->add_option("--ike", *conn, "Connection name")->required();
  rekey->add_option("--child", *child, "Only this CHILD SA");
  rekey->add_flag("--ike-sa", *rekey_ike, "Rekey the IKE SA itself");
  rekey->callback([name, conn, child, rekey_ike]() {
    std::exit(cmd_ipsec_rekey(*name, *conn, *child, *rekey_ike));
  });

  auto secrets = std::make_shared<bool>(false);
  auto* reload =
      ipsec->add_subcommand("reload", "Read the file again: only what changed is touched");
  reload->add_option("name", *name, "Instance name")->required();
  reload->add_flag("--secrets", *secrets,
                   "Only secrets, certificates and CRLs; established SAs untouched");
  reload->callback([name, secrets]() { std::exit(cmd_ipsec_reload(*name, *secrets)); });

  auto* replace =
      ipsec->add_subcommand("replace", "Delete one connection's SAs and start it again");
  replace->add_option("name", *name, "Instance name")->required();
  replace->add_option("--conn", *conn, "Connection name")->required();
  replace->callback([name, conn]() { std::exit(cmd_ipsec_replace(*name, *conn)); });

  auto im = std::make_shared<IpsecImport>();
  auto* import = ipsec->add_subcommand(
      "import", "Convert an ipsec.conf (and ipsec.secrets) to swanctl.conf, printed to stdout");
  import->add_option("ipsec_conf", im->conf_path, "ipsec.conf (FreeS/WAN, Libreswan, strongSwan)")
      ->required();
  import->add_option("ipsec_secrets", im->secrets_path, "Its ipsec.secrets");
  import
      ->add_option("--local", im->local,
                   "Which end is this host: auto (by its addresses, as ipsec starter does), "
                   "left or right")
      ->check(CLI::IsMember({"auto", "left", "right"}));
  import
      ->add_option("--dialect", im->dialect,
                   "Whose defaults apply where nothing is written: auto, strongswan, libreswan")
      ->check(CLI::IsMember({"auto", "strongswan", "libreswan"}));
  import->callback([im]() { std::exit(cmd_ipsec_import(*im));
});

auto diag_name = std::make_shared<std::string>();
auto diag_conn = std::make_shared<std::string>();
auto diag_json = std::make_shared<bool>(false);
auto* diag = ipsec->add_subcommand(
    "diagnose", "What is wrong with each connection, in one sentence, and what to change");
diag->add_option("name", *diag_name, "Instance name")->required();
diag->add_option("--conn", *diag_conn, "Only this connection");
diag->add_flag("--json", *diag_json, "Machine-readable output");
diag->callback([diag_name, diag_conn, diag_json]() {
  std::exit(cmd_ipsec_diagnose(*diag_name, *diag_conn, *diag_json));
});

auto* log = ipsec->add_subcommand("log", "Recent log lines of an instance");
log->add_option("name", *name, "Instance name")->required();
log->add_option("--conn", *conn, "Only this connection's lines");
log->add_flag("--follow,-f", *follow, "Keep printing new lines");
log->callback([name, conn, follow]() { std::exit(cmd_ipsec_log(*name, *conn, *follow)); });
}  // namespace waypost::cli

}  // namespace waypost::cli
