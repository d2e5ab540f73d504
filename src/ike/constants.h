#pragma once
// IKEv2 numbers from RFC 7296 section 3 and the IANA "Internet Key Exchange Version 2 (IKEv2)
// Parameters" registry, plus the extensions Waypost speaks (RFC 4555 MOBIKE, RFC 7383
// fragmentation, RFC 7427 signature authentication, RFC 7634 ChaCha20-Poly1305). One place, so
// the message codec, the exchanges, the key material and the configuration all name them alike.

#include <cstddef>
#include <cstdint>
#include <string>

namespace waypost::ike {

constexpr uint8_t kVersion = 0x20;  // major 2, minor 0
constexpr uint16_t kPort = 500;
constexpr uint16_t kNatTPort = 4500;  // IKE behind the four-zero non-ESP marker, and ESP-in-UDP
constexpr size_t kHeaderSize = 28;
constexpr size_t kGenericPayloadHeaderSize = 4;

enum class ExchangeType : uint8_t {
  kIkeSaInit = 34,
  kIkeAuth = 35,
  kCreateChildSa = 36,
  kInformational = 37,
};

// Header flags (RFC 7296 3.1).
constexpr uint8_t kFlagInitiator = 0x08;
constexpr uint8_t kFlagVersion = 0x10;
constexpr uint8_t kFlagResponse = 0x20;
// The critical bit of a generic payload header (RFC 7296 3.2).
constexpr uint8_t kPayloadCritical = 0x80;

enum class PayloadType : uint8_t {
  kNone = 0,
  kSecurityAssociation = 33,
  kKeyExchange = 34,
  kIdInitiator = 35,
  kIdResponder = 36,
  kCertificate = 37,
  kCertificateRequest = 38,
  kAuthentication = 39,
  kNonce = 40,
  kNotify = 41,
  kDelete = 42,
  kVendorId = 43,
  kTsInitiator = 44,
  kTsResponder = 45,
  kEncrypted = 46,  // SK
  kConfiguration = 47,
  kEap = 48,
  kEncryptedFragment = 53,  // SKF, RFC 7383
};

enum class ProtocolId : uint8_t {
  kIke = 1,
  kAh = 2,
  kEsp = 3,
};

enum class TransformType : uint8_t {
  kEncryption = 1,
  kPrf = 2,
  kIntegrity = 3,
  kKeyExchange = 4,  // "Diffie-Hellman group"
  kEsn = 5,
};

enum class EncryptionId : uint16_t {
  kAesCbc = 12,
  kAesCtr = 13,
  kAesGcm8 = 18,
  kAesGcm12 = 19,
  kAesGcm16 = 20,
  kChaCha20Poly1305 = 28,
};

// Combined-mode ciphers: they need no integrity transform (RFC 5282, RFC 7634).
constexpr bool is_aead(EncryptionId id) {
  return id == EncryptionId::kAesGcm8 || id == EncryptionId::kAesGcm12 ||
         id == EncryptionId::kAesGcm16 || id == EncryptionId::kChaCha20Poly1305;
}

enum class PrfId : uint16_t {
  kHmacSha1 = 2,
  kHmacSha256 = 5,
  kHmacSha384 = 6,
  kHmacSha512 = 7,
};

enum class IntegrityId : uint16_t {
  kNone = 0,
  kHmacSha1_96 = 2,
  kHmacSha256_128 = 12,
  kHmacSha384_192 = 13,
  kHmacSha512_256 = 14,
};

enum class DhGroup : uint16_t {
  kNone = 0,
  kModp1024 = 2,
  kModp2048 = 14,
  kModp3072 = 15,
  kModp4096 = 16,
  kEcp256 = 19,
  kEcp384 = 20,
  kEcp521 = 21,
  kCurve25519 = 31,
};

enum class EsnId : uint16_t {
  kNo = 0,
  kYes = 1,
};

// Transform attribute (TV format: the high bit of the type set).
constexpr uint16_t kAttributeFormatTv = 0x8000;
constexpr uint16_t kAttributeKeyLength = 14;

enum class AuthMethod : uint8_t {
  kRsaSignature = 1,
  kSharedKeyMic = 2,
  kEcdsaSha256P256 = 9,
  kEcdsaSha384P384 = 10,
  kEcdsaSha512P521 = 11,
  kDigitalSignature = 14,  // RFC 7427
};

// RFC 7427 hash algorithm identifiers (SIGNATURE_HASH_ALGORITHMS notify).
enum class HashAlgorithm : uint16_t {
  kSha1 = 1,
  kSha256 = 2,
  kSha384 = 3,
  kSha512 = 4,
};

enum class IdType : uint8_t {
  kIpv4 = 1,
  kFqdn = 2,
  kRfc822 = 3,  // e-mail address
  kIpv6 = 5,
  kDerAsn1Dn = 9,
  kDerAsn1Gn = 10,
  kKeyId = 11,
};

enum class CertEncoding : uint8_t {
  kX509Signature = 4,
  kCrl = 7,
};

enum class TsType : uint8_t {
  kIpv4Range = 7,
  kIpv6Range = 8,
};

enum class CfgType : uint8_t {
  kRequest = 1,
  kReply = 2,
  kSet = 3,
  kAck = 4,
};

enum class CfgAttribute : uint16_t {
  kInternalIp4Address = 1,
  kInternalIp4Netmask = 2,
  kInternalIp4Dns = 3,
  kInternalIp4Nbns = 4,
  kInternalIp4Dhcp = 6,
  kApplicationVersion = 7,
  kInternalIp6Address = 8,
  kInternalIp6Dns = 10,
  kInternalIp6Dhcp = 12,
  kInternalIp4Subnet = 13,
  kSupportedAttributes = 14,
  kInternalIp6Subnet = 15,
};

enum class NotifyType : uint16_t {
  // Errors (< 16384).
  kUnsupportedCriticalPayload = 1,
  kInvalidIkeSpi = 4,
  kInvalidMajorVersion = 5,
  kInvalidSyntax = 7,
  kInvalidMessageId = 9,
  kInvalidSpi = 11,
  kNoProposalChosen = 14,
  kInvalidKePayload = 17,
  kAuthenticationFailed = 24,
  kSinglePairRequired = 34,
  kNoAdditionalSas = 35,
  kInternalAddressFailure = 36,
  kFailedCpRequired = 37,
  kTsUnacceptable = 38,
  kInvalidSelectors = 39,
  kTemporaryFailure = 43,
  kChildSaNotFound = 44,
  // Status (>= 16384).
  kInitialContact = 16384,
  kSetWindowSize = 16385,
  kAdditionalTsPossible = 16386,
  kIpcompSupported = 16387,
  kNatDetectionSourceIp = 16388,
  kNatDetectionDestinationIp = 16389,
  kCookie = 16390,
  kUseTransportMode = 16391,
  kHttpCertLookupSupported = 16392,
  kRekeySa = 16393,
  kEspTfcPaddingNotSupported = 16394,
  kNonFirstFragmentsAlso = 16395,
  kMobikeSupported = 16396,
  kAdditionalIp4Address = 16397,
  kAdditionalIp6Address = 16398,
  kNoAdditionalAddresses = 16399,
  kUpdateSaAddresses = 16400,
  kCookie2 = 16401,
  kNoNatsAllowed = 16402,
  kAuthLifetime = 16403,
  kMultipleAuthSupported = 16404,
  kAnotherAuthFollows = 16405,
  kRedirectSupported = 16406,
  kRedirect = 16407,
  kRedirectedFrom = 16408,
  kEapOnlyAuthentication = 16417,
  kChildlessIkev2Supported = 16418,
  kIkev2FragmentationSupported = 16430,
  kSignatureHashAlgorithms = 16431,
};

constexpr bool is_error(NotifyType t) {
  return uint16_t(t) < 16384;
}

// The registry's names ("IKE_SA_INIT", "NO_PROPOSAL_CHOSEN"), as strongSwan's logs print them;
// an unknown number prints as the number.
std::string to_string(ExchangeType t);
std::string to_string(PayloadType t);
std::string to_string(NotifyType t);

}  // namespace waypost::ike
