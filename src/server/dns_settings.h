#pragma once
// How config.yaml's DNS keys become the built-in resolver's settings (docs/DNS.md), and which
// resolvers the client profiles name. Pure functions, unit-tested.

#include <string>
#include <vector>

#include "common/result.h"
#include "dns/config.h"
#include "server/config.h"

namespace waypost::server {

// adblock_lists split into what the resolver reads (absolute paths) and what it skips (URLs:
// Waypost never downloads at run time, docs/DNS.md).
std::vector<std::string> local_blocklists(const ServerConfig& config);
std::vector<std::string> url_blocklists(const ServerConfig& config);

// The server runs its own resolver when it blocks ads or encrypts upstream DNS (as Algo runs
// dnscrypt-proxy for either); otherwise clients are given dns_servers directly.
bool runs_resolver(const ServerConfig& config);

struct ResolverSettings {
  dns::ResolverConfig config;
  // adblock_lists entries that are URLs: Waypost never downloads at run time (docs/DNS.md).
  std::vector<std::string> skipped_urls;
};

// Listens on the server's tunnel addresses, answers the client pools, forwards to dns_servers
// (with their TLS names, port 853, when dns_encryption is on). Fails with a message naming the
// key when an upstream cannot be used (an unknown address without a TLS name under encryption).
Result<ResolverSettings> resolver_settings(const ServerConfig& config);

// The DNS servers written into a client profile: the server's tunnel addresses when it runs a
// resolver, else dns_servers (IPv6 ones only when `with_ipv6`).
std::vector<net::IpAddress> client_dns_servers(const ServerConfig& config, bool with_ipv6);

}  // namespace waypost::server
