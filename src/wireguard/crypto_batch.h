#pragma once
// One batch of transport-data crypto, shared by the send and receive paths: jobs are prepared on
// the loop thread, sealed or opened in place (on crypto workers when the batch is big enough),
// and finished on the loop thread in order.

#include <cstdint>
#include <vector>

#include "common/work_pool.h"

namespace waypost::wireguard {

class Peer;
struct Keypair;

struct CryptoJob {
  Peer* peer;
  Keypair* keypair;
  uint8_t* data;    // plaintext (seal) or ciphertext (open), tag follows
  uint32_t length;  // plaintext/ciphertext length without the tag
  uint64_t counter;
  uint32_t datagram;  // receive: index in the batch
  bool ok;
};

// Seals or opens every job in place and sets `ok`. `pool` may be nullptr (all inline).
void run_crypto(WorkPool* pool, std::vector<CryptoJob>& jobs, bool seal);

}  // namespace waypost::wireguard
