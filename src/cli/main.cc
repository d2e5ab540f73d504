// waypost: a small, fast VPN daemon. See README.md and `waypost --help`.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"

namespace waypost::cli {
int fail(const std::string& message) {
  std::fprintf(stderr, "waypost: %s\n", message.c_str());
  return 1;
}
}  // namespace waypost::cli

// NOLINTNEXTLINE(bugprone-exception-escape): a command's unexpected exception terminates (as now)
int main(int argc, char** argv) {
  waypost::cli::prefer_narrow_crypto_paths(argc, argv);
  CLI::App app{"Waypost: a WireGuard VPN daemon (userspace, wg(8)-compatible)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "waypost " WAYPOST_VERSION);  // from debian/changelog
  waypost::cli::register_key_commands(app);
  waypost::cli::register_interface_commands(app);
  waypost::cli::register_server_commands(app);
  waypost::cli::register_doctor_command(app);
  waypost::cli::register_debug_command(app);
  waypost::cli::register_dns_commands(app);
  waypost::cli::register_ipsec_commands(app);
  waypost::cli::register_admin_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
