// `server import-algo`: settings, users and the WireGuard half (import_algo_pki.cc has IKEv2).
#include "server/import_algo.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/atomic_file.h"
#include "crypto/x25519.h"
#include "server/config_text.h"
#include "server/import_wg.h"
#include "wireguard/conf.h"
#include "wireguard/messages.h"

namespace waypost::server {

namespace {

namespace fs = std::filesystem;

// Algo's config.cfg defaults, for trees whose config.cfg is not at hand.
constexpr const char* kAlgoWireguard4 = "10.49.0.0/16";
constexpr const char* kAlgoWireguard6 = "2001:db8:a160::/48";
constexpr const char* kAlgoStrongswan4 = "10.48.0.0/16";
constexpr const char* kAlgoStrongswan6 = "2001:db8:4160::/48";
constexpr const char* kServerWgConf = "/etc/wireguard/wg0.conf";

// Trims line breaks too (text::trim stops at spaces and tabs).
std::string_view trim_all(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

bool is_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// A one-line key file of Algo's .pki ("<base64>\n").
std::optional<std::string> read_key_text(const std::string& path) {
  if (!is_file(path)) return std::nullopt;
  auto text = read_file(path, 4096);
  if (!text) return std::nullopt;
  return std::string(trim_all(*text));
}

struct ClientProfile {
  std::string file;
  wireguard::WgQuickConfig conf;
};

// The wg-quick profiles Algo wrote: wireguard/<user>.conf.
Result<std::map<std::string, ClientProfile>> read_client_profiles(const std::string& wg_dir) {
  std::map<std::string, ClientProfile> out;
  std::error_code ec;
  if (!fs::is_directory(wg_dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(wg_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || !name.ends_with(".conf") || name.starts_with(".")) continue;
    auto text = read_file(entry.path().string());
    if (!text) return text.take_error();
    auto conf = wireguard::parse_wg_quick(*text);
    secure_wipe(text->data(), text->size());
    if (!conf) return conf.take_error().context(entry.path().string());
    if (conf->peers.size() != 1) {
      return make_error("{}: expected one [Peer] (the server), found {}", entry.path().string(),
                        conf->peers.size());
    }
    out[name.substr(0, name.size() - 5)] = {entry.path().string(), std::move(*conf)};
  }
  return out;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> out;
  auto text = read_file(path);
  if (!text) return out;
  size_t start = 0;
  while (start < text->size()) {
    size_t nl = std::min(text->find('\n', start), text->size());
    auto line = trim_all(std::string_view(*text).substr(start, nl - start));
    if (!line.empty()) out.emplace_back(line);
    start = nl + 1;
  }
  return out;
}

// The address at host index `index` of `pool` (Algo numbers users from network + 2).
std::optional<net::IpAddress> nth_address(const net::Prefix& pool, uint64_t index) {
  net::IpAddress a = pool.address;
  uint64_t carry = index;
  for (size_t i = a.byte_length(); i-- > 0 && carry != 0;) {
    const uint64_t sum = a.bytes[i] + (carry & 0xff);
    a.bytes[i] = uint8_t(sum);
    carry = (carry >> 8) + (sum >> 8);
  }
  if (carry != 0 || !pool.contains(a)) return std::nullopt;
  return a;
}

std::optional<uint16_t> port_of_endpoint(const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon + 1 >= endpoint.size()) return std::nullopt;
  uint32_t v = 0;
  for (char c : endpoint.substr(colon + 1)) {
    if (c < '0' || c > '9' || v > 65535) return std::nullopt;
    v = v * 10 + uint32_t(c - '0');
  }
  if (v == 0 || v > 65535) return std::nullopt;
  return uint16_t(v);
}

bool contains(const std::vector<net::IpAddress>& v, const net::IpAddress& a) {
  return std::find(v.begin(), v.end(), a) != v.end();
}

// The server's WireGuard key: Algo's .pki when kept, else the server's own wg0.conf.
Result<crypto::PrivateKey> server_key(const AlgoImportOptions& o, const std::string& pki,
                                      const std::string& endpoint, std::string& source) {
  if (auto text = read_key_text(pki + "/private/" + endpoint)) {
    auto k = crypto::private_key_from_base64(*text);
    if (!k) return make_error("{}/private/{}: {}", pki, endpoint, k.error().message);
    source = pki + "/private/" + endpoint;
    return *k;
  }
  const std::string conf = o.server_wg_conf.empty() ? kServerWgConf : o.server_wg_conf;
  if (!is_file(conf)) {
    return make_error(
        "no WireGuard server key: {}/private/{} is missing (Algo deletes its PKI unless you chose "
        "to keep it) and so is {}. Run the import on the Algo server, or copy its "
        "/etc/wireguard/wg0.conf here and pass --wg-conf FILE",
        pki, endpoint, conf);
  }
  auto text = read_file(conf);
  if (!text) return text.take_error();
  auto parsed = parse_wg_server_conf(*text, conf);
  secure_wipe(text->data(), text->size());
  if (!parsed) return parsed.take_error();
  if (!parsed->iface.private_key) return make_error("{}: [Interface] has no PrivateKey", conf);
  source = conf;
  return *parsed->iface.private_key;
}

// config.cfg, then .config.yml over it (what the deployment actually used).
Result<AlgoSettings> read_settings(const AlgoImportOptions& o, std::vector<std::string>& read) {
  AlgoSettings settings;
  std::string cfg = o.config_cfg;
  if (cfg.empty()) {
    const std::string guess = (fs::path(o.tree) / ".." / ".." / "config.cfg").lexically_normal();
    if (is_file(guess)) cfg = guess;
  }
  for (const std::string& file : {cfg, o.tree + "/.config.yml"}) {
    if (file.empty() || (!is_file(file) && file != o.config_cfg)) continue;
    auto text = read_file(file);
    if (!text) return text.take_error();
    auto parsed = parse_algo_settings(*text, file);
    if (!parsed) return parsed.take_error();
    merge_algo_settings(settings, *parsed);
    read.push_back(file);
  }
  return settings;
}

net::Prefix pool(const std::optional<net::Prefix>& set, const char* fallback) {
  return set ? *set : net::Prefix::parse(fallback).value();
}

}  // namespace

Result<ImportPlan> plan_algo_import(const AlgoImportOptions& options) {
  AlgoImportOptions o = options;
  while (o.tree.size() > 1 && o.tree.back() == '/') o.tree.pop_back();
  const std::string wg_dir = o.tree + "/wireguard";
  const std::string wg_pki = wg_dir + "/.pki";
  std::error_code ec;
  if (!fs::is_directory(wg_dir, ec) && !fs::is_directory(o.tree + "/ipsec", ec)) {
    return make_error("{}: not an Algo configs/<server>/ directory (no wireguard/ or ipsec/)",
                      o.tree);
  }
  ImportPlan plan;
  std::vector<std::string> read;
  auto settings = read_settings(o, read);
  if (!settings) return settings.take_error();
  plan.source = fmt::format("Algo VPN {} ({})", o.tree,
                            read.empty() ? std::string("no config.cfg or .config.yml")
                                         : fmt::format("{}", fmt::join(read, ", ")));
  ServerConfig& c = plan.config;
  c.endpoint = settings->endpoint.value_or(fs::path(o.tree).filename().string());

  auto profiles = read_client_profiles(wg_dir);
  if (!profiles) return profiles.take_error();

  // Who the users are: config.cfg says; else the profiles Algo wrote (or its certificates).
  std::vector<std::string> users;
  if (settings->users) {
    users = *settings->users;
  } else {
    for (const auto& [name, p] : *profiles) users.push_back(name);
    if (users.empty()) {
      for (const auto& line : read_lines(o.tree + "/ipsec/.pki/all-users")) users.push_back(line);
    }
    plan.notes.emplace_back(
        "no config.cfg found (pass --config-cfg): users, ports and pools come from the client "
        "profiles and Algo's defaults");
  }

  // Pools: Algo's settings, or its defaults.
  c.wireguard_network_ipv4 = pool(settings->wireguard_network_ipv4, kAlgoWireguard4);
  c.wireguard_network_ipv6 = pool(settings->wireguard_network_ipv6, kAlgoWireguard6);
  c.strongswan_network = pool(settings->strongswan_network, kAlgoStrongswan4);
  c.strongswan_network_ipv6 = pool(settings->strongswan_network_ipv6, kAlgoStrongswan6);
  c.ipsec_enabled = settings->ipsec_enabled.value_or(fs::is_directory(o.tree + "/ipsec", ec));
  c.ipv6 = std::any_of(profiles->begin(), profiles->end(), [](const auto& p) {
    const auto& a = p.second.conf.iface.addresses;
    return std::any_of(a.begin(), a.end(), [](const auto& x) { return !x.address.is_v4(); });
  });
  if (settings->ondemand_cellular) c.ondemand_cellular = *settings->ondemand_cellular;
  if (settings->ondemand_wifi) c.ondemand_wifi = *settings->ondemand_wifi;
  if (settings->ondemand_wifi_exclude) c.ondemand_wifi_exclude = *settings->ondemand_wifi_exclude;
  if (settings->between_clients_drop) c.between_clients_drop = *settings->between_clients_drop;
  if (settings->block_smb) c.block_smb = *settings->block_smb;
  if (settings->block_netbios) c.block_netbios = *settings->block_netbios;
  if (settings->dns_adblocking) c.dns_adblocking = *settings->dns_adblocking;
  if (settings->dns_encryption) c.dns_encryption = *settings->dns_encryption;
  if (!settings->dns_servers_ipv4.empty()) {
    c.dns_servers.ipv4 = settings->dns_servers_ipv4;
    c.dns_servers.ipv6 = settings->dns_servers_ipv6;
  }
  if (settings->wireguard_keepalive) {
    c.wireguard_persistent_keepalive = *settings->wireguard_keepalive;
  }
  if (settings->reduce_mtu) c.reduce_mtu = *settings->reduce_mtu;
  c.wireguard_port = settings->wireguard_port.value_or(c.wireguard_port);

  // The server's key, which every profile pins.
  std::string key_source;
  auto key = server_key(o, wg_pki, c.endpoint, key_source);
  if (!key) {
    if (!profiles->empty()) return key.take_error();
    plan.notes.emplace_back("no WireGuard in the Algo tree: Waypost's WireGuard gets new keys");
  } else {
    plan.state.private_key = *key;
    plan.state.public_key = crypto::public_from_private(*key);
  }

  // What the profiles say about the server, checked against each other.
  const std::vector<std::string> index = read_lines(wg_pki + "/index.txt");
  for (const auto& [name, p] : *profiles) {
    const wireguard::ConfPeer& server = p.conf.peers.front();
    if (server.public_key != plan.state.public_key) {
      return make_error("{}: the server's public key is not the one of the key in {}", p.file,
                        key_source);
    }
    if (server.endpoint) {
      if (auto port = port_of_endpoint(*server.endpoint)) c.wireguard_port = *port;
    }
    if (server.persistent_keepalive != 0) {
      c.wireguard_persistent_keepalive = server.persistent_keepalive;
    }
    if (p.conf.iface.mtu && *p.conf.iface.mtu < wireguard::kDefaultMtu) {
      c.reduce_mtu = wireguard::kDefaultMtu - *p.conf.iface.mtu;
    }
    // DNS: Algo's local resolver (local_service_ip) or the upstreams directly.
    const auto& dns = p.conf.iface.dns_servers;
    const bool to_local = std::any_of(dns.begin(), dns.end(), [&](const net::IpAddress& a) {
      return a == settings->local_service_ip || a == settings->local_service_ipv6 ||
             (!contains(c.dns_servers.ipv4, a) && !contains(c.dns_servers.ipv6, a));
    });
    if (!dns.empty() && to_local && !c.dns_force) {
      c.dns_force = true;
      if (!c.dns_adblocking) c.dns_encryption = true;
      plan.notes.push_back(fmt::format(
          "Algo's profiles ask DNS at {} (Algo's resolver); dns_force is on so that Waypost's "
          "resolver answers them there",
          dns.front().to_string()));
    } else if (!dns.empty() && !to_local) {
      c.dns_encryption = false;
      c.dns_adblocking = false;
    }
  }
  if (c.wireguard_port == 53) {
    plan.notes.emplace_back(
        "wireguard_port 53: Algo listened on 51820 and forwarded 53 to it; Waypost listens on 53 "
        "itself");
  }

  // The users, with their keys and addresses; users Algo's CRL revoked are gone.
  for (const auto& user : users) {
    if (auto st = validate_user_name(user); !st) return st.take_error().context("Algo user");
    ImportedPeer p;
    p.label = user;
    auto profile = profiles->find(user);
    p.where = profile != profiles->end() ? profile->second.file : "user " + user;
    std::optional<std::string> priv = read_key_text(fmt::format("{}/private/{}", wg_pki, user));
    std::optional<std::string> psk = read_key_text(fmt::format("{}/preshared/{}", wg_pki, user));
    if (profile != profiles->end()) {
      const auto& conf = profile->second.conf;
      if (conf.iface.private_key) p.private_key = *conf.iface.private_key;
      if (conf.peers.front().preshared_key) p.preshared_key = *conf.peers.front().preshared_key;
      for (const auto& a : conf.iface.addresses) {
        (a.address.is_v4() ? p.ipv4 : p.ipv6) = a.address;
      }
    } else {
      if (priv) {
        auto k = crypto::private_key_from_base64(*priv);
        if (!k) return make_error("{}/private/{}: {}", wg_pki, user, k.error().message);
        p.private_key = *k;
      }
      if (psk) {
        auto k = crypto::private_key_from_base64(*psk);
        if (!k) return make_error("{}/preshared/{}: {}", wg_pki, user, k.error().message);
        p.preshared_key = *k;
      }
      // Algo numbers users by their line in index.txt: the first gets network + 2.
      auto at = std::find(index.begin(), index.end(), user);
      if (at != index.end()) {
        const auto n = uint64_t(at - index.begin()) + 2;
        p.ipv4 = nth_address(c.wireguard_network_ipv4, n);
        if (c.ipv6) p.ipv6 = nth_address(c.wireguard_network_ipv6, n);
      }
    }
    if (!p.private_key) {
      plan.notes.push_back(fmt::format(
          "user {}: no WireGuard profile or key in the Algo tree: Waypost makes new keys, so the "
          "device needs its new profile",
          user));
      plan.config.users.push_back(user);
      continue;
    }
    p.public_key = crypto::public_from_private(*p.private_key);
    for (const auto& a : {p.ipv4, p.ipv6}) {
      const net::Prefix& in =
          !a || a->is_v4() ? c.wireguard_network_ipv4 : c.wireguard_network_ipv6;
      if (a && !in.contains(*a)) {
        return make_error(
            "{}: address {} is outside {}: pass --config-cfg with the deployment's config.cfg "
            "(its wireguard_network_ipv4/ipv6)",
            p.where, a->to_string(), in.to_string());
      }
    }
    if (auto st = add_imported_peer(plan, p); !st) return st.take_error();
  }

  if (c.ipsec_enabled) {
    if (auto st = plan_algo_pki(plan, o, *settings); !st) return st.take_error();
  }
  if (auto parsed = parse_server_config(render_server_config(c)); !parsed) {
    return make_error("the imported settings are not valid: {}", parsed.error().message);
  }
  return plan;
}

}  // namespace waypost::server
