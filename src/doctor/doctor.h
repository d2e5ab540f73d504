#pragma once
// `waypost doctor`: runs every check and returns the findings. The checks, in order:
//   interface   the running Waypost interface(s) in this network namespace
//   handshake   per peer: recent, or does the endpoint answer a fresh one (asks the daemon)
//   tunnel_mtu  per peer: the MTU measured inside the tunnel, and what the data plane does
//   path_mtu    DF ping search toward --host or the endpoint; reduce_mtu and MTU= advice
//   clock       is the clock synchronized (handshake timestamps)
//   dns         one query to each resolver (--dns, the interface's DNS=, /etc/resolv.conf);
//               answered? through the tunnel?
//   server:*    with a config.yaml in --dir: forwarding, nftables table and masquerade, default
//               route, other tables whose forward policy drops the tunnel's packets
// Packets go only to hosts the user configured or named, and every wait is bounded.

#include <functional>
#include <string>
#include <vector>

#include "doctor/findings.h"

namespace waypost::doctor {

struct Options {
  std::string ifname;                    // "" = every running interface in this network namespace
  std::string host;                      // path MTU target; "" = the first peer's endpoint
  std::vector<std::string> dns;          // extra resolvers to test
  std::string dns_name = "example.com";  // the name asked for
  std::string dir = "/etc/waypost";      // server directory (config.yaml)
  bool dir_given = false;
  std::string resolv_conf = "/etc/resolv.conf";
  // Progress messages ("measuring the path MTU to ..."), for slow steps; may be empty.
  std::function<void(const std::string&)> progress;
};

class System;

// Every check against the real machine (make_system()).
std::vector<Finding> run_doctor(const Options& options);
// The same against any System: what the checks decide, testable with a fake machine.
std::vector<Finding> run_doctor(const Options& options, System& system);

}  // namespace waypost::doctor
