// `waypost debug`: gathers the facts of doctor/debug_report.h — version, configuration, state,
// the running server, its interfaces and firewall table, recent log lines and doctor's findings
// — and prints them redacted, for a bug report.
#include <sys/stat.h>
#include <sys/utsname.h>
#include <systemd/sd-journal.h>

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "common/atomic_file.h"
#include "control/json_session.h"
#include "daemon/paths.h"
#include "doctor/debug_report.h"
#include "doctor/doctor.h"
#include "platform/firewall_nft.h"
#include "platform/netlink.h"
#include "platform/sysctl.h"
#include "server/config.h"
#include "server/ipsec_pki.h"
#include "server/state.h"
#include "server/upgrade.h"

namespace waypost::cli {

namespace {

using doctor::ReportItem;
using doctor::ReportSection;

constexpr int kLogLines = 40;

std::string os_name() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
      return v;
    }
  }
  return "unknown OS";
}

ReportSection version_section() {
  utsname u{};
  ::uname(&u);
  return {"Version",
          {{true, fmt::format("waypost {} on {}, kernel {} ({}), {}", WAYPOST_VERSION, os_name(),
                              u.release, u.machine, OpenSSL_version(OPENSSL_VERSION))}},
          ""};
}

// config.yaml without its comments and blank lines: the settings, short.
std::string settings_of(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    out += line + "\n";
  }
  return out;
}

std::string mode_text(const std::string& path, mode_t* mode) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "missing";
  *mode = st.st_mode & 07777;
  return fmt::format("{:04o}", *mode);
}

ReportSection config_section(const std::string& dir, const Result<server::ServerConfig>& config) {
  ReportSection s{"Configuration (" + server::config_path(dir) + ")", {}, ""};
  if (!config) {
    s.items.push_back({false, config.error().message});
    return s;
  }
  const server::ServerConfig& c = *config;
  s.items.push_back(
      {true, fmt::format("loads: {} user(s), WireGuard {} UDP {}, IKEv2 {}, resolver {}",
                         c.users.size(), c.wireguard_enabled ? "on" : "off, would be on",
                         c.wireguard_port, c.ipsec_enabled ? "on (UDP 500/4500)" : "off",
                         c.dns_adblocking || c.dns_encryption ? "on" : "off")});
  if (auto plan = server::plan_upgrade(dir); !plan) {
    s.items.push_back({false, plan.error().message});
  } else if (plan->needed()) {
    s.items.push_back({true, fmt::format("from an older Waypost (config_version {}, state {}): "
                                         "the next start upgrades it",
                                         plan->from.config, plan->from.state)});
  }
  if (auto text = read_file(server::config_path(dir))) s.evidence = settings_of(*text);
  return s;
}

ReportSection state_section(const std::string& dir) {
  ReportSection s{"State (keys not shown)", {}, ""};
  auto state = server::load_state(dir);
  if (!state) {
    s.items.push_back({false, state.error().message});
  } else {
    size_t imported = 0;
    for (const auto& [name, u] : state->users) imported += u.private_key ? 0 : 1;
    s.items.push_back({true, fmt::format("state.json: {} user(s){}", state->users.size(),
                                         imported > 0 ? fmt::format(", {} imported without a "
                                                                    "private key",
                                                                    imported)
                                                      : "")});
  }
  for (const std::string rel : {"state.json", "config.yaml", "pki/ca.key", "pki/p12_password"}) {
    const std::string path = (std::filesystem::path(dir) / rel).string();
    mode_t mode = 0;
    const std::string m = mode_text(path, &mode);
    if (m == "missing") continue;
    const bool ok = (mode & 077) == 0;
    s.items.push_back(
        {ok, fmt::format("{} mode {}{}", rel, m, ok ? "" : ": readable by others (chmod 600 it)")});
  }
  return s;
}

ReportSection server_section(const server::ServerConfig& c, bool* running) {
  ReportSection s{"Server", {}, ""};
  const std::string sock = daemon::control_socket_path(c.wireguard_interface);
  auto r = control::json_request(sock, {{"cmd", "status"}});
  *running = r && r->value("ok", false);
  if (!*running) {
    s.items.push_back({false, fmt::format("not running (no answer on {}): start it with "
                                          "`systemctl start waypost-server` or `waypost server up`",
                                          sock)});
    return s;
  }
  size_t recent = 0, ike = 0, users = 0;
  for (const auto& u : (*r)["users"]) {
    ++users;
    const auto age = u.find("latest_handshake_age_seconds");
    if (age != u.end() && age->is_number() && age->get<int64_t>() < 180) ++recent;
    if (auto sessions = u.find("ike_sessions"); sessions != u.end() && sessions->is_array()) {
      ike += sessions->size();
    }
  }
  s.items.push_back({true, fmt::format("running: interface {}, {} user(s), {} with a WireGuard "
                                       "handshake in the last 3 minutes, {} IKEv2 session(s)",
                                       c.wireguard_interface, users, recent, ike)});
  return s;
}

ReportSection interfaces_section(const server::ServerConfig& c, bool running) {
  ReportSection s{"Interfaces", {}, ""};
  auto nl = platform::Netlink::open();
  if (!nl) {
    s.items.push_back({false, "netlink: " + nl.error().message});
    return s;
  }
  std::vector<std::string> names{c.wireguard_interface};
  if (c.ipsec_enabled) names.push_back(server::ipsec_interface_name(c));
  for (const std::string& other : daemon::running_interfaces()) {
    if (std::find(names.begin(), names.end(), other) == names.end()) names.push_back(other);
  }
  for (const std::string& name : names) {
    auto index = nl->link_index(name);
    if (!index) {
      s.items.push_back({!running, fmt::format("{}: not present{}", name,
                                               running ? " although the server runs" : "")});
      continue;
    }
    std::string addrs;
    for (auto family : {net::Family::kV4, net::Family::kV6}) {
      if (auto a = nl->addresses(*index, family)) {
        for (const auto& p : *a) addrs += (addrs.empty() ? "" : ", ") + p.to_string();
      }
    }
    auto mtu = nl->link_mtu(*index);
    s.items.push_back({true, fmt::format("{}: MTU {}, addresses {}", name, mtu ? *mtu : 0,
                                         addrs.empty() ? "none" : addrs)});
  }
  return s;
}

ReportSection firewall_section(const server::ServerConfig& c, bool running) {
  ReportSection s{"Firewall and forwarding", {}, ""};
  for (const char* key : {"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"}) {
    auto v = platform::sysctl_read(key);
    const bool on = v && v->rfind('1', 0) == 0;
    s.items.push_back({on || !running, fmt::format("{} = {}", key, v ? *v : v.error().message)});
  }
  const std::string table = "waypost-" + c.wireguard_interface;
  std::string listing;
  auto st = platform::nft_run("list table inet " + table, &listing);
  if (!st) {
    s.items.push_back({!running, fmt::format("nftables table inet {}: missing{}", table,
                                             running ? " although the server runs" : "")});
  } else {
    s.items.push_back({true, fmt::format("nftables table inet {} present", table)});
    s.evidence = listing;
  }
  std::string all;
  if (platform::nft_run("list tables", &all) && !all.empty()) {
    s.evidence += (s.evidence.empty() ? "" : "\n") + std::string("all tables:\n") + all;
  }
  return s;
}

// The last lines Waypost wrote to the journal, and the tails of its log files.
ReportSection log_section() {
  ReportSection s{"Recent log", {}, ""};
  sd_journal* j = nullptr;
  if (sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY) >= 0) {
    std::deque<std::string> lines;
    sd_journal_add_match(j, "SYSLOG_IDENTIFIER=waypost", 0);
    sd_journal_seek_tail(j);
    for (int n = 0; n < kLogLines && sd_journal_previous(j) > 0; ++n) {
      const void* data = nullptr;
      size_t len = 0;
      uint64_t usec = 0;
      sd_journal_get_realtime_usec(j, &usec);
      if (sd_journal_get_data(j, "MESSAGE", &data, &len) < 0) continue;
      std::string msg(static_cast<const char*>(data), len);
      if (msg.rfind("MESSAGE=", 0) == 0) msg.erase(0, 8);
      const auto t = static_cast<std::time_t>(usec / 1000000);
      std::tm tm{};
      gmtime_r(&t, &tm);
      lines.push_front(fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} {}", tm.tm_year + 1900,
                                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                                   msg));
    }
    sd_journal_close(j);
    if (!lines.empty()) {
      s.items.push_back({true, fmt::format("the journal: the last {} entries", lines.size())});
      for (const auto& l : lines) s.evidence += l + "\n";
    }
  }
  // The three log files written last (one per interface or IPsec instance).
  std::error_code ec;
  std::vector<std::filesystem::directory_entry> files;
  for (const auto& e : std::filesystem::directory_iterator("/var/log/waypost", ec)) {
    if (e.path().extension() == ".log") files.push_back(e);
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
    std::error_code e1, e2;
    return a.last_write_time(e1) > b.last_write_time(e2);
  });
  if (files.size() > 3) files.resize(3);
  for (const auto& e : files) {
    auto text = read_file(e.path().string(), 64u << 20);
    if (!text) continue;
    std::deque<std::string> tail;
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      tail.push_back(line);
      if (tail.size() > 20) tail.pop_front();
    }
    s.items.push_back({true, fmt::format("{}: the last {} lines", e.path().string(), tail.size())});
    s.evidence += "--- " + e.path().string() + "\n";
    for (const auto& l : tail) s.evidence += l + "\n";
  }
  if (s.items.empty()) {
    s.items.push_back({true, "no log lines found (journal or /var/log/waypost)"});
  }
  return s;
}

ReportSection doctor_section(const std::string& dir) {
  ReportSection s{"waypost doctor", {}, ""};
  doctor::Options o;
  o.dir = dir;
  o.dir_given = true;
  for (const doctor::Finding& f : doctor::run_doctor(o)) {
    const bool ok = f.status == doctor::Status::kOk || f.status == doctor::Status::kInfo;
    s.items.push_back({ok, f.id + ": " + f.summary});
  }
  return s;
}

int debug(const std::string& dir, bool run_doctor) {
  std::vector<ReportSection> sections{version_section()};
  auto config = server::load_config(dir);
  std::vector<std::string> users;
  std::map<std::string, std::string> names;
  if (config) {
    users = config->users;
    if (!config->endpoint.empty() && !net::IpAddress::parse(config->endpoint)) {
      names[config->endpoint] = "<endpoint>";
    }
  }
  if (auto domain = server::pki_email_domain(dir); domain && !domain->empty()) {
    names[*domain] = "<id>.algo";
  }
  sections.push_back(config_section(dir, config));
  sections.push_back(state_section(dir));
  if (config) {
    bool running = false;
    sections.push_back(server_section(*config, &running));
    sections.push_back(interfaces_section(*config, running));
    sections.push_back(firewall_section(*config, running));
  }
  sections.push_back(log_section());
  if (run_doctor) sections.push_back(doctor_section(dir));
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  const std::string header = fmt::format(
      "Waypost debug report, {:04}-{:02}-{:02} {:02}:{:02} UTC.\n"
      "Keys, certificates, public addresses, the endpoint and user names are replaced (user1, "
      "<key>, <ipv4>, ...);\nread it before you share it.",
      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
  const doctor::Redactor redactor(users, names);
  std::fputs(doctor::render_report(sections, redactor, header).c_str(), stdout);
  return 0;
}

}  // namespace

void register_debug_command(CLI::App& app) {
  struct DebugOptions {
    std::string dir = "/etc/waypost";
    bool no_doctor = false;
  };
  auto o = std::make_shared<DebugOptions>();
  auto* cmd = app.add_subcommand(
      "debug", "Self-check report for a bug report (keys, addresses and names redacted)");
  cmd->add_option("--dir", o->dir, "Server directory")->capture_default_str();
  cmd->add_flag("--no-doctor", o->no_doctor, "Leave out `waypost doctor` (it sends probes)");
  cmd->callback([o]() { std::exit(debug(o->dir, !o->no_doctor)); });
}

}  // namespace waypost::cli
