#pragma once
// The traffic history and the limits, once a minute: reads every user's byte counters from the
// running server, adds what each user moved since the last look to web.db's minute, hour, day
// and month buckets, applies expiry dates and monthly quotas (user_limits.h), and once an hour
// prunes web.db (Store::prune).
//
// The counters are the server's (a WireGuard peer's, each IKEv2 CHILD SA's), taken source by
// source: a source seen for the first time, or whose counter went down (a peer re-added, the
// server restarted), counts its whole value as new traffic; one that went away takes its last
// minute with it. A user the server did not report (it did not answer, the user is disabled) is
// skipped, not counted as zero.

#include <cstdint>
#include <map>
#include <string>

#include "common/result.h"
#include "web/store.h"
#include "web/user_directory.h"

namespace waypost::web {

class Accountant {
 public:
  Accountant(Store& store, UserDirectory& users) : store_(store), users_(users) {}

  // One look at `now` (Unix seconds). Errors are the database's or the server's; the next tick
  // tries again, and nothing is lost but that minute's split between buckets.
  Status tick(int64_t now);

 private:
  struct Counters {
    uint64_t rx = 0;
    uint64_t tx = 0;
  };
  Store& store_;
  UserDirectory& users_;
  // By user, then by source (UserView::sources' keys).
  std::map<std::string, std::map<std::string, Counters>> last_;
  int64_t last_prune_ = 0;
};

}  // namespace waypost::web
