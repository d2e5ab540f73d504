#include "server/upgrade.h"

#include <sys/stat.h>

#include <array>
#include <ctime>
#include <exception>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "server/backup.h"
#include "server/config.h"
#include "server/config_text.h"
#include "server/state.h"

namespace waypost::server {

namespace {

// Top-level keys of a config.yaml text (empty for an empty file).
Result<std::set<std::string>> top_level_keys(std::string_view text) {
  std::set<std::string> keys;
  try {
    const YAML::Node root = text::load_single_document(std::string(text));
    if (root.IsMap()) {
      for (const auto& kv : root) keys.insert(kv.first.Scalar());
    }
  } catch (const std::exception& e) {
    return make_error(ErrorKind::kParse, "config.yaml: {}", e.what());
  }
  return keys;
}

std::string random_ula48_text() {
  return random_ula48().to_string();
}

// Inserts `block` before the first line that is neither blank nor a comment (the header stays
// on top), or replaces an existing `config_version:` line.
std::string with_version_line(std::string_view text) {
  const std::string line = fmt::format("config_version: {}", kConfigSchema);
  std::string out(text);
  size_t pos = 0;
  while (pos < out.size()) {
    const size_t end = out.find('\n', pos);
    const size_t stop = end == std::string::npos ? out.size() : end;
    const std::string_view l(out.data() + pos, stop - pos);
    if (l.starts_with("config_version:")) {
      out.replace(pos, stop - pos, line);
      return out;
    }
    pos = stop + 1;
  }
  const std::string block =
      "# The format of this file, for upgrades (written by Waypost; leave it as it is).\n" + line +
      "\n\n";
  pos = 0;
  while (pos < out.size()) {
    const size_t end = out.find('\n', pos);
    const size_t stop = end == std::string::npos ? out.size() : end;
    const std::string_view l = text::trim(std::string_view(out.data() + pos, stop - pos));
    if (!l.empty() && l.front() != '#') break;
    pos = stop + 1;
  }
  if (pos > out.size()) pos = out.size();
  out.insert(pos, block);
  return out;
}

std::string stamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y%m%d-%H%M%S", &tm);
  return buf.data();
}

}  // namespace

Result<Schemas> read_schemas(const std::string& dir) {
  Schemas s;
  auto config = read_file(config_path(dir));
  if (!config) return config.take_error();
  auto keys = top_level_keys(*config);
  if (!keys) return keys.take_error();
  if (keys->count("config_version") != 0) {
    try {
      const YAML::Node root = text::load_single_document(*config);
      s.config = root["config_version"].as<uint32_t>();
    } catch (const std::exception&) {
      return make_error(ErrorKind::kParse, "{}: config_version is not a number", config_path(dir));
    }
  }
  auto state = read_file(state_path(dir));
  if (!state) {
    if (state.error().is(ErrorKind::kNotFound)) return s;  // init not finished: nothing to say
    return state.take_error();
  }
  const auto j = nlohmann::json::parse(*state, nullptr, false);
  if (j.is_object()) {
    if (auto v = j.find("version"); v != j.end() && v->is_number_unsigned()) {
      s.state = uint32_t(v->get<uint64_t>());
    }
  }
  return s;
}

Result<std::string> migrate_config_text(std::string_view text, uint32_t from,
                                        std::vector<std::string>& changes) {
  std::string out(text);
  if (from < 2) {
    auto keys = top_level_keys(text);
    if (!keys) return keys.take_error();
    std::string ike;
    if (keys->count("ipsec_enabled") == 0) {
      ike +=
          "# Serve IKEv2 road warriors on UDP 500/4500 (iPhone, Mac, Windows and Android clients\n"
          "# without an app; strongSwan on Linux), with certificates from the server's own CA.\n"
          "ipsec_enabled: true\n";
      changes.emplace_back(
          "config.yaml: + ipsec_enabled: true — every user also gets IKEv2 on UDP 500/4500 "
          "(Algo's default, and what this file already meant); write `ipsec_enabled: false` to "
          "keep WireGuard only");
    }
    if (keys->count("strongswan_network") == 0) {
      ike += "strongswan_network: 10.48.0.0/16\n";
      changes.emplace_back(
          "config.yaml: + strongswan_network: 10.48.0.0/16 (IKEv2 clients' IPv4 "
          "pool; the default, written out)");
    }
    if (keys->count("strongswan_network_ipv6") == 0) {
      const std::string ula = random_ula48_text();
      ike += fmt::format("strongswan_network_ipv6: \"{}\"\n", ula);
      changes.push_back(fmt::format(
          "config.yaml: + strongswan_network_ipv6: {} (a random unique local /48 for IKEv2 "
          "clients, instead of the shared placeholder)",
          ula));
    }
    if (!ike.empty()) {
      if (!out.empty() && out.back() != '\n') out += '\n';
      out += "\n### IKEv2 (IPsec) ###  (added by the upgrade to config_version 2)\n" + ike;
    }
    out = with_version_line(out);
    changes.emplace_back(
        fmt::format("config.yaml: + config_version: {} (the file's format)", kConfigSchema));
  }
  // The result must read back, as this version, with the users and settings it had.
  auto parsed = parse_server_config(out);
  if (!parsed) {
    return make_error(ErrorKind::kParse,
                      "the migrated config.yaml does not load ({}); nothing "
                      "was changed",
                      parsed.error().message);
  }
  if (parsed->config_version != kConfigSchema) {
    return make_error("the migrated config.yaml still says config_version {}",
                      parsed->config_version);
  }
  return out;
}

Result<UpgradePlan> plan_upgrade(const std::string& dir) {
  auto schemas = read_schemas(dir);
  if (!schemas) return schemas.take_error();
  UpgradePlan plan;
  plan.from = *schemas;
  plan.to = {kConfigSchema, kStateSchema};
  if (plan.from.config > kConfigSchema) {
    return make_error(
        "{} has config_version {}, newer than this Waypost understands ({}): it "
        "was written by a newer Waypost; run that version (or restore a backup "
        "made before it)",
        config_path(dir), plan.from.config, kConfigSchema);
  }
  if (plan.from.state > kStateSchema) {
    return make_error(
        "{} has version {}, newer than this Waypost understands ({}): it was "
        "written by a newer Waypost; run that version (or restore a backup made "
        "before it)",
        state_path(dir), plan.from.state, kStateSchema);
  }
  if (plan.from.config < kConfigSchema) {
    auto text = read_file(config_path(dir));
    if (!text) return text.take_error();
    auto migrated = migrate_config_text(*text, plan.from.config, plan.changes);
    if (!migrated) return migrated.take_error();
    plan.new_config_text = std::move(*migrated);
  }
  if (plan.from.state < kStateSchema) {
    plan.changes.emplace_back(
        fmt::format("state.json: version {} → {} (the same users and keys; the format now "
                    "allows users imported without a private key)",
                    plan.from.state, kStateSchema));
  }
  return plan;
}

Result<std::string> apply_upgrade(const std::string& dir, const UpgradePlan& plan,
                                  std::string_view waypost_version) {
  if (!plan.needed()) return std::string();
  auto backup = collect_backup(dir, waypost_version);
  if (!backup) return backup.take_error();
  auto archive = write_backup_archive(*backup);
  if (!archive) return archive.take_error();
  const std::string backups = dir + "/" + kBackupsDir;
  ::mkdir(backups.c_str(), 0700);
  const std::string path = fmt::format("{}/pre-upgrade-{}-config{}-state{}.tar.zst", backups,
                                       stamp(), plan.from.config, plan.from.state);
  if (auto st = write_file_atomic(path, *archive, 0600); !st) {
    return make_error("cannot write the backup before upgrading ({}); nothing was changed",
                      st.error().message);
  }
  if (!plan.new_config_text.empty()) {
    if (auto st = write_file_atomic(config_path(dir), plan.new_config_text, 0600); !st) {
      return st.take_error();
    }
  }
  if (plan.from.state < kStateSchema) {
    auto state = load_state(dir);
    if (!state) return state.take_error();
    if (auto st = save_state(dir, *state); !st) return st.take_error();
  }
  return path;
}

}  // namespace waypost::server
