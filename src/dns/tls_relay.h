#pragma once
// DNS-over-TLS transport for libunbound. Debian's libunbound is built against nettle rather than
// OpenSSL: it has no TLS client. Asked for `forward-tls-upstream: yes` it fails to initialize
// when a CA bundle is configured, and without one it silently sends plaintext DNS over TCP to
// the forwarder. So libunbound never speaks TLS here. It forwards over TCP to one loopback port
// per upstream, and this relay carries each TCP stream inside a TLS connection (OpenSSL, peer
// certificate checked against the CA bundle and the upstream's name) to the real upstream. DNS
// over TCP and DNS over TLS carry the same length-prefixed messages (RFC 7858), so the relay
// copies bytes and parses nothing. Plaintext DNS exists only on the loopback interface.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "dns/config.h"
#include "dns/status.h"
#include "platform/event_loop.h"

namespace waypost::dns {

class TlsRelay {
 public:
  struct Options {
    std::vector<Upstream> upstreams;       // each needs a tls_name
    std::string ca_bundle;                 // PEM file with the trusted CAs
    Nanos handshake_timeout = seconds(5);  // TCP connect + TLS handshake
    Nanos idle_timeout = seconds(120);     // unbound closes reused streams well before this
    size_t max_connections = 64;
  };

  static Result<std::unique_ptr<TlsRelay>> start(Options options, platform::EventLoop& loop);
  ~TlsRelay();
  TlsRelay(const TlsRelay&) = delete;
  TlsRelay& operator=(const TlsRelay&) = delete;

  // What libunbound forwards to for upstream i: "127.0.0.1@PORT".
  std::string forward_addr(size_t i) const;
  size_t upstream_count() const;

  // Per upstream: connections, completed handshakes, failures, and the last failure.
  std::vector<TlsUpstreamStatus> status() const;
  // The most recent failure of any upstream ("" if none since the last good handshake).
  std::string last_error() const;

  struct Impl;

 private:
  explicit TlsRelay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace waypost::dns
