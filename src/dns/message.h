#pragma once
// The little DNS wire format the resolver's front end needs (RFC 1035, RFC 6891): parse a
// client's query, build error and blocked answers, and turn unbound's answer into the answer
// for this client (its ID, its question as sent, its EDNS, truncated to its UDP size). Recursion,
// caching and validation are libunbound's; nothing here resolves anything.
//
// Every read is bounds-checked; malformed input yields a status, never a read past the end.
// Builders write into caller-provided buffers and return the length (0 if it does not fit).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/bytes.h"

namespace waypost::dns {

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeNs = 2;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypeSoa = 6;
constexpr uint16_t kTypePtr = 12;
constexpr uint16_t kTypeMx = 15;
constexpr uint16_t kTypeTxt = 16;
constexpr uint16_t kTypeAaaa = 28;
constexpr uint16_t kTypeOpt = 41;
constexpr uint16_t kTypeTkey = 249;
constexpr uint16_t kTypeTsig = 250;
constexpr uint16_t kTypeIxfr = 251;
constexpr uint16_t kTypeAxfr = 252;
constexpr uint16_t kTypeMailb = 253;
constexpr uint16_t kTypeMaila = 254;
constexpr uint16_t kTypeAny = 255;
constexpr uint16_t kClassIn = 1;

enum Rcode : uint16_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
  kBadVers = 16,  // extended: needs an OPT record (upper 8 bits go there)
};

constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxNameWire = 255;
constexpr size_t kMaxQuestionWire = kMaxNameWire + 4;
// Longest presentation form of a name: every byte escaped as \DDD, dots, trailing dot, NUL.
constexpr size_t kMaxNameText = kMaxNameWire * 4 + 2;
// Our EDNS UDP payload size (DNS flag day 2020): answers above it go over TCP rather than as
// IP fragments through the tunnel.
constexpr uint16_t kEdnsPayload = 1232;
constexpr size_t kMaxTcpMessage = 65535;

// Header flag bits (second 16-bit word).
constexpr uint16_t kFlagQr = 0x8000;
constexpr uint16_t kFlagAa = 0x0400;
constexpr uint16_t kFlagTc = 0x0200;
constexpr uint16_t kFlagRd = 0x0100;
constexpr uint16_t kFlagRa = 0x0080;
constexpr uint16_t kFlagAd = 0x0020;
constexpr uint16_t kFlagCd = 0x0010;

// A client's query. Fixed size: parsing never allocates.
struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;
  bool has_question = false;  // the question section was readable (echoed in error answers)
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  uint16_t qname_len = 0;     // wire length of QNAME, including the root label
  uint16_t question_len = 0;  // QNAME + QTYPE + QCLASS, as sent (case and all)
  uint8_t question[kMaxQuestionWire] = {};
  bool edns = false;
  uint8_t edns_version = 0;
  bool dnssec_ok = false;        // EDNS DO bit
  uint16_t edns_udp_size = 512;  // the client's advertised size, at least 512

  ByteSpan qname() const { return {question, qname_len}; }
  ByteSpan question_bytes() const { return {question, question_len}; }
  bool rd() const { return flags & kFlagRd; }
  // Largest UDP answer this client takes: 512 without EDNS, else its size capped at ours.
  size_t udp_limit() const;
};

enum class ParseStatus : uint8_t {
  kOk,
  kDrop,     // no answer at all: header unreadable, or a response (QR set), never answer those
  kFormErr,  // malformed; answer FORMERR (with the question if has_question)
  kNotImp,   // opcode other than QUERY, or obsolete MAILA/MAILB
  kRefused,  // zone transfers, classes other than IN
  kBadVers,  // EDNS version other than 0
};

// A client-side query for one name (recursion desired, class IN, no EDNS), as `waypost doctor`
// sends. `name` is text ("example.com", a trailing dot allowed); returns the length written, 0 if
// the name is not a valid DNS name or `out` is too small.
size_t build_query(uint16_t id, std::string_view name, uint16_t qtype, MutableByteSpan out);

// The header of an answer, for a client that only needs to know whether and how it was answered.
struct ReplyHeader {
  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t rcode = 0;  // the header's 4 bits (no EDNS extension)
  uint16_t answers = 0;
  bool is_response() const { return (flags & 0x8000) != 0; }
  bool truncated() const { return (flags & kFlagTc) != 0; }
};
// False if the packet is shorter than a header.
bool parse_reply_header(ByteSpan packet, ReplyHeader& out);

// Parses a query. `out` is filled as far as parsing got (id and flags whenever the header was
// readable), so error answers can echo what they can.
ParseStatus parse_query(ByteSpan packet, Query& out);

// Writes the query name for libunbound: presentation format, lowercase-preserving, with RFC
// 4343 escapes for dots, backslashes and non-printable bytes; root is ".". Returns the length
// (without the NUL it also writes), 0 if `name` is not a valid uncompressed wire name.
size_t name_to_text(ByteSpan name, std::span<char, kMaxNameText> out);

// Writes the name as lowercase "a.b.example" (no trailing dot) for blocklist lookups. Returns
// the length; 0 for the root name or when a label holds a byte that cannot be in a host name
// (so no list entry can match it). `out` needs 254 bytes.
size_t name_to_lookup_key(ByteSpan name, std::span<char, 254> out);

// Decompresses the name at `offset` in `packet` into its lookup key (as name_to_lookup_key).
// Follows at most 64 compression pointers, each strictly backwards.
size_t packet_name_to_lookup_key(ByteSpan packet, size_t offset, std::span<char, 254> out);

// Answer with no records: `rcode` may be kBadVers (put into the OPT record). Echoes the question
// when the query had a readable one, and an OPT record when the query had EDNS.
size_t build_error(const Query& q, uint16_t rcode, MutableByteSpan out);

enum class BlockMode : uint8_t { kZeroAddress, kNxdomain };
constexpr uint32_t kBlockedTtl = 10;  // short: an allow-list change shows up on clients quickly
size_t build_blocked(const Query& q, BlockMode mode, MutableByteSpan out);

// What the front end needs from unbound's answer packet.
struct UpstreamScan {
  bool ok = false;  // structurally valid, question matches the query
  bool has_question = false;
  uint16_t flags = 0;
  uint16_t rcode = 0;
  uint16_t ancount = 0, nscount = 0, arcount = 0;  // arcount without a trailing OPT
  size_t records_begin = 0;                        // first byte after the question
  size_t records_end = 0;                          // end of the last record before a trailing OPT
  // Offsets of CNAME targets in the answer section (CNAME cloaking checks); the first few only.
  static constexpr size_t kMaxCnames = 8;
  size_t cname_targets[kMaxCnames] = {};
  size_t cname_count = 0;
};
UpstreamScan scan_upstream(ByteSpan packet, const Query& q);

// Builds the client's answer from unbound's: the client's ID, RD and CD; RA; AD only when the
// answer validated and the client asked for DNSSEC data (DO or AD); the client's question as
// sent (unbound's question is the same name, so compression pointers into it stay valid); the
// records as unbound encoded them; an OPT record of our own when the client used EDNS. If it
// does not fit in `limit`, the answer is cut to header, question and OPT with TC set.
// Returns 0 when `scan` is not ok or `out` is too small.
size_t build_from_upstream(const Query& q, ByteSpan packet, const UpstreamScan& scan, bool secure,
                           size_t limit, MutableByteSpan out);

}  // namespace waypost::dns
