#pragma once
// The server's DNS resolver for VPN clients (docs/DNS.md): listens on the tunnel addresses (UDP
// and TCP), answers blocked names itself, and hands everything else to libunbound, which
// forwards to the configured upstreams (over TLS with encryption on, see tls_relay.h), caches
// and validates DNSSEC. All of it runs on the daemon's event loop thread; libunbound resolves in
// its own thread and reports through a pipe the loop watches.

#include <memory>

#include "common/result.h"
#include "dns/config.h"
#include "dns/status.h"
#include "platform/event_loop.h"

namespace waypost::dns {

class Resolver {
 public:
  // Opens the sockets (the listen addresses should exist; IP_FREEBIND lets them come later),
  // loads the lists and starts libunbound. `loop` must outlive the resolver.
  static Result<std::unique_ptr<Resolver>> start(const ResolverConfig& config,
                                                 platform::EventLoop& loop);

  // Applies a new configuration: block and allow lists are re-read and swapped in at once;
  // upstream, DNSSEC or cache changes start a new libunbound context for new queries while
  // queries in flight finish on the old one. Counters are kept. On error nothing changes.
  // Listen addresses and port cannot change here (restart the resolver).
  Status reload(const ResolverConfig& config);

  // Counters, per-client counters, upstream health (upstream_ok, and a problem when every
  // upstream is failing), list sizes; `running` is true. Cheap enough for a status command.
  DnsStatus status() const;

  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  struct Impl;

 private:
  explicit Resolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace waypost::dns
