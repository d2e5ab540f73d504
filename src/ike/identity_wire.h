#pragma once
// Identities between the configuration (Identity, swanctl_values.h) and the ID payload
// (RFC 7296 3.5): IPv4/IPv6 addresses as 4/16 bytes, FQDN and RFC 822 names as their text, key
// IDs as bytes, distinguished names DER-encoded (OpenSSL builds and reads them).

#include <string>

#include "common/result.h"
#include "ike/payloads.h"
#include "ike/swanctl_values.h"

namespace waypost::ike {

// The ID payload body for a configured identity; `any` (%any) is not an identity one can send.
Result<IdPayload> id_payload_of(const Identity& id);

// Whether the peer's ID payload satisfies a configured expectation (%any accepts anything;
// names compare without case, DNs by their DER encoding).
bool identity_matches(const Identity& expected, const IdPayload& got);

// The identity a peer presented, as swanctl prints it ("moon.strongswan.org", "10.0.0.1",
// "C=CH, O=strongSwan, CN=moon"), for logs and status. Never fails: unreadable data prints as hex.
std::string identity_text(const IdPayload& id);

// The received identity as an Identity (for matching secrets by id).
Identity identity_of(const IdPayload& id);

}  // namespace waypost::ike
