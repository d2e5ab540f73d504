// IKEv2 payload bodies (RFC 7296 3.3-3.16, RFC 7383 2.5): a round trip of every type, the layout
// of the ones with substructures, and the malformations each parser must refuse.
#include "ike/payloads.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/bytes.h"
#include "ike/message.h"
#include "ike_test_messages.h"
#include "test_util.h"

namespace waypost::ike {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes body_of(const PayloadBody& body) {
  Bytes out;
  append_payload_body(body, out);
  return out;
}

// Serializes, parses back, and compares; returns the body bytes for layout checks.
Bytes expect_round_trip(const Payload& p) {
  Bytes body = body_of(p.body);
  auto parsed = parse_payload_body(p.type, body);
  EXPECT_TRUE(parsed.ok()) << to_string(p.type) << ": " << parsed.error().message;
  if (parsed.ok() && p.type != PayloadType::kEncrypted &&
      p.type != PayloadType::kEncryptedFragment) {
    EXPECT_EQ(*parsed, p.body) << to_string(p.type);
  }
  // And as a chain, where SK/SKF get their first inner type from the generic header.
  Message m;
  m.payloads = {p};
  auto message = parse_message(serialize(m));
  EXPECT_TRUE(message.ok()) << to_string(p.type) << ": " << message.error().message;
  if (message.ok()) {
    EXPECT_EQ(*message, m) << to_string(p.type);
  }
  return body;
}

Result<PayloadBody> parse(PayloadType type, const Bytes& body) {
  return parse_payload_body(type, body);
}

net::IpAddress ip(std::string_view text) {
  return *net::IpAddress::parse(text);
}

// Every payload type, with contents that exercise its optional parts.
Payloads one_of_each() {
  Proposal esp;
  esp.number = 2;
  esp.protocol = ProtocolId::kEsp;
  esp.spi = {0xc0, 0xff, 0xee, 0x01};
  esp.transforms = {
      Transform::with_key_length(TransformType::kEncryption, uint16_t(EncryptionId::kAesCbc), 128),
      Transform::make(TransformType::kIntegrity, uint16_t(IntegrityId::kHmacSha256_128)),
      Transform::make(TransformType::kEsn, uint16_t(EsnId::kNo)),
  };
  // A TLV attribute, as an unknown future one would be.
  esp.transforms[1].attributes.push_back(TransformAttribute{99, false, 0, {1, 2, 3}});
  Proposal ike = test::algo_ike_sa().proposals[0];
  ike.spi = test::filled(8, 0x70);
  SaPayload sa{{ike, esp}};

  NotifyPayload rekey;
  rekey.protocol = ProtocolId::kEsp;
  rekey.spi = {1, 2, 3, 4};
  rekey.type = NotifyType::kRekeySa;

  TrafficSelector v4{6, 443, 443, ip("10.0.0.0"), ip("10.0.0.255")};
  TrafficSelector v6{0, 0, 65535, ip("2001:db8::"), ip("2001:db8::ffff")};
  TrafficSelector opaque{17, 65535, 0, ip("192.0.2.1"), ip("192.0.2.1")};

  ConfigPayload cp;
  cp.type = CfgType::kReply;
  cp.attributes = {
      {uint16_t(CfgAttribute::kInternalIp4Address), {10, 10, 10, 2}},
      {uint16_t(CfgAttribute::kInternalIp4Dns), {1, 1, 1, 1}},
      {uint16_t(CfgAttribute::kInternalIp6Address), test::filled(17, 0x20)},
      {uint16_t(CfgAttribute::kInternalIp6Dns), {}},
  };

  return {
      Payload::of(sa),
      Payload::of(KePayload{DhGroup::kCurve25519, test::filled(32, 9)}),
      Payload::of(NoncePayload{test::filled(16, 1)}),
      Payload::of(NoncePayload{test::filled(256, 1)}),
      Payload::of(IdPayload{IdType::kIpv4, {192, 0, 2, 1}}),
      Payload::of(PayloadType::kIdResponder, IdPayload{IdType::kIpv6, test::filled(16, 0x20)}),
      Payload::of(IdPayload{IdType::kRfc822, {'a', '@', 'b'}}),
      Payload::of(PayloadType::kIdResponder, IdPayload{IdType::kDerAsn1Dn, test::filled(40, 0x30)}),
      Payload::of(CertPayload{CertEncoding::kX509Signature, test::filled(300, 0)}),
      Payload::of(CertReqPayload{CertEncoding::kX509Signature, test::filled(40, 0x11)}),
      Payload::of(CertReqPayload{CertEncoding::kX509Signature, {}}),
      Payload::of(AuthPayload{AuthMethod::kDigitalSignature, test::filled(70, 5)}),
      Payload::of(test::notify(NotifyType::kCookie, test::filled(20, 0xc0))),
      Payload::of(rekey),
      Payload::of(DeletePayload{ProtocolId::kIke, 0, {}}),
      Payload::of(DeletePayload{ProtocolId::kEsp, 4, {{1, 2, 3, 4}, {5, 6, 7, 8}}}),
      Payload::of(VendorIdPayload{test::filled(16, 0x99)}),
      Payload::of(TsPayload{{v4, v6, opaque}}),
      Payload::of(PayloadType::kTsResponder, TsPayload{{v6}}),
      Payload::of(cp),
      Payload::of(ConfigPayload{CfgType::kRequest, {}}),
      Payload::of(EapPayload{{1, 7, 0, 5, 1}}),
      Payload::of(EncryptedPayload{PayloadType::kIdInitiator, test::filled(40, 0)}),
      Payload::of(EncryptedFragmentPayload{PayloadType::kIdInitiator, 1, 5, test::filled(40, 0)}),
  };
}

TEST(IkePayloads, EveryTypeRoundTrips) {
  for (const Payload& p : one_of_each()) expect_round_trip(p);
}

TEST(IkePayloads, AllInOneInnerChain) {
  Payloads all = one_of_each();
  all.pop_back();  // SK and SKF cannot be inside
  all.pop_back();
  auto parsed = parse_payload_chain(first_payload_type(all), serialize_payload_chain(all));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, all);
}

TEST(IkePayloads, SaLayout) {
  SaPayload sa;
  Proposal p;
  p.number = 1;
  p.protocol = ProtocolId::kEsp;
  p.spi = {0xaa, 0xbb, 0xcc, 0xdd};
  p.transforms = {Transform::with_key_length(TransformType::kEncryption,
                                             uint16_t(EncryptionId::kAesGcm16), 128),
                  Transform::make(TransformType::kEsn, 0)};
  sa.proposals = {p, p};
  sa.proposals[1].number = 2;
  const Bytes body = expect_round_trip(Payload::of(sa));
  // Proposal: more (2), length 8 + 4 + 12 + 8 = 32, number 1, ESP, SPI size 4, 2 transforms.
  EXPECT_EQ(waypost::test::hex_of(Bytes(body.begin(), body.begin() + 12)),
            "0200002001030402aabbccdd");
  // Transform 1: more (3), length 12, ENCR, id 20, TV key length 128.
  EXPECT_EQ(waypost::test::hex_of(Bytes(body.begin() + 12, body.begin() + 24)),
            "0300000c01000014800e0080");
  // Transform 2: last (0), length 8, ESN, id 0.
  EXPECT_EQ(waypost::test::hex_of(Bytes(body.begin() + 24, body.begin() + 32)), "0000000805000000");
  // The second proposal is the last (0).
  EXPECT_EQ(body[32], 0);
  EXPECT_EQ(body[36], 2);
  EXPECT_EQ(body.size(), 64U);
}

// A one-proposal IKE SA body to mutate: proposal header at 0, transforms at 8 and 16.
Bytes small_sa() {
  return {0, 0, 0, 24, 1, 1, 0, 2,    // last, length 24, #1, IKE, no SPI, 2 transforms
          3, 0, 0, 8,  2, 0, 0, 7,    // more, PRF_HMAC_SHA2_512
          0, 0, 0, 8,  4, 0, 0, 20};  // last, group 20
}

TEST(IkePayloads, SaMalformations) {
  ASSERT_TRUE(parse(PayloadType::kSecurityAssociation, small_sa()).ok());
  auto mutated = [](size_t offset, uint8_t value) {
    Bytes b = small_sa();
    b[offset] = value;
    return parse(PayloadType::kSecurityAssociation, b);
  };
  EXPECT_FALSE(parse(PayloadType::kSecurityAssociation, {}).ok());  // no proposals
  EXPECT_FALSE(mutated(0, 2).ok());    // says more, but nothing follows
  EXPECT_FALSE(mutated(0, 1).ok());    // not a proposal marker
  EXPECT_FALSE(mutated(3, 23).ok());   // proposal length short
  EXPECT_FALSE(mutated(3, 25).ok());   // proposal length long
  EXPECT_FALSE(mutated(3, 7).ok());    // shorter than its header
  EXPECT_FALSE(mutated(4, 0).ok());    // proposal number 0
  EXPECT_FALSE(mutated(6, 4).ok());    // SPI size 4 eats the first transform's header
  EXPECT_FALSE(mutated(6, 3).ok());    // SPI size 3
  EXPECT_FALSE(mutated(7, 1).ok());    // transform count too small
  EXPECT_FALSE(mutated(7, 3).ok());    // transform count too large
  EXPECT_FALSE(mutated(8, 0).ok());    // first transform says last
  EXPECT_FALSE(mutated(8, 2).ok());    // proposal marker used on a transform
  EXPECT_FALSE(mutated(16, 3).ok());   // last transform says more
  EXPECT_FALSE(mutated(11, 7).ok());   // transform length below its header
  EXPECT_FALSE(mutated(11, 9).ok());   // transform length beyond the next
  EXPECT_FALSE(mutated(19, 12).ok());  // last transform overruns the proposal

  // An attribute cut short: TV key length with one byte, TLV with its length beyond.
  Bytes tv = small_sa();
  tv[3] = 27;
  tv[11] = 11;
  tv.insert(tv.begin() + 16, {0x80, 14, 1});
  EXPECT_FALSE(parse(PayloadType::kSecurityAssociation, tv).ok());
  Bytes tlv = small_sa();
  tlv[3] = 28;
  tlv[11] = 12;
  tlv.insert(tlv.begin() + 16, {0x00, 99, 0, 5});
  EXPECT_FALSE(parse(PayloadType::kSecurityAssociation, tlv).ok());
  // A proposal without transforms.
  EXPECT_FALSE(parse(PayloadType::kSecurityAssociation, {0, 0, 0, 8, 1, 1, 0, 0}).ok());
  // Bytes after the last proposal.
  Bytes trailing = small_sa();
  trailing.insert(trailing.end(), {0, 0, 0, 8});
  EXPECT_FALSE(parse(PayloadType::kSecurityAssociation, trailing).ok());
}

TEST(IkePayloads, ProposalNumbering) {
  auto with_numbers = [](const std::vector<uint8_t>& numbers) {
    SaPayload sa;
    for (uint8_t n : numbers) {
      Proposal p = test::algo_ike_sa().proposals[0];
      p.number = n;
      sa.proposals.push_back(p);
    }
    return parse(PayloadType::kSecurityAssociation, body_of(PayloadBody(sa)));
  };
  EXPECT_TRUE(with_numbers({1}).ok());
  EXPECT_TRUE(with_numbers({3}).ok());  // a response accepting proposal 3
  EXPECT_TRUE(with_numbers({1, 2, 3}).ok());
  EXPECT_FALSE(with_numbers({0}).ok());
  EXPECT_FALSE(with_numbers({1, 3}).ok());
  EXPECT_FALSE(with_numbers({2, 3}).ok());
  EXPECT_FALSE(with_numbers({1, 1}).ok());  // IKEv1's "AND" numbering is not IKEv2
  EXPECT_FALSE(with_numbers({1, 2, 2}).ok());
}

TEST(IkePayloads, NonceBounds) {
  EXPECT_FALSE(parse(PayloadType::kNonce, test::filled(15, 0)).ok());
  EXPECT_TRUE(parse(PayloadType::kNonce, test::filled(16, 0)).ok());
  EXPECT_TRUE(parse(PayloadType::kNonce, test::filled(256, 0)).ok());
  EXPECT_FALSE(parse(PayloadType::kNonce, test::filled(257, 0)).ok());
  EXPECT_FALSE(parse(PayloadType::kNonce, {}).ok());
}

TEST(IkePayloads, FixedHeadersTruncated) {
  for (PayloadType t :
       {PayloadType::kKeyExchange, PayloadType::kIdInitiator, PayloadType::kAuthentication,
        PayloadType::kNotify, PayloadType::kDelete, PayloadType::kTsInitiator,
        PayloadType::kConfiguration, PayloadType::kEncryptedFragment}) {
    for (size_t n = 0; n < 4; ++n) {
      EXPECT_FALSE(parse(t, Bytes(n, 0)).ok()) << to_string(t) << " " << n;
    }
  }
  EXPECT_FALSE(parse(PayloadType::kCertificate, {}).ok());
  EXPECT_FALSE(parse(PayloadType::kCertificateRequest, {}).ok());
  // Opaque bodies may be empty.
  EXPECT_TRUE(parse(PayloadType::kVendorId, {}).ok());
  EXPECT_TRUE(parse(PayloadType::kEncrypted, {}).ok());
  EXPECT_TRUE(parse(PayloadType::kKeyExchange, {0, 20, 0, 0}).ok());
}

TEST(IkePayloads, AddressIdentitiesHaveTheirSize) {
  EXPECT_FALSE(parse(PayloadType::kIdInitiator, {1, 0, 0, 0, 10, 0, 0}).ok());
  EXPECT_TRUE(parse(PayloadType::kIdInitiator, {1, 0, 0, 0, 10, 0, 0, 1}).ok());
  EXPECT_FALSE(parse(PayloadType::kIdInitiator, {5, 0, 0, 0, 10, 0, 0, 1}).ok());
}

TEST(IkePayloads, NotifySpiMustFit) {
  EXPECT_FALSE(parse(PayloadType::kNotify, {3, 4, 0x40, 0x09, 1, 2, 3}).ok());
  auto n = parse(PayloadType::kNotify, {3, 4, 0x40, 0x09, 1, 2, 3, 4, 9});
  ASSERT_TRUE(n.ok());
  const auto& notify = std::get<NotifyPayload>(*n);
  EXPECT_EQ(notify.type, NotifyType::kRekeySa);
  EXPECT_EQ(notify.spi, (Bytes{1, 2, 3, 4}));
  EXPECT_EQ(notify.data, Bytes{9});
}

TEST(IkePayloads, DeleteCountsChecked) {
  EXPECT_TRUE(parse(PayloadType::kDelete, {3, 4, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8}).ok());
  EXPECT_FALSE(parse(PayloadType::kDelete, {3, 4, 0, 2, 1, 2, 3, 4, 5, 6, 7}).ok());
  EXPECT_FALSE(parse(PayloadType::kDelete, {3, 4, 0, 1, 1, 2, 3, 4, 5}).ok());
  EXPECT_FALSE(parse(PayloadType::kDelete, {1, 0, 0, 3}).ok());  // SPIs of no size
  EXPECT_FALSE(parse(PayloadType::kDelete, {3, 4, 0xff, 0xff, 1, 2, 3, 4}).ok());
}

Bytes v4_ts(uint16_t start_port, uint16_t end_port, std::initializer_list<uint8_t> start,
            std::initializer_list<uint8_t> end) {
  Bytes b = {1, 0, 0, 0, 7, 6, 0, 16};
  b.push_back(uint8_t(start_port >> 8));
  b.push_back(uint8_t(start_port));
  b.push_back(uint8_t(end_port >> 8));
  b.push_back(uint8_t(end_port));
  b.insert(b.end(), start);
  b.insert(b.end(), end);
  return b;
}

TEST(IkePayloads, TrafficSelectorRanges) {
  EXPECT_TRUE(parse(PayloadType::kTsInitiator, v4_ts(0, 65535, {10, 0, 0, 0}, {10, 0, 0, 9})).ok());
  EXPECT_TRUE(parse(PayloadType::kTsInitiator, v4_ts(80, 80, {10, 0, 0, 1}, {10, 0, 0, 1})).ok());
  // Start after end: addresses, ports.
  EXPECT_FALSE(
      parse(PayloadType::kTsInitiator, v4_ts(0, 65535, {10, 0, 0, 9}, {10, 0, 0, 0})).ok());
  EXPECT_FALSE(parse(PayloadType::kTsInitiator, v4_ts(81, 80, {10, 0, 0, 1}, {10, 0, 0, 1})).ok());
  // OPAQUE ports.
  EXPECT_TRUE(parse(PayloadType::kTsInitiator, v4_ts(65535, 0, {10, 0, 0, 1}, {10, 0, 0, 1})).ok());

  Bytes v6 = {1, 0, 0, 0, 8, 0, 0, 40, 0, 0, 0xff, 0xff};
  Bytes lo = test::filled(16, 0x10);
  Bytes hi = test::filled(16, 0x10);
  hi[15] = 0xff;
  Bytes good = v6;
  good.insert(good.end(), lo.begin(), lo.end());
  good.insert(good.end(), hi.begin(), hi.end());
  EXPECT_TRUE(parse(PayloadType::kTsResponder, good).ok());
  Bytes reversed = v6;
  reversed.insert(reversed.end(), hi.begin(), hi.end());
  reversed.insert(reversed.end(), lo.begin(), lo.end());
  EXPECT_FALSE(parse(PayloadType::kTsResponder, reversed).ok());
}

TEST(IkePayloads, TrafficSelectorStructure) {
  const Bytes good = v4_ts(0, 65535, {10, 0, 0, 0}, {10, 0, 0, 9});
  auto mutated = [&](size_t offset, uint8_t value) {
    Bytes b = good;
    b[offset] = value;
    return parse(PayloadType::kTsInitiator, b);
  };
  EXPECT_FALSE(mutated(0, 0).ok());   // no selectors
  EXPECT_FALSE(mutated(0, 2).ok());   // two counted, one present
  EXPECT_FALSE(mutated(4, 8).ok());   // IPv6 type with the IPv4 length
  EXPECT_FALSE(mutated(4, 9).ok());   // unknown selector type
  EXPECT_FALSE(mutated(7, 15).ok());  // wrong length
  EXPECT_FALSE(mutated(7, 17).ok());
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_FALSE(parse(PayloadType::kTsInitiator, trailing).ok());
  for (size_t n = 4; n < good.size(); ++n) {
    EXPECT_FALSE(parse(PayloadType::kTsInitiator, Bytes(good.begin(), good.begin() + long(n))).ok())
        << n;
  }
}

TEST(IkePayloads, ConfigAttributes) {
  // CFG_REQUEST for INTERNAL_IP4_ADDRESS (empty) and INTERNAL_IP4_DNS with the reserved bit set,
  // which is ignored.
  auto parsed = parse(PayloadType::kConfiguration, {1, 0, 0, 0, 0, 1, 0, 0, 0x80, 3, 0, 0});
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const auto& cp = std::get<ConfigPayload>(*parsed);
  EXPECT_EQ(cp.type, CfgType::kRequest);
  ASSERT_EQ(cp.attributes.size(), 2U);
  EXPECT_EQ(cp.attributes[1].type, uint16_t(CfgAttribute::kInternalIp4Dns));
  EXPECT_EQ(body_of(*parsed), (Bytes{1, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0}));

  // An attribute cut anywhere.
  const Bytes reply = {2, 0, 0, 0, 0, 1, 0, 4, 10, 0, 0, 2};
  ASSERT_TRUE(parse(PayloadType::kConfiguration, reply).ok());
  for (size_t n = 5; n < reply.size(); ++n) {
    EXPECT_FALSE(
        parse(PayloadType::kConfiguration, Bytes(reply.begin(), reply.begin() + long(n))).ok())
        << n;
  }
  Bytes long_length = reply;
  long_length[7] = 5;
  EXPECT_FALSE(parse(PayloadType::kConfiguration, long_length).ok());
}

TEST(IkePayloads, EncryptedFragmentNumbers) {
  EXPECT_TRUE(parse(PayloadType::kEncryptedFragment, {0, 1, 0, 1}).ok());
  EXPECT_TRUE(parse(PayloadType::kEncryptedFragment, {0, 3, 0, 3, 9}).ok());
  EXPECT_FALSE(parse(PayloadType::kEncryptedFragment, {0, 0, 0, 1}).ok());
  EXPECT_FALSE(parse(PayloadType::kEncryptedFragment, {0, 1, 0, 0}).ok());
  EXPECT_FALSE(parse(PayloadType::kEncryptedFragment, {0, 4, 0, 3}).ok());
}

TEST(IkePayloads, KnownTypes) {
  EXPECT_FALSE(is_known_payload_type(0));
  EXPECT_FALSE(is_known_payload_type(32));
  for (uint8_t t = 33; t <= 48; ++t) EXPECT_TRUE(is_known_payload_type(t)) << int(t);
  EXPECT_FALSE(is_known_payload_type(49));
  EXPECT_TRUE(is_known_payload_type(53));
  EXPECT_FALSE(is_known_payload_type(255));
}

TEST(IkePayloads, Finders) {
  const Payloads all = one_of_each();
  EXPECT_EQ(find_payloads(all, PayloadType::kIdResponder).size(), 2U);
  const auto* idr = find_body<IdPayload>(all, PayloadType::kIdResponder);
  ASSERT_NE(idr, nullptr);
  EXPECT_EQ(idr->type, IdType::kIpv6);
  EXPECT_EQ(find_body<IdPayload>(all)->type, IdType::kIpv4);  // IDi by default
  EXPECT_EQ(find_body<TsPayload>(all, PayloadType::kTsResponder)->selectors.size(), 1U);
  EXPECT_EQ(find_body<EapPayload>(Payloads{}), nullptr);
  const auto* rekey = find_notify(all, NotifyType::kRekeySa);
  ASSERT_NE(rekey, nullptr);
  EXPECT_EQ(rekey->protocol, ProtocolId::kEsp);
  EXPECT_EQ(find_notifies(all, NotifyType::kCookie).size(), 1U);
  EXPECT_EQ(find_payload(all, PayloadType::kEap)->type, PayloadType::kEap);
}

}  // namespace
}  // namespace waypost::ike
