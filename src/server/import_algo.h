#pragma once
// `waypost server import-algo`: an Algo VPN server, from the configs/<server>/ tree Algo leaves
// on the machine it was deployed from, as an ImportPlan. The new server keeps Algo's WireGuard
// key, port and pools, each user's keys, preshared key and addresses, and Algo's IKEv2 CA,
// server certificate and users' certificates, so the profiles Algo wrote keep working.
//
//   configs/<server>/.config.yml             the deployment's settings (endpoint, IKEv2 and
//                                            WireGuard on or off, on-demand, DNS resolver)
//   configs/<server>/wireguard/<user>.conf   each user's wg-quick profile (keys, addresses)
//   configs/<server>/wireguard/.pki/         kept only if the user chose to keep the PKI:
//     private/<name>, public/<name>, preshared/<name>   base64 keys; <name> = user or server
//     index.txt                              users in the order they got addresses
//   configs/<server>/ipsec/manual/cacert.pem, <user>.p12
//   configs/<server>/ipsec/.pki/             kept only with the PKI as well:
//     cacert.pem, private/cakey.pem (encrypted with the CA password Algo printed),
//     certs/<name>.crt, private/<name>.key, crl.pem, all-users
//   <algo checkout>/config.cfg               users, ports and pools, when the tree is still in
//                                            its checkout (configs/<server>/../../config.cfg)
//
// Without wireguard/.pki (Algo's default) the server's private key is only on the server, in
// /etc/wireguard/wg0.conf; without ipsec/.pki the server's certificate and key are in
// /etc/ipsec.d/. Both are looked for there when the import runs on the old server.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "server/config.h"
#include "server/import_plan.h"

namespace waypost::server {

// The keys of Algo's config.cfg and .config.yml that Waypost uses; absent when not set (or set
// by a Jinja template, which only Ansible can evaluate).
struct AlgoSettings {
  std::optional<std::string> endpoint;  // IP_subject_alt_name
  std::optional<std::string> server_name;
  std::optional<std::vector<std::string>> users;
  std::optional<bool> ipsec_enabled, wireguard_enabled;
  std::optional<uint16_t> wireguard_port;
  std::optional<uint16_t> wireguard_keepalive;
  std::optional<net::Prefix> wireguard_network_ipv4, wireguard_network_ipv6;
  std::optional<net::Prefix> strongswan_network, strongswan_network_ipv6;
  std::optional<bool> dns_adblocking, dns_encryption;
  std::optional<bool> ondemand_cellular, ondemand_wifi;
  std::optional<std::vector<std::string>> ondemand_wifi_exclude;
  std::optional<bool> between_clients_drop, block_smb, block_netbios;
  std::optional<uint32_t> reduce_mtu;
  std::optional<net::IpAddress> local_service_ip, local_service_ipv6;
  std::vector<net::IpAddress> dns_servers_ipv4, dns_servers_ipv6;
  std::optional<std::string> ca_password, p12_password;  // .config.yml of test deployments
};

// Parses config.cfg or .config.yml (YAML; unknown keys are ignored, as Algo has many Waypost
// does not need). A known key with an invalid value is an error naming `file` and the line.
Result<AlgoSettings> parse_algo_settings(std::string_view yaml, const std::string& file);
// Fills `into` with what `from` sets (from wins).
void merge_algo_settings(AlgoSettings& into, const AlgoSettings& from);

struct AlgoImportOptions {
  std::string tree;              // configs/<server>/
  std::string config_cfg;        // "" = <tree>/../../config.cfg when it exists
  std::string ca_password;       // for ipsec/.pki/private/cakey.pem
  std::string p12_password;      // for ipsec/manual/<user>.p12 when ipsec/.pki is gone
  std::string server_wg_conf;    // "" = /etc/wireguard/wg0.conf when it exists
  std::string server_ipsec_dir;  // "" = /etc/ipsec.d when it exists
};

Result<ImportPlan> plan_algo_import(const AlgoImportOptions& options);

// The IKEv2 half, called by plan_algo_import once the users are known: Algo's CA and
// certificates into plan.pki, with notes for what is missing.
Status plan_algo_pki(ImportPlan& plan, const AlgoImportOptions& options,
                     const AlgoSettings& settings);

}  // namespace waypost::server
