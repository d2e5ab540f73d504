#include "web/accountant.h"

#include <algorithm>

#include "web/user_limits.h"

namespace waypost::web {

namespace {

constexpr int64_t kPruneEvery = 3600;

// Bytes since the last look; a counter below its last value restarted from zero.
int64_t delta(uint64_t now_value, uint64_t last_value) {
  return int64_t(now_value >= last_value ? now_value - last_value : now_value);
}

}  // namespace

Status Accountant::tick(int64_t now) {
  auto list = users_.list();
  if (!list) return list.take_error();
  std::map<std::string, std::map<std::string, Counters>> seen;
  Status first_error;  // the first thing that went wrong; the rest of the tick still runs
  auto note = [&](const Status& st) {
    if (first_error.ok() && !st.ok()) first_error = st;
  };
  for (const UserView& u : *list) {
    if (!u.live) continue;
    std::map<std::string, Counters> now_counters;
    if (u.sources.empty()) {
      now_counters[""] = {u.rx_bytes, u.tx_bytes};
    } else {
      for (const auto& src : u.sources) {
        Counters& c = now_counters[src.key];
        c.rx += src.rx_bytes;
        c.tx += src.tx_bytes;
      }
    }
    const auto it = last_.find(u.name);
    int64_t rx = 0;
    int64_t tx = 0;
    for (const auto& [key, c] : now_counters) {
      Counters before;
      if (it != last_.end()) {
        if (auto b = it->second.find(key); b != it->second.end()) before = b->second;
      }
      rx += delta(c.rx, before.rx);
      tx += delta(c.tx, before.tx);
    }
    if (auto st = store_.add_traffic(u.name, now, rx, tx); !st) {
      note(st);
      if (it != last_.end()) seen[u.name] = it->second;  // counted next time
      continue;
    }
    seen[u.name] = std::move(now_counters);
  }
  // Users not reported keep their last counters (a server that did not answer this once).
  for (auto& [name, c] : last_) seen.try_emplace(name, c);
  // Forget users that no longer exist.
  std::erase_if(seen, [&](const auto& kv) {
    return std::none_of(list->begin(), list->end(),
                        [&](const UserView& u) { return u.name == kv.first; });
  });
  last_ = std::move(seen);

  if (auto changes = apply_limits(store_, users_, now); !changes) note(Status(changes.error()));
  if (now - last_prune_ >= kPruneEvery) {
    Status st = store_.prune(now);
    if (st) last_prune_ = now;
    note(st);
  }
  return first_error;
}

}  // namespace waypost::web
