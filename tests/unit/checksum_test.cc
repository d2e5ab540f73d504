// The Internet checksum against RFC 1071's worked example and a plain word-by-word reference.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "common/checksum.h"

namespace waypost {
namespace {

// RFC 1071 section 1 in its plainest form: big-endian 16-bit words, end-around carry.
uint16_t reference_fold(const uint8_t* p, size_t len, uint32_t start = 0) {
  uint32_t sum = start;
  for (size_t i = 0; i + 1 < len; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
  if (len % 2 == 1) sum += uint32_t(p[len - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

// Folded sums are equal modulo 0xffff (0x0000 and 0xffff are both zero in one's complement).
uint16_t canonical(uint16_t v) {
  return v == 0xffff ? 0 : v;
}

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 section 3: the sum of these bytes is ddf2 (checksum 220d).
  const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(checksum_fold(checksum_add(0, data, sizeof(data))), 0xddf2);
  EXPECT_EQ(checksum_finish(checksum_add(0, data, sizeof(data))), 0x220d);
}

TEST(Checksum, MatchesReferenceForEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(1600 + 8);
  for (auto& b : buf) b = uint8_t(rng());
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t len = 0; len <= 1600; ++len) {
      const uint8_t* p = buf.data() + offset;
      ASSERT_EQ(canonical(checksum_fold(checksum_add(0, p, len))),
                canonical(reference_fold(p, len)))
          << "offset " << offset << " length " << len;
    }
  }
}

TEST(Checksum, PiecesAddUp) {
  // Callers sum a pseudo-header, then headers, then payload pieces starting at even offsets.
  std::mt19937 rng(11);
  std::vector<uint8_t> buf(9000);
  for (auto& b : buf) b = uint8_t(rng());
  for (size_t cut = 0; cut <= 200; cut += 2) {
    uint64_t sum = checksum_add(0x1234, buf.data(), cut);
    sum = checksum_add(sum, buf.data() + cut, buf.size() - cut);
    EXPECT_EQ(canonical(checksum_fold(sum)),
              canonical(reference_fold(buf.data(), buf.size(), 0x1234)))
        << "cut " << cut;
  }
}

TEST(Checksum, AllOnesAndLargeInputsDoNotOverflow) {
  std::vector<uint8_t> ones(65535, 0xff);
  EXPECT_EQ(canonical(checksum_fold(checksum_add(0, ones.data(), ones.size()))),
            canonical(reference_fold(ones.data(), ones.size())));
  uint64_t sum = 0;
  for (int i = 0; i < 1000; ++i) sum = checksum_add(sum, ones.data(), ones.size());
  uint32_t ref = 0;
  for (int i = 0; i < 1000; ++i) ref = reference_fold(ones.data(), ones.size(), ref);
  EXPECT_EQ(canonical(checksum_fold(sum)), canonical(uint16_t(ref)));
}

}  // namespace
}  // namespace waypost
