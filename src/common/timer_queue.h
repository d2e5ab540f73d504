#pragma once
// Deadlines for many objects, each with a few named timers, driven by one min-heap.
//
// Re-arming a timer to a later time (which the data path does for every packet, e.g. the
// persistent-keepalive timer) only stores the new deadline; the heap entry is re-queued lazily
// when it comes due. So the per-packet cost is a store and a compare, and the heap holds about
// one entry per armed timer. Timers are found again by object id when they fire, never through a
// pointer that could dangle.

#include <cstdint>
#include <queue>
#include <vector>

#include "common/clock.h"

namespace waypost {

template <int kKinds>
class TimerSlots {
 public:
  TimerSlots() {
    for (int k = 0; k < kKinds; ++k) deadline_[k] = queued_[k] = kNever;
  }
  bool pending(int kind) const { return deadline_[kind] != kNever; }
  Nanos deadline(int kind) const { return deadline_[kind]; }

 private:
  template <int>
  friend class TimerQueue;
  Nanos deadline_[kKinds];
  Nanos queued_[kKinds];
};

template <int kKinds>
class TimerQueue {
 public:
  // Arms (or re-arms) `kind` of object `id` whose slots are `slots`.
  void arm(TimerSlots<kKinds>& slots, uint32_t id, int kind, Nanos when) {
    slots.deadline_[kind] = when;
    if (when < slots.queued_[kind]) {
      heap_.push({when, id, uint8_t(kind)});
      slots.queued_[kind] = when;
    }
  }
  void cancel(TimerSlots<kKinds>& slots, int kind) { slots.deadline_[kind] = kNever; }
  void cancel_all(TimerSlots<kKinds>& slots) {
    for (int k = 0; k < kKinds; ++k) slots.deadline_[k] = kNever;
  }

  Nanos next_deadline() const { return heap_.empty() ? kNever : heap_.top().when; }

  // Pops every due entry. For each that is still armed and due, disarms it and calls
  // fire(id, kind). `find(id)` returns the object's slots or nullptr if it is gone.
  template <typename Find, typename Fire>
  void run(Nanos now, Find&& find, Fire&& fire) {
    while (!heap_.empty() && heap_.top().when <= now) {
      Entry e = heap_.top();
      heap_.pop();
      TimerSlots<kKinds>* slots = find(e.id);
      if (slots == nullptr) continue;
      if (slots->queued_[e.kind] == e.when) slots->queued_[e.kind] = kNever;
      Nanos deadline = slots->deadline_[e.kind];
      if (deadline == kNever) continue;
      if (deadline > now) {
        // Pushed back since this entry was queued: queue the new deadline instead.
        if (deadline < slots->queued_[e.kind]) {
          heap_.push({deadline, e.id, e.kind});
          slots->queued_[e.kind] = deadline;
        }
        continue;
      }
      slots->deadline_[e.kind] = kNever;
      fire(e.id, int(e.kind));
    }
  }

  size_t size() const { return heap_.size(); }

 private:
  struct Entry {
    Nanos when;
    uint32_t id;
    uint8_t kind;
    bool operator>(const Entry& o) const { return when > o.when; }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
};

}  // namespace waypost
