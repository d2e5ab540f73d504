// Payload bodies, RFC 7296 section 3 (SA in sa_payload.cc). Each parser reads with a ByteReader,
// which stops at the first overrun; a body is accepted only if every byte is accounted for.
#include "ike/payloads.h"

#include <utility>

#include "ike/sa_payload.h"
#include "ike/wire_writer.h"

namespace waypost::ike {

namespace {

Error bad(std::string_view what, std::string_view why) {
  return make_error(ErrorKind::kParse, "{} payload: {}", what, why);
}

Bytes copy(ByteSpan b) {
  return {b.begin(), b.end()};
}

// The bodies that are a fixed-size prefix of type-like fields and then opaque data.
Result<PayloadBody> parse_ke(ByteSpan body) {
  ByteReader r(body);
  KePayload ke;
  ke.group = DhGroup(r.be16());
  r.skip(2);  // RESERVED
  if (!r.ok()) return bad("KE", "shorter than its 4-byte header");
  ke.data = copy(r.bytes(r.remaining()));
  return PayloadBody(std::move(ke));
}

Result<PayloadBody> parse_nonce(ByteSpan body) {
  if (body.size() < kMinNonceSize || body.size() > kMaxNonceSize) {
    return bad("Nonce",
               fmt::format("{} bytes, not {}..{}", body.size(), kMinNonceSize, kMaxNonceSize));
  }
  return PayloadBody(NoncePayload{copy(body)});
}

Result<PayloadBody> parse_id(ByteSpan body) {
  ByteReader r(body);
  IdPayload id;
  id.type = IdType(r.u8());
  r.skip(3);
  if (!r.ok()) return bad("ID", "shorter than its 4-byte header");
  id.data = copy(r.bytes(r.remaining()));
  // Address identities have a fixed size; anything else would be misread by whoever compares
  // them with a configured address.
  if (id.type == IdType::kIpv4 && id.data.size() != 4) return bad("ID", "ID_IPV4_ADDR not 4 bytes");
  if (id.type == IdType::kIpv6 && id.data.size() != 16) {
    return bad("ID", "ID_IPV6_ADDR not 16 bytes");
  }
  return PayloadBody(std::move(id));
}

Result<PayloadBody> parse_auth(ByteSpan body) {
  ByteReader r(body);
  AuthPayload auth;
  auth.method = AuthMethod(r.u8());
  r.skip(3);
  if (!r.ok()) return bad("AUTH", "shorter than its 4-byte header");
  auth.data = copy(r.bytes(r.remaining()));
  return PayloadBody(std::move(auth));
}

template <typename T>
Result<PayloadBody> parse_cert(ByteSpan body, std::string_view name) {
  if (body.empty()) return bad(name, "no encoding byte");
  T cert;
  cert.encoding = CertEncoding(body[0]);
  cert.data = copy(body.subspan(1));
  return PayloadBody(std::move(cert));
}

Result<PayloadBody> parse_notify(ByteSpan body) {
  ByteReader r(body);
  NotifyPayload n;
  n.protocol = ProtocolId(r.u8());
  const uint8_t spi_size = r.u8();
  n.type = NotifyType(r.be16());
  if (!r.ok()) return bad("N", "shorter than its 4-byte header");
  ByteSpan spi = r.bytes(spi_size);
  if (!r.ok()) return bad("N", fmt::format("SPI of {} bytes overruns the payload", spi_size));
  n.spi = copy(spi);
  n.data = copy(r.bytes(r.remaining()));
  return PayloadBody(std::move(n));
}

Result<PayloadBody> parse_delete(ByteSpan body) {
  ByteReader r(body);
  DeletePayload d;
  d.protocol = ProtocolId(r.u8());
  d.spi_size = r.u8();
  const uint16_t count = r.be16();
  if (!r.ok()) return bad("D", "shorter than its 4-byte header");
  // With SPI size 0 a count would describe nothing on the wire and not survive a round trip.
  if (d.spi_size == 0 && count != 0) return bad("D", "SPIs counted but their size is 0");
  if (size_t(d.spi_size) * count != r.remaining()) {
    return bad("D", fmt::format("{} SPIs of {} bytes but {} bytes follow", count, d.spi_size,
                                r.remaining()));
  }
  d.spis.reserve(count);
  for (uint16_t i = 0; i < count; ++i) d.spis.push_back(copy(r.bytes(d.spi_size)));
  return PayloadBody(std::move(d));
}

// Selector lengths (RFC 7296 3.13.1): 8 bytes of header and ports, then two addresses.
constexpr size_t kTsV4Length = 8 + 2 * 4;
constexpr size_t kTsV6Length = 8 + 2 * 16;
// OPAQUE ports (RFC 7296 3.13.1, RFC 4301 4.4.1.1) are the one range written backwards.
constexpr uint16_t kOpaqueStartPort = 65535;
constexpr uint16_t kOpaqueEndPort = 0;

Result<TrafficSelector> parse_selector(ByteReader& r) {
  const auto type = TsType(r.u8());
  TrafficSelector ts;
  ts.ip_protocol = r.u8();
  const uint16_t length = r.be16();
  ts.start_port = r.be16();
  ts.end_port = r.be16();
  if (!r.ok()) return bad("TS", "selector truncated");
  size_t address_size = 0;
  if (type == TsType::kIpv4Range && length == kTsV4Length) {
    address_size = 4;
  } else if (type == TsType::kIpv6Range && length == kTsV6Length) {
    address_size = 16;
  } else {
    return bad("TS", fmt::format("selector type {} with length {}", unsigned(type), length));
  }
  ByteSpan start = r.bytes(address_size);
  ByteSpan end = r.bytes(address_size);
  if (!r.ok()) return bad("TS", "selector addresses truncated");
  ts.start = address_size == 4 ? net::IpAddress::v4_bytes(start.data())
                               : net::IpAddress::v6_bytes(start.data());
  ts.end = address_size == 4 ? net::IpAddress::v4_bytes(end.data())
                             : net::IpAddress::v6_bytes(end.data());
  if (ts.end < ts.start) {
    return bad("TS", fmt::format("address range {}-{} ends before it starts", ts.start.to_string(),
                                 ts.end.to_string()));
  }
  const bool opaque = ts.start_port == kOpaqueStartPort && ts.end_port == kOpaqueEndPort;
  if (ts.end_port < ts.start_port && !opaque) {
    return bad("TS",
               fmt::format("port range {}-{} ends before it starts", ts.start_port, ts.end_port));
  }
  return ts;
}

Result<PayloadBody> parse_ts(ByteSpan body) {
  ByteReader r(body);
  const uint8_t count = r.u8();
  r.skip(3);
  if (!r.ok()) return bad("TS", "shorter than its 4-byte header");
  if (count == 0) return bad("TS", "no traffic selectors");
  TsPayload ts;
  ts.selectors.reserve(count);
  for (unsigned i = 0; i < count; ++i) {
    auto selector = parse_selector(r);
    if (!selector) return selector.take_error();
    ts.selectors.push_back(*selector);
  }
  if (r.remaining() != 0) {
    return bad("TS", fmt::format("{} bytes after {} selectors", r.remaining(), count));
  }
  return PayloadBody(std::move(ts));
}

constexpr uint16_t kCpReservedBit = 0x8000;

Result<PayloadBody> parse_cp(ByteSpan body) {
  ByteReader r(body);
  ConfigPayload cp;
  cp.type = CfgType(r.u8());
  r.skip(3);
  if (!r.ok()) return bad("CP", "shorter than its 4-byte header");
  while (r.remaining() > 0) {
    ConfigAttribute a;
    a.type = uint16_t(r.be16() & ~kCpReservedBit);  // ignored on receipt (RFC 7296 3.15.1)
    const uint16_t length = r.be16();
    if (!r.ok()) return bad("CP", "attribute header truncated");
    ByteSpan value = r.bytes(length);
    if (!r.ok()) {
      return bad("CP",
                 fmt::format("attribute {} of {} bytes overruns the payload", a.type, length));
    }
    a.value = copy(value);
    cp.attributes.push_back(std::move(a));
  }
  return PayloadBody(std::move(cp));
}

Result<PayloadBody> parse_skf(ByteSpan body) {
  ByteReader r(body);
  EncryptedFragmentPayload f;
  f.number = r.be16();
  f.total = r.be16();
  if (!r.ok()) return bad("SKF", "shorter than its fragment numbers");
  // RFC 7383 2.5: neither may be zero, and the number is at most the total.
  if (f.total == 0 || f.number == 0 || f.number > f.total) {
    return bad("SKF", fmt::format("fragment {} of {}", f.number, f.total));
  }
  f.body = copy(r.bytes(r.remaining()));
  return PayloadBody(std::move(f));
}

// --- serialization ----------------------------------------------------------------------------

void append(const SaPayload& sa, WireWriter& w) {
  append_sa(sa, w);
}
void append(const KePayload& ke, WireWriter& w) {
  w.be16(uint16_t(ke.group));
  w.zeros(2);
  w.bytes(ke.data);
}
void append(const NoncePayload& n, WireWriter& w) {
  w.bytes(n.nonce);
}
void append(const IdPayload& id, WireWriter& w) {
  w.u8(uint8_t(id.type));
  w.zeros(3);
  w.bytes(id.data);
}
void append(const AuthPayload& a, WireWriter& w) {
  w.u8(uint8_t(a.method));
  w.zeros(3);
  w.bytes(a.data);
}
void append(const CertPayload& c, WireWriter& w) {
  w.u8(uint8_t(c.encoding));
  w.bytes(c.data);
}
void append(const CertReqPayload& c, WireWriter& w) {
  w.u8(uint8_t(c.encoding));
  w.bytes(c.data);
}
void append(const NotifyPayload& n, WireWriter& w) {
  w.u8(uint8_t(n.protocol));
  w.u8(uint8_t(n.spi.size()));
  w.be16(uint16_t(n.type));
  w.bytes(n.spi);
  w.bytes(n.data);
}
void append(const DeletePayload& d, WireWriter& w) {
  w.u8(uint8_t(d.protocol));
  w.u8(d.spi_size);
  w.be16(uint16_t(d.spis.size()));
  for (const auto& spi : d.spis) w.bytes(spi);
}
void append(const VendorIdPayload& v, WireWriter& w) {
  w.bytes(v.id);
}
void append(const TsPayload& ts, WireWriter& w) {
  w.u8(uint8_t(ts.selectors.size()));
  w.zeros(3);
  for (const auto& s : ts.selectors) {
    const bool v4 = s.start.is_v4();
    w.u8(uint8_t(s.type()));
    w.u8(s.ip_protocol);
    w.be16(uint16_t(v4 ? kTsV4Length : kTsV6Length));
    w.be16(s.start_port);
    w.be16(s.end_port);
    const size_t n = v4 ? 4 : 16;
    w.bytes(ByteSpan(s.start.bytes).first(n));
    w.bytes(ByteSpan(s.end.bytes).first(n));
  }
}
void append(const ConfigPayload& cp, WireWriter& w) {
  w.u8(uint8_t(cp.type));
  w.zeros(3);
  for (const auto& a : cp.attributes) {
    w.be16(uint16_t(a.type & ~kCpReservedBit));
    w.be16(uint16_t(a.value.size()));
    w.bytes(a.value);
  }
}
void append(const EapPayload& e, WireWriter& w) {
  w.bytes(e.message);
}
void append(const EncryptedPayload& sk, WireWriter& w) {
  w.bytes(sk.body);
}
void append(const EncryptedFragmentPayload& f, WireWriter& w) {
  w.be16(f.number);
  w.be16(f.total);
  w.bytes(f.body);
}

}  // namespace

bool is_known_payload_type(uint8_t type) {
  return (type >= uint8_t(PayloadType::kSecurityAssociation) &&
          type <= uint8_t(PayloadType::kEap)) ||
         type == uint8_t(PayloadType::kEncryptedFragment);
}

Result<PayloadBody> parse_payload_body(PayloadType type, ByteSpan body) {
  switch (type) {
    case PayloadType::kSecurityAssociation: {
      auto sa = parse_sa(body);
      if (!sa) return sa.take_error();
      return PayloadBody(std::move(*sa));
    }
    case PayloadType::kKeyExchange:
      return parse_ke(body);
    case PayloadType::kIdInitiator:
    case PayloadType::kIdResponder:
      return parse_id(body);
    case PayloadType::kCertificate:
      return parse_cert<CertPayload>(body, "CERT");
    case PayloadType::kCertificateRequest:
      return parse_cert<CertReqPayload>(body, "CERTREQ");
    case PayloadType::kAuthentication:
      return parse_auth(body);
    case PayloadType::kNonce:
      return parse_nonce(body);
    case PayloadType::kNotify:
      return parse_notify(body);
    case PayloadType::kDelete:
      return parse_delete(body);
    case PayloadType::kVendorId:
      return PayloadBody(VendorIdPayload{copy(body)});
    case PayloadType::kTsInitiator:
    case PayloadType::kTsResponder:
      return parse_ts(body);
    case PayloadType::kEncrypted:
      return PayloadBody(EncryptedPayload{PayloadType::kNone, copy(body)});
    case PayloadType::kConfiguration:
      return parse_cp(body);
    case PayloadType::kEap:
      return PayloadBody(EapPayload{copy(body)});
    case PayloadType::kEncryptedFragment:
      return parse_skf(body);
    case PayloadType::kNone:
      break;
  }
  return make_error(ErrorKind::kParse, "payload type {} has no parser", unsigned(type));
}

void append_payload_body(const PayloadBody& body, Bytes& out) {
  WireWriter w(out);
  std::visit([&w](const auto& b) { append(b, w); }, body);
}

std::optional<uint16_t> Transform::key_length() const {
  for (const auto& a : attributes) {
    if (a.tv && a.type == kAttributeKeyLength) return a.value;
  }
  return std::nullopt;
}

Transform Transform::make(TransformType type, uint16_t id) {
  return Transform{type, id, {}};
}

Transform Transform::with_key_length(TransformType type, uint16_t id, uint16_t bits) {
  return Transform{type, id, {TransformAttribute{kAttributeKeyLength, true, bits, {}}}};
}

const Payload* find_payload(const Payloads& payloads, PayloadType type) {
  for (const auto& p : payloads) {
    if (p.type == type) return &p;
  }
  return nullptr;
}

std::vector<const Payload*> find_payloads(const Payloads& payloads, PayloadType type) {
  std::vector<const Payload*> found;
  for (const auto& p : payloads) {
    if (p.type == type) found.push_back(&p);
  }
  return found;
}

const NotifyPayload* find_notify(const Payloads& payloads, NotifyType type) {
  for (const auto& p : payloads) {
    const auto* n = p.get<NotifyPayload>();
    if (n && n->type == type) return n;
  }
  return nullptr;
}

std::vector<const NotifyPayload*> find_notifies(const Payloads& payloads, NotifyType type) {
  std::vector<const NotifyPayload*> found;
  for (const auto& p : payloads) {
    const auto* n = p.get<NotifyPayload>();
    if (n && n->type == type) found.push_back(n);
  }
  return found;
}

const NotifyPayload* find_error_notify(const Payloads& payloads) {
  for (const Payload& p : payloads) {
    const auto* n = p.get<NotifyPayload>();
    if (n != nullptr && is_error(n->type)) return n;
  }
  return nullptr;
}

}  // namespace waypost::ike
