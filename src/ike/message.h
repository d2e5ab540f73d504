#pragma once
// An IKEv2 message (RFC 7296 3.1 header, 3.2 generic payload chain) and its codec.
//
//   header (28 bytes):  SPIi(8) SPIr(8) next payload(1) version(1: major.minor) exchange(1)
//                       flags(1) message ID(4) length(4, the whole datagram)
//   payload:            next payload(1) C|RESERVED(1) length(2, with this header) body
//
// The chain is checked exactly: the header's length is the datagram's, every payload fits, the
// last one says "no next payload" and nothing follows it. SK and SKF stay encrypted here (the
// negotiated cipher splits them, see EncryptedPayload); their generic header's Next Payload names
// the first payload inside, so they end the chain and must be last. Once decrypted, the inner
// chain is parsed with parse_payload_chain.

#include <cstdint>
#include <optional>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "ike/constants.h"
#include "ike/payloads.h"

namespace waypost::ike {

// The header's fields that are not derived from the payloads (next payload, length) or fixed
// (version 2.0). Flag bits other than I, V and R are ignored on receipt and sent as zero.
struct Header {
  uint64_t spi_i = 0;  // big-endian on the wire; opaque, so any byte order would do
  uint64_t spi_r = 0;
  ExchangeType exchange = ExchangeType::kIkeSaInit;
  bool initiator = false;       // I: sent by the original initiator of the IKE SA
  bool higher_version = false;  // V: the sender could speak a higher major version
  bool response = false;        // R
  uint32_t message_id = 0;
  bool operator==(const Header&) const = default;
};

struct Message {
  Header header;
  Payloads payloads;
  // Unknown payload types without the critical bit, skipped as RFC 7296 3.2 says, for the log.
  // Not part of the message: serialize() does not write them and == ignores them.
  std::vector<uint8_t> skipped_payload_types;

  bool operator==(const Message& other) const {
    return header == other.header && payloads == other.payloads;
  }
};

// What a parse error asks the receiver to answer, carried in Error::code: the NotifyType in the
// low 16 bits (INVALID_MAJOR_VERSION, UNSUPPORTED_CRITICAL_PAYLOAD, or INVALID_SYNTAX for any
// other malformation) and, for UNSUPPORTED_CRITICAL_PAYLOAD, the payload type (the notify's data,
// RFC 7296 3.10.1) in bits 16..23. Malformed input is ErrorKind::kParse; a version we do not
// speak or a critical payload we do not know is kProtocol. Whether to answer at all (never to an
// unauthenticated message, for instance) is the caller's decision (RFC 7296 2.21).
std::optional<NotifyType> error_notify(const Error& error);
std::optional<uint8_t> unsupported_critical_payload(const Error& error);

// The header's fields of anything at least a header long, unchecked: enough to find the IKE SA
// and to answer a message that does not parse (INVALID_MAJOR_VERSION echoes SPIs and message ID).
std::optional<Header> read_header(ByteSpan datagram);

// Parses a whole datagram (after the non-ESP marker on port 4500).
Result<Message> parse_message(ByteSpan datagram);

// The bytes of the message, lengths and next-payload fields computed. An EncryptedPayload or
// EncryptedFragmentPayload must be the last payload; its body is written as is, at the very end,
// so a cipher can serialize with a body of the final size and then fill it in place.
std::vector<uint8_t> serialize(const Message& message);

// The payload chain inside SK (its decrypted plaintext, whose first type comes from the SK
// header). SK and SKF cannot nest; unknown non-critical payloads are skipped (their types
// appended to `skipped` if given).
Result<Payloads> parse_payload_chain(PayloadType first, ByteSpan chain,
                                     std::vector<uint8_t>* skipped = nullptr);
// The bytes of an inner chain and the type to put in the SK header's Next Payload.
std::vector<uint8_t> serialize_payload_chain(const Payloads& payloads);
PayloadType first_payload_type(const Payloads& payloads);

}  // namespace waypost::ike
