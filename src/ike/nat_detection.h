#pragma once
// NAT detection (RFC 7296 2.23): each side sends SHA-1(SPIi | SPIr | IP | port) of the source
// and destination it believes it uses; a mismatch on arrival means an address translator sits in
// between, and the SA moves to port 4500 with ESP in UDP. In IKE_SA_INIT's request SPIr is zero.

#include <array>
#include <cstdint>
#include <vector>

#include "net/ip.h"

namespace waypost::ike {

constexpr size_t kNatHashSize = 20;
using NatHash = std::array<uint8_t, kNatHashSize>;

NatHash nat_detection_hash(uint64_t spi_i, uint64_t spi_r, const net::Endpoint& endpoint);

// Whether one of the peer's NAT_DETECTION_* hashes matches what we see for `endpoint`; a peer
// may send several source hashes (one per address it has).
bool nat_hash_matches(const std::vector<const std::vector<uint8_t>*>& hashes, uint64_t spi_i,
                      uint64_t spi_r, const net::Endpoint& endpoint);

}  // namespace waypost::ike
