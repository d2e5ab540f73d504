// `waypost dns reload|status`: the server's built-in resolver (docs/DNS.md).
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "control/json_session.h"
#include "daemon/paths.h"
#include "server/state.h"

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

void print_lists(const nlohmann::json& r) {
  std::printf("  %llu blocked domain(s), %llu allowed\n",
              static_cast<unsigned long long>(r.value("blocked_domains", uint64_t{0})),
              static_cast<unsigned long long>(r.value("allowed_domains", uint64_t{0})));
  if (r.contains("lists")) {
    for (const auto& f : r["lists"]) {
      std::printf("  %s: %llu domain(s) from %llu line(s), %llu line(s) ignored\n",
                  f.value("path", "").c_str(),
                  static_cast<unsigned long long>(f.value("domains", uint64_t{0})),
                  static_cast<unsigned long long>(f.value("lines", uint64_t{0})),
                  static_cast<unsigned long long>(f.value("ignored_lines", uint64_t{0})));
    }
  }
  if (r.contains("skipped_urls")) {
    for (const auto& u : r["skipped_urls"]) {
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
  print_lists(*r);
  return 0;
}

int dns_status(const std::string& dir, bool json) {
  auto r = ask_server(dir, "status");
  if (!r) return fail(r.error().message);
  const nlohmann::json dns = r->value("dns", nlohmann::json::object());
  if (json) {
    std::printf("%s\n", dns.dump(2).c_str());
    return 0;
  }
  if (!dns.value("running", false)) {
    std::printf("DNS resolver: not running (%s)\n", dns.value("reason", "").c_str());
    return 0;
  }
  std::printf("DNS resolver: running on %s, upstream %s%s\n",
              dns.contains("listen") ? dns["listen"].dump().c_str() : "?",
              dns.value("encryption", false) ? "over TLS" : "in clear",
              dns.value("dnssec", false) ? ", DNSSEC validated" : "");
  if (!dns.value("upstream_ok", true)) {
    std::printf("  problem: %s\n", dns.value("problem", "").c_str());
  }
  std::printf("  %llu queries, %llu blocked, %llu SERVFAIL\n",
              static_cast<unsigned long long>(dns.value("queries", uint64_t{0})),
              static_cast<unsigned long long>(dns.value("blocked", uint64_t{0})),
              static_cast<unsigned long long>(dns.value("servfail", uint64_t{0})));
  if (dns.contains("lists")) {
    nlohmann::json l = dns["lists"];
    l["lists"] = l.value("files", nlohmann::json::array());
    print_lists(l);
  }
  for (const auto& u : r->value("users", nlohmann::json::array())) {
    std::printf("  %-14s %llu queries, %llu blocked\n", u.value("name", "").c_str(),
                static_cast<unsigned long long>(u.value("dns_queries", uint64_t{0})),
                static_cast<unsigned long long>(u.value("dns_blocked", uint64_t{0})));
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
