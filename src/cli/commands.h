#pragma once
// The `waypost` command groups. Each registers its subcommands on the app; main() only dispatches.

#include <CLI/CLI.hpp>

#include <string>

#include "common/result.h"

namespace waypost::cli {

void register_key_commands(CLI::App& app);
void register_interface_commands(CLI::App& app);
void register_server_commands(CLI::App& app);
// backup, restore, upgrade-check under `server` (cmd_backup.cc).
void register_server_backup_commands(CLI::App& server_cmd);
// Brings an older server directory up to this version's formats (after a backup); 0 or the exit
// status of a failure. Run first by the commands that load and write the directory.
int upgrade_if_needed(const std::string& dir);
// `server import-algo` and `server import-wg`, under the `server` command.
void register_server_import_commands(CLI::App& server_cmd);
void register_doctor_command(CLI::App& app);
void register_debug_command(CLI::App& app);  // cmd_debug.cc
void register_dns_commands(CLI::App& app);
void register_ipsec_commands(CLI::App& app);
void register_admin_commands(CLI::App& app);  // cmd_admins.cc: the web admin's accounts
// `admins add NAME` in `dir` (cmd_admins.cc): the first admin is the owner; prints the setup link.
int add_admin(const std::string& dir, const std::string& name);

// For `up` and `server up` on CPUs with AVX-512: re-executes the program once with
// OPENSSL_ia32cap masking AVX512F, so that libcrypto seals and opens packets with its 256-bit
// code (see crypto_cpu.cc for why). Returns if there is nothing to do. Call first in main().
void prefer_narrow_crypto_paths(int argc, char** argv);

// Prints "waypost: <message>" to stderr; returns the exit status to use.
int fail(const std::string& message);

// The address clients should use when none is given: the source address of the default route.
Result<std::string> guess_endpoint();

}  // namespace waypost::cli
