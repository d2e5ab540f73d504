#pragma once
// Sample IKEv2 messages for the codec tests: the IKE_SA_INIT request a client offering Algo's
// proposal (aes256gcm16-prfsha512-ecp384) sends, as a Message and as the bytes RFC 7296 section 3
// lays out, written out field by field.

#include <cstdint>
#include <vector>

#include "ike/message.h"
#include "ike/payloads.h"

namespace waypost::ike::test {

constexpr uint64_t kSpiI = 0x0102030405060708;
constexpr uint64_t kSpiR = 0x1112131415161718;

inline std::vector<uint8_t> filled(size_t n, uint8_t first) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(first + i);
  return v;
}

inline SaPayload algo_ike_sa() {
  Proposal p;
  p.number = 1;
  p.protocol = ProtocolId::kIke;
  p.transforms = {
      Transform::with_key_length(TransformType::kEncryption, uint16_t(EncryptionId::kAesGcm16),
                                 256),
      Transform::make(TransformType::kPrf, uint16_t(PrfId::kHmacSha512)),
      Transform::make(TransformType::kKeyExchange, uint16_t(DhGroup::kEcp384)),
  };
  return SaPayload{{p}};
}

inline NotifyPayload notify(NotifyType type, std::vector<uint8_t> data = {}) {
  NotifyPayload n;
  n.type = type;
  n.data = std::move(data);
  return n;
}

inline Message sa_init_request() {
  Message m;
  m.header.spi_i = kSpiI;
  m.header.exchange = ExchangeType::kIkeSaInit;
  m.header.initiator = true;
  m.payloads = {
      Payload::of(algo_ike_sa()),
      Payload::of(KePayload{DhGroup::kEcp384, filled(96, 0x40)}),
      Payload::of(NoncePayload{filled(32, 0xa0)}),
      Payload::of(notify(NotifyType::kNatDetectionSourceIp, filled(20, 0x10))),
      Payload::of(notify(NotifyType::kNatDetectionDestinationIp, filled(20, 0x30))),
      Payload::of(notify(NotifyType::kIkev2FragmentationSupported)),
      Payload::of(notify(NotifyType::kSignatureHashAlgorithms, {0, 2, 0, 3, 0, 4})),
  };
  return m;
}

inline void append(std::vector<uint8_t>& out, std::initializer_list<uint8_t> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}
inline void append(std::vector<uint8_t>& out, const std::vector<uint8_t>& bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

// The same request, byte by byte (RFC 7296 3.1, 3.2, 3.3, 3.4, 3.9, 3.10). 286 bytes.
inline std::vector<uint8_t> sa_init_request_bytes() {
  std::vector<uint8_t> b;
  // Header: SPIi, SPIr (zero: not known yet), next payload SA (33), version 2.0,
  // IKE_SA_INIT (34), flags I (0x08), message ID 0, length 286 (0x11e).
  append(b, {1, 2, 3, 4, 5, 6, 7, 8});
  append(b, {0, 0, 0, 0, 0, 0, 0, 0});
  append(b, {33, 0x20, 34, 0x08});
  append(b, {0, 0, 0, 0});
  append(b, {0, 0, 0x01, 0x1e});
  // SA: next KE (34), not critical, length 4 + 36.
  append(b, {34, 0, 0, 40});
  //   Proposal: last (0), length 36, number 1, protocol IKE (1), SPI size 0, 3 transforms.
  append(b, {0, 0, 0, 36, 1, 1, 0, 3});
  //   Transform: more (3), length 12, ENCR (1), ENCR_AES_GCM_16 (20), Key Length (TV, 14) 256.
  append(b, {3, 0, 0, 12, 1, 0, 0, 20, 0x80, 14, 0x01, 0x00});
  //   Transform: more, length 8, PRF (2), PRF_HMAC_SHA2_512 (7).
  append(b, {3, 0, 0, 8, 2, 0, 0, 7});
  //   Transform: last (0), length 8, DH (4), group 20 (ecp384).
  append(b, {0, 0, 0, 8, 4, 0, 0, 20});
  // KE: next Nonce (40), length 4 + 4 + 96, group 20, RESERVED, 96 bytes of public value.
  append(b, {40, 0, 0, 104, 0, 20, 0, 0});
  append(b, filled(96, 0x40));
  // Nonce: next N (41), length 4 + 32.
  append(b, {41, 0, 0, 36});
  append(b, filled(32, 0xa0));
  // N(NAT_DETECTION_SOURCE_IP = 16388 = 0x4004): protocol 0, SPI size 0, SHA-1 hash (20).
  append(b, {41, 0, 0, 28, 0, 0, 0x40, 0x04});
  append(b, filled(20, 0x10));
  // N(NAT_DETECTION_DESTINATION_IP = 16389 = 0x4005).
  append(b, {41, 0, 0, 28, 0, 0, 0x40, 0x05});
  append(b, filled(20, 0x30));
  // N(IKEV2_FRAGMENTATION_SUPPORTED = 16430 = 0x402e), no data.
  append(b, {41, 0, 0, 8, 0, 0, 0x40, 0x2e});
  // N(SIGNATURE_HASH_ALGORITHMS = 16431 = 0x402f): SHA2-256 (2), SHA2-384 (3), SHA2-512 (4).
  // Last payload: next 0.
  append(b, {0, 0, 0, 14, 0, 0, 0x40, 0x2f, 0, 2, 0, 3, 0, 4});
  return b;
}

// The responder's answer: its SPI, the chosen proposal, KE, Nonce, NAT detection, fragmentation.
inline Message sa_init_response() {
  Message m = sa_init_request();
  m.header.spi_r = kSpiR;
  m.header.initiator = false;
  m.header.response = true;
  m.payloads.pop_back();  // no SIGNATURE_HASH_ALGORITHMS
  return m;
}

// An IKE_AUTH request: the SK payload, whose plaintext starts with IDi (35).
inline Message ike_auth_request() {
  Message m;
  m.header.spi_i = kSpiI;
  m.header.spi_r = kSpiR;
  m.header.exchange = ExchangeType::kIkeAuth;
  m.header.initiator = true;
  m.header.message_id = 1;
  m.payloads = {Payload::of(EncryptedPayload{PayloadType::kIdInitiator, filled(80, 0x55)})};
  return m;
}

// Fragment 2 of 3 of an IKE_AUTH request (RFC 7383): Next Payload 0 outside fragment 1.
inline Message ike_auth_fragment() {
  Message m = ike_auth_request();
  m.payloads = {Payload::of(EncryptedFragmentPayload{PayloadType::kNone, 2, 3, filled(48, 0x66)})};
  return m;
}

}  // namespace waypost::ike::test
