#pragma once
// The keep-alive of CHILD SAs with `keep_alive = <address>` (pfSense's "automatically ping
// host"): an echo request to that address through the tunnel every keep_alive_interval. A
// tunnel can look up to both IKE daemons while its packets vanish: the peer lost the CHILD SA
// (a reboot of its data plane, a DELETE that got lost) and answers liveness checks on the IKE
// SA, which stays up. Pings are the one test of the path users' traffic takes.
//
// After kMissesToAct unanswered pings in a row the child is rekeyed (new SPIs and keys, the IKE
// SA and the other children untouched); if that does not bring answers back, its IKE SA is
// deleted and started again. This class is the clock-driven bookkeeping; the instance sends,
// receives and acts (instance_keep_alive.cc).

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "net/ip.h"

namespace waypost::ipsec {

class KeepAlive {
 public:
  static constexpr int kMissesToAct = 3;

  // A child, by connection and child name: a rekey keeps the key, so the count goes on.
  using Key = std::pair<std::string, std::string>;

  struct Ping {
    Key key;
    net::IpAddress to;
    uint16_t seq = 0;
  };
  enum class Step : uint8_t { kRekey, kRestart };
  struct Action {
    Key key;
    Step step = Step::kRekey;
    net::IpAddress to;
    int misses = 0;
    Nanos interval = 0;
  };
  struct Due {
    std::vector<Ping> pings;
    std::vector<Action> actions;
  };

  // Starts (or keeps) watching `key`; the first ping is due at once.
  void track(const Key& key, const net::IpAddress& to, Nanos interval, Nanos now);
  void untrack(const Key& key);
  // Keeps only the keys in `live`.
  void retain(const std::vector<Key>& live);
  // What is due at `now`: pings to send and, for children whose pings went unanswered, what
  // to do. Call when now >= next_wakeup().
  Due due(Nanos now);
  // An echo reply with `seq` from `from`; false if it answers no outstanding ping.
  bool on_reply(uint16_t seq, const net::IpAddress& from, Nanos now);
  Nanos next_wakeup() const;
  bool empty() const { return watched_.empty(); }

  struct State {
    net::IpAddress to;
    Nanos interval = 0;
    Nanos next_send = 0;
    uint16_t seq = 0;
    bool awaiting = false;  // the last ping is unanswered
    int misses = 0;         // unanswered in a row
    int actions = 0;        // steps taken since the last answer
    Nanos last_reply = 0;   // 0: never
    uint64_t sent = 0;
    uint64_t answered = 0;
  };
  const State* state(const Key& key) const;

 private:
  std::map<Key, State> watched_;
  uint16_t next_seq_ = 1;
};

}  // namespace waypost::ipsec
