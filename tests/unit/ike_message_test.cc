// The IKE header and payload chain (RFC 7296 3.1, 3.2): a hand-built IKE_SA_INIT request byte for
// byte, round trips, and every malformation of the chain we could think of.
#include "ike/message.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/bytes.h"
#include "ike_test_messages.h"
#include "test_util.h"

namespace waypost::ike {
namespace {

using Bytes = std::vector<uint8_t>;

void set_length(Bytes& m) {
  store_be32(&m[24], uint32_t(m.size()));
}

TEST(IkeMessage, SaInitRequestMatchesTheRfcLayout) {
  const Bytes expected = test::sa_init_request_bytes();
  ASSERT_EQ(expected.size(), 286U);
  const Bytes bytes = serialize(test::sa_init_request());
  EXPECT_EQ(waypost::test::hex_of(bytes), waypost::test::hex_of(expected));

  auto parsed = parse_message(expected);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, test::sa_init_request());
  EXPECT_TRUE(parsed->skipped_payload_types.empty());

  const Header& h = parsed->header;
  EXPECT_EQ(h.spi_i, test::kSpiI);
  EXPECT_EQ(h.spi_r, 0U);
  EXPECT_EQ(h.exchange, ExchangeType::kIkeSaInit);
  EXPECT_TRUE(h.initiator);
  EXPECT_FALSE(h.response);
  EXPECT_FALSE(h.higher_version);
  EXPECT_EQ(h.message_id, 0U);

  const auto* sa = find_body<SaPayload>(parsed->payloads);
  ASSERT_NE(sa, nullptr);
  ASSERT_EQ(sa->proposals.size(), 1U);
  const auto& t = sa->proposals[0].transforms;
  ASSERT_EQ(t.size(), 3U);
  EXPECT_EQ(t[0].id, uint16_t(EncryptionId::kAesGcm16));
  EXPECT_EQ(t[0].key_length(), 256);
  EXPECT_EQ(t[1].type, TransformType::kPrf);
  EXPECT_EQ(t[1].key_length(), std::nullopt);
  EXPECT_EQ(t[2].id, uint16_t(DhGroup::kEcp384));
  EXPECT_EQ(find_body<KePayload>(parsed->payloads)->data.size(), 96U);
  EXPECT_EQ(find_body<NoncePayload>(parsed->payloads)->nonce.size(), 32U);
  EXPECT_NE(find_notify(parsed->payloads, NotifyType::kIkev2FragmentationSupported), nullptr);
  EXPECT_EQ(find_notify(parsed->payloads, NotifyType::kCookie), nullptr);
  EXPECT_EQ(find_notifies(parsed->payloads, NotifyType::kNatDetectionSourceIp).size(), 1U);
  EXPECT_EQ(find_payloads(parsed->payloads, PayloadType::kNotify).size(), 4U);
}

TEST(IkeMessage, RoundTripsResponseAuthAndFragment) {
  for (const Message& m :
       {test::sa_init_response(), test::ike_auth_request(), test::ike_auth_fragment()}) {
    const Bytes bytes = serialize(m);
    auto parsed = parse_message(bytes);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(*parsed, m);
    EXPECT_EQ(serialize(*parsed), bytes);
  }
}

TEST(IkeMessage, SkKeepsItsFirstInnerTypeAndBodyAtTheEnd) {
  const Bytes bytes = serialize(test::ike_auth_request());
  ASSERT_EQ(bytes.size(), 28U + 4 + 80);
  EXPECT_EQ(bytes[16], uint8_t(PayloadType::kEncrypted));
  EXPECT_EQ(bytes[28], uint8_t(PayloadType::kIdInitiator));  // SK's Next Payload
  EXPECT_EQ(load_be16(&bytes[30]), 84);
  auto parsed = parse_message(bytes);
  ASSERT_TRUE(parsed.ok());
  const auto* sk = find_body<EncryptedPayload>(parsed->payloads);
  ASSERT_NE(sk, nullptr);
  EXPECT_EQ(sk->first_inner, PayloadType::kIdInitiator);
  EXPECT_TRUE(std::equal(sk->body.begin(), sk->body.end(), bytes.end() - 80));
}

TEST(IkeMessage, EmptySkForLivenessChecks) {
  Message m = test::ike_auth_request();
  m.header.exchange = ExchangeType::kInformational;
  m.payloads = {Payload::of(EncryptedPayload{PayloadType::kNone, test::filled(32, 1)})};
  auto parsed = parse_message(serialize(m));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, m);
}

TEST(IkeMessage, FragmentFieldsParsed) {
  const Bytes bytes = serialize(test::ike_auth_fragment());
  EXPECT_EQ(bytes[16], uint8_t(PayloadType::kEncryptedFragment));
  EXPECT_EQ(load_be16(&bytes[32]), 2);  // Fragment Number
  EXPECT_EQ(load_be16(&bytes[34]), 3);  // Total Fragments
  auto parsed = parse_message(bytes);
  ASSERT_TRUE(parsed.ok());
  const auto* f = find_body<EncryptedFragmentPayload>(parsed->payloads);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->number, 2);
  EXPECT_EQ(f->total, 3);
  EXPECT_EQ(f->body.size(), 48U);
}

TEST(IkeMessage, FragmentNumbersChecked) {
  for (auto [number, total] : {std::pair{0, 3}, {4, 3}, {1, 0}, {0, 0}}) {
    Bytes bytes = serialize(test::ike_auth_fragment());
    store_be16(&bytes[32], uint16_t(number));
    store_be16(&bytes[34], uint16_t(total));
    auto parsed = parse_message(bytes);
    EXPECT_FALSE(parsed.ok()) << number << " of " << total;
  }
}

TEST(IkeMessage, EveryTruncationFails) {
  for (const Bytes& valid : {test::sa_init_request_bytes(), serialize(test::ike_auth_request()),
                             serialize(test::ike_auth_fragment())}) {
    for (size_t n = 0; n < valid.size(); ++n) {
      Bytes prefix(valid.begin(), valid.begin() + long(n));
      EXPECT_FALSE(parse_message(prefix).ok()) << n;
      // With the header's length fixed up, so that the payload chain itself is cut.
      if (n >= kHeaderSize) {
        set_length(prefix);
        auto parsed = parse_message(prefix);
        EXPECT_FALSE(parsed.ok()) << n;
        if (!parsed.ok()) {
          EXPECT_EQ(error_notify(parsed.error()), NotifyType::kInvalidSyntax) << n;
          EXPECT_TRUE(parsed.error().is(ErrorKind::kParse));
        }
      }
    }
  }
}

TEST(IkeMessage, HeaderLengthMustBeTheDatagramLength) {
  Bytes b = test::sa_init_request_bytes();
  store_be32(&b[24], uint32_t(b.size() + 1));
  EXPECT_FALSE(parse_message(b).ok());
  store_be32(&b[24], uint32_t(b.size() - 1));
  EXPECT_FALSE(parse_message(b).ok());
  store_be32(&b[24], 0xffffffff);
  EXPECT_FALSE(parse_message(b).ok());
  // Trailing bytes beyond the header's length.
  Bytes longer = test::sa_init_request_bytes();
  longer.push_back(0);
  EXPECT_FALSE(parse_message(longer).ok());
}

TEST(IkeMessage, PayloadLengthsChecked) {
  const Bytes valid = test::sa_init_request_bytes();
  const size_t nonce = 28 + 40 + 104;  // the Nonce payload's generic header
  ASSERT_EQ(valid[nonce], 41);
  for (uint16_t length : {0, 1, 3, 4, 35, 37, 300, 0xffff}) {
    Bytes b = valid;
    store_be16(&b[nonce + 2], length);
    EXPECT_FALSE(parse_message(b).ok()) << length;
  }
  // The last payload's length too large for what is left.
  Bytes b = valid;
  store_be16(&b[b.size() - 12], 15);
  EXPECT_FALSE(parse_message(b).ok());
}

TEST(IkeMessage, ChainMustEndWithNoNextPayload) {
  Bytes b = test::sa_init_request_bytes();
  b[b.size() - 14] = uint8_t(PayloadType::kNotify);  // the last one says another follows
  auto parsed = parse_message(b);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(error_notify(parsed.error()), NotifyType::kInvalidSyntax);

  // Bytes after a payload whose Next Payload is 0.
  Bytes trailing = test::sa_init_request_bytes();
  trailing[28 + 40 + 104 + 36 + 28 + 28 + 8 - 8] = 0;  // the fragmentation notify ends it early
  EXPECT_FALSE(parse_message(trailing).ok());
}

TEST(IkeMessage, MajorVersionOtherThanTwoIsDistinguishable) {
  for (uint8_t version : {0x10, 0x30, 0x00, 0xf0}) {
    Bytes b = test::sa_init_request_bytes();
    b[17] = version;
    auto parsed = parse_message(b);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(error_notify(parsed.error()), NotifyType::kInvalidMajorVersion);
    EXPECT_TRUE(parsed.error().is(ErrorKind::kProtocol));
    // The answer needs the header's fields.
    auto header = read_header(b);
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->spi_i, test::kSpiI);
  }
  // Even if the rest is not an IKEv2 layout.
  Bytes short_v3 = test::sa_init_request_bytes();
  short_v3.resize(kHeaderSize);
  short_v3[17] = 0x30;
  EXPECT_EQ(error_notify(parse_message(short_v3).error()), NotifyType::kInvalidMajorVersion);
}

TEST(IkeMessage, MinorVersionAndUnknownFlagsIgnored) {
  Bytes b = test::sa_init_request_bytes();
  b[17] = 0x21;
  b[19] = 0x08 | 0x01 | 0x80;
  auto parsed = parse_message(b);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, test::sa_init_request());
  EXPECT_EQ(serialize(*parsed), test::sa_init_request_bytes());
}

TEST(IkeMessage, FlagsRoundTrip) {
  Message m = test::sa_init_request();
  m.header.response = true;
  m.header.higher_version = true;
  m.header.initiator = false;
  const Bytes b = serialize(m);
  EXPECT_EQ(b[19], kFlagResponse | kFlagVersion);
  EXPECT_EQ(*parse_message(b), m);
}

// The request with an extra payload of an unknown type 49 after the Nonce.
Bytes with_unknown_payload(bool critical) {
  Bytes b = test::sa_init_request_bytes();
  const size_t nonce = 28 + 40 + 104;
  b[nonce] = 49;
  const Bytes unknown = {41, uint8_t(critical ? 0x80 : 0), 0, 7, 0xaa, 0xbb, 0xcc};
  b.insert(b.begin() + long(nonce + 36), unknown.begin(), unknown.end());
  set_length(b);
  return b;
}

TEST(IkeMessage, UnknownPayloadSkippedUnlessCritical) {
  auto parsed = parse_message(with_unknown_payload(false));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, test::sa_init_request());
  EXPECT_EQ(parsed->skipped_payload_types, std::vector<uint8_t>{49});

  auto critical = parse_message(with_unknown_payload(true));
  ASSERT_FALSE(critical.ok());
  EXPECT_EQ(error_notify(critical.error()), NotifyType::kUnsupportedCriticalPayload);
  EXPECT_EQ(unsupported_critical_payload(critical.error()), 49);
  EXPECT_TRUE(critical.error().is(ErrorKind::kProtocol));
  EXPECT_NE(critical.error().message.find("49"), std::string::npos);
}

TEST(IkeMessage, CriticalBitOnKnownPayloadKept) {
  Message m = test::sa_init_request();
  m.payloads[2].critical = true;
  auto parsed = parse_message(serialize(m));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, m);
}

TEST(IkeMessage, SkMustBeLast) {
  // HDR, SK, N: the SK body is followed by another payload's bytes.
  Bytes b = serialize(test::ike_auth_request());
  const Bytes notify = {0, 0, 0, 8, 0, 0, 0x40, 0x00};
  b.insert(b.end(), notify.begin(), notify.end());
  set_length(b);
  auto parsed = parse_message(b);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("not the last"), std::string::npos);
  EXPECT_EQ(error_notify(parsed.error()), NotifyType::kInvalidSyntax);

  // The same with SKF.
  Bytes f = serialize(test::ike_auth_fragment());
  f.insert(f.end(), notify.begin(), notify.end());
  set_length(f);
  EXPECT_FALSE(parse_message(f).ok());
}

TEST(IkeMessage, UnencryptedPayloadsBeforeSk) {
  Message m = test::ike_auth_request();
  m.payloads.insert(m.payloads.begin(), Payload::of(test::notify(NotifyType::kInitialContact)));
  auto parsed = parse_message(serialize(m));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, m);
}

TEST(IkeMessage, MalformedPayloadBodyIsInvalidSyntax) {
  Bytes b = test::sa_init_request_bytes();
  b[28 + 4 + 4] = 2;  // proposal number 2 as the only proposal is fine (a response)...
  EXPECT_TRUE(parse_message(b).ok());
  b[28 + 4 + 4] = 0;  // ...0 never is
  auto parsed = parse_message(b);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(error_notify(parsed.error()), NotifyType::kInvalidSyntax);
  EXPECT_TRUE(parsed.error().is(ErrorKind::kParse));
  EXPECT_NE(parsed.error().message.find("offset 28"), std::string::npos) << parsed.error().message;
}

TEST(IkeMessage, InnerChainRoundTrip) {
  Payloads inner = {
      Payload::of(IdPayload{IdType::kFqdn, {'a', '.', 'b'}}),
      Payload::of(AuthPayload{AuthMethod::kSharedKeyMic, test::filled(64, 3)}),
      Payload::of(test::algo_ike_sa()),
  };
  const Bytes chain = serialize_payload_chain(inner);
  EXPECT_EQ(first_payload_type(inner), PayloadType::kIdInitiator);
  EXPECT_EQ(chain[0], uint8_t(PayloadType::kAuthentication));
  auto parsed = parse_payload_chain(first_payload_type(inner), chain);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, inner);

  EXPECT_TRUE(parse_payload_chain(PayloadType::kNone, {}).ok());
  EXPECT_FALSE(parse_payload_chain(PayloadType::kNone, chain).ok());   // bytes, no payload
  EXPECT_FALSE(parse_payload_chain(PayloadType::kNonce, chain).ok());  // IDi is no nonce
  for (size_t n = 0; n < chain.size(); ++n) {
    EXPECT_FALSE(parse_payload_chain(PayloadType::kIdInitiator, ByteSpan(chain).first(n)).ok())
        << n;
  }
}

TEST(IkeMessage, InnerChainCannotNestEncryption) {
  Payloads inner = {Payload::of(EncryptedPayload{PayloadType::kNone, test::filled(16, 0)})};
  auto parsed = parse_payload_chain(PayloadType::kEncrypted, serialize_payload_chain(inner));
  EXPECT_FALSE(parsed.ok());
  Payloads frag = {Payload::of(EncryptedFragmentPayload{PayloadType::kNone, 1, 1, {}})};
  EXPECT_FALSE(
      parse_payload_chain(PayloadType::kEncryptedFragment, serialize_payload_chain(frag)).ok());
}

TEST(IkeMessage, InnerChainSkipsUnknown) {
  const Bytes chain = {40, 0, 0, 5, 0xee, 0, 0, 0, 20};
  std::vector<uint8_t> skipped;
  // 99 (unknown, not critical), then a Nonce cut short.
  EXPECT_FALSE(parse_payload_chain(PayloadType(99), chain, &skipped).ok());
  Bytes ok_chain = {0, 0, 0, 5, 0xee};
  auto parsed = parse_payload_chain(PayloadType(99), ok_chain, &skipped);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->empty());
  EXPECT_EQ(skipped.back(), 99);
}

}  // namespace
}  // namespace waypost::ike
