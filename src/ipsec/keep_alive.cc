#include "ipsec/keep_alive.h"

#include <algorithm>

namespace waypost::ipsec {

void KeepAlive::track(const Key& key, const net::IpAddress& to, Nanos interval, Nanos now) {
  auto [it, added] = watched_.try_emplace(key);
  State& s = it->second;
  if (!added && s.to == to && s.interval == interval) return;
  s = State{};
  s.to = to;
  s.interval = interval;
  s.next_send = now;
}

void KeepAlive::untrack(const Key& key) {
  watched_.erase(key);
}

void KeepAlive::retain(const std::vector<Key>& live) {
  for (auto it = watched_.begin(); it != watched_.end();) {
    if (std::find(live.begin(), live.end(), it->first) == live.end()) {
      it = watched_.erase(it);
    } else {
      ++it;
    }
  }
}

KeepAlive::Due KeepAlive::due(Nanos now) {
  Due out;
  for (auto& [key, s] : watched_) {
    if (s.next_send > now) continue;
    if (s.awaiting && ++s.misses >= kMissesToAct) {
      // The first step is gentle (a rekey); when that did not help, the IKE SA goes too.
      out.actions.push_back(
          {key, s.actions == 0 ? Step::kRekey : Step::kRestart, s.to, s.misses, s.interval});
      ++s.actions;
      s.misses = 0;
    }
    // Sequence numbers are unique across children, so a reply names its child by itself.
    s.seq = next_seq_++;
    if (next_seq_ == 0) next_seq_ = 1;
    s.awaiting = true;
    ++s.sent;
    s.next_send = now + s.interval;
    out.pings.push_back({key, s.to, s.seq});
  }
  return out;
}

bool KeepAlive::on_reply(uint16_t seq, const net::IpAddress& from, Nanos now) {
  for (auto& [key, s] : watched_) {
    if (!s.awaiting || s.seq != seq || s.to != from) continue;
    s.awaiting = false;
    s.misses = 0;
    s.actions = 0;
    s.last_reply = now;
    ++s.answered;
    return true;
  }
  return false;
}

Nanos KeepAlive::next_wakeup() const {
  Nanos next = kNever;
  for (const auto& [key, s] : watched_) next = std::min(next, s.next_send);
  return next;
}

const KeepAlive::State* KeepAlive::state(const Key& key) const {
  auto it = watched_.find(key);
  return it == watched_.end() ? nullptr : &it->second;
}

}  // namespace waypost::ipsec
