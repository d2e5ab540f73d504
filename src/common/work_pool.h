#pragma once
// A small fork-join pool for the data plane's crypto: the event loop hands it one batch at a
// time, takes part in the work itself, and continues once the whole batch is done. Ordering is
// therefore kept for free: only the sealing/opening of independent packets runs in parallel;
// counters, replay windows and sends stay on the loop thread, in order.
//
// With zero workers (one CPU, or WAYPOST_CRYPTO_THREADS=0) everything runs inline.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace waypost {

class WorkPool {
 public:
  // Called with slices [begin, end) of [0, n).
  using SliceFn = void (*)(void* context, size_t begin, size_t end);

  explicit WorkPool(int workers);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  int workers() const { return int(threads_.size()); }

  // Runs fn over [0, n) on the caller and the workers; returns when every slice is done.
  // Batches smaller than `min_parallel` run inline.
  void run(size_t n, SliceFn fn, void* context, size_t min_parallel = 8);

  // Workers for this machine: none below 4 CPUs, else CPUs / 2 up to 3;
  // WAYPOST_CRYPTO_THREADS overrides.
  static int default_workers();

 private:
  struct Job {
    SliceFn fn = nullptr;
    void* context = nullptr;
    uint32_t n = 0;
    uint32_t generation = 0;
  };
  void worker_loop();
  // Takes slices of `job` while the shared cursor still belongs to it.
  void work(const Job& job);

  static constexpr uint32_t kGrain = 4;  // packets taken at a time

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  Job job_;  // guarded by mutex_
  bool stop_ = false;
  // generation << 32 | next index: a worker that wakes late for an old job sees the generation
  // has moved on and takes nothing.
  std::atomic<uint64_t> cursor_{0};
  std::atomic<uint32_t> done_{0};
};

}  // namespace waypost
