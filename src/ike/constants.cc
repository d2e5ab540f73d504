// Names for log lines and status output, as the RFCs and strongSwan print them, so that a user
// can search for what the log says.
#include "ike/constants.h"

#include <fmt/format.h>

namespace waypost::ike {

std::string to_string(ExchangeType t) {
  switch (t) {
    case ExchangeType::kIkeSaInit:
      return "IKE_SA_INIT";
    case ExchangeType::kIkeAuth:
      return "IKE_AUTH";
    case ExchangeType::kCreateChildSa:
      return "CREATE_CHILD_SA";
    case ExchangeType::kInformational:
      return "INFORMATIONAL";
  }
  return fmt::format("exchange {}", unsigned(t));
}

std::string to_string(PayloadType t) {
  switch (t) {
    case PayloadType::kNone:
      return "NONE";
    case PayloadType::kSecurityAssociation:
      return "SA";
    case PayloadType::kKeyExchange:
      return "KE";
    case PayloadType::kIdInitiator:
      return "IDi";
    case PayloadType::kIdResponder:
      return "IDr";
    case PayloadType::kCertificate:
      return "CERT";
    case PayloadType::kCertificateRequest:
      return "CERTREQ";
    case PayloadType::kAuthentication:
      return "AUTH";
    case PayloadType::kNonce:
      return "No";
    case PayloadType::kNotify:
      return "N";
    case PayloadType::kDelete:
      return "D";
    case PayloadType::kVendorId:
      return "V";
    case PayloadType::kTsInitiator:
      return "TSi";
    case PayloadType::kTsResponder:
      return "TSr";
    case PayloadType::kEncrypted:
      return "SK";
    case PayloadType::kConfiguration:
      return "CP";
    case PayloadType::kEap:
      return "EAP";
    case PayloadType::kEncryptedFragment:
      return "SKF";
  }
  return fmt::format("payload {}", unsigned(t));
}

std::string to_string(NotifyType t) {
  switch (t) {
    case NotifyType::kUnsupportedCriticalPayload:
      return "UNSUPPORTED_CRITICAL_PAYLOAD";
    case NotifyType::kInvalidIkeSpi:
      return "INVALID_IKE_SPI";
    case NotifyType::kInvalidMajorVersion:
      return "INVALID_MAJOR_VERSION";
    case NotifyType::kInvalidSyntax:
      return "INVALID_SYNTAX";
    case NotifyType::kInvalidMessageId:
      return "INVALID_MESSAGE_ID";
    case NotifyType::kInvalidSpi:
      return "INVALID_SPI";
    case NotifyType::kNoProposalChosen:
      return "NO_PROPOSAL_CHOSEN";
    case NotifyType::kInvalidKePayload:
      return "INVALID_KE_PAYLOAD";
    case NotifyType::kAuthenticationFailed:
      return "AUTHENTICATION_FAILED";
    case NotifyType::kSinglePairRequired:
      return "SINGLE_PAIR_REQUIRED";
    case NotifyType::kNoAdditionalSas:
      return "NO_ADDITIONAL_SAS";
    case NotifyType::kInternalAddressFailure:
      return "INTERNAL_ADDRESS_FAILURE";
    case NotifyType::kFailedCpRequired:
      return "FAILED_CP_REQUIRED";
    case NotifyType::kTsUnacceptable:
      return "TS_UNACCEPTABLE";
    case NotifyType::kInvalidSelectors:
      return "INVALID_SELECTORS";
    case NotifyType::kTemporaryFailure:
      return "TEMPORARY_FAILURE";
    case NotifyType::kChildSaNotFound:
      return "CHILD_SA_NOT_FOUND";
    case NotifyType::kInitialContact:
      return "INITIAL_CONTACT";
    case NotifyType::kSetWindowSize:
      return "SET_WINDOW_SIZE";
    case NotifyType::kAdditionalTsPossible:
      return "ADDITIONAL_TS_POSSIBLE";
    case NotifyType::kIpcompSupported:
      return "IPCOMP_SUPPORTED";
    case NotifyType::kNatDetectionSourceIp:
      return "NAT_DETECTION_SOURCE_IP";
    case NotifyType::kNatDetectionDestinationIp:
      return "NAT_DETECTION_DESTINATION_IP";
    case NotifyType::kCookie:
      return "COOKIE";
    case NotifyType::kUseTransportMode:
      return "USE_TRANSPORT_MODE";
    case NotifyType::kHttpCertLookupSupported:
      return "HTTP_CERT_LOOKUP_SUPPORTED";
    case NotifyType::kRekeySa:
      return "REKEY_SA";
    case NotifyType::kEspTfcPaddingNotSupported:
      return "ESP_TFC_PADDING_NOT_SUPPORTED";
    case NotifyType::kNonFirstFragmentsAlso:
      return "NON_FIRST_FRAGMENTS_ALSO";
    case NotifyType::kMobikeSupported:
      return "MOBIKE_SUPPORTED";
    case NotifyType::kAdditionalIp4Address:
      return "ADDITIONAL_IP4_ADDRESS";
    case NotifyType::kAdditionalIp6Address:
      return "ADDITIONAL_IP6_ADDRESS";
    case NotifyType::kNoAdditionalAddresses:
      return "NO_ADDITIONAL_ADDRESSES";
    case NotifyType::kUpdateSaAddresses:
      return "UPDATE_SA_ADDRESSES";
    case NotifyType::kCookie2:
      return "COOKIE2";
    case NotifyType::kNoNatsAllowed:
      return "NO_NATS_ALLOWED";
    case NotifyType::kAuthLifetime:
      return "AUTH_LIFETIME";
    case NotifyType::kMultipleAuthSupported:
      return "MULTIPLE_AUTH_SUPPORTED";
    case NotifyType::kAnotherAuthFollows:
      return "ANOTHER_AUTH_FOLLOWS";
    case NotifyType::kRedirectSupported:
      return "REDIRECT_SUPPORTED";
    case NotifyType::kRedirect:
      return "REDIRECT";
    case NotifyType::kRedirectedFrom:
      return "REDIRECTED_FROM";
    case NotifyType::kEapOnlyAuthentication:
      return "EAP_ONLY_AUTHENTICATION";
    case NotifyType::kChildlessIkev2Supported:
      return "CHILDLESS_IKEV2_SUPPORTED";
    case NotifyType::kIkev2FragmentationSupported:
      return "IKEV2_FRAGMENTATION_SUPPORTED";
    case NotifyType::kSignatureHashAlgorithms:
      return "SIGNATURE_HASH_ALGORITHMS";
  }
  return fmt::format("notify {}", unsigned(t));
}

}  // namespace waypost::ike
