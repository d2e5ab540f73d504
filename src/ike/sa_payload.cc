// SA payload layout (RFC 7296 3.3.1, 3.3.2, 3.3.5):
//
//   proposal:  last/more(1: 0 last, 2 more) RESERVED(1) length(2) number(1) protocol(1)
//              SPI size(1) transform count(1) SPI(size) transforms...
//   transform: last/more(1: 0 last, 3 more) RESERVED(1) length(2) type(1) RESERVED(1) id(2)
//              attributes...
//   attribute: AF|type(2) then TV: value(2), or TLV: length(2) value(length)
//
// Lengths include their own headers. Each substructure must exactly fill its parent's length,
// the markers must say "more" on all but the last, and the counts must match what was found.
#include "ike/sa_payload.h"

#include <utility>

namespace waypost::ike {

namespace {

constexpr uint8_t kLastSubstructure = 0;
constexpr uint8_t kMoreProposals = 2;
constexpr uint8_t kMoreTransforms = 3;
constexpr size_t kProposalHeaderSize = 8;
constexpr size_t kTransformHeaderSize = 8;

Error bad(std::string_view why) {
  return make_error(ErrorKind::kParse, "SA payload: {}", why);
}

Result<std::vector<TransformAttribute>> parse_attributes(ByteSpan data) {
  ByteReader r(data);
  std::vector<TransformAttribute> attributes;
  while (r.remaining() > 0) {
    TransformAttribute a;
    const uint16_t format_and_type = r.be16();
    a.tv = (format_and_type & kAttributeFormatTv) != 0;
    a.type = uint16_t(format_and_type & ~kAttributeFormatTv);
    if (a.tv) {
      a.value = r.be16();
    } else {
      const uint16_t length = r.be16();
      ByteSpan value = r.bytes(length);
      a.data.assign(value.begin(), value.end());
    }
    if (!r.ok()) return bad(fmt::format("transform attribute {} truncated", a.type));
    attributes.push_back(std::move(a));
  }
  return attributes;
}

// One substructure header: the marker, the length (covering the header), the rest of the body.
struct Substructure {
  uint8_t marker = 0;
  ByteSpan rest;  // after the 4 bytes of marker, RESERVED and length
};

Result<Substructure> next_substructure(ByteReader& r, size_t min_size, std::string_view what) {
  Substructure s;
  s.marker = r.u8();
  r.skip(1);
  const uint16_t length = r.be16();
  if (!r.ok() || length < min_size || size_t(length) - 4 > r.remaining()) {
    return bad(
        fmt::format("{} length {} outside {}..{}", what, length, min_size, r.remaining() + 4));
  }
  s.rest = r.bytes(size_t(length) - 4);
  return s;
}

Result<Transform> parse_transform(ByteSpan rest) {
  ByteReader r(rest);
  Transform t;
  t.type = TransformType(r.u8());
  r.skip(1);
  t.id = r.be16();
  auto attributes = parse_attributes(r.bytes(r.remaining()));
  if (!attributes) return attributes.take_error();
  t.attributes = std::move(*attributes);
  return t;
}

Result<Proposal> parse_proposal(ByteSpan rest) {
  ByteReader r(rest);
  Proposal p;
  p.number = r.u8();
  p.protocol = ProtocolId(r.u8());
  const uint8_t spi_size = r.u8();
  const uint8_t transform_count = r.u8();
  if (spi_size != 0 && spi_size != 4 && spi_size != 8) {
    return bad(fmt::format("proposal {}: SPI size {} (0, 4 or 8)", p.number, spi_size));
  }
  ByteSpan spi = r.bytes(spi_size);
  if (!r.ok()) return bad(fmt::format("proposal {}: SPI truncated", p.number));
  p.spi.assign(spi.begin(), spi.end());
  bool last_seen = false;
  while (r.remaining() > 0) {
    if (last_seen) return bad(fmt::format("proposal {}: bytes after its last transform", p.number));
    auto sub = next_substructure(r, kTransformHeaderSize, "transform");
    if (!sub) return sub.take_error();
    if (sub->marker != kLastSubstructure && sub->marker != kMoreTransforms) {
      return bad(fmt::format("proposal {}: transform marker {}", p.number, sub->marker));
    }
    last_seen = sub->marker == kLastSubstructure;
    auto t = parse_transform(sub->rest);
    if (!t) return t.take_error();
    p.transforms.push_back(std::move(*t));
  }
  if (!last_seen) return bad(fmt::format("proposal {}: no last transform", p.number));
  if (p.transforms.size() != transform_count) {
    return bad(fmt::format("proposal {}: {} transforms counted, {} present", p.number,
                           transform_count, p.transforms.size()));
  }
  return p;
}

// RFC 7296 3.3.1: proposals are numbered 1, 2, 3 ... in a request; the one proposal of a
// response carries the number of the proposal it accepts.
Status check_numbering(const std::vector<Proposal>& proposals) {
  if (proposals.size() == 1) {
    if (proposals[0].number == 0) return bad("proposal number 0");
    return {};
  }
  for (size_t i = 0; i < proposals.size(); ++i) {
    if (proposals[i].number != i + 1) {
      return bad(fmt::format("proposal {} is numbered {}", i + 1, proposals[i].number));
    }
  }
  return {};
}

}  // namespace

Result<SaPayload> parse_sa(ByteSpan body) {
  ByteReader r(body);
  SaPayload sa;
  bool last_seen = false;
  while (r.remaining() > 0) {
    if (last_seen) return bad("bytes after the last proposal");
    auto sub = next_substructure(r, kProposalHeaderSize, "proposal");
    if (!sub) return sub.take_error();
    if (sub->marker != kLastSubstructure && sub->marker != kMoreProposals) {
      return bad(fmt::format("proposal marker {}", sub->marker));
    }
    last_seen = sub->marker == kLastSubstructure;
    auto p = parse_proposal(sub->rest);
    if (!p) return p.take_error();
    sa.proposals.push_back(std::move(*p));
  }
  if (!last_seen) return bad(sa.proposals.empty() ? "no proposals" : "no last proposal");
  if (auto numbering = check_numbering(sa.proposals); !numbering) return numbering.take_error();
  return sa;
}

void append_sa(const SaPayload& sa, WireWriter& w) {
  for (size_t i = 0; i < sa.proposals.size(); ++i) {
    const Proposal& p = sa.proposals[i];
    const size_t start = w.position();
    w.u8(i + 1 == sa.proposals.size() ? kLastSubstructure : kMoreProposals);
    w.u8(0);
    const size_t length_field = w.position();
    w.be16(0);
    w.u8(p.number);
    w.u8(uint8_t(p.protocol));
    w.u8(uint8_t(p.spi.size()));
    w.u8(uint8_t(p.transforms.size()));
    w.bytes(p.spi);
    for (size_t j = 0; j < p.transforms.size(); ++j) {
      const Transform& t = p.transforms[j];
      const size_t t_start = w.position();
      w.u8(j + 1 == p.transforms.size() ? kLastSubstructure : kMoreTransforms);
      w.u8(0);
      const size_t t_length_field = w.position();
      w.be16(0);
      w.u8(uint8_t(t.type));
      w.u8(0);
      w.be16(t.id);
      for (const auto& a : t.attributes) {
        w.be16(uint16_t((a.type & ~kAttributeFormatTv) | (a.tv ? kAttributeFormatTv : 0)));
        if (a.tv) {
          w.be16(a.value);
        } else {
          w.be16(uint16_t(a.data.size()));
          w.bytes(a.data);
        }
      }
      w.patch_length16(t_length_field, t_start);
    }
    w.patch_length16(length_field, start);
  }
}

}  // namespace waypost::ike
