// Fuzzes the IKEv2 message codec (RFC 7296 3.1-3.16): any datagram parses or fails with an error,
// and whatever parses serializes to bytes that parse to an equal message (equal: the header's
// I/V/R flags, SPIs, exchange and message ID, and the same payloads in order with their critical
// bits and bodies; skipped unknown payloads, the minor version and reserved bits are not part of
// a message) and serialize to the same bytes again. The same for an inner payload chain (the
// decrypted SK plaintext), read from the input as: first payload type (1 byte), chain.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "ike/message.h"
#include "ike/payloads.h"

namespace {

using namespace waypost;
using namespace waypost::ike;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "ike_message_fuzz: %s\n", what);
  std::abort();
}

void check_message(ByteSpan datagram) {
  auto message = parse_message(datagram);
  if (!message) {
    if (message.error().code == 0) fail("a parse error without the notify to answer");
    return;
  }
  const std::vector<uint8_t> bytes = serialize(*message);
  auto again = parse_message(bytes);
  if (!again) fail("a parsed message serialized to bytes that do not parse");
  if (!(*again == *message)) fail("a parsed message changed through serialize -> parse");
  if (serialize(*again) != bytes) fail("serialize is not stable");
  // Without skipped payloads, serialize gives the datagram back up to ignored bits.
  if (message->skipped_payload_types.empty() && bytes.size() != datagram.size()) {
    fail("serialize changed the size of a message");
  }
}

void check_inner_chain(ByteSpan input) {
  if (input.empty()) return;
  std::vector<uint8_t> skipped;
  auto chain = parse_payload_chain(PayloadType(input[0]), input.subspan(1), &skipped);
  if (!chain) return;
  for (const Payload& p : *chain) {
    if (p.type == PayloadType::kEncrypted || p.type == PayloadType::kEncryptedFragment) {
      fail("an encrypted payload inside an inner chain");
    }
  }
  const std::vector<uint8_t> bytes = serialize_payload_chain(*chain);
  auto again = parse_payload_chain(first_payload_type(*chain), bytes);
  if (!again) fail("a parsed inner chain serialized to bytes that do not parse");
  if (*again != *chain) fail("an inner chain changed through serialize -> parse");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan input(data, size);
  check_message(input);
  check_inner_chain(input);
  // What an SK payload carries, as if decrypted with a null cipher.
  if (auto message = parse_message(input)) {
    for (const Payload& p : message->payloads) {
      if (const auto* sk = p.get<EncryptedPayload>()) {
        std::vector<uint8_t> inner{uint8_t(sk->first_inner)};
        inner.insert(inner.end(), sk->body.begin(), sk->body.end());
        check_inner_chain(inner);
      }
    }
  }
  return 0;
}
