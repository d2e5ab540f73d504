#pragma once
// What the server page shows, as an interface the server implements (server/web_server_info.h):
// its version and uptime, the VPN's numbers, the DNS resolver's numbers (per user too), and the
// results of `waypost doctor`. The web folder knows nothing of how they are found.
//
// The doctor takes seconds to a minute (it measures path MTUs), so it runs in the background:
// start_doctor() begins a run, doctor() reports it ({"running", "ran_at", "findings", "error"}).

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace waypost::web {

class ServerInfo {
 public:
  virtual ~ServerInfo() = default;
  // {"version", "up_since", "uptime_s", "endpoint", "wireguard": {...}, "ikev2": {...},
  //  "dns": {...} or null}; an error when nothing about the server can be read.
  virtual Result<nlohmann::json> overview() = 0;
  // Starts a doctor run; an error with code EBUSY when one is running already.
  virtual Status start_doctor() = 0;
  virtual nlohmann::json doctor() = 0;
};

}  // namespace waypost::web
