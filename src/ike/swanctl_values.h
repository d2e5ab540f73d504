#pragma once
// The value syntaxes of swanctl.conf(5): times ("4h"), booleans, numbers, address lists
// ("%any", "10.0.0.0/24", "10.1.0.1-10.1.0.100", host names), traffic selectors
// ("10.0.0.0/24[tcp/443]", "dynamic"), IKE identities ("@vpn.example.com", "C=CH, O=x, CN=y")
// and secrets ("0x..." hex, "0s..." Base64, else the text). Each parser returns a message
// without location; swanctl_conf.cc puts the file, line and key in front.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "crypto/secret_bytes.h"
#include "ike/constants.h"
#include "net/ip.h"

namespace waypost::ike {

using crypto::SecretBytes;

using Seconds = std::chrono::seconds;

// "90", "90s", "30m", "4h", "1d". Bounded to ten years.
Result<Seconds> parse_time(std::string_view text);
// yes/no, true/false, on/off, enabled/disabled, 1/0 (strongSwan's set).
Result<bool> parse_bool(std::string_view text);
// Decimal or 0x hexadecimal, at most `max`.
Result<uint64_t> parse_number(std::string_view text, uint64_t max);

// Splits a list on commas and blanks; empty entries between commas are errors.
Result<std::vector<std::string>> split_list(std::string_view text);

// An inclusive address range; a prefix or a single address is a range too.
struct AddressRange {
  net::IpAddress first;
  net::IpAddress last;

  bool contains(const net::IpAddress& a) const;
  bool operator==(const AddressRange&) const = default;
};

// "10.0.0.0/24", "10.1.0.1-10.1.0.100" or "10.0.0.1"; `last` >= `first`, one family.
Result<AddressRange> parse_address_range(std::string_view text);
std::string to_string(const AddressRange& r);  // "a/len" when it is a prefix, else "a-b"

// One entry of local_addrs / remote_addrs.
struct AddressSpec {
  enum class Kind : uint8_t {
    kAny,       // %any, %any4, %any6 (family set for the last two)
    kRange,     // an address, a subnet or a range
    kHostname,  // a DNS name, resolved when used
  };
  Kind kind = Kind::kAny;
  std::optional<net::Family> family;
  AddressRange range;  // kRange
  std::string text;    // as written

  // An address or name one can send an IKE_SA_INIT to: a single address or a host name.
  bool is_specific() const;
};
Result<AddressSpec> parse_address_spec(std::string_view text);

// A traffic selector of local_ts / remote_ts: a subnet or range (or "dynamic", the tunnel
// address or virtual IP) with an optional [protocol/port] restriction.
struct TrafficSelectorSpec {
  bool dynamic = false;
  AddressRange range;      // unless dynamic
  uint8_t protocol = 0;    // 0 = any
  uint16_t from_port = 0;  // 0-65535 = any
  uint16_t to_port = 65535;
  bool opaque = false;  // [proto/opaque], RFC 4301 OPAQUE
  std::string text;     // as written

  bool operator==(const TrafficSelectorSpec&) const = default;
};
Result<TrafficSelectorSpec> parse_traffic_selector(std::string_view text);

// An IKE identity (swanctl.conf: connections.<conn>.local.id). The type is found as strongSwan
// finds it: an IP address, "@name" (FQDN), "user@domain" (RFC 822), a distinguished name
// ("C=CH, O=strongSwan, CN=moon"), a bare name (FQDN), or a "type:" prefix (fqdn:, email:,
// rfc822:, userfqdn:, dns:, asn1dn:, keyid:, ipv4:, ipv6:) with "#hex" for binary data.
struct Identity {
  bool any = true;  // %any (or unset)
  IdType type = IdType::kFqdn;
  std::string value;  // the data as written, without "@" or a type prefix (DNs as text)
  std::string text;   // as written

  // Whether a peer presenting `other` satisfies this expectation.
  bool matches(const Identity& other) const;
  bool operator==(const Identity& o) const {
    return any == o.any && type == o.type && value == o.value;
  }
};
Result<Identity> parse_identity(std::string_view text);

// "0x" hex, "0s" Base64, otherwise the text's bytes.
Result<SecretBytes> parse_secret(std::string_view text);

}  // namespace waypost::ike
