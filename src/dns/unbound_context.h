#pragma once
// Setting up libunbound: the configuration text it is given (forward-only, caches sized from the
// config, DNSSEC from the trust anchor file) and the capture of its log.

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "dns/config.h"

struct ub_ctx;

namespace waypost::dns {

// unbound.conf text for a forward-only libunbound context. `forward_addrs` are unbound
// forward-addr strings ("127.0.0.1@40123" for the TLS relay, "192.0.2.53@53" for plain
// upstreams); `tcp_only` forces TCP to them (the relay is a TCP listener). There is no root
// hints fallback: with forward-first off, a failing forwarder gives SERVFAIL, never recursion.
std::string unbound_config_text(const ResolverConfig& config,
                                const std::vector<std::string>& forward_addrs, bool tcp_only);

// Creates a threaded libunbound context from the config text, loads the trust anchor when
// DNSSEC is on, and finalizes it, so that a bad trust anchor file or option fails here rather
// than on every query later.
Result<ub_ctx*> create_unbound_context(const ResolverConfig& config, const std::string& text);

// libunbound's log destination is process-wide. Its lines (written from libunbound's thread)
// are queued here and written to our log from the loop thread by drain().
class UnboundLog {
 public:
  static UnboundLog& instance();
  void* file() const { return file_; }  // a FILE* for ub_ctx_debugout
  void drain();
  // The newest "error:" line libunbound logged and when (monotonic); "" if none.
  std::string last_error(Nanos* when = nullptr) const;

 private:
  UnboundLog();
  struct State;
  State* state_;
  void* file_;
};

}  // namespace waypost::dns
