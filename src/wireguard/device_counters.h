#pragma once
// Why packets were dropped, per device; shown by `waypost show --json`. Shared by the send,
// receive and handshake pieces of a Device.

#include <cstdint>

namespace waypost::wireguard {

struct DeviceCounters {
  uint64_t rx_datagrams = 0;
  uint64_t rx_bad_message = 0;    // unknown type or wrong length
  uint64_t rx_unknown_index = 0;  // no session with that receiver index
  uint64_t rx_expired_session = 0;
  uint64_t rx_decrypt_failed = 0;
  uint64_t rx_replayed = 0;
  uint64_t rx_keepalives = 0;
  uint64_t hs_invalid_mac1 = 0;
  uint64_t hs_queue_full = 0;
  uint64_t hs_rate_limited = 0;
  uint64_t hs_cookies_sent = 0;
  uint64_t hs_cookies_received = 0;
  uint64_t hs_initiations_rejected = 0;
  uint64_t hs_responses_rejected = 0;
  uint64_t hs_completed = 0;
  uint64_t tx_no_endpoint = 0;
  uint64_t tx_staged_dropped = 0;
};

}  // namespace waypost::wireguard
