#pragma once
// The server's own packet filtering and NAT, in one nftables table of its own
// ("inet waypost-<interface>"), so that other rules on the host are never touched: masquerade
// of the client pools toward every non-tunnel interface, client-to-client drop, SMB/NetBIOS
// blocks, IPv6 dropped when it is switched off, and optionally an input policy that leaves only
// the VPN (and SSH, and DNS from clients) open, and with dns_force clients' DNS to any address
// redirected to the built-in resolver. Also IP forwarding, restored on stop.

#include <string>
#include <vector>

#include "common/result.h"
#include "server/config.h"

namespace waypost::server {

// The nftables script for `config` (pure; unit-tested).
std::string firewall_script(const ServerConfig& config);
std::string firewall_table_name(const ServerConfig& config);

class ServerNetworking {
 public:
  // Enables forwarding and installs the table; undone by remove().
  static Result<ServerNetworking> apply(const ServerConfig& config);
  ServerNetworking(ServerNetworking&&) noexcept = default;
  ServerNetworking& operator=(ServerNetworking&&) noexcept = default;
  ~ServerNetworking() = default;
  // Replaces the table with the rules for `config` (one transaction; forwarding unchanged).
  Status update(const ServerConfig& config);
  // Deletes the table and restores the forwarding settings found at apply(). Idempotent.
  Status remove();

 private:
  ServerNetworking() = default;
  std::string table_;
  std::vector<std::pair<std::string, std::string>> restore_sysctls_;
  bool active_ = false;
};

}  // namespace waypost::server
