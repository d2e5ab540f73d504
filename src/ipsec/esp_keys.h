#pragma once
// From what IKE negotiated for a CHILD SA to what the ESP data plane installs: the cipher, our
// and the peer's SPI, and the two halves of KEYMAT in the direction each protects.

#include "common/result.h"
#include "esp/child_sa.h"
#include "ike/ike_sa.h"

namespace waypost::ipsec {

// Error (naming the transform) for a cipher the data plane does not carry.
Result<esp::ChildSaKeys> esp_keys_for(const ike::ChildSaInfo& child);

// Overwrites the key material in `keys` (once the SA's cipher contexts hold it).
void wipe(esp::ChildSaKeys& keys);

}  // namespace waypost::ipsec
