// The addresses a conn hands out or asks for: virtual IPs (leftsourceip=%config), pools
// (rightsourceip=, Libreswan's rightaddresspool=) and the DNS servers that go with them.
#include <algorithm>

#include "ike/ipsec_import_conn.h"
#include "ike/swanctl_values.h"

namespace waypost::ike {

namespace {

bool is_config_request(std::string_view v) {
  return v == "%config" || v == "%cfg" || v == "%modeconfig" || v == "%modecfg" ||
         v == "%config4" || v == "%config6";
}

}  // namespace

std::string PoolSet::add(const std::string& range, const std::string& conn) {
  for (const Pool& p : pools_) {
    if (p.range == range) return p.name;
  }
  std::string name = conn + "-pool";
  for (int n = 2;
       std::any_of(pools_.begin(), pools_.end(), [&](const Pool& p) { return p.name == name; });
       ++n) {
    name = fmt::format("{}-pool-{}", conn, n);
  }
  pools_.push_back(Pool{name, range, {}});
  return name;
}

bool PoolSet::set_dns(const std::string& pool, const std::vector<std::string>& dns) {
  for (Pool& p : pools_) {
    if (p.name != pool) continue;
    if (!p.dns.empty() && p.dns != dns) return false;
    p.dns = dns;
    return true;
  }
  return false;
}

void PoolSet::render(SwanctlBlock& pools) const {
  for (const Pool& p : pools_) {
    SwanctlBlock& b = pools.block(p.name);
    b.set("addrs", p.range);
    if (!p.dns.empty()) b.set("dns", comma_list(p.dns));
  }
}

void ConnBuilder::virtual_ips_and_pools() {
  std::vector<std::string> vips;
  const auto add_vip = [&](const std::string& v) {
    if (std::find(vips.begin(), vips.end(), v) == vips.end()) vips.push_back(v);
  };
  if (const StrokeSetting* s = end(true, "sourceip")) {
    for (const std::string& item : list_items(s->value)) {
      if (is_config_request(item)) {
        const bool v6 = item == "%config6" || (item != "%config4" && remote_ts_ipv6_only_);
        add_vip(v6 ? "::" : "0.0.0.0");
      } else if (auto ip = net::IpAddress::parse(item); ip && !ctx_.libreswan) {
        add_vip(ip->to_string());  // asked for; the gateway may hand out another
      } else if (ip) {
        not_carried(out_.block, *s,
                    "Libreswan: the source address of routes into the tunnel; Waypost takes one "
                    "inside local_ts");
      } else {
        not_carried(out_.block, *s, fmt::format("{}: not an address or %config", item));
      }
    }
  }
  if (const StrokeSetting* c = end(true, "modecfgclient"); c != nullptr && c->value == "yes") {
    add_vip(remote_ts_ipv6_only_ ? "::" : "0.0.0.0");
  }
  if (!vips.empty()) out_.block.set("vips", comma_list(vips));

  std::vector<std::string> pools;
  for (std::string_view key : {"sourceip", "addresspool"}) {
    const StrokeSetting* s = end(false, key);
    if (s == nullptr) continue;
    for (const std::string& item : list_items(s->value)) {
      if (item.starts_with("%")) {
        not_carried(out_.block, *s,
                    fmt::format("{}: addresses from an attribute plugin (SQL pools, DHCP, RADIUS) "
                                "are not supported by Waypost; write the range",
                                item));
        continue;
      }
      auto range = parse_address_range(item);
      if (!range) {
        not_carried(out_.block, *s, range.error().message);
        continue;
      }
      const std::string pool = ctx_.pools.add(to_string(*range), out_.name);
      if (std::find(pools.begin(), pools.end(), pool) == pools.end()) pools.push_back(pool);
    }
  }
  if (!pools.empty()) out_.block.set("pools", comma_list(pools));

  // DNS servers for the peer: rightdns= (strongSwan), modecfgdns= (Libreswan).
  std::vector<const StrokeSetting*> dns_settings;
  for (const std::string& key : {end_key(false, "dns"), std::string("modecfgdns"),
                                 std::string("modecfgdns1"), std::string("modecfgdns2")}) {
    if (const StrokeSetting* s = settings_.get(key)) dns_settings.push_back(s);
  }
  std::vector<std::string> dns;
  for (const StrokeSetting* s : dns_settings) {
    for (const std::string& item : list_items(s->value)) {
      if (auto ip = net::IpAddress::parse(item)) {
        dns.push_back(ip->to_string());
      } else {
        not_carried(out_.block, *s, fmt::format("{}: not an IP address", item));
      }
    }
  }
  if (!dns.empty()) {
    if (pools.empty()) {
      not_carried(out_.block, *dns_settings.front(),
                  "DNS servers go out with addresses from a pool, and this conn has none");
    } else if (!ctx_.pools.set_dns(pools.front(), dns)) {
      not_carried(out_.block, *dns_settings.front(),
                  fmt::format("pool {} already hands out other DNS servers", pools.front()));
    }
  }
  if (const StrokeSetting* s = end(true, "dns")) {
    const auto items = list_items(s->value);
    if (std::all_of(items.begin(), items.end(),
                    [](const std::string& i) { return i == "%config4" || i == "%config6"; })) {
      out_.block.comment(
          fmt::format("{}: DNS servers come with the virtual IP, nothing to write", shown(*s)));
    } else {
      not_carried(out_.block, *s, "a client uses the DNS servers its gateway sends");
    }
  }
}

}  // namespace waypost::ike
