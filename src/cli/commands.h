#pragma once
// The `waypost` command groups. Each registers its subcommands on the app; main() only dispatches.

#include <CLI/CLI.hpp>

namespace waypost::cli {

void register_key_commands(CLI::App& app);
void register_interface_commands(CLI::App& app);
void register_server_commands(CLI::App& app);
void register_doctor_command(CLI::App& app);
void register_dns_commands(CLI::App& app);

// Prints "waypost: <message>" to stderr; returns the exit status to use.
int fail(const std::string& message);

}  // namespace waypost::cli
