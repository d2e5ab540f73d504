// The fork-join crypto pool: every index processed exactly once, batch after batch, with the
// caller taking part; and two devices exchanging traffic with crypto on workers.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "common/work_pool.h"
#include "wg_pair.h"

namespace waypost {
namespace {

struct Counts {
  std::vector<std::atomic<int>>* hits;
};

void count_slice(void* ctx, size_t begin, size_t end) {
  auto* c = static_cast<Counts*>(ctx);
  for (size_t i = begin; i < end; ++i) (*c->hits)[i].fetch_add(1);
}

TEST(WorkPool, EveryIndexExactlyOnceOverManyBatches) {
  for (int workers : {0, 1, 3}) {
    WorkPool pool(workers);
    for (size_t n : {0u, 1u, 7u, 8u, 45u, 64u, 513u}) {
      for (int round = 0; round < 50; ++round) {
        std::vector<std::atomic<int>> hits(n);
        Counts c{&hits};
        pool.run(n, count_slice, &c);
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << workers << "/" << n;
      }
    }
  }
}

TEST(WorkPool, DevicesExchangeTrafficWithCryptoOnWorkers) {
  WorkPool pool(2);
  test::Pair p(&pool);
  p.connect();
  p.a.send_inner(test::ipv4_packet("10.0.0.1", "10.0.0.2", 10));
  p.pump();
  ASSERT_EQ(p.b.tun.packets.size(), 1u);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::vector<uint8_t>> batch;
    batch.reserve(64);
    for (int i = 0; i < 64; ++i) {
      batch.push_back(test::ipv4_packet("10.0.0.1", "10.0.0.2", 100 + size_t(i) * 20, uint8_t(i)));
    }
    p.a.send_inner_batch(batch);
    p.deliver_batch(p.a, p.b);
    p.pump();
    // All arrive, intact and in order.
    ASSERT_EQ(p.b.tun.packets.size(), 1u + 64u * size_t(round + 1));
    for (int i = 0; i < 64; ++i) {
      ASSERT_EQ(p.b.tun.packets[1 + 64 * size_t(round) + size_t(i)], batch[size_t(i)]);
    }
  }
  // A tampered packet in the middle of a batch fails alone.
  std::vector<std::vector<uint8_t>> batch;
  batch.reserve(16);
  for (int i = 0; i < 16; ++i) batch.push_back(test::ipv4_packet("10.0.0.1", "10.0.0.2", 50));
  p.a.send_inner_batch(batch);
  p.a.link.sent[7].bytes[40] ^= 1;
  const size_t before = p.b.tun.packets.size();
  p.deliver_batch(p.a, p.b);
  EXPECT_EQ(p.b.tun.packets.size(), before + 15);
  EXPECT_EQ(p.b.device.counters().rx_decrypt_failed, 1u);
}

}  // namespace
}  // namespace waypost
