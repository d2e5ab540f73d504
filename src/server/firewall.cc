#include "server/firewall.h"

#include <fmt/format.h>

#include "platform/firewall_nft.h"
#include "platform/sysctl.h"
#include "server/dns_settings.h"
#include "server/state.h"

namespace waypost::server {

std::string firewall_table_name(const ServerConfig& config) {
  return "waypost-" + config.wireguard_interface;
}

namespace {

// The interfaces clients arrive on (WireGuard's, and IKEv2's TUN device when IPsec is on) with
// their pools and the server's own address in each: every rule below holds for both protocols.
struct ClientSide {
  std::string ifname;
  std::string net4, net6;
  std::string addr4, addr6;
};

std::vector<ClientSide> client_sides(const ServerConfig& config) {
  std::vector<ClientSide> sides;
  sides.push_back({config.wireguard_interface, config.wireguard_network_ipv4.to_string(),
                   config.wireguard_network_ipv6.to_string(), server_ipv4(config).to_string(),
                   server_ipv6(config).to_string()});
  if (config.ipsec_enabled) {
    sides.push_back({ipsec_interface_name(config), config.strongswan_network.to_string(),
                     config.strongswan_network_ipv6.to_string(),
                     server_ipsec_ipv4(config).to_string(), server_ipsec_ipv6(config).to_string()});
  }
  return sides;
}

}  // namespace

std::string firewall_script(const ServerConfig& config) {
  const std::string t = firewall_table_name(config);
  const std::vector<ClientSide> sides = client_sides(config);
  std::string s;
  // Re-create from scratch in one transaction, replacing a table left by a crash.
  s += fmt::format("add table inet {}\ndelete table inet {}\n", t, t);
  s += fmt::format("table inet {} {{\n", t);

  if (config.dns_force && runs_resolver(config)) {
    // Phones and browsers with their own DNS settings would otherwise bypass the blocking (and
    // send DNS in clear): whatever resolver they ask, the built-in one answers. Conntrack
    // rewrites the replies back to the address they asked.
    s += "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n";
    for (const auto& c : sides) {
      s += fmt::format(
          "    iifname \"{}\" ip daddr != {} meta l4proto {{ tcp, udp }} th dport 53 "
          "dnat ip to {}\n",
          c.ifname, c.addr4, c.addr4);
      if (config.ipv6) {
        s += fmt::format(
            "    iifname \"{}\" ip6 daddr != {} meta l4proto {{ tcp, udp }} th dport 53 "
            "dnat ip6 to {}\n",
            c.ifname, c.addr6, c.addr6);
      }
    }
    s += "  }\n";
  }

  s += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n";
  for (const auto& c : sides) {
    s += fmt::format("    ip saddr {} oifname != \"{}\" masquerade\n", c.net4, c.ifname);
    if (config.ipv6) {
      s += fmt::format("    ip6 saddr {} oifname != \"{}\" masquerade\n", c.net6, c.ifname);
    }
  }
  s += "  }\n";

  s += "  chain forward {\n    type filter hook forward priority filter; policy accept;\n";
  for (const auto& c : sides) {
    const std::string& wg = c.ifname;
    if (!config.ipv6) {
      // Clients route ::/0 into the tunnel; with IPv6 off it ends here instead of leaking.
      s += fmt::format("    iifname \"{}\" meta nfproto ipv6 drop\n", wg);
    }
    if (config.between_clients_drop) {
      // Between two clients of one protocol, and between a WireGuard and an IKEv2 client.
      for (const auto& other : sides) {
        s += fmt::format("    iifname \"{}\" oifname \"{}\" drop\n", wg, other.ifname);
      }
    }
    if (config.block_smb) {
      s += fmt::format("    iifname \"{}\" tcp dport 445 drop\n", wg);
      s += fmt::format("    oifname \"{}\" tcp dport 445 drop\n", wg);
    }
    if (config.block_netbios) {
      s += fmt::format("    iifname \"{}\" udp dport {{ 137, 138 }} drop\n", wg);
      s += fmt::format("    iifname \"{}\" tcp dport 139 drop\n", wg);
      s += fmt::format("    oifname \"{}\" udp dport {{ 137, 138 }} drop\n", wg);
      s += fmt::format("    oifname \"{}\" tcp dport 139 drop\n", wg);
    }
  }
  s += "  }\n";

  if (config.restrict_input) {
    s += "  chain input {\n    type filter hook input priority filter; policy drop;\n";
    s += "    ct state established,related accept\n    iifname \"lo\" accept\n";
    s += "    meta l4proto { icmp, ipv6-icmp } accept\n";
    s += fmt::format("    udp dport {} accept\n", config.wireguard_port);
    if (config.ipsec_enabled) s += "    udp dport { 500, 4500 } accept\n";
    if (config.ssh_port != 0) s += fmt::format("    tcp dport {} accept\n", config.ssh_port);
    if (config.web_enabled && config.web_listen != "tunnel") {
      s += fmt::format("    tcp dport {} accept\n", config.web_port);
    }
    for (const auto& c : sides) {
      if (config.web_enabled && config.web_listen == "tunnel") {
        s += fmt::format("    iifname \"{}\" tcp dport {} accept\n", c.ifname, config.web_port);
      }
      s += fmt::format("    iifname \"{}\" meta l4proto {{ tcp, udp }} th dport 53 accept\n",
                       c.ifname);
    }
    s += "  }\n";
  }
  s += "}\n";
  return s;
}

Result<ServerNetworking> ServerNetworking::apply(const ServerConfig& config) {
  ServerNetworking n;
  n.table_ = firewall_table_name(config);
  std::vector<std::string> keys = {"net.ipv4.ip_forward"};
  if (config.ipv6) keys.emplace_back("net.ipv6.conf.all.forwarding");
  for (const auto& key : keys) {
    auto old = platform::sysctl_read(key);
    if (!old) {
      // IPv6 may be disabled on the host; IPv4 forwarding is essential.
      if (key == "net.ipv4.ip_forward") return old.take_error();
      continue;
    }
    std::string value = *old;
    while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
    if (value != "1") {
      if (auto st = platform::sysctl_write(key, "1"); !st) return st.take_error();
      n.restore_sysctls_.emplace_back(key, value);
    }
  }
  if (auto st = platform::nft_run(firewall_script(config)); !st) {
    (void)n.remove();
    return make_error("cannot install the firewall table: {}", st.error().message);
  }
  n.active_ = true;
  return n;
}

Status ServerNetworking::update(const ServerConfig& config) {
  if (auto st = platform::nft_run(firewall_script(config)); !st) {
    return make_error("cannot update the firewall table: {}", st.error().message);
  }
  active_ = true;
  return {};
}

Status ServerNetworking::remove() {
  std::string failures;
  if (active_) {
    auto st =
        platform::nft_run(fmt::format("add table inet {}\ndelete table inet {}\n", table_, table_));
    if (!st) failures += st.error().message;
    active_ = false;
  }
  for (const auto& [key, value] : restore_sysctls_) {
    auto st = platform::sysctl_write(key, value);
    if (!st) failures += (failures.empty() ? "" : "; ") + st.error().message;
  }
  restore_sysctls_.clear();
  if (!failures.empty()) return Error{failures};
  return {};
}

}  // namespace waypost::server
