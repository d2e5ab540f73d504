#include "ike/message.h"

#include <utility>

#include "ike/wire_writer.h"

namespace waypost::ike {

namespace {

// Header offsets (RFC 7296 3.1).
constexpr size_t kSpiIOffset = 0;
constexpr size_t kSpiROffset = 8;
constexpr size_t kNextPayloadOffset = 16;
constexpr size_t kVersionOffset = 17;
constexpr size_t kExchangeOffset = 18;
constexpr size_t kFlagsOffset = 19;
constexpr size_t kMessageIdOffset = 20;
constexpr size_t kLengthOffset = 24;
constexpr uint8_t kMajorVersion = kVersion >> 4;

// Error::code layout, see error_notify().
constexpr int kNotifyBits = 0xffff;
constexpr int kPayloadTypeShift = 16;

template <typename... Args>
Error syntax_error(fmt::format_string<Args...> format, Args&&... args) {
  Error e = make_error(ErrorKind::kParse, format, std::forward<Args>(args)...);
  e.code = int(NotifyType::kInvalidSyntax);
  return e;
}

Error critical_payload_error(uint8_t type) {
  Error e = make_error(ErrorKind::kProtocol, "unsupported critical payload type {}", type);
  e.code = int(NotifyType::kUnsupportedCriticalPayload) | int(type) << kPayloadTypeShift;
  return e;
}

bool is_encrypted(PayloadType t) {
  return t == PayloadType::kEncrypted || t == PayloadType::kEncryptedFragment;
}

// Walks a chain starting with a payload of type `first`. `outer` allows SK/SKF (which end it).
// Errors name offsets from `base` (the datagram's start for the outer chain).
Result<Payloads> parse_chain(PayloadType first, ByteSpan data, bool outer, size_t base,
                             std::vector<uint8_t>* skipped) {
  ByteReader r(data);
  Payloads payloads;
  auto next = uint8_t(first);
  while (next != uint8_t(PayloadType::kNone)) {
    const uint8_t type = next;
    const size_t offset = base + r.position();
    next = r.u8();
    const bool critical = (r.u8() & kPayloadCritical) != 0;  // the other 7 bits are ignored
    const uint16_t length = r.be16();
    if (!r.ok()) return syntax_error("payload {} at offset {}: header truncated", type, offset);
    if (length < kGenericPayloadHeaderSize || length - kGenericPayloadHeaderSize > r.remaining()) {
      return syntax_error("payload {} at offset {}: length {} outside {}..{}", type, offset, length,
                          kGenericPayloadHeaderSize, r.remaining() + kGenericPayloadHeaderSize);
    }
    ByteSpan body = r.bytes(length - kGenericPayloadHeaderSize);
    if (!is_known_payload_type(type)) {
      if (critical) return critical_payload_error(type);
      if (skipped) skipped->push_back(type);
      continue;
    }
    const auto payload_type = PayloadType(type);
    if (!outer && is_encrypted(payload_type)) {
      return syntax_error("{} inside an encrypted payload", to_string(payload_type));
    }
    auto parsed = parse_payload_body(payload_type, body);
    if (!parsed) {
      Error e = parsed.take_error().context(fmt::format("offset {}", offset));
      e.code = int(NotifyType::kInvalidSyntax);
      return e;
    }
    if (is_encrypted(payload_type)) {
      // Its Next Payload is the first payload inside, so it can only end the chain.
      if (auto* sk = std::get_if<EncryptedPayload>(&*parsed)) sk->first_inner = PayloadType(next);
      if (auto* skf = std::get_if<EncryptedFragmentPayload>(&*parsed)) {
        skf->first_inner = PayloadType(next);
      }
      if (r.remaining() != 0) {
        return syntax_error("{} is not the last payload: {} bytes follow it",
                            to_string(payload_type), r.remaining());
      }
      payloads.push_back(Payload{payload_type, critical, std::move(*parsed)});
      return payloads;
    }
    payloads.push_back(Payload{payload_type, critical, std::move(*parsed)});
  }
  if (r.remaining() != 0) return syntax_error("{} bytes after the last payload", r.remaining());
  return payloads;
}

void append_chain(const Payloads& payloads, std::vector<uint8_t>& out) {
  WireWriter w(out);
  for (size_t i = 0; i < payloads.size(); ++i) {
    const Payload& p = payloads[i];
    auto next = i + 1 < payloads.size() ? payloads[i + 1].type : PayloadType::kNone;
    if (const auto* sk = p.get<EncryptedPayload>()) next = sk->first_inner;
    if (const auto* skf = p.get<EncryptedFragmentPayload>()) next = skf->first_inner;
    const size_t start = w.position();
    w.u8(uint8_t(next));
    w.u8(p.critical ? kPayloadCritical : 0);
    w.be16(0);
    append_payload_body(p.body, out);
    w.patch_length16(start + 2, start);
  }
}

}  // namespace

std::optional<NotifyType> error_notify(const Error& error) {
  if (error.code == 0) return std::nullopt;
  return NotifyType(error.code & kNotifyBits);
}

std::optional<uint8_t> unsupported_critical_payload(const Error& error) {
  if (error_notify(error) != NotifyType::kUnsupportedCriticalPayload) return std::nullopt;
  return uint8_t(error.code >> kPayloadTypeShift);
}

std::optional<Header> read_header(ByteSpan datagram) {
  if (datagram.size() < kHeaderSize) return std::nullopt;
  const uint8_t* d = datagram.data();
  Header h;
  h.spi_i = load_be64(d + kSpiIOffset);
  h.spi_r = load_be64(d + kSpiROffset);
  h.exchange = ExchangeType(d[kExchangeOffset]);
  const uint8_t flags = d[kFlagsOffset];
  h.initiator = (flags & kFlagInitiator) != 0;
  h.higher_version = (flags & kFlagVersion) != 0;
  h.response = (flags & kFlagResponse) != 0;
  h.message_id = load_be32(d + kMessageIdOffset);
  return h;
}

Result<Message> parse_message(ByteSpan datagram) {
  auto header = read_header(datagram);
  if (!header) {
    return syntax_error("{} bytes, shorter than the {}-byte IKE header", datagram.size(),
                        kHeaderSize);
  }
  // The version before the length: another major version may lay its message out differently,
  // and it deserves INVALID_MAJOR_VERSION, not INVALID_SYNTAX. The minor version is ignored.
  const uint8_t major = datagram[kVersionOffset] >> 4;
  if (major != kMajorVersion) {
    Error e = make_error(ErrorKind::kProtocol, "IKE major version {} (only 2 is spoken)", major);
    e.code = int(NotifyType::kInvalidMajorVersion);
    return e;
  }
  const uint32_t length = load_be32(datagram.data() + kLengthOffset);
  if (length != datagram.size()) {
    return syntax_error("header says {} bytes, the datagram has {}", length, datagram.size());
  }
  Message m;
  m.header = *header;
  auto payloads =
      parse_chain(PayloadType(datagram[kNextPayloadOffset]), datagram.subspan(kHeaderSize), true,
                  kHeaderSize, &m.skipped_payload_types);
  if (!payloads) return payloads.take_error();
  m.payloads = std::move(*payloads);
  return m;
}

std::vector<uint8_t> serialize(const Message& message) {
  std::vector<uint8_t> out;
  WireWriter w(out);
  const Header& h = message.header;
  w.be64(h.spi_i);
  w.be64(h.spi_r);
  w.u8(uint8_t(first_payload_type(message.payloads)));
  w.u8(kVersion);
  w.u8(uint8_t(h.exchange));
  w.u8(uint8_t((h.initiator ? kFlagInitiator : 0) | (h.higher_version ? kFlagVersion : 0) |
               (h.response ? kFlagResponse : 0)));
  w.be32(h.message_id);
  w.be32(0);
  append_chain(message.payloads, out);
  w.patch_length32(kLengthOffset, 0);
  return out;
}

Result<Payloads> parse_payload_chain(PayloadType first, ByteSpan chain,
                                     std::vector<uint8_t>* skipped) {
  return parse_chain(first, chain, false, 0, skipped);
}

std::vector<uint8_t> serialize_payload_chain(const Payloads& payloads) {
  std::vector<uint8_t> out;
  append_chain(payloads, out);
  return out;
}

PayloadType first_payload_type(const Payloads& payloads) {
  return payloads.empty() ? PayloadType::kNone : payloads.front().type;
}

}  // namespace waypost::ike
