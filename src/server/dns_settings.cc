#include "server/dns_settings.h"

#include <fmt/format.h>

#include "server/state.h"

namespace waypost::server {

std::vector<std::string> local_blocklists(const ServerConfig& config) {
  std::vector<std::string> out;
  for (const auto& l : config.adblock_lists) {
    if (l.starts_with("/")) out.push_back(l);
  }
  return out;
}

std::vector<std::string> url_blocklists(const ServerConfig& config) {
  std::vector<std::string> out;
  for (const auto& l : config.adblock_lists) {
    if (!l.starts_with("/")) out.push_back(l);
  }
  return out;
}

bool runs_resolver(const ServerConfig& config) {
  return config.dns_adblocking || config.dns_encryption;
}

Result<ResolverSettings> resolver_settings(const ServerConfig& config) {
  ResolverSettings s;
  dns::ResolverConfig& r = s.config;
  r.listen.push_back(server_ipv4(config));
  r.allowed_clients.push_back(config.wireguard_network_ipv4);
  if (config.ipv6) {
    r.listen.push_back(server_ipv6(config));
    r.allowed_clients.push_back(config.wireguard_network_ipv6);
  }
  if (config.ipsec_enabled) {
    // IKEv2 clients ask the server's address in their own pool (on the IKEv2 device).
    r.listen.push_back(server_ipsec_ipv4(config));
    r.allowed_clients.push_back(config.strongswan_network);
    if (config.ipv6) {
      r.listen.push_back(server_ipsec_ipv6(config));
      r.allowed_clients.push_back(config.strongswan_network_ipv6);
    }
  }
  r.encryption = config.dns_encryption;
  for (const auto* list : {&config.dns_servers.ipv4, &config.dns_servers.ipv6}) {
    for (const auto& a : *list) {
      std::string text = a.to_string();
      if (auto it = config.dns_servers.tls_names.find(a);
          it != config.dns_servers.tls_names.end()) {
        text += "#" + it->second;
      }
      auto u = dns::parse_upstream(text, r.encryption);
      if (!u) {
        return make_error("dns_servers: {}", u.error().message);
      }
      r.upstreams.push_back(*u);
    }
  }
  r.dnssec = config.dns_dnssec;
  r.ca_bundle = config.dns_tls_ca;
  r.cache_bytes = size_t{config.dns_cache_size} << 20;
  r.adblocking = config.dns_adblocking;
  if (r.adblocking) {
    r.blocklists = local_blocklists(config);
    s.skipped_urls = url_blocklists(config);
  }
  r.allowlist = config.adblock_allow;
  auto br = dns::parse_block_response(config.dns_block_response);
  if (!br) {
    return make_error("dns_block_response: {}", br.error().message);
  }
  r.block_response = *br;
  if (auto st = dns::validate(r); !st) {
    return st.take_error();
  }
  return s;
}

std::vector<net::IpAddress> client_dns_servers(const ServerConfig& config, bool with_ipv6) {
  if (runs_resolver(config)) {
    std::vector<net::IpAddress> out{server_ipv4(config)};
    if (with_ipv6 && config.ipv6) {
      out.push_back(server_ipv6(config));
    }
    return out;
  }
  std::vector<net::IpAddress> out = config.dns_servers.ipv4;
  if (with_ipv6 && config.ipv6) {
    out.insert(out.end(), config.dns_servers.ipv6.begin(), config.dns_servers.ipv6.end());
  }
  return out;
}

}  // namespace waypost::server
