// Rendering a commented config.yaml (for `server init`).
#include <fmt/format.h>

#include "server/config.h"
#include "server/config_text.h"

namespace waypost::server {

using namespace text;  // NOLINT

std::string render_server_config(const ServerConfig& c) {
  std::string out;
  out +=
      "# Waypost server configuration.\n"
      "# Keys that Algo VPN's config.cfg also has keep Algo's names and meaning; the others are\n"
      "# Waypost's own. docs/SERVER-CONFIG.md describes every key. Unknown keys are errors.\n"
      "\n"
      "# The format of this file, for upgrades (written by Waypost; leave it as it is).\n"
      "config_version: " +
      std::to_string(kConfigSchema) +
      "\n"
      "\n"
      "# One entry per device (each gets its own keys and addresses). Names: 1-64 letters,\n"
      "# digits and _ . @ -; quote names that look like numbers, e.g. \"123\".\n";
  std::vector<std::string> items;
  for (const auto& u : c.users) {
    items.push_back(yaml_scalar(u));
  }
  render_list(out, "users", items);
  if (!c.disabled_users.empty()) {
    out += "\n# Users that keep their keys and files but may not connect.\n";
    std::vector<std::string> disabled;
    for (const auto& u : c.disabled_users) {
      disabled.push_back(yaml_scalar(u));
    }
    render_list(out, "disabled_users", disabled);
  }

  out += fmt::format(
      "\n"
      "### WireGuard ###\n"
      "\n"
      "# Serve WireGuard at all.\n"
      "wireguard_enabled: {}\n"
      "\n"
      "# UDP port clients connect to. Change it if a network on the way blocks this one.\n"
      "wireguard_port: {}\n"
      "\n"
      "# Seconds between keepalives from clients, for NATs that forget idle mappings; 0 = off.\n"
      "wireguard_PersistentKeepalive: {}\n"
      "\n"
      "# Tunnel address pools: the server takes the first address, users the next free ones.\n"
      "wireguard_network_ipv4: {}\n"
      "wireguard_network_ipv6: {}\n"
      "\n"
      "# IPv6 inside the tunnel (clients get an IPv6 address and IPv6 DNS servers).\n"
      "ipv6: {}\n"
      "\n"
      "# Lowers the client MTU to 1420 - reduce_mtu (0-500). 0 keeps 1420: the server clamps\n"
      "# TCP MSS, which is enough on almost every network. Raise it if connections hang.\n"
      "reduce_mtu: {}\n",
      yes_no(c.wireguard_enabled), c.wireguard_port, c.wireguard_persistent_keepalive,
      c.wireguard_network_ipv4.to_string(), yaml_scalar(c.wireguard_network_ipv6.to_string()),
      yes_no(c.ipv6), c.reduce_mtu);

  out += fmt::format(
      "\n"
      "### IKEv2 (IPsec) ###\n"
      "\n"
      "# Serve IKEv2 road warriors on UDP 500/4500 (iPhone, Mac, Windows and Android clients\n"
      "# without an app; strongSwan on Linux), with certificates from the server's own CA.\n"
      "ipsec_enabled: {}\n"
      "\n"
      "# IKEv2 clients' address pools: the server takes the first address (DNS), clients the\n"
      "# others. They must not overlap the WireGuard pools.\n"
      "strongswan_network: {}\n"
      "strongswan_network_ipv6: {}\n",
      yes_no(c.ipsec_enabled), c.strongswan_network.to_string(),
      yaml_scalar(c.strongswan_network_ipv6.to_string()));

  out += fmt::format(
      "\n"
      "### Firewall ###\n"
      "\n"
      "# Clients cannot reach each other through the server (false for a \"road warrior\" LAN).\n"
      "BetweenClients_DROP: {}\n"
      "# Drop Windows file sharing (SMB, TCP 445) and NetBIOS (137-139) from clients.\n"
      "block_smb: {}\n"
      "block_netbios: {}\n",
      yes_no(c.between_clients_drop), yes_no(c.block_smb), yes_no(c.block_netbios));

  out += fmt::format(
      "\n"
      "### DNS ###\n"
      "\n"
      "# Upstream resolvers. With dns_adblocking or dns_encryption the server runs its own\n"
      "# resolver on its tunnel address and asks these (over TLS with dns_encryption; write\n"
      "# \"192.0.2.53#dns.example.net\" for a name to check the certificate against); otherwise\n"
      "# they go straight into the client profiles.\n"
      "dns_servers:\n");
  auto resolver = [&](const net::IpAddress& a) {
    auto it = c.dns_servers.tls_names.find(a);
    return it == c.dns_servers.tls_names.end() ? a.to_string() : a.to_string() + "#" + it->second;
  };
  items.clear();
  for (const auto& a : c.dns_servers.ipv4) {
    items.push_back(yaml_number_like(resolver(a)));
  }
  render_list(out, "ipv4", items, "  ");
  items.clear();
  for (const auto& a : c.dns_servers.ipv6) {
    items.push_back(yaml_scalar(resolver(a)));
  }
  render_list(out, "ipv6", items, "  ");
  out += fmt::format(
      "\n"
      "# The built-in resolver (docs/DNS.md): ad blocking from local block lists, and DNS over\n"
      "# TLS so that no plaintext DNS leaves the server.\n"
      "dns_adblocking: {}\n"
      "dns_encryption: {}\n"
      "# Block lists for dns_adblocking: local files, hosts format or one domain per line.\n",
      yes_no(c.dns_adblocking), yes_no(c.dns_encryption));
  render_scalars(out, "adblock_lists", c.adblock_lists);
  out += "# Domains never blocked (their subdomains neither).\n";
  render_scalars(out, "adblock_allow", c.adblock_allow);
  out += fmt::format(
      "# What a blocked name resolves to: 0.0.0.0 (and ::), or nxdomain.\n"
      "dns_block_response: {}\n"
      "# Validate DNSSEC signatures.\n"
      "dns_dnssec: {}\n"
      "# Resolver cache, MiB.\n"
      "dns_cache_size: {}\n"
      "# Send clients' DNS to any server to the built-in resolver (for devices that ignore the\n"
      "# DNS setting of the tunnel).\n"
      "dns_force: {}\n"
      "# Certificate authorities for the upstreams' TLS certificates: a PEM file or a hashed\n"
      "# directory.\n"
      "dns_tls_ca: {}\n",
      yaml_scalar(c.dns_block_response), yes_no(c.dns_dnssec), c.dns_cache_size,
      yes_no(c.dns_force), yaml_scalar(c.dns_tls_ca));

  out += fmt::format(
      "\n"
      "### Apple profiles (.mobileconfig) ###\n"
      "\n"
      "# Connect on demand: automatically whenever the device is on cellular / on Wi-Fi.\n"
      "ondemand_cellular: {}\n"
      "ondemand_wifi: {}\n"
      "# Wi-Fi networks (SSIDs) where the VPN stays off, e.g. your home network.\n",
      yes_no(c.ondemand_cellular), yes_no(c.ondemand_wifi));
  render_scalars(out, "ondemand_wifi_exclude", c.ondemand_wifi_exclude);

  out += fmt::format(
      "\n"
      "### Waypost ###\n"
      "\n"
      "# Host name or IP address that clients connect to; written into their profiles.\n"
      "endpoint: {}\n"
      "\n"
      "# Name of the server's WireGuard interface.\n"
      "wireguard_interface: {}\n"
      "\n"
      "# Drop all input to the server itself except WireGuard, SSH on ssh_port, ping and DNS\n"
      "# from clients.\n"
      "restrict_input: {}\n"
      "ssh_port: {}\n"
      "\n"
      "# Prometheus metrics at http://<metrics_listen>/metrics, on a loopback address and port\n"
      "# such as 127.0.0.1:9586 or [::1]:9586; \"\" = off.\n"
      "metrics_listen: {}\n"
      "\n"
      "# Segmentation and receive offloads (GSO/GRO) for throughput.\n"
      "offloads: {}\n",
      c.endpoint.empty() ? std::string("\"\"") : yaml_scalar(c.endpoint),
      yaml_scalar(c.wireguard_interface), yes_no(c.restrict_input), c.ssh_port,
      c.metrics_listen.empty() ? std::string("\"\"") : yaml_scalar(c.metrics_listen),
      yes_no(c.offloads));

  auto path_or_none = [](const std::string& p) {
    return p.empty() ? std::string("\"\"") : yaml_scalar(p);
  };
  out += fmt::format(
      "\n"
      "### Web admin (docs/WEB.md) ###\n"
      "\n"
      "# The admin page and /api/v1 over HTTPS on web_port; admins are added with\n"
      "# `waypost admins add NAME`.\n"
      "web_enabled: {}\n"
      "web_port: {}\n"
      "# all: every address of the server; tunnel: only its VPN addresses (reachable from "
      "inside).\n"
      "web_listen: {}\n"
      "# Your own certificate and key (PEM files); \"\" for a self-signed one.\n"
      "web_tls_cert: {}\n"
      "web_tls_key: {}\n",
      yes_no(c.web_enabled), c.web_port, c.web_listen, path_or_none(c.web_tls_cert),
      path_or_none(c.web_tls_key));
  return out;
}

}  // namespace waypost::server
