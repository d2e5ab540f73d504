#pragma once
// The wg-quick(8) configuration format: [Interface] and [Peer] sections of "Key = Value" lines.
// Keys and section names are case-insensitive, '#' starts a comment, list values are
// comma-separated and keys like Address/DNS/AllowedIPs/PostUp may repeat. Every error names the
// line and the key.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "crypto/keys.h"
#include "net/ip.h"

namespace waypost::wireguard {

struct ConfPeer {
  crypto::PublicKey public_key{};
  std::optional<crypto::SymmetricKey> preshared_key;
  std::vector<net::Prefix> allowed_ips;
  std::optional<std::string> endpoint;  // as written ("host:port"); resolved when applied
  uint16_t persistent_keepalive = 0;    // seconds; 0 = off ("off" is accepted too)
  int line = 0;                         // line of the [Peer] header, for messages
};

struct ConfInterface {
  std::optional<crypto::PrivateKey> private_key;
  std::optional<uint16_t> listen_port;
  std::optional<uint32_t> fwmark;      // "off" or 0 means none
  std::vector<net::Prefix> addresses;  // host bits kept: 10.0.0.2/24
  std::vector<net::IpAddress> dns_servers;
  std::vector<std::string> dns_search;  // non-IP entries of DNS=
  std::optional<uint32_t> mtu;
  std::optional<std::string> table;  // "off", "auto", a number or a name from rt_tables
  std::vector<std::string> pre_up, post_up, pre_down, post_down;
  bool save_config = false;
};

struct WgQuickConfig {
  ConfInterface iface;
  std::vector<ConfPeer> peers;
};

// Parses a whole file. Errors read "line 7: key 'AllowedIPs': invalid prefix '10.0.0.0/33'".
Result<WgQuickConfig> parse_wg_quick(std::string_view text);

// Renders a config back to wg-quick text (used by SaveConfig and by client bundles).
std::string format_wg_quick(const WgQuickConfig& config);

// The interface name wg-quick derives from a path: "/etc/wireguard/wp0.conf" -> "wp0".
// Fails when the name is not a valid interface name (1..15 chars of [a-zA-Z0-9_=+.-]).
Result<std::string> interface_name_from_path(std::string_view path);

}  // namespace waypost::wireguard
