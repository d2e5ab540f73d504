#include "dns/message.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace waypost::dns {

namespace {

constexpr size_t kOptSize = 11;  // root owner, type, class, TTL, RDLENGTH 0

uint8_t lower(uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? uint8_t(c - 'A' + 'a') : c;
}

bool host_char(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// Reads an uncompressed name starting at `pos`; returns its wire length or 0 if malformed
// (compression, reserved label types, longer than 255, or running past the end).
size_t uncompressed_name_length(ByteSpan p, size_t pos) {
  size_t start = pos;
  while (pos < p.size()) {
    uint8_t len = p[pos];
    if (len & 0xC0) return 0;
    ++pos;
    if (len == 0) return pos - start <= kMaxNameWire ? pos - start : 0;
    pos += len;
    if (pos - start > kMaxNameWire) return 0;
  }
  return 0;
}

// Walks a possibly compressed name at `pos` whose in-place part must end by `limit`. Pointers
// must point strictly backwards and past the header, and after a jump from position j every byte
// read must lie before j. That rules out loops, and guarantees the name only uses bytes that
// precede it, which are the bytes an answer copied up to this point contains. When `frozen` is
// given (one flag per packet byte), no byte read after a jump may be flagged: the answer cache
// rewrites TTL fields, and a name pointing into one would change under it. Returns the position
// after the in-place part, or 0 if invalid.
size_t check_name(ByteSpan p, size_t pos, size_t limit, ByteSpan frozen = {}) {
  size_t end = 0;
  size_t bound = std::min(limit, p.size());
  size_t wire = 0;
  auto touches_frozen = [&](size_t from, size_t n) {
    if (end == 0 || frozen.empty()) return false;  // in place: never inside an earlier field
    for (size_t i = from; i < from + n && i < frozen.size(); ++i) {
      if (frozen[i]) return true;
    }
    return false;
  };
  for (;;) {
    if (pos >= bound) return 0;
    const uint8_t len = p[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 2 > bound || touches_frozen(pos, 2)) return 0;
      const size_t target = size_t(len & 0x3F) << 8 | p[pos + 1];
      if (target >= pos || target < kHeaderSize) return 0;
      if (end == 0) end = pos + 2;
      bound = pos;
      pos = target;
      continue;
    }
    if (len & 0xC0) return 0;
    wire += size_t(len) + 1;
    if (wire > kMaxNameWire || touches_frozen(pos, size_t(len) + 1)) return 0;
    if (len == 0) return end ? end : pos + 1;
    pos += 1 + size_t(len);
  }
}

// RFC 1035 types whose RDATA holds compressible names (RFC 3597 section 4: the only ones);
// returns how many fixed bytes precede the first name and how many names there are.
bool compressed_rdata(uint16_t type, size_t& prefix, int& names, size_t& suffix) {
  prefix = 0;
  suffix = 0;
  names = 1;
  switch (type) {
    case kTypeNs:
    case 3:
    case 4:
    case kTypeCname:
    case 7:
    case 8:
    case 9:
    case kTypePtr:
      return true;
    case kTypeSoa:
      names = 2;
      suffix = 20;
      return true;
    case 14:  // MINFO
      names = 2;
      return true;
    case kTypeMx:
      prefix = 2;
      return true;
    default:
      return false;
  }
}

bool names_equal_ignoring_case(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  // Label length bytes are below 64 and so unaffected by lower(); comparing every byte that way
  // compares structure and (case-folded) content at once.
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

void put16(uint8_t* p, uint16_t v) {
  store_be16(p, v);
}

uint8_t* write_header(uint8_t* p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
                      uint16_t ns, uint16_t ar) {
  put16(p, id);
  put16(p + 2, flags);
  put16(p + 4, qd);
  put16(p + 6, an);
  put16(p + 8, ns);
  put16(p + 10, ar);
  return p + kHeaderSize;
}

uint8_t* write_opt(uint8_t* p, const Query& q, uint16_t rcode) {
  p[0] = 0;  // root owner
  put16(p + 1, kTypeOpt);
  put16(p + 3, kEdnsPayload);
  p[5] = uint8_t(rcode >> 4);              // extended RCODE: the upper 8 of 12 bits
  p[6] = 0;                                // version
  put16(p + 7, q.dnssec_ok ? 0x8000 : 0);  // DO is echoed (RFC 3225)
  put16(p + 9, 0);
  return p + kOptSize;
}

// Flags every answer of ours carries: QR, the query's opcode, RD and CD echoed, RA.
uint16_t answer_flags(const Query& q, uint16_t rcode) {
  return uint16_t(kFlagQr | (q.flags & 0x7800) | (q.flags & (kFlagRd | kFlagCd)) | kFlagRa |
                  (rcode & 0xF));
}

}  // namespace

size_t Query::udp_limit() const {
  if (!edns) return 512;
  return std::clamp<size_t>(edns_udp_size, 512, kEdnsPayload);
}

ParseStatus parse_query(ByteSpan packet, Query& out) {
  out = Query{};
  if (packet.size() < kHeaderSize) return ParseStatus::kDrop;
  ByteReader r(packet);
  out.id = r.be16();
  out.flags = r.be16();
  const uint16_t qdcount = r.be16();
  const uint16_t ancount = r.be16();
  const uint16_t nscount = r.be16();
  const uint16_t arcount = r.be16();
  // Never answer a response: that is how two servers end up bouncing packets forever.
  if (out.flags & kFlagQr) return ParseStatus::kDrop;
  if (((out.flags >> 11) & 0xF) != 0) return ParseStatus::kNotImp;
  if (qdcount != 1) return ParseStatus::kFormErr;

  const size_t name_len = uncompressed_name_length(packet, kHeaderSize);
  if (name_len == 0) return ParseStatus::kFormErr;
  r.skip(name_len);
  out.qtype = r.be16();
  out.qclass = r.be16();
  if (!r.ok()) return ParseStatus::kFormErr;
  out.qname_len = uint16_t(name_len);
  out.question_len = uint16_t(name_len + 4);
  std::memcpy(out.question, packet.data() + kHeaderSize, out.question_len);
  out.has_question = true;

  // As unbound's own front end: a query carries nothing but its question and at most an OPT.
  if (ancount != 0 || nscount != 0 || arcount > 1) return ParseStatus::kFormErr;
  if (arcount == 1) {
    const size_t owner = r.position();
    const size_t after_owner = check_name(packet, owner, packet.size());
    if (after_owner == 0) return ParseStatus::kFormErr;
    r.skip(after_owner - owner);
    const uint16_t type = r.be16();
    const uint16_t klass = r.be16();
    const uint32_t ttl = r.be32();
    const uint16_t rdlength = r.be16();
    r.skip(rdlength);
    if (!r.ok()) return ParseStatus::kFormErr;
    if (type == kTypeOpt) {
      if (after_owner - owner != 1) return ParseStatus::kFormErr;  // OPT owner must be root
      out.edns = true;
      out.edns_udp_size = std::max<uint16_t>(klass, 512);
      out.edns_version = uint8_t(ttl >> 16);
      out.dnssec_ok = (ttl & 0x8000) != 0;
      if (out.edns_version != 0) return ParseStatus::kBadVers;
    }
    // Other additional records (TSIG, SIG(0)) are ignored: we sign nothing and verify nothing.
  }
  switch (out.qtype) {
    case kTypeOpt:
    case kTypeTkey:
    case kTypeTsig:
      return ParseStatus::kFormErr;  // meta types cannot be asked for
    case kTypeIxfr:
    case kTypeAxfr:
      return ParseStatus::kRefused;
    case kTypeMailb:
    case kTypeMaila:
      return ParseStatus::kNotImp;
    default:
      break;
  }
  if (out.qclass != kClassIn) return ParseStatus::kRefused;
  return ParseStatus::kOk;
}

size_t name_to_text(ByteSpan name, std::span<char, kMaxNameText> out) {
  if (name.empty() || uncompressed_name_length(name, 0) != name.size()) return 0;
  size_t o = 0;
  size_t pos = 0;
  while (name[pos] != 0) {
    const uint8_t len = name[pos++];
    for (size_t i = 0; i < len; ++i) {
      const uint8_t c = name[pos + i];
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_') {
        out[o++] = char(c);
      } else {
        // \DDD for everything else is always understood (RFC 1035 section 5.1) and keeps dots
        // inside labels from splitting them.
        out[o++] = '\\';
        out[o++] = char('0' + c / 100);
        out[o++] = char('0' + c / 10 % 10);
        out[o++] = char('0' + c % 10);
      }
    }
    pos += len;
    out[o++] = '.';
  }
  if (o == 0) out[o++] = '.';
  out[o] = '\0';
  return o;
}

size_t name_to_lookup_key(ByteSpan name, std::span<char, 254> out) {
  if (name.empty() || uncompressed_name_length(name, 0) != name.size()) return 0;
  size_t o = 0;
  size_t pos = 0;
  while (name[pos] != 0) {
    const uint8_t len = name[pos++];
    if (o != 0) out[o++] = '.';
    for (size_t i = 0; i < len; ++i) {
      const uint8_t c = lower(name[pos + i]);
      if (!host_char(c)) return 0;
      out[o++] = char(c);
    }
    pos += len;
  }
  return o;  // at most 253: a 255-byte wire name has at most 253 presentation characters
}

size_t packet_name_to_lookup_key(ByteSpan p, size_t pos, std::span<char, 254> out) {
  if (check_name(p, pos, p.size()) == 0) return 0;
  // check_name vouched for every pointer and length below.
  size_t o = 0;
  while (pos < p.size()) {
    const uint8_t len = p[pos];
    if ((len & 0xC0) == 0xC0) {
      pos = size_t(len & 0x3F) << 8 | p[pos + 1];
      continue;
    }
    if (len == 0) return o;
    if (o != 0) out[o++] = '.';
    for (size_t i = 0; i < len; ++i) {
      const uint8_t c = lower(p[pos + 1 + i]);
      if (!host_char(c)) return 0;
      out[o++] = char(c);
    }
    pos += 1 + len;
  }
  return 0;
}

size_t build_query(uint16_t id, std::string_view name, uint16_t qtype, MutableByteSpan out) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return 0;
  const size_t need = kHeaderSize + name.size() + 2 + 4;
  if (out.size() < need) return 0;
  uint8_t* p = write_header(out.data(), id, kFlagRd, 1, 0, 0, 0);
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const size_t len = dot - start;
    if (len == 0 || len > 63) return 0;
    *p++ = uint8_t(len);
    std::memcpy(p, name.data() + start, len);
    p += len;
    start = dot + 1;
  }
  *p++ = 0;  // root label
  put16(p, qtype);
  put16(p + 2, kClassIn);
  p += 4;
  return size_t(p - out.data());
}

bool parse_reply_header(ByteSpan packet, ReplyHeader& out) {
  if (packet.size() < kHeaderSize) return false;
  out.id = load_be16(packet.data());
  out.flags = load_be16(packet.data() + 2);
  out.rcode = out.flags & 0x000f;
  out.answers = load_be16(packet.data() + 6);
  return true;
}

size_t build_error(const Query& q, uint16_t rcode, MutableByteSpan out) {
  const size_t qlen = q.has_question ? q.question_len : 0;
  const size_t need = kHeaderSize + qlen + (q.edns ? kOptSize : 0);
  if (out.size() < need) return 0;
  uint8_t* p = write_header(out.data(), q.id, answer_flags(q, rcode), q.has_question ? 1 : 0, 0, 0,
                            q.edns ? 1 : 0);
  std::memcpy(p, q.question, qlen);
  p += qlen;
  if (q.edns) p = write_opt(p, q, rcode);
  return size_t(p - out.data());
}

size_t build_blocked(const Query& q, BlockMode mode, MutableByteSpan out) {
  if (!q.has_question) return 0;
  size_t rdlength = 0;
  if (mode == BlockMode::kZeroAddress) {
    if (q.qtype == kTypeA) rdlength = 4;
    if (q.qtype == kTypeAaaa) rdlength = 16;
  }
  const uint16_t rcode = mode == BlockMode::kNxdomain ? kNxDomain : kNoError;
  const size_t answer = rdlength ? 12 + rdlength : 0;
  const size_t need = kHeaderSize + q.question_len + answer + (q.edns ? kOptSize : 0);
  if (out.size() < need) return 0;
  uint8_t* p = write_header(out.data(), q.id, answer_flags(q, rcode), 1, rdlength ? 1 : 0, 0,
                            q.edns ? 1 : 0);
  std::memcpy(p, q.question, q.question_len);
  p += q.question_len;
  if (rdlength) {
    put16(p, 0xC000 | kHeaderSize);  // owner: pointer to the question name
    put16(p + 2, q.qtype);
    put16(p + 4, kClassIn);
    store_be32(p + 6, kBlockedTtl);
    put16(p + 10, uint16_t(rdlength));
    std::memset(p + 12, 0, rdlength);  // 0.0.0.0 or ::
    p += answer;
  }
  if (q.edns) p = write_opt(p, q, rcode);
  return size_t(p - out.data());
}

UpstreamScan scan_upstream(ByteSpan p, const Query& q) {
  UpstreamScan s;
  if (p.size() < kHeaderSize || !q.has_question) return s;
  s.flags = load_be16(p.data() + 2);
  s.rcode = s.flags & 0xF;
  const uint16_t qdcount = load_be16(p.data() + 4);
  const uint16_t an = load_be16(p.data() + 6);
  const uint16_t ns = load_be16(p.data() + 8);
  const uint16_t ar = load_be16(p.data() + 10);
  if (qdcount > 1) return s;
  size_t pos = kHeaderSize;
  if (qdcount == 1) {
    const size_t name_len = uncompressed_name_length(p, pos);
    if (name_len == 0 || pos + name_len + 4 > p.size()) return s;
    if (!names_equal_ignoring_case(p.subspan(pos, name_len), q.qname())) return s;
    if (load_be16(p.data() + pos + name_len) != q.qtype ||
        load_be16(p.data() + pos + name_len + 2) != q.qclass) {
      return s;
    }
    pos += name_len + 4;
    s.has_question = true;
  } else if (an != 0 || ns != 0 || ar != 0) {
    // Records without a question cannot be moved behind the client's question: their
    // compression pointers would point at the wrong bytes. unbound never sends such a thing.
    return s;
  }
  s.records_begin = pos;
  s.records_end = pos;
  const size_t total = size_t(an) + ns + ar;
  // TTL bytes seen so far (see check_name); reused so answers cost no allocation once warm.
  static thread_local std::vector<uint8_t> ttl_bytes;
  ttl_bytes.assign(p.size(), 0);
  const ByteSpan frozen(ttl_bytes);
  bool opt_seen = false;
  for (size_t i = 0; i < total; ++i) {
    if (opt_seen) return s;  // the OPT record must be the last one
    const size_t rr_start = pos;
    pos = check_name(p, pos, p.size(), frozen);
    if (pos == 0 || pos + 10 > p.size()) return s;
    const uint16_t type = load_be16(p.data() + pos);
    std::fill_n(ttl_bytes.begin() + ptrdiff_t(pos + 4), 4, uint8_t{1});
    const uint16_t rdlength = load_be16(p.data() + pos + 8);
    const size_t rdata = pos + 10;
    const size_t rdata_end = rdata + rdlength;
    if (rdata_end > p.size()) return s;
    // Names inside RDATA are copied to the client as they are: they must be valid too.
    size_t prefix, suffix;
    int names;
    if (compressed_rdata(type, prefix, names, suffix)) {
      size_t at = rdata + prefix;
      for (int n = 0; n < names; ++n) {
        at = check_name(p, at, rdata_end, frozen);
        if (at == 0) return s;
      }
      if (at + suffix != rdata_end) return s;
    }
    if (i < an && type == kTypeCname && s.cname_count < UpstreamScan::kMaxCnames) {
      s.cname_targets[s.cname_count++] = rdata;
    }
    if (i >= size_t(an) + ns && type == kTypeOpt) {
      opt_seen = true;
      s.records_end = rr_start;
    }
    pos = rdata_end;
  }
  if (!opt_seen) s.records_end = pos;
  s.ancount = an;
  s.nscount = ns;
  s.arcount = uint16_t(ar - (opt_seen ? 1 : 0));
  s.ok = true;
  return s;
}

size_t build_from_upstream(const Query& q, ByteSpan packet, const UpstreamScan& s, bool secure,
                           size_t limit, MutableByteSpan out) {
  if (!s.ok || !q.has_question || s.records_end > packet.size() ||
      s.records_begin > s.records_end) {
    return 0;
  }
  const size_t body = s.records_end - s.records_begin;
  const size_t opt = q.edns ? kOptSize : 0;
  auto flags = uint16_t(answer_flags(q, s.rcode) | (s.flags & kFlagAa));
  // AD only for clients that can make use of it (RFC 6840 section 5.8).
  if (secure && (q.dnssec_ok || (q.flags & kFlagAd))) flags |= kFlagAd;
  const size_t full = kHeaderSize + q.question_len + body + opt;
  const bool truncated = full > limit;
  const size_t need = truncated ? kHeaderSize + q.question_len + opt : full;
  if (out.size() < need) return 0;
  uint8_t* w = out.data();
  if (truncated) {
    // Header, question and OPT only: the client retries over TCP (RFC 7766), and a partial
    // answer a stub might use as if complete is worse than none.
    w = write_header(w, q.id, flags | kFlagTc, 1, 0, 0, q.edns ? 1 : 0);
  } else {
    w = write_header(w, q.id, flags, 1, s.ancount, s.nscount,
                     uint16_t(s.arcount + (q.edns ? 1 : 0)));
  }
  std::memcpy(w, q.question, q.question_len);
  w += q.question_len;
  if (!truncated && body) {
    std::memcpy(w, packet.data() + s.records_begin, body);
    w += body;
  }
  if (q.edns) w = write_opt(w, q, s.rcode);
  return size_t(w - out.data());
}

}  // namespace waypost::dns
