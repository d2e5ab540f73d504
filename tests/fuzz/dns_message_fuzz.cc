// Fuzzes the resolver's hand-written DNS code: query parsing, every answer builder, rewriting an
// upstream answer for a client, name decompression, and the block-list line parser.
//
// Input layout: a 16-bit big-endian length N, N bytes of client query, then the upstream answer
// (so the fuzzer can pair a query with an answer to the same question). The whole input is also
// parsed as block-list text.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "dns/answer_cache.h"
#include "dns/blocklist.h"
#include "dns/message.h"

namespace {

using namespace waypost;
using namespace waypost::dns;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "dns_message_fuzz: %s\n", what);
  std::abort();
}

// Every answer we build must be a well-formed response to `q`: its ID, QR set, one question
// that is the query's as sent, and it must survive our own upstream scan.
void check_answer(const Query& q, ByteSpan a, size_t limit) {
  if (a.size() < kHeaderSize) fail("answer shorter than a header");
  if (a.size() > limit) fail("answer over the size limit");
  if (load_be16(a.data()) != q.id) fail("answer ID differs");
  if (!(load_be16(a.data() + 2) & kFlagQr)) fail("answer without QR");
  if (!q.has_question) return;
  if (load_be16(a.data() + 4) != 1) fail("answer without the question");
  if (a.size() < kHeaderSize + q.question_len ||
      std::memcmp(a.data() + kHeaderSize, q.question, q.question_len) != 0) {
    fail("answer question differs from the query's");
  }
  if (!scan_upstream(a, q).ok) fail("our own answer does not scan");
}

void fuzz_query_and_answer(ByteSpan query, ByteSpan upstream) {
  static std::vector<uint8_t> out(kMaxTcpMessage);
  Query q;
  const ParseStatus st = parse_query(query, q);
  if (st == ParseStatus::kDrop) return;
  if (q.has_question && q.question_len != q.qname_len + 4) fail("question length");
  for (uint16_t rcode : {kFormErr, kServFail, kNotImp, kRefused, kBadVers}) {
    size_t n = build_error(q, rcode, out);
    if (n == 0) fail("build_error failed");
    check_answer(q, ByteSpan(out.data(), n), out.size());
  }
  if (st != ParseStatus::kOk) return;

  std::array<char, kMaxNameText> text;
  if (name_to_text(q.qname(), text) == 0) fail("a parsed name has no text form");
  if (std::strlen(text.data()) >= text.size()) fail("name text overflow");
  std::array<char, 254> key;
  size_t klen = name_to_lookup_key(q.qname(), key);
  if (klen > 253) fail("lookup key too long");
  for (BlockMode mode : {BlockMode::kZeroAddress, BlockMode::kNxdomain}) {
    size_t n = build_blocked(q, mode, out);
    if (n == 0) fail("build_blocked failed");
    check_answer(q, ByteSpan(out.data(), n), out.size());
  }

  const UpstreamScan s = scan_upstream(upstream, q);
  if (!s.ok) return;
  if (s.records_end > upstream.size() || s.records_begin > s.records_end) fail("scan bounds");
  for (size_t i = 0; i < s.cname_count; ++i) {
    if (s.cname_targets[i] > upstream.size()) fail("CNAME offset out of bounds");
    size_t n = packet_name_to_lookup_key(upstream, s.cname_targets[i], key);
    if (n > 253) fail("decompressed name too long");
  }
  for (size_t limit : {size_t(512), q.udp_limit(), kMaxTcpMessage}) {
    for (bool secure : {false, true}) {
      size_t n = build_from_upstream(q, upstream, s, secure, limit, out);
      if (n == 0) fail("build_from_upstream failed on a scanned answer");
      check_answer(q, ByteSpan(out.data(), n), limit);
      // What the answer cache does with a hit: count TTLs down in the built answer.
      const size_t records = size_t(load_be16(&out[6])) + load_be16(&out[8]) + load_be16(&out[10]);
      age_record_ttls(MutableByteSpan(out.data(), n), s.records_begin, n, records, 7);
      check_answer(q, ByteSpan(out.data(), n), limit);
    }
  }
  const size_t count = size_t(s.ancount) + s.nscount + s.arcount;
  (void)min_record_ttl(upstream, s.records_begin, s.records_end, count);
}

void fuzz_lists(std::string_view text) {
  struct Ctx {
    DomainSet set;
    size_t emitted = 0;
  } ctx;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    parse_list_line(
        line,
        [](void* p, std::string_view name, bool sub) {
          auto* c = static_cast<Ctx*>(p);
          if (name.empty() || name.size() > 253) fail("emitted name length");
          for (char ch : name) {
            if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
                  ch == '.')) {
              fail("emitted name with a character lists cannot hold");
            }
          }
          c->set.insert(name, sub);
          ++c->emitted;
          // What was just inserted must match: the name itself, or a child for wildcards.
          if (!sub && !c->set.matches(name)) fail("inserted name does not match");
          if (name.size() < 250) {
            std::string child = "x." + std::string(name);
            if (!c->set.matches(child)) fail("subdomain of an inserted name does not match");
          }
        },
        &ctx);
  }
  if (ctx.set.size() > ctx.emitted) fail("set larger than what was inserted");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz_lists(std::string_view(reinterpret_cast<const char*>(data), size));
  if (size < 2) return 0;
  const size_t qlen = std::min<size_t>(load_be16(data), size - 2);
  fuzz_query_and_answer(ByteSpan(data + 2, qlen), ByteSpan(data + 2 + qlen, size - 2 - qlen));
  return 0;
}
