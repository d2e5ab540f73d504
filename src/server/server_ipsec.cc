#include "server/server_ipsec.h"

#include <ctime>
#include <filesystem>

#include "common/atomic_file.h"
#include "common/log.h"
#include "control/json_session.h"
#include "ike/credentials.h"
#include "ike/swanctl_conf.h"
#include "ipsec/instance.h"
#include "ipsec/paths.h"
#include "platform/netlink.h"
#include "server/dns_settings.h"
#include "server/ipsec_pki.h"
#include "server/state.h"

namespace waypost::server {

namespace {

constexpr const char* kConnection = "ikev2-pubkey";  // Algo's name for it

// The last address of `p` (all host bits set).
net::IpAddress last_of(const net::Prefix& p) {
  net::IpAddress a = p.address;
  const size_t bits = a.byte_length() * 8;
  for (auto i = size_t(p.length); i < bits; ++i) a.bytes[i / 8] |= uint8_t(0x80u >> (i % 8));
  return a;
}

// The pool: every address after the server's own (IPv4's broadcast address excluded).
std::string pool_range(const net::Prefix& p, const net::IpAddress& server) {
  net::IpAddress first = server;
  for (size_t i = first.byte_length(); i-- > 0;) {
    if (++first.bytes[i] != 0) break;
  }
  net::IpAddress last = last_of(p);
  if (last.is_v4()) {
    for (size_t i = last.byte_length(); i-- > 0;) {
      if (last.bytes[i]-- != 0) break;
    }
  }
  return first.to_string() + "-" + last.to_string();
}

std::string join(const std::vector<net::IpAddress>& v) {
  std::string out;
  for (const auto& a : v) out += (out.empty() ? "" : ", ") + a.to_string();
  return out;
}

}  // namespace

Status check_pool_routes(const ServerConfig& config) {
  auto nl = platform::Netlink::open();
  if (!nl) return nl.take_error();
  std::vector<std::pair<net::Family, net::Prefix>> pools{
      {net::Family::kV4, config.strongswan_network}};
  if (config.ipv6) pools.emplace_back(net::Family::kV6, config.strongswan_network_ipv6);
  constexpr uint32_t kMainTable = 254;
  const std::string ours = ipsec_interface_name(config);
  for (const auto& [family, pool] : pools) {
    auto routes = nl->routes(family, kMainTable);
    if (!routes) return routes.take_error();
    for (const auto& r : *routes) {
      if (r.dst.length == 0) continue;  // the default route covers everything by design
      if (!pool.contains(r.dst.address) && !r.dst.contains(pool.address)) continue;
      auto dev = nl->link_name(r.ifindex);
      const std::string dev_name = dev ? *dev : std::to_string(r.ifindex);
      if (dev_name == ours || dev_name == config.wireguard_interface) continue;
      const char* key =
          family == net::Family::kV4 ? "strongswan_network" : "strongswan_network_ipv6";
      return make_error(
          "{} {} overlaps the route {} dev {} on this machine: IKEv2 clients' traffic would go "
          "there instead of to them. Choose a network this machine does not use for {} in "
          "config.yaml (or set ipsec_enabled: false)",
          key, pool.to_string(), r.dst.to_string(), dev_name, key);
    }
  }
  return {};
}

std::string server_swanctl_conf(const ServerConfig& config) {
  const bool v6 = config.ipv6;
  std::vector<net::IpAddress> dns4, dns6;
  if (runs_resolver(config)) {
    dns4 = {server_ipsec_ipv4(config)};
    dns6 = {server_ipsec_ipv6(config)};
  } else {
    dns4 = config.dns_servers.ipv4;
    dns6 = config.dns_servers.ipv6;
  }
  std::string s;
  s += "# Written by `waypost server up` from config.yaml (ipsec_enabled, strongswan_network*,\n"
       "# dns_*), at every start: edits here are overwritten. The settings are Algo VPN's.\n";
  s += "connections {\n";
  s += fmt::format("  {} {{\n", kConnection);
  s += "    version = 2\n";
  // Algo's proposal first; then its "compat" ones, AES-CBC with SHA-2, which Windows' built-in
  // client offers for the IKE SA (its profile asks for AES256 + SHA384 on ECP384).
  s += "    proposals = aes256gcm16-prfsha512-ecp384, aes256-sha2_512-prfsha512-ecp384, "
       "aes256-sha2_384-prfsha384-ecp384\n";
  s += fmt::format("    pools = ipv4{}\n", v6 ? ", ipv6" : "");
  s += "    dpd_delay = 35s\n";
  // Clients rekey (their profiles say when); the server never starts a rekey itself, but an IKE
  // SA nobody rekeyed goes after 12 h (Algo's ikelifetime): with rekey_time and reauth_time 0,
  // Waypost reads over_time as the hard lifetime.
  s += "    rekey_time = 0\n";
  s += "    over_time = 12h\n";
  // Several devices of one user may be connected at once.
  s += "    unique = never\n";
  s += "    fragmentation = yes\n";
  s += "    mobike = yes\n";
  s += "    send_cert = always\n";
  s += "    local {\n";
  s += "      auth = pubkey\n";
  s += "      certs = server.pem\n";
  s += fmt::format("      id = \"{}\"\n", config.endpoint);
  s += "    }\n";
  s += "    remote {\n";
  s += "      auth = pubkey\n";
  s += "      cacerts = cacert.pem\n";
  // The CRL of x509crl/ is always there: a removed user's certificate is refused.
  s += "      revocation = strict\n";
  s += "    }\n";
  s += "    children {\n";
  s += fmt::format("      {} {{\n", kConnection);
  s += fmt::format("        local_ts = 0.0.0.0/0{}\n", v6 ? ", ::/0" : "");
  s += "        esp_proposals = aes256gcm16-ecp384\n";
  s += "        rekey_time = 0\n";
  s += "        life_time = 3h\n";
  s += "        dpd_action = clear\n";
  s += "      }\n";
  s += "    }\n";
  s += "  }\n";
  s += "}\n";
  s += "pools {\n";
  s += "  ipv4 {\n";
  s += fmt::format("    addrs = {}\n",
                   pool_range(config.strongswan_network, server_ipsec_ipv4(config)));
  if (!dns4.empty()) s += fmt::format("    dns = {}\n", join(dns4));
  s += "  }\n";
  if (v6) {
    s += "  ipv6 {\n";
    s += fmt::format("    addrs = {}\n",
                     pool_range(config.strongswan_network_ipv6, server_ipsec_ipv6(config)));
    if (!dns6.empty()) s += fmt::format("    dns = {}\n", join(dns6));
    s += "  }\n";
  }
  s += "}\n";
  return s;
}

Result<std::unique_ptr<ServerIpsec>> ServerIpsec::start(const std::string& dir,
                                                        const ServerConfig& config) {
  if (auto st = check_pki(dir, std::time(nullptr)); !st) {
    return make_error("IKEv2: {} (set ipsec_enabled: false in {} to serve WireGuard only)",
                      st.error().message, config_path(dir));
  }
  if (auto st = check_pool_routes(config); !st) return st.take_error();
  auto domain = pki_email_domain(dir);
  if (!domain) return domain.take_error();
  const std::string text = server_swanctl_conf(config);
  const std::string conf_file = ipsec_dir(dir) + "/swanctl.conf";
  if (auto st = write_file_atomic(conf_file, text, 0644); !st) return st.take_error();
  auto parsed = ike::parse_swanctl_text(text, conf_file, nullptr);
  if (!parsed) return make_error("internal error: {}", parsed.error().message);
  auto creds = ike::Credentials::load(*parsed, ipsec_dir(dir));
  if (!creds) return creds.take_error();
  parsed->credentials = std::move(*creds);

  std::unique_ptr<ServerIpsec> s(new ServerIpsec());
  s->name_ = ipsec_interface_name(config);
  s->email_domain_ = *domain;
  ipsec::InstanceOptions o;
  o.name = s->name_;
  o.config_path = conf_file;
  o.credentials_dir = ipsec_dir(dir);
  o.config = std::move(*parsed);
  o.offloads = config.offloads;
  o.embedded = true;
  o.device_addresses.push_back(
      net::Prefix{server_ipsec_ipv4(config), config.strongswan_network.length});
  if (config.ipv6) {
    o.device_addresses.push_back(
        net::Prefix{server_ipsec_ipv6(config), config.strongswan_network_ipv6.length});
  }
  auto inst = ipsec::Instance::start(std::move(o));
  if (!inst) return make_error("IKEv2: {}", inst.error().message);
  s->instance_ = std::move(*inst);
  ipsec::Instance* raw = s->instance_.get();
  s->thread_ = std::thread([raw]() {
    if (auto st = raw->run(); !st) spdlog::error("IKEv2 engine: {}", st.error().message);
  });
  spdlog::info("IKEv2 on UDP 500/4500: device {}, pool {}", s->name_,
               config.strongswan_network.to_string());
  return s;
}

ServerIpsec::~ServerIpsec() {
  // Building the request and joining the thread may throw in principle (allocation, a failed
  // join); nothing may escape a destructor.
  try {
    stop();
  } catch (const std::exception& e) {
    spdlog::error("IKEv2 engine stop: {}", e.what());
  }
}

void ServerIpsec::stop() {
  if (!thread_.joinable()) return;
  auto r = ask({{"cmd", "down"}});
  if (!r || !r->value("ok", false)) {
    spdlog::error("IKEv2 engine did not take the stop request: {}",
                  r ? r->value("error", std::string()) : r.error().message);
  }
  thread_.join();
  instance_.reset();
}

Result<nlohmann::json> ServerIpsec::ask(const nlohmann::json& request) const {
  return control::json_request(ipsec::ipsec_socket_path(name_), request);
}

Status ServerIpsec::apply_user_changes(const std::vector<std::string>& removed) {
  auto r = ask({{"cmd", "reload-credentials"}});
  if (!r) return r.take_error();
  if (!r->value("ok", false)) return make_error("{}", r->value("error", std::string("failed")));
  for (const auto& user : removed) {
    // The identity the user's certificate carries, and the DN form some clients send.
    for (const std::string& id : identities_of(user)) {
      auto t = ask({{"cmd", "terminate"}, {"remote_id", id}});
      if (!t) return t.take_error();
      if (t->value("terminated", 0) > 0) {
        spdlog::info("IKEv2: {} IKE SA(s) of user {} ended (removed or disabled)",
                     t->value("terminated", 0), user);
      }
    }
  }
  return {};
}

Result<nlohmann::json> ServerIpsec::status() const {
  return ask({{"cmd", "status"}});
}

std::vector<std::string> ServerIpsec::identities_of(const std::string& user) const {
  return {user + "@" + email_domain_, "CN=" + user};
}

std::string ServerIpsec::user_of(const std::string& remote_id) const {
  return user_of_identity(email_domain_, remote_id);
}

}  // namespace waypost::server
