// Fuzzes the wg-quick parser. Any input must parse or fail cleanly with a "line N: ..." message,
// and whatever parses must survive format -> parse unchanged (SaveConfig rewrites user files,
// so a lossy round trip would silently corrupt them).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "wireguard/conf.h"

namespace {

using waypost::wireguard::ConfPeer;
using waypost::wireguard::WgQuickConfig;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "conf_parser_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// Field-by-field equality; ConfPeer::line depends on layout and is left out.
bool same(const WgQuickConfig& a, const WgQuickConfig& b) {
  const auto& x = a.iface;
  const auto& y = b.iface;
  if (x.private_key.has_value() != y.private_key.has_value() ||
      (x.private_key && !x.private_key->equals(y.private_key->span()))) {
    return false;
  }
  if (x.listen_port != y.listen_port || x.fwmark != y.fwmark || x.addresses != y.addresses ||
      x.dns_servers != y.dns_servers || x.dns_search != y.dns_search || x.mtu != y.mtu ||
      x.table != y.table || x.pre_up != y.pre_up || x.post_up != y.post_up ||
      x.pre_down != y.pre_down || x.post_down != y.post_down || x.save_config != y.save_config) {
    return false;
  }
  if (a.peers.size() != b.peers.size()) {
    return false;
  }
  for (size_t i = 0; i < a.peers.size(); ++i) {
    const ConfPeer& p = a.peers[i];
    const ConfPeer& q = b.peers[i];
    if (p.public_key != q.public_key || p.allowed_ips != q.allowed_ips ||
        p.endpoint != q.endpoint || p.persistent_keepalive != q.persistent_keepalive ||
        p.preshared_key.has_value() != q.preshared_key.has_value() ||
        (p.preshared_key && !p.preshared_key->equals(q.preshared_key->span()))) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // The path helper takes arbitrary strings too.
  if (auto name = waypost::wireguard::interface_name_from_path(text)) {
    if (name->empty() || name->size() > 15) {
      fail("bad interface name accepted", *name);
    }
  }

  auto parsed = waypost::wireguard::parse_wg_quick(text);
  if (!parsed) {
    if (!parsed.error().message.starts_with("line ")) {
      fail("error without a line number", parsed.error().message);
    }
    return 0;
  }
  const std::string formatted = waypost::wireguard::format_wg_quick(*parsed);
  auto again = waypost::wireguard::parse_wg_quick(formatted);
  if (!again) {
    fail("formatted config does not parse", again.error().message + "\n--- text:\n" + formatted);
  }
  if (!same(*parsed, *again)) {
    fail("round trip changed the config", formatted);
  }
  if (waypost::wireguard::format_wg_quick(*again) != formatted) {
    fail("formatting is not stable", formatted);
  }
  return 0;
}
