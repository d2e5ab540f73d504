// DNS wire format of the resolver's front end: known-answer cases built from real dig(1) queries
// and a real unbound answer, and malformed input.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "dns/message.h"
#include "test_util.h"

namespace waypost::dns {
namespace {

using test::hex;
using test::hex_of;

// dig @127.0.0.1 www.Example.COM AAAA  (dig 9.18: RD+AD, EDNS 1232 with a COOKIE option)
const char* kDigAaaa =
    "e21a0120000100000000000103777777074578616d706c6503434f4d00001c000100002904d000000000000c000a"
    "00089360deb0ecb563bb";
// dig +noedns +noad example.com A
const char* kDigPlainA = "347601000001000000000000076578616d706c6503636f6d0000010001";
// dig +dnssec +nocookie example.org MX  (DO set)
const char* kDigDnssecMx =
    "610801200001000000000001076578616d706c65036f726700000f000100002904d0000080000000";
// unbound 1.17 answering "host.waypost.example A" (ID abcd, EDNS DO) from a local-data zone.
const char* kUnboundAnswer =
    "abcd8580000100010000000104686f737407776179706f7374076578616d706c650000010001c00c0001000100"
    "00012c0004c000020700002904d0000080000000";

Query parse_ok(const std::vector<uint8_t>& bytes) {
  Query q;
  EXPECT_EQ(parse_query(bytes, q), ParseStatus::kOk);
  return q;
}

std::string build(size_t (*fn)(const Query&, uint16_t, MutableByteSpan), const Query& q,
                  uint16_t rcode) {
  std::array<uint8_t, 1024> out{};
  size_t n = fn(q, rcode, out);
  return to_hex(ByteSpan(out.data(), n));
}

TEST(DnsMessage, ParsesDigQueryWithEdnsCookie) {
  Query q = parse_ok(hex(kDigAaaa));
  EXPECT_EQ(q.id, 0xe21a);
  EXPECT_TRUE(q.rd());
  EXPECT_TRUE(q.flags & kFlagAd);
  EXPECT_EQ(q.qtype, kTypeAaaa);
  EXPECT_EQ(q.qclass, kClassIn);
  EXPECT_EQ(q.qname_len, 17);
  EXPECT_EQ(q.question_len, 21);
  EXPECT_TRUE(q.edns);
  EXPECT_EQ(q.edns_udp_size, 1232);
  EXPECT_FALSE(q.dnssec_ok);
  EXPECT_EQ(q.udp_limit(), 1232u);
  // The question is kept exactly as sent, case included (0x20 clients compare it).
  EXPECT_EQ(hex_of(q.question_bytes()), "03777777074578616d706c6503434f4d00001c0001");
}

TEST(DnsMessage, ParsesPlainAndDnssecQueries) {
  Query a = parse_ok(hex(kDigPlainA));
  EXPECT_FALSE(a.edns);
  EXPECT_EQ(a.udp_limit(), 512u);
  EXPECT_EQ(a.qtype, kTypeA);
  Query mx = parse_ok(hex(kDigDnssecMx));
  EXPECT_TRUE(mx.edns);
  EXPECT_TRUE(mx.dnssec_ok);
  EXPECT_EQ(mx.qtype, kTypeMx);
}

TEST(DnsMessage, NameForms) {
  Query q = parse_ok(hex(kDigAaaa));
  std::array<char, kMaxNameText> text;
  ASSERT_EQ(name_to_text(q.qname(), text), 16u);
  EXPECT_STREQ(text.data(), "www.Example.COM.");
  std::array<char, 254> key;
  size_t n = name_to_lookup_key(q.qname(), key);
  EXPECT_EQ(std::string(key.data(), n), "www.example.com");

  // A dot and a space inside a label are escaped for libunbound, and make the name unmatchable
  // by any list entry.
  auto odd =
      hex("03612e62026320"
          "00");
  ASSERT_GT(name_to_text(odd, text), 0u);
  EXPECT_STREQ(text.data(), "a\\046b.c\\032.");
  EXPECT_EQ(name_to_lookup_key(odd, key), 0u);
  auto root = hex("00");
  ASSERT_EQ(name_to_text(root, text), 1u);
  EXPECT_STREQ(text.data(), ".");
  EXPECT_EQ(name_to_lookup_key(root, key), 0u);
}

TEST(DnsMessage, ErrorAnswersEchoIdQuestionAndEdns) {
  Query q = parse_ok(hex(kDigAaaa));
  // SERVFAIL: QR, RD echoed, RA, rcode 2; question as sent; our OPT (1232, DO clear).
  EXPECT_EQ(build(build_error, q, kServFail),
            "e21a81820001000000000001"
            "03777777074578616d706c6503434f4d00001c0001"
            "00002904d0000000000000");
  Query plain = parse_ok(hex(kDigPlainA));
  EXPECT_EQ(build(build_error, plain, kRefused),
            "347681850001000000000000076578616d706c6503636f6d0000010001");
  Query mx = parse_ok(hex(kDigDnssecMx));
  EXPECT_EQ(build(build_error, mx, kFormErr),
            "610881810001000000000001076578616d706c65036f726700000f0001"
            "00002904d0000080000000");  // DO echoed
}

TEST(DnsMessage, BlockedAnswers) {
  std::array<uint8_t, 512> out{};
  Query aaaa = parse_ok(hex(kDigAaaa));
  size_t n = build_blocked(aaaa, BlockMode::kZeroAddress, out);
  EXPECT_EQ(to_hex(ByteSpan(out.data(), n)),
            "e21a81800001000100000001"
            "03777777074578616d706c6503434f4d00001c0001"
            "c00c001c00010000000a0010"
            "00000000000000000000000000000000"
            "00002904d0000000000000");
  Query a = parse_ok(hex(kDigPlainA));
  n = build_blocked(a, BlockMode::kZeroAddress, out);
  EXPECT_EQ(to_hex(ByteSpan(out.data(), n)),
            "347681800001000100000000076578616d706c6503636f6d0000010001"
            "c00c000100010000000a000400000000");
  n = build_blocked(a, BlockMode::kNxdomain, out);
  EXPECT_EQ(to_hex(ByteSpan(out.data(), n)),
            "347681830001000000000000076578616d706c6503636f6d0000010001");
  // Other types: an empty NOERROR answer.
  Query mx = parse_ok(hex(kDigDnssecMx));
  n = build_blocked(mx, BlockMode::kZeroAddress, out);
  EXPECT_EQ(to_hex(ByteSpan(out.data(), n)),
            "610881800001000000000001076578616d706c65036f726700000f0001"
            "00002904d0000080000000");
}

TEST(DnsMessage, UpstreamAnswerGetsClientIdQuestionAndEdns) {
  auto upstream = hex(kUnboundAnswer);
  // The client asked "HOST.waypost.example" without EDNS, ID 1234.
  auto query =
      hex("123401000001000000000000"
          "04484f535407776179706f7374076578616d706c650000010001");
  Query q = parse_ok(query);
  UpstreamScan s = scan_upstream(upstream, q);
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(s.ancount, 1);
  EXPECT_EQ(s.arcount, 0);  // unbound's OPT is not counted: it is replaced
  std::array<uint8_t, 512> out{};
  size_t n = build_from_upstream(q, upstream, s, false, q.udp_limit(), out);
  EXPECT_EQ(to_hex(ByteSpan(out.data(), n)),
            "123485800001000100000000"
            "04484f535407776179706f7374076578616d706c650000010001"
            "c00c000100010000012c0004c0000207");
  // An EDNS client with DO gets our OPT with DO, and AD when the answer validated.
  auto query2 =
      hex("beef01000001000000000001"
          "04686f737407776179706f7374076578616d706c650000010001"
          "00002910000000800000"
          "00");
  Query q2 = parse_ok(query2);
  ASSERT_TRUE(q2.dnssec_ok);
  s = scan_upstream(upstream, q2);
  n = build_from_upstream(q2, upstream, s, true, q2.udp_limit(), out);
  EXPECT_EQ(to_hex(ByteSpan(out.data(), n)),
            "beef85a00001000100000001"
            "04686f737407776179706f7374076578616d706c650000010001"
            "c00c000100010000012c0004c0000207"
            "00002904d0000080000000");
}

TEST(DnsMessage, UpstreamAnswerForAnotherQuestionIsRejected) {
  auto upstream = hex(kUnboundAnswer);
  Query other = parse_ok(hex(kDigPlainA));
  EXPECT_FALSE(scan_upstream(upstream, other).ok);
  // Same name, other type.
  auto aaaa =
      hex("123401000001000000000000"
          "04686f737407776179706f7374076578616d706c6500001c0001");
  EXPECT_FALSE(scan_upstream(upstream, parse_ok(aaaa)).ok);
}

TEST(DnsMessage, HeaderOnlyServfailFromLibunbound) {
  // libunbound's error_encode(): a bare header, no question.
  auto upstream = hex("000081820000000000000000");
  Query q = parse_ok(hex(kDigPlainA));
  UpstreamScan s = scan_upstream(upstream, q);
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(s.rcode, kServFail);
  std::array<uint8_t, 512> out{};
  size_t n = build_from_upstream(q, upstream, s, false, 512, out);
  EXPECT_EQ(to_hex(ByteSpan(out.data(), n)),
            "347681820001000000000000076578616d706c6503636f6d0000010001");
}

TEST(DnsMessage, TruncatesToUdpLimitWithTc) {
  // An answer with 40 A records: 685 bytes, over the 512 of a client without EDNS.
  Query q = parse_ok(hex(kDigPlainA));
  std::vector<uint8_t> up = hex("000085800001002800000000076578616d706c6503636f6d0000010001");
  for (int i = 0; i < 40; ++i) {
    auto rr = hex("c00c000100010000003c0004");
    up.insert(up.end(), rr.begin(), rr.end());
    up.push_back(10);
    up.push_back(0);
    up.push_back(0);
    up.push_back(uint8_t(i));
  }
  UpstreamScan s = scan_upstream(up, q);
  ASSERT_TRUE(s.ok);
  std::array<uint8_t, 65535> out{};
  size_t n = build_from_upstream(q, up, s, false, 512, out);
  // Header with TC and no records, the question: the client retries over TCP.
  EXPECT_EQ(to_hex(ByteSpan(out.data(), n)),
            "347687800001000000000000076578616d706c6503636f6d0000010001");
  n = build_from_upstream(q, up, s, false, kMaxTcpMessage, out);
  EXPECT_EQ(n, up.size());
  EXPECT_EQ(load_be16(out.data() + 2) & kFlagTc, 0);
  EXPECT_EQ(load_be16(out.data() + 6), 40);
}

TEST(DnsMessage, CnameTargetsAreFound) {
  // www.example.com CNAME tracker.ads.example.net (compressed against nothing), then an A.
  Query q =
      parse_ok(hex("000101000001000000000000"
                   "03777777076578616d706c6503636f6d0000010001"));
  std::vector<uint8_t> up =
      hex("000181800001000200000000"
          "03777777076578616d706c6503636f6d0000010001"
          "c00c0005000100000e100019"
          "07747261636b65720361647307"
          "6578616d706c65036e657400"
          "c02d000100010000003c0004c0000201");
  UpstreamScan s = scan_upstream(up, q);
  ASSERT_TRUE(s.ok);
  ASSERT_EQ(s.cname_count, 1u);
  std::array<char, 254> key;
  size_t n = packet_name_to_lookup_key(up, s.cname_targets[0], key);
  EXPECT_EQ(std::string(key.data(), n), "tracker.ads.example.net");
  // The A record's owner is a pointer to the CNAME target.
  n = packet_name_to_lookup_key(up, up.size() - 16, key);
  EXPECT_EQ(std::string(key.data(), n), "tracker.ads.example.net");
}

TEST(DnsMessage, PointerLoopsAndForwardPointersAreRejected) {
  std::array<char, 254> key;
  auto self = hex("000000000000000000000000c00c");
  EXPECT_EQ(packet_name_to_lookup_key(self, 12, key), 0u);
  auto forward =
      hex("000000000000000000000000c00e0161"
          "00");
  EXPECT_EQ(packet_name_to_lookup_key(forward, 12, key), 0u);
}

// Found by dns_message_fuzz: a name that points into an earlier record's TTL changes when the
// answer cache counts that TTL down, so a cached answer stopped being valid DNS. Such pointers
// (no encoder writes them) make the upstream answer unusable; pointers into RDATA stay fine.
TEST(DnsMessage, NamesPointingIntoTtlFieldsAreRejected) {
  Query q = parse_ok(hex(kDigPlainA));
  const std::string question = "000085800001000200000000076578616d706c6503636f6d0000010001";
  // Record 1 at offset 29: TTL at 35..38 (zero, so byte 35 reads as the root name).
  const std::string first =
      "c00c0001000100000000"
      "00040a000001";
  auto into_ttl = hex(question + first + "c023000100010000003c00040a000002");
  EXPECT_FALSE(scan_upstream(into_ttl, q).ok);
  // The same shape pointing at byte 42 of the first record's RDATA (a zero byte) is accepted.
  auto into_rdata = hex(question + first + "c02a000100010000003c00040a000002");
  EXPECT_TRUE(scan_upstream(into_rdata, q).ok);
}

struct Malformed {
  const char* name;
  const char* bytes;
  ParseStatus status;
};

TEST(DnsMessage, MalformedQueries) {
  const Malformed cases[] = {
      {"empty", "", ParseStatus::kDrop},
      {"short header", "1234010000010000000000", ParseStatus::kDrop},
      {"response", "123481800001000000000000076578616d706c6503636f6d0000010001",
       ParseStatus::kDrop},
      {"no question", "123401000000000000000000", ParseStatus::kFormErr},
      {"two questions", "123401000002000000000000076578616d706c6503636f6d0000010001",
       ParseStatus::kFormErr},
      {"truncated name", "12340100000100000000000007657861", ParseStatus::kFormErr},
      {"no type", "123401000001000000000000076578616d706c6503636f6d00", ParseStatus::kFormErr},
      {"compressed qname", "123401000001000000000000c00c00010001", ParseStatus::kFormErr},
      {"label type 01", "123401000001000000000000410000010001", ParseStatus::kFormErr},
      {"answer in query", "123401000001000100000000076578616d706c6503636f6d0000010001",
       ParseStatus::kFormErr},
      {"two additional", "123401000001000000000002076578616d706c6503636f6d0000010001",
       ParseStatus::kFormErr},
      {"truncated OPT", "123401000001000000000001076578616d706c6503636f6d0000010001000029",
       ParseStatus::kFormErr},
      {"OPT rdata past end",
       "123401000001000000000001076578616d706c6503636f6d0000010001"
       "00002904d000000000ffff",
       ParseStatus::kFormErr},
      {"OPT with owner",
       "123401000001000000000001076578616d706c6503636f6d0000010001"
       "01610000291000000000000000",
       ParseStatus::kFormErr},
      {"EDNS version 1",
       "123401000001000000000001076578616d706c6503636f6d0000010001"
       "00002904d000010000000000",
       ParseStatus::kBadVers},
      {"opcode STATUS", "123411000001000000000000076578616d706c6503636f6d0000010001",
       ParseStatus::kNotImp},
      {"AXFR", "123400000001000000000000076578616d706c6503636f6d0000fc0001", ParseStatus::kRefused},
      {"class CH", "123401000001000000000000076578616d706c6503636f6d0000100003",
       ParseStatus::kRefused},
      {"qtype OPT", "123401000001000000000000076578616d706c6503636f6d0000290001",
       ParseStatus::kFormErr},
  };
  for (const auto& c : cases) {
    Query q;
    EXPECT_EQ(parse_query(hex(c.bytes), q), c.status) << c.name;
  }
  // A 256-byte name (four 63-byte labels) is too long.
  std::vector<uint8_t> longname = hex("123401000001000000000000");
  for (int i = 0; i < 4; ++i) {
    longname.push_back(63);
    longname.insert(longname.end(), 63, 'a');
  }
  longname.push_back(0);
  longname.insert(longname.end(), {0, 1, 0, 1});
  Query q;
  EXPECT_EQ(parse_query(longname, q), ParseStatus::kFormErr);
}

TEST(DnsMessage, BadversAnswerCarriesExtendedRcode) {
  Query q;
  ASSERT_EQ(parse_query(hex("123401000001000000000001076578616d706c6503636f6d0000010001"
                            "00002904d000010000000000"),
                        q),
            ParseStatus::kBadVers);
  // rcode 0 in the header, 1 in the OPT's extended-rcode byte: 16, BADVERS.
  EXPECT_EQ(build(build_error, q, kBadVers),
            "123481800001000000000001076578616d706c6503636f6d0000010001"
            "00002904d0010000000000");
}

TEST(DnsMessage, FormerrWithoutQuestion) {
  Query q;
  ASSERT_EQ(parse_query(hex("123401000000000000000000"), q), ParseStatus::kFormErr);
  EXPECT_EQ(build(build_error, q, kFormErr), "123481810000000000000000");
}

}  // namespace
}  // namespace waypost::dns
