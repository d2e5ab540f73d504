#include "server/import_wg.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "crypto/x25519.h"
#include "server/config_text.h"
#include "wireguard/messages.h"

namespace waypost::server {

namespace {

using text::lower;
using text::trim;

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = nl + 1;
  }
  return lines;
}

bool is_comment(std::string_view line) {
  const std::string_view t = trim(line);
  return !t.empty() && (t.front() == '#' || t.front() == ';');
}

// After a name-ish key ("name", "friendly_name"), a '=' or ':' and the value.
std::string_view after_key(std::string_view t, std::string_view key) {
  if (lower(t.substr(0, key.size())) != key) return {};
  std::string_view rest = trim(t.substr(key.size()));
  if (rest.empty() || (rest.front() != '=' && rest.front() != ':')) return {};
  return trim(rest.substr(1));
}

// A private network that Waypost's IKEv2 pool can take without overlapping `wg`.
net::Prefix ipsec_pool_apart_from(const net::Prefix& wg) {
  for (int second = 48; second > 30; --second) {
    auto p = net::Prefix::parse(fmt::format("10.{}.0.0/16", second)).value();
    if (!p.contains(wg.address) && !wg.contains(p.address)) return p;
  }
  return net::Prefix::parse("172.29.0.0/16").value();
}

net::Prefix random_ula48(crypto::Random& random) {
  net::IpAddress a;
  a.family = net::Family::kV6;
  a.bytes.fill(0);
  a.bytes[0] = 0xfd;
  random.fill({a.bytes.data() + 1, 5});
  return net::Prefix{a, 48};
}

// The network of an interface address ("10.8.0.1/24" -> 10.8.0.0/24).
net::Prefix network_of(const net::Prefix& address) {
  auto p = net::Prefix::parse(address.to_string());
  return p ? *p : address;
}

}  // namespace

std::string peer_name_from_comment(std::string_view line) {
  std::string_view t = trim(line);
  while (!t.empty() && (t.front() == '#' || t.front() == ';')) t.remove_prefix(1);
  while (!t.empty() && t.back() == '#') t.remove_suffix(1);
  t = trim(t);
  if (t.empty()) return {};
  const std::string l = lower(t);
  std::string_view name;
  if (l.starts_with("client:")) {
    name = trim(t.substr(7));
    // wg-easy adds the client's id in parentheses.
    if (auto open = name.rfind(" ("); open != std::string_view::npos && name.back() == ')') {
      name = trim(name.substr(0, open));
    }
  } else if (l.starts_with("begin ")) {
    name = trim(t.substr(6));  // PiVPN: "### begin laptop ###"
  } else if (l.starts_with("end ")) {
    return {};  // PiVPN's closing line belongs to the peer before
  } else if (l.starts_with("client ")) {
    name = trim(t.substr(7));  // wireguard-install: "### Client laptop"
  } else if (auto v = after_key(t, "friendly_name"); !v.empty()) {
    name = v;
  } else if (auto n = after_key(t, "name"); !n.empty()) {
    name = n;
  } else if (t.find('=') == std::string_view::npos && t.size() <= 64) {
    // A plain "# laptop" (Algo's server.conf); not a commented-out "Key = value".
    name = t;
  }
  return std::string(name);
}

Result<WgServerConf> parse_wg_server_conf(std::string_view text, const std::string& file) {
  // wg-easy writes "PreUp = " with nothing after it when a hook is unset; wg-quick runs nothing
  // then. Such lines are blanked (not removed: line numbers stay right) for the strict parser.
  std::string cleaned;
  for (std::string_view line : split_lines(text)) {
    const size_t eq = line.find('=');
    const std::string key = eq == std::string_view::npos ? "" : lower(trim(line.substr(0, eq)));
    const bool empty_hook =
        (key == "preup" || key == "postup" || key == "predown" || key == "postdown") &&
        trim(line.substr(eq + 1)).empty();
    if (!empty_hook) cleaned += line;
    cleaned += '\n';
  }
  auto parsed = wireguard::parse_wg_quick(cleaned);
  if (!parsed) return parsed.take_error().context(file);
  WgServerConf out;
  out.iface = std::move(parsed->iface);
  const std::vector<std::string_view> lines = split_lines(text);
  for (auto& peer : parsed->peers) {
    WgServerPeer p;
    const auto header = size_t(std::max(peer.line, 1)) - 1;  // 0-based
    // The comment just above the header (wg-easy, PiVPN, wireguard-install)...
    for (size_t i = header; i-- > 0;) {
      const std::string_view t = trim(lines[i]);
      if (t.empty()) continue;
      if (is_comment(t)) p.name = peer_name_from_comment(t);
      break;
    }
    // ...else one inside the section (Algo: "[Peer]\n# phone"), but not the comments at its end,
    // which are the next section's.
    size_t end = header + 1;
    while (end < lines.size() && !trim(lines[end]).starts_with("[")) ++end;
    if (end < lines.size()) {
      while (end > header + 1 && (trim(lines[end - 1]).empty() || is_comment(lines[end - 1]))) {
        --end;
      }
    }
    for (size_t i = header + 1; i < end && p.name.empty(); ++i) {
      const std::string_view t = trim(lines[i]);
      const std::string l = lower(t);
      if (is_comment(t) && l.find("begin ") == std::string::npos) {
        p.name = peer_name_from_comment(t);
      }
    }
    p.peer = std::move(peer);
    out.peers.push_back(std::move(p));
  }
  return out;
}

Result<ImportPlan> plan_wg_import(const WgImportInputs& in, crypto::Random& random) {
  ImportPlan plan;
  ServerConfig& c = plan.config;
  const std::string& file = in.conf_file;
  const wireguard::ConfInterface& iface = in.conf.iface;
  plan.source = file + (in.wg_easy ? " with " + in.wg_easy->file : std::string());

  if (!iface.private_key) return make_error("{}: [Interface] has no PrivateKey", file);
  plan.state.private_key = *iface.private_key;
  plan.state.public_key = crypto::public_from_private(*iface.private_key);
  if (in.wg_easy && in.wg_easy->server_private_key &&
      !in.wg_easy->server_private_key->equals(iface.private_key->span())) {
    return make_error("{} and {} hold different server keys: are they of the same server?", file,
                      in.wg_easy->file);
  }

  if (iface.listen_port) {
    c.wireguard_port = *iface.listen_port;
  } else if (in.wg_easy && in.wg_easy->port) {
    c.wireguard_port = *in.wg_easy->port;
  } else {
    plan.notes.push_back(
        fmt::format("{}: no ListenPort (the old server used a random port); "
                    "Waypost listens on {}: update the clients' Endpoint",
                    file, c.wireguard_port));
  }
  if (in.wg_easy && in.wg_easy->client_port && *in.wg_easy->client_port != c.wireguard_port) {
    plan.notes.push_back(fmt::format(
        "wg-easy gives clients port {}, the server listens on {}: keep forwarding {} to {}",
        *in.wg_easy->client_port, c.wireguard_port, *in.wg_easy->client_port, c.wireguard_port));
  }

  // Pools: from the interface's addresses (wg-easy v15 knows the exact networks).
  std::optional<net::Prefix> addr4, addr6;
  for (const auto& a : iface.addresses) {
    if (a.address.is_v4() && !addr4) addr4 = a;
    if (!a.address.is_v4() && !addr6) addr6 = a;
  }
  if (!addr4) return make_error("{}: [Interface] has no IPv4 Address", file);
  c.wireguard_network_ipv4 =
      in.wg_easy && in.wg_easy->ipv4_cidr ? *in.wg_easy->ipv4_cidr : network_of(*addr4);
  if (c.wireguard_network_ipv4.length < 8 || c.wireguard_network_ipv4.length > 30) {
    return make_error("{}: Address {}: Waypost's pools are /8 to /30", file, addr4->to_string());
  }
  c.ipv6 = addr6.has_value();
  c.wireguard_network_ipv6 = random_ula48(random);
  if (addr6) {
    c.wireguard_network_ipv6 =
        in.wg_easy && in.wg_easy->ipv6_cidr ? *in.wg_easy->ipv6_cidr : network_of(*addr6);
    if (c.wireguard_network_ipv6.length < 48 || c.wireguard_network_ipv6.length > 120) {
      return make_error("{}: Address {}: Waypost's IPv6 pools are /48 to /120", file,
                        addr6->to_string());
    }
  }
  for (const auto& a : {addr4, addr6}) {
    if (!a) continue;
    const net::IpAddress ours = a->address.is_v4() ? server_ipv4(c) : server_ipv6(c);
    if (a->address != ours) {
      plan.notes.push_back(fmt::format(
          "the old server's tunnel address was {}; Waypost's is {} (the first of the pool): "
          "profiles that use {} (as DNS, say) need it changed",
          a->address.to_string(), ours.to_string(), a->address.to_string()));
    }
  }
  c.strongswan_network = ipsec_pool_apart_from(c.wireguard_network_ipv4);
  c.strongswan_network_ipv6 = random_ula48(random);

  c.endpoint = in.endpoint.empty() && in.wg_easy ? in.wg_easy->host : in.endpoint;
  if (c.endpoint.empty()) {
    return make_error("no endpoint: pass --endpoint with the host name or address clients use");
  }
  if (!iface.pre_up.empty() || !iface.post_up.empty() || !iface.pre_down.empty() ||
      !iface.post_down.empty()) {
    plan.notes.emplace_back(
        "PreUp/PostUp/PreDown/PostDown commands are not carried over: Waypost sets up NAT and "
        "its firewall itself (see BetweenClients_DROP and restrict_input in config.yaml)");
  }
  if (iface.mtu && *iface.mtu != wireguard::kDefaultMtu) {
    plan.notes.push_back(
        fmt::format("the server's MTU {} is not carried over (Waypost uses {} "
                    "and clamps TCP MSS)",
                    *iface.mtu, wireguard::kDefaultMtu));
  }

  std::map<crypto::PublicKey, const WgEasyClient*> by_key;
  if (in.wg_easy) {
    for (const auto& client : in.wg_easy->clients) by_key[client.public_key] = &client;
  }
  std::set<crypto::PublicKey> done;
  for (const auto& sp : in.conf.peers) {
    const wireguard::ConfPeer& peer = sp.peer;
    ImportedPeer p;
    p.where = fmt::format("{} line {}", file, peer.line);
    p.label = sp.name;
    p.public_key = peer.public_key;
    p.preshared_key = peer.preshared_key;
    for (const auto& a : peer.allowed_ips) {
      const bool host4 = a.address.is_v4() && a.length == 32 && !p.ipv4 &&
                         c.wireguard_network_ipv4.contains(a.address);
      const bool host6 = !a.address.is_v4() && a.length == 128 && !p.ipv6 && c.ipv6 &&
                         c.wireguard_network_ipv6.contains(a.address);
      if (host4) {
        p.ipv4 = a.address;
      } else if (host6) {
        p.ipv6 = a.address;
      } else {
        plan.notes.push_back(fmt::format(
            "{}: AllowedIPs {} is not carried over (Waypost routes only each user's own "
            "addresses to it)",
            p.where, a.to_string()));
      }
    }
    if (peer.endpoint) {
      plan.notes.push_back(fmt::format("{}: the peer's fixed Endpoint {} is not carried over",
                                       p.where, *peer.endpoint));
    }
    if (auto it = by_key.find(peer.public_key); it != by_key.end()) {
      const WgEasyClient& client = *it->second;
      p.label = client.name;
      p.private_key = client.private_key;
      p.created = client.created;
      p.disabled = !client.enabled;
      if (!p.ipv4) p.ipv4 = client.ipv4;
      if (!p.ipv6 && c.ipv6) p.ipv6 = client.ipv6;
    }
    if (auto st = add_imported_peer(plan, p); !st) return st.take_error();
    done.insert(peer.public_key);
  }
  // wg-easy leaves disabled clients out of wg0.conf; its database still has them.
  if (in.wg_easy) {
    for (const auto& client : in.wg_easy->clients) {
      if (done.count(client.public_key) != 0) continue;
      const std::string where = fmt::format("{} client {}", in.wg_easy->file, client.id);
      if (!client.enabled && in.skip_disabled) {
        plan.notes.push_back(fmt::format(
            "{}: '{}' is disabled in wg-easy: not imported (--skip-disabled)", where, client.name));
        continue;
      }
      ImportedPeer p;
      p.where = where;
      p.label = client.name;
      p.private_key = client.private_key;
      p.public_key = client.public_key;
      p.preshared_key = client.preshared_key;
      p.ipv4 = client.ipv4;
      if (c.ipv6) p.ipv6 = client.ipv6;
      p.created = client.created;
      p.disabled = !client.enabled;
      if (auto st = add_imported_peer(plan, p); !st) return st.take_error();
    }
  }
  if (auto parsed = parse_server_config(render_server_config(c)); !parsed) {
    return make_error("the imported settings are not valid: {}", parsed.error().message);
  }
  return plan;
}

}  // namespace waypost::server
