#pragma once
// What wg-quick(8) does around a WireGuard interface, done for an interface that already exists
// (the daemon creates the TUN device and applies keys and peers itself):
//
//   up:   addresses; MTU (given, or automatic: the smallest MTU toward the peers' endpoints, else
//         toward the default route, else 1500, minus 80 bytes of WireGuard overhead) and link up;
//         DNS through resolvconf(8); a route for every AllowedIP; PostUp hooks.
//   down: PreDown hooks; remove the policy rules, the nftables table and the DNS entry that up
//         added; PostDown hooks.
//
// Routing follows Table=: "off" adds no routes; a number or an rt_tables name puts every route
// in that table and adds no rules; "auto" (or no Table=) uses the main table, except that a /0
// turns on wg-quick's policy routing: packets without the tunnel's fwmark look up a private table
// holding the default route, the main table is consulted first with its default routes
// suppressed, and an nftables table ("waypost-<ifname>") drops spoofed packets aimed at the
// tunnel's addresses and keeps UDP replies marked so they leave outside the tunnel.
//
// Hooks run as `/bin/bash -e -o pipefail -c <hook>` with "%i" replaced by the interface name; the
// errexit/pipefail options match wg-quick, which evaluates hooks inside its own `set -e -o
// pipefail` shell, so a failing command in the middle of a hook fails the hook.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "net/ip.h"
#include "platform/kernel.h"
#include "wireguard/conf.h"

namespace waypost::daemon {

struct SetupContext {
  std::string ifname;
  // Sets the device's fwmark (the SO_MARK of its UDP sockets). Called only when policy routing
  // needs a mark and the config has none. Required when a /0 is routed with Table=auto.
  std::function<Status(uint32_t fwmark)> set_fwmark;
  // The peers' current endpoints, for the automatic MTU. May be empty.
  std::function<std::vector<net::Endpoint>()> peer_endpoints;
  // Where netlink, nftables and sysctl requests go; nullptr = the running system. Tests pass a
  // double. Must outlive the InterfaceSetup.
  platform::Kernel* kernel = nullptr;
};

class InterfaceSetup {
 public:
  // Runs the PreUp hooks; the daemon calls this after creating the interface and before
  // configuring WireGuard on it, as wg-quick does.
  static Status run_pre_up(const wireguard::WgQuickConfig& config, const std::string& ifname);

  // Configures the interface. On failure, the rules, nftables table and DNS entry added so far
  // are removed again (without running any hooks); addresses and routes stay on the link, and go
  // away when the caller deletes it.
  static Result<InterfaceSetup> up(const wireguard::WgQuickConfig& config,
                                   const SetupContext& context);

  InterfaceSetup(InterfaceSetup&& other) noexcept;
  InterfaceSetup& operator=(InterfaceSetup&& other) noexcept;
  InterfaceSetup(const InterfaceSetup&) = delete;
  InterfaceSetup& operator=(const InterfaceSetup&) = delete;
  // Does not tear anything down: down() runs user hooks, so it must be called on purpose.
  ~InterfaceSetup() = default;

  // PreDown hooks, then removal of what up() added, then PostDown hooks. Every step runs even if
  // an earlier one failed; the Status reports all failures. Things already gone (the interface
  // deleted, a rule removed by hand) are not failures. A second call does nothing.
  Status down();

  // Recomputes an automatic MTU (e.g. after a RouteMonitor reported a change) and applies it if
  // it differs. Returns whether the MTU changed; always false when MTU= was given.
  Result<bool> refresh_mtu();

  uint32_t mtu() const { return mtu_; }
  // Set when DNS= could not be applied; the daemon logs and reports it.
  const std::optional<std::string>& dns_warning() const { return dns_warning_; }
  // The policy-routing table when a /0 was routed with Table=auto; otherwise the table the
  // routes went into (254 for main); 0 for Table=off.
  uint32_t table() const { return table_; }
  // The fwmark that policy routing relies on; 0 when there is no policy routing.
  uint32_t fwmark() const { return fwmark_; }

 private:
  InterfaceSetup() = default;

  // Removes rules, nftables tables and DNS; collects failure messages.
  void undo(std::vector<std::string>& failures);
  Status route(const net::Prefix& prefix, const std::optional<uint32_t>& explicit_table);
  Status add_default(const net::Prefix& prefix);
  // The smallest MTU on the paths toward the peers (else the default route, else 1500), minus
  // WireGuard's overhead.
  Result<uint32_t> automatic_mtu();

  platform::Kernel& kernel() { return *context_.kernel; }

  std::unique_ptr<platform::NetlinkIo> netlink_;
  SetupContext context_;  // kernel set (the system's if the caller gave none)
  int ifindex_ = 0;
  bool active_ = false;
  bool explicit_mtu_ = false;
  uint32_t mtu_ = 0;
  uint32_t table_ = 0;
  uint32_t fwmark_ = 0;         // the mark policy routing uses, once set up
  uint32_t config_fwmark_ = 0;  // FwMark= of the config (the device marks its packets with it)
  std::optional<std::string> dns_warning_;
  std::vector<platform::Rule> rules_;
  std::vector<std::string> nft_families_;  // "ip" / "ip6" families holding our table
  std::optional<std::string> resolvconf_;  // path of the resolvconf that registered our DNS
  std::string resolvconf_name_;            // the record name we registered with it
  std::vector<std::string> pre_down_, post_down_;
};

// wg-quick's naming of resolvconf records: when `order_file` (normally
// /etc/resolvconf/interface-order) exists and `resolvconf` is the Debian resolvconf (not a
// symlink to another implementation), the record gets the first "<name>*" pattern of that file
// as prefix ("tun." in "tun*"), so that the record sorts where the admin wants VPNs.
std::string resolvconf_interface_prefix(const std::string& order_file,
                                        const std::string& resolvconf);

}  // namespace waypost::daemon
