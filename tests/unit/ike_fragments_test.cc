// RFC 7383 reassembly: fragments in and out of order, duplicates, totals that change, the caps.
#include "ike/fragments.h"

#include <gtest/gtest.h>

#include <vector>

namespace waypost::ike {
namespace {

using Bytes = std::vector<uint8_t>;

// Fragment n's plaintext: n copies of the byte n, so concatenations are easy to check.
Bytes piece(uint16_t n, size_t size = 0) {
  Bytes out(size ? size : n, uint8_t(n));  // (braces would make a two-byte list)
  return out;
}

Result<FragmentAccepted> add(FragmentReassembler& r, uint16_t number, uint16_t total,
                             const Bytes& plaintext) {
  const PayloadType first = number == 1 ? PayloadType::kIdInitiator : PayloadType::kNone;
  return r.add(DecryptedFragment{number, total, first, plaintext});
}

Bytes concatenation(uint16_t total) {
  Bytes out;
  for (uint16_t n = 1; n <= total; ++n) {
    Bytes p = piece(n);
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

TEST(IkeFragments, InOrder) {
  FragmentReassembler r;
  for (uint16_t n = 1; n < 3; ++n) {
    auto a = add(r, n, 3, piece(n));
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->status, FragmentStatus::kStored);
    EXPECT_FALSE(a->message.has_value());
  }
  auto last = add(r, 3, 3, piece(3));
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->status, FragmentStatus::kComplete);
  ASSERT_TRUE(last->message.has_value());
  EXPECT_EQ(last->message->first_inner, PayloadType::kIdInitiator);
  EXPECT_EQ(last->message->chain, concatenation(3));
  EXPECT_TRUE(r.complete());
  EXPECT_EQ(r.stored_bytes(), 0U);  // handed over, not kept
}

TEST(IkeFragments, OutOfOrderFirstInnerFromFragmentOne) {
  FragmentReassembler r;
  for (uint16_t n : {4, 2, 1, 5}) {
    auto a = add(r, n, 5, piece(n));
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->status, FragmentStatus::kStored);
  }
  EXPECT_EQ(r.received(), 4U);
  EXPECT_EQ(r.stored_bytes(), 4U + 2 + 1 + 5);
  auto a = add(r, 3, 5, piece(3));
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->status, FragmentStatus::kComplete);
  EXPECT_EQ(a->message->first_inner, PayloadType::kIdInitiator);
  EXPECT_EQ(a->message->chain, concatenation(5));
}

TEST(IkeFragments, SingleFragment) {
  FragmentReassembler r;
  auto a = add(r, 1, 1, piece(1, 40));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->status, FragmentStatus::kComplete);
  EXPECT_EQ(a->message->chain, piece(1, 40));
}

TEST(IkeFragments, DuplicatesIgnored) {
  FragmentReassembler r;
  ASSERT_TRUE(add(r, 2, 3, piece(2)).ok());
  auto dup = add(r, 2, 3, Bytes{9, 9, 9});  // even with other content: the first one stays
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup->status, FragmentStatus::kDuplicate);
  EXPECT_EQ(r.received(), 1U);
  ASSERT_TRUE(add(r, 1, 3, piece(1)).ok());
  auto done = add(r, 3, 3, piece(3));
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->status, FragmentStatus::kComplete);
  EXPECT_EQ(done->message->chain, concatenation(3));
  // Retransmissions of a completed message are duplicates, not a second message.
  for (uint16_t n = 1; n <= 3; ++n) {
    auto again = add(r, n, 3, piece(n));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->status, FragmentStatus::kDuplicate);
  }
}

TEST(IkeFragments, InvalidNumbersRejected) {
  FragmentReassembler r;
  EXPECT_FALSE(add(r, 1, 0, piece(1)).ok());
  EXPECT_FALSE(add(r, 0, 0, piece(1)).ok());
  EXPECT_FALSE(add(r, 0, 3, piece(1)).ok());
  EXPECT_FALSE(add(r, 4, 3, piece(1)).ok());
  auto e = add(r, 4, 3, piece(1));
  EXPECT_TRUE(e.error().is(ErrorKind::kProtocol));
  EXPECT_EQ(r.total(), 0);  // nothing started
}

TEST(IkeFragments, LargerTotalRestarts) {
  FragmentReassembler r;
  ASSERT_TRUE(add(r, 1, 2, Bytes(100, 0xee)).ok());
  EXPECT_EQ(r.total(), 2);
  // The sender re-fragmented for a smaller MTU: the old fragment is discarded.
  auto a = add(r, 2, 3, piece(2));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->status, FragmentStatus::kStored);
  EXPECT_EQ(r.total(), 3);
  EXPECT_EQ(r.received(), 1U);
  EXPECT_EQ(r.stored_bytes(), 2U);
  ASSERT_TRUE(add(r, 1, 3, piece(1)).ok());
  auto done = add(r, 3, 3, piece(3));
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->status, FragmentStatus::kComplete);
  EXPECT_EQ(done->message->chain, concatenation(3));
}

TEST(IkeFragments, LargerTotalAfterCompletionStartsAgain) {
  FragmentReassembler r;
  ASSERT_EQ(add(r, 1, 1, piece(1))->status, FragmentStatus::kComplete);
  EXPECT_EQ(add(r, 1, 2, piece(1))->status, FragmentStatus::kStored);
  EXPECT_EQ(add(r, 2, 2, piece(2))->status, FragmentStatus::kComplete);
}

TEST(IkeFragments, SmallerTotalDropped) {
  FragmentReassembler r;
  ASSERT_TRUE(add(r, 1, 4, piece(1)).ok());
  auto smaller = add(r, 2, 3, piece(2));
  ASSERT_FALSE(smaller.ok());
  EXPECT_TRUE(smaller.error().is(ErrorKind::kProtocol));
  EXPECT_EQ(r.total(), 4);
  EXPECT_EQ(r.received(), 1U);
  EXPECT_EQ(r.stored_bytes(), 1U);
}

TEST(IkeFragments, FragmentCountCapped) {
  FragmentReassembler r;
  EXPECT_FALSE(add(r, 1, FragmentReassembler::kMaxFragments + 1, piece(1)).ok());
  EXPECT_FALSE(add(r, 1, 0xffff, piece(1)).ok());
  EXPECT_EQ(r.total(), 0);
  // The cap itself is fine.
  const uint16_t max = FragmentReassembler::kMaxFragments;
  for (uint16_t n = max; n >= 1; --n) {
    auto a = add(r, n, max, Bytes{uint8_t(n)});
    ASSERT_TRUE(a.ok()) << n;
    EXPECT_EQ(a->status, n == 1 ? FragmentStatus::kComplete : FragmentStatus::kStored);
    if (n == 1) {
      EXPECT_EQ(a->message->chain.size(), max);
    }
  }
}

TEST(IkeFragments, ByteCapped) {
  FragmentReassembler r;
  const size_t half = FragmentReassembler::kMaxBytes / 2;
  ASSERT_TRUE(add(r, 1, 3, Bytes(half, 1)).ok());
  ASSERT_TRUE(add(r, 2, 3, Bytes(half, 2)).ok());
  EXPECT_EQ(r.stored_bytes(), FragmentReassembler::kMaxBytes);
  auto over = add(r, 3, 3, Bytes(1, 3));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(r.stored_bytes(), FragmentReassembler::kMaxBytes);
  EXPECT_EQ(r.received(), 2U);
  // Still completes with an empty last fragment (within the cap).
  auto done = add(r, 3, 3, Bytes{});
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->status, FragmentStatus::kComplete);
  EXPECT_EQ(done->message->chain.size(), FragmentReassembler::kMaxBytes);

  FragmentReassembler big;
  EXPECT_FALSE(add(big, 1, 2, Bytes(FragmentReassembler::kMaxBytes + 1, 0)).ok());
  EXPECT_EQ(big.stored_bytes(), 0U);
}

}  // namespace
}  // namespace waypost::ike
