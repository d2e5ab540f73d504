#pragma once
// The SA payload's codec (RFC 7296 3.3): proposals, their transforms and transform attributes,
// each with a "last or more" marker and a length, all checked against each other.

#include "common/bytes.h"
#include "common/result.h"
#include "ike/payloads.h"
#include "ike/wire_writer.h"

namespace waypost::ike {

Result<SaPayload> parse_sa(ByteSpan body);
void append_sa(const SaPayload& sa, WireWriter& w);

}  // namespace waypost::ike
