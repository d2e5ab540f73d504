// The front answer cache: keys ignore case, entries expire with their smallest TTL, TTLs are
// counted down on the way out, the byte bound holds, and what is not cacheable is not kept.
#include <gtest/gtest.h>

#include <vector>

#include "dns/answer_cache.h"
#include "dns/message.h"
#include "test_util.h"

namespace waypost::dns {
namespace {

std::vector<uint8_t> wire(const char* dotted) {
  return test::dns_wire_name(dotted);
}

// A response: header, question, then A records with the given TTLs (compressed owner names),
// then an OPT record (whose "TTL" field must never be touched).
std::vector<uint8_t> answer(const std::vector<uint8_t>& qname, const std::vector<uint32_t>& ttls,
                            size_t* records_begin, size_t* records_end) {
  std::vector<uint8_t> p;
  // push_back one by one: GCC 12 warns (falsely) about inserting initializer lists here.
  auto put = [&p](std::initializer_list<int> bytes) {
    for (int v : bytes) p.push_back(uint8_t(v));
  };
  put({0x12, 0x34, 0x81, 0x80, 0, 1, 0, int(ttls.size()), 0, 0, 0, 1});
  for (uint8_t v : qname) p.push_back(v);
  put({0, 1, 0, 1});
  *records_begin = p.size();
  for (uint32_t ttl : ttls) {
    put({0xc0, 12, 0, 1, 0, 1});
    put({int(ttl >> 24), int((ttl >> 16) & 0xff), int((ttl >> 8) & 0xff), int(ttl & 0xff)});
    put({0, 4, 192, 0, 2, 1});
  }
  *records_end = p.size();
  put({0, 0, 41, 0x04, 0xd0, 0x00, 0x00, 0x80, 0x00, 0, 0});  // OPT, DO set
  return p;
}

TEST(DnsAnswerCache, MinTtlAndAgingSkipOpt) {
  size_t b = 0, e = 0;
  auto q = wire("www.example.com");
  auto p = answer(q, {300, 60, 0x80000001u}, &b, &e);
  EXPECT_EQ(min_record_ttl(p, b, e, 3), 0u);  // a TTL with the top bit set counts as 0
  p = answer(q, {300, 60, 120}, &b, &e);
  EXPECT_EQ(min_record_ttl(p, b, e, 3), 60u);
  EXPECT_EQ(min_record_ttl(p, b, b, 0), UINT32_MAX);  // no records
  EXPECT_EQ(min_record_ttl(p, b, e - 3, 3), 0u);      // cut record: unreadable
  const std::vector<uint8_t> opt_before(p.end() - 11, p.end());
  age_record_ttls(p, b, p.size(), 4, 100);  // the OPT record is the 4th: skipped
  EXPECT_EQ(min_record_ttl(p, b, e, 3), 0u);
  EXPECT_EQ(load_be32(&p[b + 6]), 200u);
  EXPECT_EQ(load_be32(&p[b + 16 + 6]), 0u);  // 60 - 100 floors at 0
  EXPECT_EQ(load_be32(&p[b + 32 + 6]), 20u);
  EXPECT_EQ(std::vector<uint8_t>(p.end() - 11, p.end()), opt_before);
}

TEST(DnsAnswerCache, FindIgnoresCaseAndExpires) {
  AnswerCache cache(1 << 20);
  size_t b = 0, e = 0;
  auto q = wire("www.example.com");
  auto p = answer(q, {30}, &b, &e);
  cache.insert(q, kTypeA, kClassIn, p, true, 30, seconds(100));
  uint32_t age = 99;
  auto upper = wire("WWW.Example.COM");
  const CachedAnswer* hit = cache.find(upper, kTypeA, kClassIn, seconds(112), &age);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(age, 12u);
  EXPECT_TRUE(hit->secure);
  EXPECT_EQ(hit->packet, p);
  EXPECT_EQ(cache.find(q, kTypeAaaa, kClassIn, seconds(112), &age), nullptr);  // other type
  EXPECT_EQ(cache.find(q, kTypeA, kClassIn, seconds(130), &age), nullptr);     // expired
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_EQ(cache.hits(), 1u);
}

TEST(DnsAnswerCache, NotCachedWithoutTtlAndCapped) {
  AnswerCache cache(1 << 20);
  size_t b = 0, e = 0;
  auto q = wire("example.net");
  auto p = answer(q, {0}, &b, &e);
  cache.insert(q, kTypeA, kClassIn, p, false, 0, 0);
  cache.insert(q, kTypeA, kClassIn, p, false, UINT32_MAX, 0);
  EXPECT_EQ(cache.entries(), 0u);
  cache.insert(q, kTypeA, kClassIn, p, false, 86400, 0);
  uint32_t age = 0;
  EXPECT_NE(cache.find(q, kTypeA, kClassIn, seconds(AnswerCache::kMaxTtl - 1), &age), nullptr);
  EXPECT_EQ(cache.find(q, kTypeA, kClassIn, seconds(AnswerCache::kMaxTtl), &age), nullptr);
}

TEST(DnsAnswerCache, ByteBoundEvictsOldestFirst) {
  AnswerCache cache(64 << 10);
  size_t b = 0, e = 0;
  std::vector<std::vector<uint8_t>> names;
  for (int i = 0; i < 2000; ++i) {
    names.push_back(wire(("host" + std::to_string(i) + ".example.org").c_str()));
    auto p = answer(names.back(), {300}, &b, &e);
    cache.insert(names.back(), kTypeA, kClassIn, p, false, 300, seconds(1));
    // Re-inserting the same name must not grow anything.
    cache.insert(names.back(), kTypeA, kClassIn, p, false, 300, seconds(1));
    ASSERT_LE(cache.bytes(), size_t{64} << 10);
  }
  uint32_t age = 0;
  EXPECT_EQ(cache.find(names.front(), kTypeA, kClassIn, seconds(2), &age), nullptr);
  EXPECT_NE(cache.find(names.back(), kTypeA, kClassIn, seconds(2), &age), nullptr);
  EXPECT_GT(cache.entries(), 100u);
  cache.clear();
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

}  // namespace
}  // namespace waypost::dns
