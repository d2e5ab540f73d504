#include "ipsec/endpoints.h"

namespace waypost::ipsec {

Result<net::IpAddress> remote_address(const ike::Connection& c) {
  for (const auto& spec : c.remote_addrs) {
    if (!spec.is_specific()) continue;
    if (spec.kind == ike::AddressSpec::Kind::kRange) return spec.range.first;
    auto ep = net::Endpoint::resolve(spec.text + ":" + std::to_string(c.remote_port));
    if (!ep) return make_error("{}: remote_addrs {}: {}", c.name, spec.text, ep.error().message);
    return ep->ip();
  }
  return make_error(
      "connection '{}' has no remote address to initiate to (remote_addrs needs one address or "
      "host name)",
      c.name);
}

}  // namespace waypost::ipsec
