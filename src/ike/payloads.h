#pragma once
// IKEv2 payload bodies (RFC 7296 3.3-3.16, RFC 7383 2.5): one struct per payload, the `Payload`
// that carries one of them with the generic header's fields, and the codec of a single body.
// Walking a chain of payloads (the generic headers, the critical bit, SK last) is message.h's job;
// here a body is the bytes after its 4-byte generic header.
//
// Parsing checks every length and count the RFC fixes and rejects what cannot be represented
// faithfully, so that whatever parses serializes back to an equal payload. It does not judge
// meaning (which transforms are acceptable, whether a notify belongs in this exchange): that is
// the exchanges' business.

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "ike/constants.h"
#include "net/ip.h"

namespace waypost::ike {

using Bytes = std::vector<uint8_t>;

// Protocol ID 0: a notify or proposal about no SA in particular (RFC 7296 3.10).
constexpr ProtocolId kNoProtocol{0};

// Nonce sizes (RFC 7296 3.9: "between 16 and 256 octets, inclusive").
constexpr size_t kMinNonceSize = 16;
constexpr size_t kMaxNonceSize = 256;

// --- SA (3.3) ---------------------------------------------------------------------------------

// A transform attribute (3.3.5). TV attributes (the format bit set) carry a 16-bit value in the
// header; TLV attributes carry bytes. Key Length (type 14) is the only one RFC 7296 defines.
struct TransformAttribute {
  uint16_t type = 0;  // without the format bit
  bool tv = true;
  uint16_t value = 0;  // TV
  Bytes data;          // TLV
  bool operator==(const TransformAttribute&) const = default;
};

struct Transform {
  TransformType type = TransformType::kEncryption;
  uint16_t id = 0;
  std::vector<TransformAttribute> attributes;

  // The Key Length attribute, in bits, if present.
  std::optional<uint16_t> key_length() const;
  static Transform make(TransformType type, uint16_t id);
  static Transform with_key_length(TransformType type, uint16_t id, uint16_t bits);
  bool operator==(const Transform&) const = default;
};

struct Proposal {
  uint8_t number = 1;
  ProtocolId protocol = ProtocolId::kIke;
  Bytes spi;  // 0 bytes (IKE_SA_INIT), 4 (ESP, AH) or 8 (IKE SA rekey)
  std::vector<Transform> transforms;
  bool operator==(const Proposal&) const = default;
};

struct SaPayload {
  static constexpr PayloadType kType = PayloadType::kSecurityAssociation;
  std::vector<Proposal> proposals;
  bool operator==(const SaPayload&) const = default;
};

// --- the simple ones --------------------------------------------------------------------------

struct KePayload {  // 3.4
  static constexpr PayloadType kType = PayloadType::kKeyExchange;
  DhGroup group = DhGroup::kNone;
  Bytes data;
  bool operator==(const KePayload&) const = default;
};

struct NoncePayload {  // 3.9
  static constexpr PayloadType kType = PayloadType::kNonce;
  Bytes nonce;
  bool operator==(const NoncePayload&) const = default;
};

struct IdPayload {  // 3.5; the same body for IDi and IDr (the Payload's type says which)
  static constexpr PayloadType kType = PayloadType::kIdInitiator;
  IdType type = IdType::kFqdn;
  Bytes data;
  bool operator==(const IdPayload&) const = default;
};

struct AuthPayload {  // 3.8
  static constexpr PayloadType kType = PayloadType::kAuthentication;
  AuthMethod method = AuthMethod::kSharedKeyMic;
  Bytes data;
  bool operator==(const AuthPayload&) const = default;
};

struct CertPayload {  // 3.6
  static constexpr PayloadType kType = PayloadType::kCertificate;
  CertEncoding encoding = CertEncoding::kX509Signature;
  Bytes data;
  bool operator==(const CertPayload&) const = default;
};

struct CertReqPayload {  // 3.7; for X.509, data is a list of 20-byte SHA-1 hashes of CA keys
  static constexpr PayloadType kType = PayloadType::kCertificateRequest;
  CertEncoding encoding = CertEncoding::kX509Signature;
  Bytes data;
  bool operator==(const CertReqPayload&) const = default;
};

struct NotifyPayload {  // 3.10
  static constexpr PayloadType kType = PayloadType::kNotify;
  ProtocolId protocol = kNoProtocol;
  Bytes spi;
  NotifyType type = NotifyType::kInitialContact;
  Bytes data;
  bool operator==(const NotifyPayload&) const = default;
};

struct DeletePayload {  // 3.11
  static constexpr PayloadType kType = PayloadType::kDelete;
  ProtocolId protocol = ProtocolId::kIke;
  uint8_t spi_size = 0;  // 0 for the IKE SA, 4 for ESP/AH; every entry of spis has this size
  std::vector<Bytes> spis;
  bool operator==(const DeletePayload&) const = default;
};

struct VendorIdPayload {  // 3.12
  static constexpr PayloadType kType = PayloadType::kVendorId;
  Bytes id;
  bool operator==(const VendorIdPayload&) const = default;
};

// --- TS (3.13) --------------------------------------------------------------------------------

// An address range selector (TS_IPV4_ADDR_RANGE or TS_IPV6_ADDR_RANGE, after the family of its
// addresses). Ports are inclusive; protocol 0 means any.
struct TrafficSelector {
  uint8_t ip_protocol = 0;
  uint16_t start_port = 0;
  uint16_t end_port = 65535;
  net::IpAddress start;
  net::IpAddress end;

  TsType type() const { return start.is_v4() ? TsType::kIpv4Range : TsType::kIpv6Range; }
  bool operator==(const TrafficSelector&) const = default;
};

struct TsPayload {  // the same body for TSi and TSr
  static constexpr PayloadType kType = PayloadType::kTsInitiator;
  std::vector<TrafficSelector> selectors;
  bool operator==(const TsPayload&) const = default;
};

// --- CP (3.15) --------------------------------------------------------------------------------

struct ConfigAttribute {
  uint16_t type = 0;  // 15 bits; the reserved bit is sent as zero and ignored on receipt
  Bytes value;        // empty in a CFG_REQUEST that asks for any value
  bool operator==(const ConfigAttribute&) const = default;
};

struct ConfigPayload {
  static constexpr PayloadType kType = PayloadType::kConfiguration;
  CfgType type = CfgType::kRequest;
  std::vector<ConfigAttribute> attributes;
  bool operator==(const ConfigPayload&) const = default;
};

// --- kept opaque ------------------------------------------------------------------------------

struct EapPayload {  // 3.16: the EAP message, for an EAP method to read
  static constexpr PayloadType kType = PayloadType::kEap;
  Bytes message;
  bool operator==(const EapPayload&) const = default;
};

// SK (3.14): IV || ciphertext || ICV, split by the negotiated cipher. first_inner is the generic
// header's Next Payload, which for SK names the first payload inside. The body is the last bytes
// of the datagram (SK is always last), which the cipher needs for the ICV.
struct EncryptedPayload {
  static constexpr PayloadType kType = PayloadType::kEncrypted;
  PayloadType first_inner = PayloadType::kNone;
  Bytes body;
  bool operator==(const EncryptedPayload&) const = default;
};

// SKF (RFC 7383 2.5): one fragment of an SK payload's plaintext, encrypted on its own.
// first_inner is set in fragment 1 only (zero in the others).
struct EncryptedFragmentPayload {
  static constexpr PayloadType kType = PayloadType::kEncryptedFragment;
  PayloadType first_inner = PayloadType::kNone;
  uint16_t number = 1;  // 1..total
  uint16_t total = 1;
  Bytes body;  // IV || ciphertext || ICV
  bool operator==(const EncryptedFragmentPayload&) const = default;
};

using PayloadBody =
    std::variant<SaPayload, KePayload, NoncePayload, IdPayload, AuthPayload, CertPayload,
                 CertReqPayload, NotifyPayload, DeletePayload, VendorIdPayload, TsPayload,
                 ConfigPayload, EapPayload, EncryptedPayload, EncryptedFragmentPayload>;

// One payload: its type (which tells IDi from IDr and TSi from TSr), the critical bit as received
// (RFC 7296 3.2: ignored for types we understand, kept so that a message round-trips), and the
// body.
struct Payload {
  PayloadType type = PayloadType::kNone;
  bool critical = false;
  PayloadBody body;

  // A payload of the body's usual type (IDi for an IdPayload, TSi for a TsPayload).
  template <typename T>
  static Payload of(T body) {
    return Payload{T::kType, false, PayloadBody(std::move(body))};
  }
  template <typename T>
  static Payload of(PayloadType type, T body) {
    return Payload{type, false, PayloadBody(std::move(body))};
  }
  template <typename T>
  const T* get() const {
    return std::get_if<T>(&body);
  }
  bool operator==(const Payload&) const = default;
};

using Payloads = std::vector<Payload>;

// Whether this codec knows the payload type (RFC 7296's types, SKF). An unknown type is skipped
// by the chain parser, or rejected when its critical bit is set.
bool is_known_payload_type(uint8_t type);

// Parses the body of a payload of a known type (not SK/SKF's first_inner, which lives in the
// generic header and is filled in by the chain parser). Errors are kParse.
Result<PayloadBody> parse_payload_body(PayloadType type, ByteSpan body);

// Appends the body (without the generic header) to out.
void append_payload_body(const PayloadBody& body, Bytes& out);

// --- finding payloads -------------------------------------------------------------------------

// The first payload of this type, or nullptr.
const Payload* find_payload(const Payloads& payloads, PayloadType type);
// The body of the first payload of this type, if it has that body.
template <typename T>
const T* find_body(const Payloads& payloads, PayloadType type = T::kType) {
  const Payload* p = find_payload(payloads, type);
  return p ? p->get<T>() : nullptr;
}
// All payloads of this type, in order.
std::vector<const Payload*> find_payloads(const Payloads& payloads, PayloadType type);
// The first notify of this type, or nullptr; all of them (NAT detection may carry several).
const NotifyPayload* find_notify(const Payloads& payloads, NotifyType type);
std::vector<const NotifyPayload*> find_notifies(const Payloads& payloads, NotifyType type);
// The first notify of an error type (below 16384), or nullptr: a refusal.
const NotifyPayload* find_error_notify(const Payloads& payloads);

}  // namespace waypost::ike
