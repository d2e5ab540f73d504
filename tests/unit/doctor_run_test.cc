// run_doctor against a fake machine (doctor::System): whole doctor runs, with daemons, a server,
// probes and resolvers that exist only in this file, on a virtual clock, without root.
#include <gtest/gtest.h>

#include <map>

#include "doctor/doctor.h"
#include "doctor/system.h"

namespace waypost::doctor {
namespace {

using nlohmann::json;

// A path that carries echo payloads up to `max_payload` bytes.
class FakeProber final : public EchoProber {
 public:
  explicit FakeProber(uint32_t max_payload) : max_payload_(max_payload) {}
  ProbeResult probe(uint32_t payload) override {
    ProbeResult r;
    r.outcome = payload <= max_payload_ ? ProbeOutcome::kReply : ProbeOutcome::kTimeout;
    return r;
  }

 private:
  uint32_t max_payload_;
};

class FakeSystem final : public System {
 public:
  // Daemons by interface name: their `show` reply, and what a handshake request does to it.
  std::map<std::string, json> shows;
  std::map<std::string, Error> socket_errors;
  std::function<void(const std::string&, json&)> on_handshake;
  std::vector<std::string> requests;
  std::map<std::string, std::string> files;
  std::map<std::string, std::string> sysctls;
  std::optional<Result<ServerFacts>> server;
  json server_status = json::object();
  bool resolver_answers = true;
  uint32_t path_max_payload = 1472;
  std::chrono::steady_clock::time_point clock{};

  std::vector<std::string> running_interfaces() override {
    std::vector<std::string> out;
    for (const auto& [name, show] : shows) out.push_back(name);
    for (const auto& [name, err] : socket_errors) out.push_back(name);
    return out;
  }
  std::string control_socket(const std::string& ifname) override {
    return "/run/fake/" + ifname + ".sock";
  }
  Result<json> daemon_request(const std::string& ifname, const json& request) override {
    const std::string cmd = request.value("cmd", "");
    requests.push_back(ifname + " " + cmd);
    if (auto e = socket_errors.find(ifname); e != socket_errors.end()) return e->second;
    auto it = shows.find(ifname);
    if (it == shows.end()) return make_error(ErrorKind::kNotFound, "no such socket");
    if (cmd == "show") {
      json j = it->second;
      j["ok"] = true;
      return j;
    }
    if (cmd == "handshake") {
      if (on_handshake) on_handshake(request.value("peer", ""), it->second);
      return json{{"ok", true}};
    }
    if (cmd == "status") return server_status;
    return json{{"ok", false}, {"error", "unknown command"}};
  }
  bool same_netns(int) override { return true; }
  Result<RouteView> route_to(const net::IpAddress&, uint32_t) override {
    RouteView r;
    r.ifindex = 2;
    r.ifname = "eth0";
    r.link_mtu = 1500;
    return r;
  }
  Result<net::IpAddress> resolve_host(std::string_view host) override {
    return net::IpAddress::parse(host);
  }
  Result<std::unique_ptr<EchoProber>> open_echo_prober(const net::IpAddress&, uint32_t) override {
    return std::unique_ptr<EchoProber>(std::make_unique<FakeProber>(path_max_payload));
  }
  Result<std::string> dns_exchange(const net::IpAddress&, std::string_view query) override {
    if (!resolver_answers) return make_error(ErrorKind::kIo, "timed out");
    std::string reply(query);  // the header with QR set, NOERROR, one answer
    reply[2] = char(uint8_t(reply[2]) | 0x80);
    reply[7] = 1;
    return reply;
  }
  uint16_t random_id() override { return 0x1234; }
  std::optional<std::string> read_text_file(const std::string& path) override {
    auto it = files.find(path);
    if (it == files.end()) return std::nullopt;
    return it->second;
  }
  ClockState clock_state() override {
    ClockState c;
    c.kernel_known = true;
    c.kernel_unsync = false;
    return c;
  }
  Result<std::string> sysctl(const std::string& name) override {
    auto it = sysctls.find(name);
    if (it == sysctls.end()) return make_error(ErrorKind::kNotFound, "no {}", name);
    return it->second;
  }
  DefaultRoutes default_routes() override {
    DefaultRoutes r;
    r.v4 = {true, "192.0.2.254", "eth0"};
    r.uplink = "eth0";
    return r;
  }
  Result<json> nft_ruleset() override { return json{{"nftables", json::array()}}; }
  std::optional<Result<ServerFacts>> server_facts(const std::string&) override { return server; }
  std::string server_config_path(const std::string& dir) override { return dir + "/config.yaml"; }
  std::chrono::steady_clock::time_point now() override { return clock; }
  void sleep(std::chrono::milliseconds d) override { clock += d; }
};

json client_show(int64_t latest_handshake) {
  json j = json::parse(R"({"interface": "wp0", "pid": 0, "mtu": 1420, "listen_port": 51820,
    "fwmark": 0, "dns": [], "peers": [{"public_key": "AbCdEfGhIjKl=", "endpoint":
    "203.0.113.5:51820", "endpoint_configured": true, "allowed_ips": ["10.0.0.0/24"],
    "latest_handshake_age_seconds": null, "rx_bytes": 0, "tx_bytes": 0}],
    "counters": {"rx_datagrams": 0}})");
  j["peers"][0]["latest_handshake"] = latest_handshake;
  return j;
}

const Finding* find(const std::vector<Finding>& all, std::string_view id_prefix) {
  for (const auto& f : all) {
    if (f.id.rfind(id_prefix, 0) == 0) return &f;
  }
  return nullptr;
}

Options options() {
  Options o;
  o.resolv_conf = "/fake/resolv.conf";
  return o;
}

TEST(DoctorRun, NothingRunningOnlyHostChecks) {
  FakeSystem sys;
  sys.files["/fake/resolv.conf"] = "nameserver 192.0.2.53\n";
  auto all = run_doctor(options(), sys);
  const Finding* iface = find(all, "interface");
  ASSERT_NE(iface, nullptr);
  EXPECT_EQ(iface->status, Status::kInfo);
  const Finding* clock = find(all, "clock");
  ASSERT_NE(clock, nullptr);
  EXPECT_EQ(clock->status, Status::kOk);
  const Finding* dns = find(all, "dns:");
  ASSERT_NE(dns, nullptr);
  EXPECT_EQ(dns->status, Status::kOk) << dns->summary;
  EXPECT_EQ(find(all, "server:"), nullptr);
  EXPECT_TRUE(sys.requests.empty());
}

TEST(DoctorRun, ResolverThatDoesNotAnswerFails) {
  FakeSystem sys;
  sys.files["/fake/resolv.conf"] = "nameserver 192.0.2.53\n";
  sys.resolver_answers = false;
  auto all = run_doctor(options(), sys);
  const Finding* dns = find(all, "dns:");
  ASSERT_NE(dns, nullptr);
  EXPECT_EQ(dns->status, Status::kFail) << dns->summary;
}

TEST(DoctorRun, StaleHandshakeIsTriggeredAndAnsweredOnVirtualTime) {
  FakeSystem sys;
  sys.shows["wp0"] = client_show(0);
  sys.on_handshake = [&](const std::string& peer, json& show) {
    EXPECT_EQ(peer, "AbCdEfGhIjKl=");
    show["peers"][0]["latest_handshake"] = 1700000000;
    show["peers"][0]["latest_handshake_age_seconds"] = 0;
    show["counters"]["rx_datagrams"] = 1;
  };
  const auto start = sys.clock;
  auto all = run_doctor(options(), sys);
  const Finding* iface = find(all, "interface:wp0");
  ASSERT_NE(iface, nullptr);
  EXPECT_EQ(iface->status, Status::kOk);
  const Finding* hs = find(all, "handshake:wp0:");
  ASSERT_NE(hs, nullptr);
  EXPECT_EQ(hs->status, Status::kOk) << hs->summary;
  // It waited on the fake clock, not the real one, and within the bound.
  EXPECT_GT(sys.clock - start, std::chrono::milliseconds(0));
  EXPECT_LE(sys.clock - start, std::chrono::seconds(8));
  // The path MTU was measured toward the configured endpoint: 1472 + 28 = 1500.
  const Finding* pmtu = find(all, "path_mtu");
  ASSERT_NE(pmtu, nullptr);
  EXPECT_NE(pmtu->summary.find("1500"), std::string::npos) << pmtu->summary;
}

TEST(DoctorRun, UnansweredHandshakeIsReportedAfterTheBoundedWait) {
  FakeSystem sys;
  sys.shows["wp0"] = client_show(0);
  const auto start = sys.clock;
  auto all = run_doctor(options(), sys);
  const Finding* hs = find(all, "handshake:wp0:");
  ASSERT_NE(hs, nullptr);
  EXPECT_NE(hs->status, Status::kOk) << hs->summary;
  EXPECT_GE(sys.clock - start, std::chrono::seconds(7));
  EXPECT_LE(sys.clock - start, std::chrono::seconds(9));
}

TEST(DoctorRun, RootOnlySocketIsAPermissionFinding) {
  FakeSystem sys;
  sys.socket_errors["wp0"] = make_errno_error(EACCES, "cannot connect: Permission denied");
  auto all = run_doctor(options(), sys);
  const Finding* perm = find(all, "permission");
  ASSERT_NE(perm, nullptr);
  EXPECT_EQ(perm->status, Status::kWarn);
  EXPECT_NE(perm->summary.find("/run/fake/wp0.sock"), std::string::npos);
}

TEST(DoctorRun, ServerWithForwardingOffFails) {
  FakeSystem sys;
  ServerFacts facts;
  facts.config_path = "/etc/waypost/config.yaml";
  facts.interface = "wg0";
  facts.firewall_table = "waypost-wg0";
  sys.server = Result<ServerFacts>(facts);
  sys.sysctls["net.ipv4.ip_forward"] = "0";
  auto all = run_doctor(options(), sys);
  const Finding* running = find(all, "server:running");
  ASSERT_NE(running, nullptr);
  EXPECT_EQ(running->status, Status::kInfo);
  const Finding* fwd = find(all, "server:net.ipv4.ip_forward");
  ASSERT_NE(fwd, nullptr);
  EXPECT_NE(fwd->status, Status::kOk) << fwd->summary;
}

TEST(DoctorRun, BrokenServerConfigIsNamed) {
  FakeSystem sys;
  sys.server = Result<ServerFacts>(make_error(ErrorKind::kParse, "config.yaml: line 3: bad"));
  auto all = run_doctor(options(), sys);
  const Finding* cfg = find(all, "server:config");
  ASSERT_NE(cfg, nullptr);
  EXPECT_EQ(cfg->status, Status::kFail);
  EXPECT_NE(cfg->summary.find("line 3"), std::string::npos);
}

}  // namespace
}  // namespace waypost::doctor
