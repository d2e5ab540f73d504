// up, down, show: run and inspect WireGuard interfaces.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/daemonize.h"
#include "common/atomic_file.h"
#include "common/log.h"
#include "control/json_session.h"
#include "daemon/access.h"
#include "daemon/interface_daemon.h"
#include "daemon/notify.h"
#include "daemon/paths.h"
#include "daemon/status.h"
#include "wireguard/conf.h"

namespace waypost::cli {

namespace {

struct UpOptions {
  std::string config_path;
  bool foreground = false;
  std::string log_level = "info";
  std::string log_file;
};

Result<daemon::DaemonOptions> load_config(const std::string& path) {
  auto name = wireguard::interface_name_from_path(path);
  if (!name) return name.take_error();
  std::ifstream in(path);
  if (!in) return make_error("cannot read {}: {}", path, std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  auto conf = wireguard::parse_wg_quick(text.str());
  if (!conf) return make_error("{}: {}", path, conf.error().message);
  // The file holds a private key: refuse one that other users can read, as with state.json.
  if (conf->iface.private_key) {
    if (auto st = check_private_file(path); !st) return st.take_error();
  }
  return daemon::DaemonOptions{*name, std::move(*conf)};
}

// The daemon of one interface, for run_in_foreground / run_in_background.
DaemonStart interface_starter(daemon::DaemonOptions options) {
  auto shared = std::make_shared<daemon::DaemonOptions>(std::move(options));
  return [shared]() -> Result<std::function<Status()>> {
    auto d = daemon::InterfaceDaemon::start(std::move(*shared));
    if (!d) return d.take_error();
    std::shared_ptr<daemon::InterfaceDaemon> running(std::move(*d));
    return std::function<Status()>([running]() { return running->run(); });
  };
}

int cmd_up(const UpOptions& up) {
  // Checked first so that an unprivileged user learns what is really missing.
  if (!daemon::have_net_admin()) {
    return fail("waypost up needs root or CAP_NET_ADMIN (try: sudo waypost up " + up.config_path +
                ")");
  }
  auto options = load_config(up.config_path);
  if (!options) return fail(options.error().message);
  const DaemonRun run{"interface " + options->ifname, up.log_level, up.log_file,
                      daemon::default_log_path(options->ifname)};
  if (up.foreground) return run_in_foreground(run, interface_starter(std::move(*options)));
  return run_in_background(run, interface_starter(std::move(*options)));
}

bool process_alive(pid_t pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

int cmd_down(const std::string& ifname) {
  const std::string sock = daemon::control_socket_path(ifname);
  pid_t pid = 0;
  std::ifstream(daemon::pid_file_path(ifname)) >> pid;
  auto r = control::json_request(sock, {{"cmd", "down"}});
  if (!r) {
    if (::access(sock.c_str(), F_OK) != 0) {
      return fail("interface " + ifname + " is not managed by waypost (no " + sock + ")");
    }
    return fail(r.error().message);
  }
  // Refused, e.g. to a member of the status group, who may only read (daemon/access.h).
  if (!r->value("ok", false)) return fail(r->value("error", std::string("the daemon refused")));
  // Wait (bounded) for the daemon to finish its teardown so that `down; up` works.
  for (int i = 0; i < 200 && process_alive(pid); ++i) ::usleep(50'000);
  if (process_alive(pid)) return fail("interface " + ifname + " is still shutting down");
  std::printf("waypost: interface %s is down\n", ifname.c_str());
  return 0;
}

int cmd_show(const std::string& ifname, bool json) {
  std::vector<std::string> names =
      ifname.empty() ? daemon::running_interfaces() : std::vector<std::string>{ifname};
  nlohmann::json all = nlohmann::json::array();
  int rc = 0;
  for (const auto& name : names) {
    auto r = control::json_request(daemon::control_socket_path(name), {{"cmd", "show"}});
    if (!r) {
      if (!ifname.empty()) {
        return fail("interface " + name + " is not running under waypost (" + r.error().message +
                    ")");
      }
      // Say so rather than list nothing: the socket is root's (and group waypost's, if any).
      if (r.error().is(ErrorKind::kPermission)) {
        std::fprintf(stderr, "waypost: %s: %s (needs root or group %s)\n", name.c_str(),
                     r.error().message.c_str(), daemon::kStatusGroup);
        rc = 1;
      }
      continue;
    }
    r->erase("ok");
    if (json) {
      all.push_back(*r);
    } else {
      if (&name != &names.front()) std::printf("\n");
      std::fputs(daemon::render_text(daemon::interface_status_from_json(*r)).c_str(), stdout);
    }
  }
  if (json) {
    std::printf("%s\n", (ifname.empty() ? all
                         : all.empty()  ? nlohmann::json()
                                        : all[0])
                            .dump(2)
                            .c_str());
  }
  return rc;
}

}  // namespace

void register_interface_commands(CLI::App& app) {
  auto up = std::make_shared<UpOptions>();
  auto* up_cmd = app.add_subcommand("up", "Bring up an interface from a wg-quick style config");
  up_cmd->add_option("config", up->config_path, "Config file; the interface is named after it")
      ->required();
  up_cmd->add_flag("--foreground,-f", up->foreground,
                   "Stay in the foreground (systemd, debugging)");
  up_cmd->add_option("--log-level", up->log_level, "trace, debug, info, warn, error");
  up_cmd->add_option("--log-file", up->log_file,
                     "Log file (default: stderr in the foreground, /var/log/waypost/<name>.log)");
  up_cmd->callback([up]() { std::exit(cmd_up(*up)); });

  auto ifname = std::make_shared<std::string>();
  auto* down_cmd = app.add_subcommand("down", "Stop an interface started by waypost up");
  down_cmd->add_option("interface", *ifname, "Interface name")->required();
  down_cmd->callback([ifname]() { std::exit(cmd_down(*ifname)); });

  auto show_if = std::make_shared<std::string>();
  auto show_json = std::make_shared<bool>(false);
  auto* show_cmd = app.add_subcommand("show", "Show running interfaces and their peers");
  show_cmd->add_option("interface", *show_if, "Interface name (default: all)");
  show_cmd->add_flag("--json", *show_json, "Machine-readable output");
  show_cmd->callback([show_if, show_json]() { std::exit(cmd_show(*show_if, *show_json)); });
}

}  // namespace waypost::cli
