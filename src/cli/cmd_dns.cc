// `waypost dns reload|status`: the server's built-in resolver (docs/DNS.md).
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "control/json_session.h"
#include "daemon/paths.h"
#include "dns/status.h"
#include "server/state.h"
#include "server/status.h"

namespace waypost::cli {

namespace {

Result<nlohmann::json> ask_server(const std::string& dir, const char* cmd) {
  auto config = server::load_config(dir);
  if (!config) return config.take_error();
  const std::string path = daemon::control_socket_path(config->wireguard_interface);
  if (::access(path.c_str(), F_OK) != 0) {
    return make_error("no server is running for {} (start it with: waypost server up{})", dir,
                      dir == "/etc/waypost" ? "" : " --dir " + dir);
  }
  return control::json_request(path, {{"cmd", cmd}});
}

// The reply of `dns_reload`: the list counts at the top, the files under "lists", and the
// adblock_lists entries skipped because they are URLs.
void print_reload(const nlohmann::json& r) {
  nlohmann::json lists = r;
  lists["files"] = r.value("lists", nlohmann::json::array());
  std::fputs(dns::render_lists_text(dns::lists_status_from_json(lists)).c_str(), stdout);
  if (auto it = r.find("skipped_urls"); it != r.end() && it->is_array()) {
    for (const auto& u : *it) {
      if (!u.is_string()) continue;
      std::printf("  skipped %s: a URL (download it and list the file instead)\n",
                  u.get<std::string>().c_str());
    }
  }
}

int dns_reload(const std::string& dir) {
  auto r = ask_server(dir, "dns_reload");
  if (!r) return fail(r.error().message);
  if (!r->value("ok", false)) return fail("DNS reload failed: " + r->value("error", std::string()));
  std::printf("waypost: DNS resolver %s\n", r->value("started", false) ? "started" : "reloaded");
  print_reload(*r);
  return 0;
}

int dns_status(const std::string& dir, bool json) {
  auto r = ask_server(dir, "status");
  if (!r) return fail(r.error().message);
  const nlohmann::json dns =
      r->is_object() ? r->value("dns", nlohmann::json::object()) : nlohmann::json::object();
  if (json) {
    // The daemon's object as it sent it.
    std::printf("%s\n", dns.dump(2).c_str());
    return 0;
  }
  const dns::DnsStatus status = dns::dns_status_from_json(dns);
  std::fputs(dns::render_text(status).c_str(), stdout);
  if (!status.running) return 0;
  for (const auto& u : server::server_status_from_json(*r).users) {
    std::printf("  %-14s %llu queries, %llu blocked\n", u.name.c_str(),
                static_cast<unsigned long long>(u.dns_queries),
                static_cast<unsigned long long>(u.dns_blocked));
  }
  return 0;
}

}  // namespace

void register_dns_commands(CLI::App& app) {
  auto* dns_cmd = app.add_subcommand("dns", "The server's built-in DNS resolver");
  dns_cmd->require_subcommand(1);

  auto reload_dir = std::make_shared<std::string>("/etc/waypost");
  auto* reload_cmd = dns_cmd->add_subcommand(
      "reload", "Re-read config.yaml's DNS keys and the block lists (no query is dropped)");
  reload_cmd->add_option("--dir", *reload_dir, "State directory")->capture_default_str();
  reload_cmd->callback([reload_dir]() { std::exit(dns_reload(*reload_dir)); });

  auto status_dir = std::make_shared<std::string>("/etc/waypost");
  auto status_json = std::make_shared<bool>(false);
  auto* status_cmd = dns_cmd->add_subcommand("status", "Queries, blocks, upstream health");
  status_cmd->add_option("--dir", *status_dir, "State directory")->capture_default_str();
  status_cmd->add_flag("--json", *status_json, "Machine-readable output");
  status_cmd->callback(
      [status_dir, status_json]() { std::exit(dns_status(*status_dir, *status_json)); });
}

}  // namespace waypost::cli
