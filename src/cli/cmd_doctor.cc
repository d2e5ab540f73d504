// doctor: find out why a tunnel does not work, and say how to fix it.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "doctor/doctor.h"
#include "doctor/findings.h"

namespace waypost::cli {

namespace {

struct DoctorCliOptions {
  doctor::Options options;
  bool json = false;
};

int cmd_doctor(DoctorCliOptions& o) {
  if (!o.json && ::isatty(STDERR_FILENO)) {
    o.options.progress = [](const std::string& message) {
      std::fprintf(stderr, "waypost doctor: %s\n", message.c_str());
    };
  }
  auto findings = doctor::run_doctor(o.options);
  if (o.json) {
    std::printf("%s\n", doctor::render_json(findings).dump(2).c_str());
  } else {
    std::fputs(doctor::render_text(findings).c_str(), stdout);
  }
  std::fflush(stdout);
  return doctor::exit_status(findings);
}

}  // namespace

void register_doctor_command(CLI::App& app) {
  auto o = std::make_shared<DoctorCliOptions>();
  auto* cmd = app.add_subcommand(
      "doctor",
      "Check why a tunnel does not work: path MTU (reduce_mtu), handshakes, in-tunnel MTU, "
      "clock, DNS, server forwarding and firewall; exit status 1 if a check failed");
  cmd->add_option("interface", o->options.ifname,
                  "Interface to check (default: every running one in this network namespace)");
  cmd->add_option("--host", o->options.host,
                  "Measure the path MTU to this host (default: the first peer's endpoint)");
  cmd->add_option("--dns", o->options.dns, "Also test this DNS resolver (IP address; repeatable)");
  cmd->add_option("--dns-name", o->options.dns_name, "Name to look up (default example.com)");
  auto* dir = cmd->add_option("--dir", o->options.dir,
                              "Server directory with config.yaml (default /etc/waypost)");
  cmd->add_flag("--json", o->json, "Machine-readable output: {\"findings\": [...]}");
  cmd->callback([o, dir]() {
    o->options.dir_given = dir->count() > 0;
    std::exit(cmd_doctor(*o));
  });
}

}  // namespace waypost::cli
