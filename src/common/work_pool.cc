#include "common/work_pool.h"

#include <algorithm>
#include <cstdlib>

namespace waypost {

WorkPool::WorkPool(int workers) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { worker_loop(); });
}

WorkPool::~WorkPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

int WorkPool::default_workers() {
  if (const char* env = std::getenv("WAYPOST_CRYPTO_THREADS"); env != nullptr) {
    return std::clamp(std::atoi(env), 0, 16);
  }
  // Measured (bench/): on two CPUs shared with the kernel's forwarding and the applications,
  // a worker costs more in hand-offs than it gains; with four or more it pays off.
  const int cpus = int(std::thread::hardware_concurrency());
  return cpus >= 4 ? std::min(cpus / 2, 3) : 0;
}

void WorkPool::work(const Job& job) {
  const uint64_t gen = uint64_t(job.generation) << 32;
  uint64_t cur = cursor_.load(std::memory_order_acquire);
  for (;;) {
    if ((cur & ~uint64_t(0xffffffff)) != gen) return;  // a later job: not ours
    const auto begin = uint32_t(cur);
    if (begin >= job.n) return;
    const uint32_t end = std::min(job.n, begin + kGrain);
    if (!cursor_.compare_exchange_weak(cur, gen | end, std::memory_order_acq_rel)) continue;
    job.fn(job.context, begin, end);
    done_.fetch_add(end - begin, std::memory_order_acq_rel);
    cur = cursor_.load(std::memory_order_acquire);
  }
}

void WorkPool::worker_loop() {
  uint32_t seen = 0;
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || job_.generation != seen; });
      if (stop_) return;
      job = job_;
      seen = job.generation;
    }
    work(job);
  }
}

void WorkPool::run(size_t n, SliceFn fn, void* context, size_t min_parallel) {
  if (threads_.empty() || n < min_parallel || n > UINT32_MAX) {
    fn(context, 0, n);
    return;
  }
  Job job;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_.fn = fn;
    job_.context = context;
    job_.n = uint32_t(n);
    job_.generation += 1;
    job = job_;
    done_.store(0, std::memory_order_relaxed);
    cursor_.store(uint64_t(job.generation) << 32, std::memory_order_release);
  }
  wake_.notify_all();
  work(job);
  // Slices others took are short: spin, yielding, until they are done.
  while (done_.load(std::memory_order_acquire) < n) std::this_thread::yield();
}

}  // namespace waypost
