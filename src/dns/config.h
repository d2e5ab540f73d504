#pragma once
// Configuration of the server's DNS resolver (docs/DNS.md). The server daemon maps its
// config.yaml keys onto ResolverConfig; nothing here reads files.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "net/ip.h"

namespace waypost::dns {

// One forwarder. All resolution is forwarded: the resolver never recurses from the root.
struct Upstream {
  net::IpAddress address;
  uint16_t port = 853;
  // Name checked against the upstream's TLS certificate. Required when encryption is on: without
  // it the certificate could not be tied to anyone and the channel would be open to interception.
  std::string tls_name;

  // unbound's forward-addr syntax: "1.1.1.1@853#cloudflare-dns.com", "2606:4700::1111@53".
  std::string to_string() const;
  auto operator<=>(const Upstream&) const = default;
};

// Parses "ADDRESS[@PORT][#TLS-NAME]", where ADDRESS is IPv4, IPv6, or IPv6 in brackets:
//   "1.1.1.1", "1.1.1.1@853#cloudflare-dns.com", "[2606:4700:4700::1111]@853#cloudflare-dns.com",
//   "2606:4700:4700::1111#cloudflare-dns.com", "192.0.2.53@5353".
// The port defaults to 853 with encryption and 53 without. With encryption and no name, the
// addresses of a few well-known public resolvers (Cloudflare, Google, Quad9) get their
// published names; any other address without a name is an error.
Result<Upstream> parse_upstream(std::string_view text, bool encryption);

enum class BlockResponse : uint8_t {
  kZeroAddress,  // A 0.0.0.0 / AAAA ::, other types an empty NOERROR answer
  kNxdomain,     // NXDOMAIN for every type
};
// "0.0.0.0", "zero", "null" -> kZeroAddress; "nxdomain" -> kNxdomain (case-insensitive).
Result<BlockResponse> parse_block_response(std::string_view text);

struct ResolverConfig {
  // Addresses to listen on (UDP and TCP): the server's tunnel addresses.
  std::vector<net::IpAddress> listen;
  // Clients allowed to query (the VPN pools). Other sources are dropped without an answer.
  std::vector<net::Prefix> allowed_clients;
  uint16_t port = 53;

  bool encryption = true;  // DNS-over-TLS to every upstream: no plaintext DNS leaves the server
  std::vector<Upstream> upstreams;
  bool dnssec = true;
  std::string trust_anchor_file = "/usr/share/dns/root.key";
  // CAs for upstream certificates: a PEM bundle, or a hashed directory such as /etc/ssl/certs
  // (looked up per handshake instead of held in memory).
  std::string ca_bundle = "/etc/ssl/certs/ca-certificates.crt";
  size_t cache_bytes = 4 << 20;  // split between unbound's message, RRset, key and negative caches

  bool adblocking = false;
  // Local files; per line: hosts format ("0.0.0.0 name ..."), a plain domain, "*.domain"
  // (subdomains only), "||domain^" (adblock style), comments with '#' or '!'.
  std::vector<std::string> blocklists;
  // Domains never blocked; an entry covers its subdomains and wins over any block entry.
  std::vector<std::string> allowlist;
  BlockResponse block_response = BlockResponse::kZeroAddress;

  // A query with no upstream answer after this long is answered SERVFAIL (and cancelled).
  Nanos upstream_timeout = millis(1500);
  size_t max_inflight = 1024;  // queries waiting for upstreams; beyond it clients get REFUSED
  size_t max_tcp_connections = 64;
  Nanos tcp_idle_timeout = seconds(10);
};

// Checks what can be checked without touching the network or the file system.
Status validate(const ResolverConfig& config);

}  // namespace waypost::dns
