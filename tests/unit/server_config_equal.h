#pragma once
// Field-by-field equality of ServerConfig for tests and the fuzz target (the struct itself has
// no operator==). Keep in step with server/config.h.
#include "server/config.h"

namespace waypost::test {

inline bool same_config(const server::ServerConfig& a, const server::ServerConfig& b) {
  return a.users == b.users && a.wireguard_enabled == b.wireguard_enabled &&
         a.wireguard_port == b.wireguard_port &&
         a.wireguard_persistent_keepalive == b.wireguard_persistent_keepalive &&
         a.wireguard_network_ipv4 == b.wireguard_network_ipv4 &&
         a.wireguard_network_ipv6 == b.wireguard_network_ipv6 && a.ipv6 == b.ipv6 &&
         a.ipsec_enabled == b.ipsec_enabled && a.strongswan_network == b.strongswan_network &&
         a.strongswan_network_ipv6 == b.strongswan_network_ipv6 && a.reduce_mtu == b.reduce_mtu &&
         a.between_clients_drop == b.between_clients_drop && a.block_smb == b.block_smb &&
         a.block_netbios == b.block_netbios && a.dns_adblocking == b.dns_adblocking &&
         a.dns_encryption == b.dns_encryption && a.dns_servers.ipv4 == b.dns_servers.ipv4 &&
         a.dns_servers.ipv6 == b.dns_servers.ipv6 &&
         a.dns_servers.tls_names == b.dns_servers.tls_names && a.adblock_allow == b.adblock_allow &&
         a.dns_block_response == b.dns_block_response && a.dns_dnssec == b.dns_dnssec &&
         a.dns_cache_size == b.dns_cache_size && a.dns_force == b.dns_force &&
         a.dns_tls_ca == b.dns_tls_ca && a.adblock_lists == b.adblock_lists &&
         a.ondemand_cellular == b.ondemand_cellular && a.ondemand_wifi == b.ondemand_wifi &&
         a.ondemand_wifi_exclude == b.ondemand_wifi_exclude && a.endpoint == b.endpoint &&
         a.wireguard_interface == b.wireguard_interface && a.restrict_input == b.restrict_input &&
         a.ssh_port == b.ssh_port && a.metrics_listen == b.metrics_listen &&
         a.offloads == b.offloads && a.web_enabled == b.web_enabled && a.web_port == b.web_port &&
         a.web_listen == b.web_listen && a.web_tls_cert == b.web_tls_cert &&
         a.web_tls_key == b.web_tls_key;
}

}  // namespace waypost::test
