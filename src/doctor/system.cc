// The real machine behind doctor::System: the daemons' control sockets, rtnetlink, ICMP and DNS
// probes, sysctls, nftables and config.yaml. The only doctor file that reaches into control/,
// daemon/, platform/ and server/.
#include "doctor/system.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "control/json_session.h"
#include "crypto/random.h"
#include "daemon/paths.h"
#include "platform/netlink.h"
#include "platform/sysctl.h"
#include "server/config.h"
#include "server/dns_settings.h"
#include "server/firewall.h"
#include "server/state.h"

namespace waypost::doctor {

namespace {

class RealSystem final : public System {
 public:
  std::vector<std::string> running_interfaces() override { return daemon::running_interfaces(); }

  std::string control_socket(const std::string& ifname) override {
    return daemon::control_socket_path(ifname);
  }

  Result<nlohmann::json> daemon_request(const std::string& ifname,
                                        const nlohmann::json& request) override {
    return control::json_request(daemon::control_socket_path(ifname), request, 3000);
  }

  bool same_netns(int pid) override {
    if (pid <= 0) return true;
    const uint64_t mine = netns_inode(0);
    const uint64_t theirs = netns_inode(pid);
    return mine == 0 || theirs == 0 || mine == theirs;
  }

  Result<RouteView> route_to(const net::IpAddress& dst, uint32_t fwmark) override {
    return doctor::route_to(dst, fwmark);
  }
  Result<net::IpAddress> resolve_host(std::string_view host) override {
    return doctor::resolve_host(host);
  }
  Result<std::unique_ptr<EchoProber>> open_echo_prober(const net::IpAddress& dst,
                                                       uint32_t fwmark) override {
    auto p = IcmpEchoProber::open(dst, fwmark);
    if (!p) return p.take_error();
    return std::unique_ptr<EchoProber>(std::move(*p));
  }
  Result<std::string> dns_exchange(const net::IpAddress& server, std::string_view query) override {
    return udp_dns_exchange(server, query);
  }
  uint16_t random_id() override { return uint16_t(crypto::system_random().below(65536)); }

  std::optional<std::string> read_text_file(const std::string& path) override {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  ClockState clock_state() override { return read_clock_state(); }
  Result<std::string> sysctl(const std::string& name) override {
    return platform::sysctl_read(name);
  }
  DefaultRoutes default_routes() override {
    DefaultRoutes out;
    auto nl = platform::Netlink::open();
    if (!nl) return out;
    if (auto r = nl->default_route(net::Family::kV4)) {
      out.v4.present = true;
      if (r->gateway) out.v4.gateway = r->gateway->to_string();
      if (auto n = nl->link_name(r->ifindex)) out.v4.dev = out.uplink = *n;
    }
    if (auto r = nl->default_route(net::Family::kV6)) {
      out.v6.present = true;
      if (r->gateway) out.v6.gateway = r->gateway->to_string();
      if (auto n = nl->link_name(r->ifindex)) out.v6.dev = *n;
    }
    return out;
  }
  Result<nlohmann::json> nft_ruleset() override { return read_ruleset_json(); }

  std::optional<Result<ServerFacts>> server_facts(const std::string& dir) override {
    if (!std::filesystem::exists(server::config_path(dir))) return std::nullopt;
    auto c = server::load_config(dir);
    if (!c) return Result<ServerFacts>(c.take_error());
    ServerFacts f;
    f.config_path = server::config_path(dir);
    f.interface = c->wireguard_interface;
    f.ipv6 = c->ipv6;
    f.runs_resolver = server::runs_resolver(*c);
    f.dns_adblocking = c->dns_adblocking;
    if (c->dns_adblocking) f.url_blocklists = server::url_blocklists(*c);
    f.firewall_table = server::firewall_table_name(*c);
    f.wireguard_port = c->wireguard_port;
    f.ipsec_enabled = c->ipsec_enabled;
    return Result<ServerFacts>(std::move(f));
  }
  std::string server_config_path(const std::string& dir) override {
    return server::config_path(dir);
  }

  std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }
  void sleep(std::chrono::milliseconds duration) override { std::this_thread::sleep_for(duration); }
};

}  // namespace

std::unique_ptr<System> make_system() {
  return std::make_unique<RealSystem>();
}

}  // namespace waypost::doctor
