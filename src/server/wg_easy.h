#pragma once
// wg-easy's own record of a WireGuard server, which knows more than its wg0.conf: client names,
// their private keys (it writes their profiles) and disabled clients (left out of wg0.conf).
//
//   v14 and older: /etc/wireguard/wg0.json, beside wg0.conf:
//     {"server": {"privateKey", "publicKey", "address"},
//      "clients": {"<id>": {"name", "address", "privateKey", "publicKey", "preSharedKey",
//                           "enabled", "createdAt", ...}}}
//   v15: /etc/wireguard/wg-easy.db, SQLite: interfaces_table (name, port, private_key,
//     ipv4_cidr, ipv6_cidr), clients_table (interface_id, name, ipv4_address, ipv6_address,
//     private_key, public_key, pre_shared_key, enabled, created_at) and user_configs_table
//     (host, port: what the clients' profiles say).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "crypto/keys.h"
#include "net/ip.h"

namespace waypost::server {

struct WgEasyClient {
  std::string id;
  std::string name;
  std::optional<crypto::PrivateKey> private_key;
  crypto::PublicKey public_key{};
  std::optional<crypto::SymmetricKey> preshared_key;
  std::optional<net::IpAddress> ipv4;
  std::optional<net::IpAddress> ipv6;
  bool enabled = true;
  int64_t created = 0;  // unix seconds; 0 when unknown
};

struct WgEasyData {
  std::string file;  // for messages
  std::optional<crypto::PrivateKey> server_private_key;
  std::optional<net::Prefix> ipv4_cidr;  // v15 (interfaces_table); v14 says only the address
  std::optional<net::Prefix> ipv6_cidr;
  std::optional<uint16_t> port;  // v15: the interface's listen port
  std::string host;              // v15: the endpoint in the clients' profiles
  std::optional<uint16_t> client_port;
  std::vector<WgEasyClient> clients;
};

// v14's wg0.json. Errors name `file` and the client.
Result<WgEasyData> parse_wg_easy_json(std::string_view text, const std::string& file);
// v15's SQLite database, opened read-only.
Result<WgEasyData> read_wg_easy_sqlite(const std::string& path);
// Either, told apart by the file's first bytes.
Result<WgEasyData> read_wg_easy(const std::string& path);

// "2024-03-01T10:20:30.123Z" or "2024-03-01 10:20:30" (UTC) as unix seconds; 0 when neither.
int64_t parse_wg_easy_time(std::string_view text);

}  // namespace waypost::server
