#pragma once
// One running `waypost ipsec` instance: the IKEv2 engine (ike::IkeManager) and the ESP data
// plane (esp::Sad, esp::ChildSa) joined in one event loop with a route-based TUN device named
// after the instance, the IKE sockets (UDP 500, and 4500 where IKE, ESP and NAT keepalives
// share the port, RFC 3948), the data plane's router and path prober (the same MSS clamping and
// path-MTU handling as the WireGuard side), and a JSON control socket for the CLI.
//
// What the kernel sees follows the SAs: a CHILD SA that comes up routes its remote traffic
// selectors into the TUN device (the main table) and its virtual IPs are assigned to it; when
// the last SA using a route or address goes, so does the route or address. Everything is
// reconciled from the engine's state after each event (level-triggered), so a rekey, whose new
// SA comes up before the old one goes, never removes a route that is still in use.

#include <array>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/log_ring.h"
#include "common/memory.h"
#include "common/result.h"
#include "control/stream_server.h"
#include "crypto/random.h"
#include "daemon/interface_setup.h"
#include "dataplane/path_prober.h"
#include "dataplane/router.h"
#include "esp/child_sa.h"
#include "esp/sad.h"
#include "ike/ike_manager.h"
#include "ike/swanctl_conf.h"
#include "ipsec/address_pools.h"
#include "ipsec/keep_alive.h"
#include "ipsec/trap.h"
#include "platform/event_loop.h"
#include "platform/fd.h"
#include "platform/kernel.h"
#include "platform/netlink.h"

namespace waypost::ipsec {

struct InstanceOptions {
  std::string name;  // the instance, its TUN device and its control socket
  std::string config_path;
  ike::IpsecConfig config;
  bool offloads = true;
  uint32_t mtu = 1400;  // of the TUN device (strongSwan's kernel-libipsec uses 1400 too)
  // Where `reload-credentials` reads certificates, keys and CRLs again (the directory of the
  // swanctl.conf); empty: the command is refused.
  std::string credentials_dir;
  // Part of a bigger daemon (`waypost server`): the instance runs on a thread of its own and
  // leaves signals to the host process, which stops it with a `down` request.
  bool embedded = false;
  // Addresses put on the TUN device at start (the server's own address in each pool, where its
  // DNS resolver answers IKEv2 clients), with their prefix lengths: the kernel routes the
  // pools into the device.
  std::vector<net::Prefix> device_addresses;
};

class Instance final : private ike::IkeManagerHost, private esp::ChildSaHost {
 public:
  // Creates the TUN device and the sockets and starts the connections with start_action =
  // start; fails with a message for the user, having undone what it did.
  static Result<std::unique_ptr<Instance>> start(InstanceOptions options);
  ~Instance() override;
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  // Runs until a signal or a `down` request; then deletes every IKE SA (waiting a few seconds
  // for the peers' answers) and removes the device.
  Status run();

  nlohmann::json status_json() const;      // `waypost ipsec status --json`
  nlohmann::json list_conns_json() const;  // `waypost ipsec list-conns --json`

 private:
  Instance(InstanceOptions options, platform::EventLoop loop, std::unique_ptr<platform::TunIo> tun,
           std::unique_ptr<platform::UdpIo> natt, std::unique_ptr<platform::UdpIo> ike);
  Status configure_device();
  Status watch();
  Status watch_sockets();
  // Reads certificates, keys and CRLs again from options_.credentials_dir; SAs that are up stay
  // up, new authentications use the new ones (a CRL naming a removed user, say).
  Status reload_credentials();
  Status open_control();
  void initiate_start_children();
  // start_action of one connection: its traps, and one IKE SA for all its start children (the
  // first in IKE_AUTH, the others with CREATE_CHILD_SA once it is up).
  void start_connection(const ike::Connection& c);
  // Deletes a connection's IKE SAs and traps and forgets its pending re-initiations.
  void stop_connection(const std::string& name, std::string_view why);
  // `reload`: reads the file again and applies what changed (instance_reload.cc); with
  // `secrets_only`, only secrets and certificates. A file with an error changes nothing.
  Result<nlohmann::json> reload(bool secrets_only);
  // `replace`: one connection deleted and started again from its definition.
  Status replace(const std::string& conn);
  Result<uint32_t> initiate(const std::string& conn, const std::string& child);
  // One IKE SA for `children` of `conn` (none: its first child); the IKE SA's unique id.
  Result<uint32_t> initiate_children(const std::string& conn,
                                     const std::vector<std::string>& children);
  // Whether `sa` carries every child of `children` (none: any child): an initiation is up.
  static bool initiation_complete(const ike::IkeSa& sa, const std::vector<std::string>& children);
  void on_tun_readable();
  void on_natt_readable();
  void on_ike_readable();
  void receive_ike(std::span<const uint8_t> message, const net::Endpoint& from, uint16_t port);
  Nanos before_wait();
  // Brings routes, virtual IPs, pool leases and the CHILD SAs' peer addresses in line with the
  // engine's SAs.
  void reconcile();
  void rebuild_routing_table();
  // Default selectors (0.0.0.0/0, ::/0): wg-quick's policy routing on or off as the SAs, traps
  // and re-initiations need it (instance_full_tunnel.cc).
  struct FullTunnel {
    std::set<net::Family> families;   // of the default selectors routed
    std::vector<net::IpAddress> dns;  // the gateway's DNS servers, for resolvconf
    bool operator==(const FullTunnel&) const = default;
  };
  FullTunnel full_tunnel_wanted() const;
  void update_full_tunnel();
  // The address this host reaches `remote` from, asked with our sockets' fwmark so that the
  // full tunnel's policy routing does not answer with the tunnel's own address.
  std::optional<net::IpAddress> local_toward(const net::IpAddress& remote) const;
  // MOBIKE as initiator: after the host's addresses or routes changed, SAs whose address toward
  // their peer changed move there.
  void roam();
  void send_keepalives();
  // keep_alive of CHILD SAs (instance_keep_alive.cc): which are watched (from reconcile), the
  // pings due, their replies, and what is done when they go unanswered.
  void update_keep_alive();
  void send_keep_alives(Nanos now);
  int keep_alive_socket(net::Family family);  // opened on first use; -1 if it cannot be
  void on_keep_alive_readable(net::Family family);
  void act_on_lost_keep_alive(const KeepAlive::Action& action);
  // A trap for `child` of `conn` (start_action / dpd_action / close_action = trap), unless one
  // is there already.
  void install_trap(const ike::Connection& conn, const ike::Child& child);
  Trap* find_trap(const std::string& conn, const std::string& child);
  // What dpd_action, close_action and keyingtries ask for once an IKE SA of ours has ended.
  void after_ike_sa_end(const ike::IkeSa& ike);
  void schedule_initiation(const std::string& conn, std::vector<std::string> children, Nanos delay,
                           std::string_view why);
  void stop(std::string_view why);
  Status teardown();
  nlohmann::json handle_control(const nlohmann::json& request, bool admin);

  // ike::IkeManagerHost
  void send_ike(const net::Endpoint& local, const net::Endpoint& remote,
                std::span<const uint8_t> message) override;
  uint32_t allocate_spi() override;
  std::optional<net::IpAddress> lease_address(const ike::Pool& pool, const std::string& peer_id,
                                              net::Family family) override;
  void child_sa_up(ike::IkeSa& ike, const ike::ChildSaInfo& child) override;
  void child_sa_down(ike::IkeSa& ike, const ike::ChildSaInfo& child) override;
  void child_sa_failed(ike::IkeSa& ike, const std::string& child, std::string_view reason) override;
  void ike_sa_down(ike::IkeSa& ike, std::string_view reason) override;
  void diagnosed(ike::IkeSa& ike, const ike::Diagnosis& d) override;
  void diagnosed_without_sa(const ike::Connection& conn, const net::Endpoint& remote,
                            const ike::Diagnosis& d) override;
  // `waypost ipsec diagnose` (instance_diagnose.cc): per connection, its SAs now and the
  // recent diagnoses, newest first; `conn` "" for all.
  Result<nlohmann::json> diagnose_json(const std::string& conn) const;
  // esp::ChildSaHost
  void schedule_probe(esp::ChildSa& sa, Nanos delay) override;

  struct RecordedDiagnosis {
    int64_t at_unix = 0;
    std::string remote;  // the peer's address and port
    ike::Diagnosis diagnosis;
  };
  // The last few diagnoses per connection name (a bound keeps a flapping peer from growing it).
  std::map<std::string, std::deque<RecordedDiagnosis>> diagnoses_;

  struct Installed {
    std::unique_ptr<esp::ChildSa> sa;
    std::vector<net::Prefix> remote;  // the remote traffic selectors as prefixes
    Nanos installed_at = 0;
  };
  // What `initiate` asked for, until it is up or has failed.
  struct Initiation {
    std::string conn;
    // The children asked for; it is up once all are installed (none: once any is).
    std::vector<std::string> children;
    std::string state = "pending";  // pending, up, failed
    std::string reason;
  };

  InstanceOptions options_;
  SystemClock clock_;
  crypto::SystemRandom random_;
  platform::EventLoop loop_;
  std::unique_ptr<platform::TunIo> tun_;
  std::unique_ptr<platform::UdpIo> natt_;  // 4500: ESP, IKE behind the marker, keepalives
  std::unique_ptr<platform::UdpIo> ike_;   // 500
  std::optional<platform::Netlink> netlink_;
  int ifindex_ = 0;
  dataplane::Router router_;
  dataplane::PathProber prober_;
  esp::Sad sad_;
  AddressPools pools_;
  std::unique_ptr<ike::IkeManager> manager_;
  std::map<uint32_t, Installed> children_;  // by inbound SPI
  std::vector<std::unique_ptr<Trap>> traps_;
  KeepAlive keep_alive_;
  platform::UniqueFd keep_alive_fds_[2];        // raw ICMP, ICMPv6
  uint16_t keep_alive_id_ = 0;                  // the echo identifier of this instance's pings
  std::array<uint8_t, 8> keep_alive_cookie_{};  // their payload: replies must carry it back
  // Rekeyed SAs still accepting inbound packets until their deadline (strongSwan's
  // delete_rekeyed_delay): the peer may have sent on the old SA just before it switched.
  struct Retired {
    Installed installed;
    Nanos until = 0;
  };
  std::map<uint32_t, Retired> retired_;
  void retire_or_remove(Installed installed);
  void drop_retired(Nanos now, bool all);
  std::multimap<Nanos, uint32_t> probe_wakeups_;
  // Installed kernel routes and their source addresses (nullopt: the kernel's choice).
  std::map<net::Prefix, std::optional<net::IpAddress>> routes_;
  std::set<net::IpAddress> device_vips_;        // our virtual IPs on the TUN device
  std::set<net::IpAddress> leased_;             // pool addresses handed to peers, online
  std::map<uint32_t, Initiation> initiations_;  // by the IKE SA's unique id
  // Connections to (re-)initiate later: (when, (connection, children)).
  std::multimap<Nanos, std::pair<std::string, std::vector<std::string>>> pending_initiations_;
  std::map<std::string, unsigned> failed_tries_;  // by connection, since its last success
  uint32_t next_spi_ = 0;
  Nanos next_keepalive_ = 0;
  Nanos started_at_ = 0;
  bool dirty_ = true;  // reconcile() has work
  bool stopping_ = false;
  Nanos stop_deadline_ = kNever;
  bool torn_down_ = false;
  std::optional<daemon::InterfaceSetup> full_tunnel_;
  FullTunnel full_tunnel_state_;  // what full_tunnel_ was set up for
  uint32_t fwmark_ = 0;  // SO_MARK of the IKE and ESP sockets, once a full tunnel needed one
  std::optional<platform::RouteMonitor> route_monitor_;
  Nanos roam_at_ = kNever;  // route or address changes settle until then
  platform::UniqueFd signal_fd_;
  std::unique_ptr<control::StreamServer> control_;
  std::shared_ptr<LogRing> log_ring_;
  std::vector<uint8_t> ike_out_;
  static constexpr size_t kTunBatch = 128;
  static constexpr Nanos kRoamSettle = 500 * kNanosPerMilli;
  PageBuffer tun_slots_;
};

}  // namespace waypost::ipsec
