#pragma once
// The server's config.yaml, modelled on Algo VPN's config.cfg: the same key names where the
// meaning is the same, so that Algo users recognise it. Every key is documented in
// docs/SERVER-CONFIG.md. Unknown keys and invalid values are errors naming the key and line.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "net/ip.h"

namespace waypost::server {

struct DnsServers {
  std::vector<net::IpAddress> ipv4;
  std::vector<net::IpAddress> ipv6;
  // Names for DNS-over-TLS, written "1.1.1.1#cloudflare-dns.com" in config.yaml; well-known
  // public resolvers need none (docs/DNS.md).
  std::map<net::IpAddress, std::string> tls_names;
};

// The format of config.yaml, in its `config_version` key (absent: 1, written before the key
// existed). A newer Waypost migrates an older file (see upgrade.h); an older one refuses a newer.
//   1: before IKEv2 (no ipsec_enabled / strongswan_network*)
//   2: config_version written; the IKEv2 keys present, strongswan_network_ipv6 a random ULA
inline constexpr uint32_t kConfigSchema = 2;

struct ServerConfig {
  uint32_t config_version = kConfigSchema;  // config_version (absent in a file: 1)

  // --- Algo keys ------------------------------------------------------------------------
  std::vector<std::string> users;  // users: [phone, laptop]
  // disabled_users: users that keep their keys and files but may not connect (the web page's
  // "disable"; `waypost users disable`). Names not in users are ignored.
  std::vector<std::string> disabled_users;
  bool wireguard_enabled = true;                // wireguard_enabled
  uint16_t wireguard_port = 51820;              // wireguard_port
  uint16_t wireguard_persistent_keepalive = 0;  // wireguard_PersistentKeepalive (seconds, 0 = off)
  net::Prefix wireguard_network_ipv4;           // wireguard_network_ipv4 (default 10.49.0.0/16)
  net::Prefix wireguard_network_ipv6;      // wireguard_network_ipv6 (a ULA /48, random at init)
  bool ipsec_enabled = true;               // ipsec_enabled: IKEv2 on UDP 500/4500
  net::Prefix strongswan_network;          // strongswan_network (default 10.48.0.0/16)
  net::Prefix strongswan_network_ipv6;     // strongswan_network_ipv6 (a ULA /48, random at init)
  bool ipv6 = true;                        // ipv6: IPv6 inside the tunnel
  uint32_t reduce_mtu = 0;                 // reduce_mtu: 0 = automatic; else client MTU 1420 - n
  bool between_clients_drop = true;        // BetweenClients_DROP
  bool block_smb = true;                   // block_smb
  bool block_netbios = true;               // block_netbios
  bool dns_adblocking = false;             // dns_adblocking: the built-in resolver blocks ads
  bool dns_encryption = true;              // dns_encryption: the resolver asks over TLS only
  DnsServers dns_servers;                  // dns_servers: {ipv4: [...], ipv6: [...]}
  std::vector<std::string> adblock_lists;  // adblock_lists: local files (URLs are skipped)
  bool ondemand_cellular = false;          // ondemand_cellular (Apple profiles)
  bool ondemand_wifi = false;              // ondemand_wifi (Apple profiles)
  std::vector<std::string> ondemand_wifi_exclude;  // ondemand_wifi_exclude: SSIDs (list or "a,b")

  // --- Waypost keys -----------------------------------------------------------------------
  std::vector<std::string> adblock_allow;      // adblock_allow: domains never blocked
  std::string dns_block_response = "0.0.0.0";  // dns_block_response: "0.0.0.0" or "nxdomain"
  bool dns_dnssec = true;                      // dns_dnssec: validate answers
  uint32_t dns_cache_size = 4;                 // dns_cache_size: resolver cache, MiB
  bool dns_force = false;                      // dns_force: redirect clients' DNS to the resolver
  std::string dns_tls_ca = "/etc/ssl/certs";   // dns_tls_ca: CAs for upstream TLS (file or dir)
  std::string endpoint;                        // endpoint: host name or IP clients connect to
  std::string wireguard_interface = "wp0";     // wireguard_interface: the server's interface name
  bool restrict_input = false;                 // restrict_input: drop input except VPN/SSH/DNS
  uint16_t ssh_port = 22;                      // ssh_port: kept open when restrict_input is on
  std::string metrics_listen;                  // metrics_listen: "127.0.0.1:9586"; "" = off
  bool offloads = true;                        // offloads: GSO/GRO (performance; later)

  // --- the web admin (docs/WEB.md) ---------------------------------------------------------
  bool web_enabled = true;         // web_enabled: serve the admin page and /api/v1
  uint16_t web_port = 8443;        // web_port: its TCP port (HTTPS)
  std::string web_listen = "all";  // web_listen: "all" addresses, or "tunnel" addresses only
  std::string web_tls_cert;        // web_tls_cert: PEM chain; "" = a self-signed certificate
  std::string web_tls_key;         // web_tls_key: its PEM private key (with web_tls_cert)

  ServerConfig();
};

// A random RFC 4193 unique local /48, so that two Waypost servers never collide.
net::Prefix random_ula48();

// Parses config.yaml. Errors read "config.yaml line 12: key 'wireguard_port': expected a port
// number (1-65535), got 'abc'" or "line 3: unknown key 'wireguard_prot'".
Result<ServerConfig> parse_server_config(std::string_view yaml);

// A commented config.yaml for `server init`, with these values.
std::string render_server_config(const ServerConfig& config);

// Validates a user name: 1..64 chars of [A-Za-z0-9_.@-], not starting with '.' or '-'.
Status validate_user_name(std::string_view name);

// Replaces the `users:` list in config.yaml text, keeping everything else (comments included)
// as it was. The result is re-parsed before it is returned.
Result<std::string> rewrite_users(std::string_view yaml, const std::vector<std::string>& users);
// The same for `disabled_users:` (added at the end when the file has none).
Result<std::string> rewrite_disabled_users(std::string_view yaml,
                                           const std::vector<std::string>& users);
// Whether `user` is in disabled_users.
bool user_disabled(const ServerConfig& config, std::string_view user);

}  // namespace waypost::server
