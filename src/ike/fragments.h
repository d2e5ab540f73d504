#pragma once
// Reassembly of IKE fragments (RFC 7383 2.6): the decrypted SKF bodies of one message, in any
// order, back into the inner payload chain an SK payload would have carried.
//
// One FragmentReassembler per IKE SA and message ID in flight: the owner decrypts each SKF
// payload (which authenticates it) and hands its plaintext here; the reassembler never sees
// unauthenticated bytes, but a peer that completed IKE_SA_INIT is still untrusted, so what it
// may make us hold is capped.

#include <bitset>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "ike/constants.h"

namespace waypost::ike {

struct DecryptedFragment {
  uint16_t number = 1;  // 1..total
  uint16_t total = 1;
  PayloadType first_inner = PayloadType::kNone;  // the SKF header's Next Payload (fragment 1's)
  ByteSpan plaintext;                            // the fragment's share of the inner chain
};

struct ReassembledChain {
  PayloadType first_inner = PayloadType::kNone;  // for parse_payload_chain
  std::vector<uint8_t> chain;
};

enum class FragmentStatus : uint8_t {
  kStored,     // kept; more are missing
  kDuplicate,  // already had it (a retransmission): ignored
  kComplete,   // it was the last missing one; the chain is in FragmentAccepted::message
};

struct FragmentAccepted {
  FragmentStatus status = FragmentStatus::kStored;
  std::optional<ReassembledChain> message;  // with kComplete only
};

class FragmentReassembler {
 public:
  // Real messages are a few KiB (an IKE_AUTH with a certificate chain). At the smallest path
  // (576-byte IPv4, RFC 7383 2.5.1: about 470 bytes of plaintext per fragment) 128 fragments carry
  // some 60 KiB, and 64 KiB is the most a single datagram could have carried unfragmented. Both
  // caps together bound what a hostile peer can make us hold per message ID.
  static constexpr uint16_t kMaxFragments = 128;
  static constexpr size_t kMaxBytes = 64 * 1024;

  // Takes one fragment. Errors (the fragment is dropped, the state is unchanged): a total of 0 or
  // above kMaxFragments, a number of 0 or above the total, a total smaller than the one being
  // reassembled, and a fragment that would take the stored bytes above kMaxBytes. A larger total
  // than before restarts the reassembly (RFC 7383 2.6: the sender re-fragmented for a smaller
  // path MTU). Fragments of a message already completed are duplicates.
  Result<FragmentAccepted> add(const DecryptedFragment& fragment);

  uint16_t total() const { return total_; }  // 0 before the first fragment
  size_t stored_bytes() const { return stored_bytes_; }
  size_t received() const { return received_; }
  bool complete() const { return total_ != 0 && received_ == total_; }

 private:
  void restart(uint16_t total);
  ReassembledChain assemble();

  uint16_t total_ = 0;
  size_t received_ = 0;
  size_t stored_bytes_ = 0;
  PayloadType first_inner_ = PayloadType::kNone;
  std::bitset<kMaxFragments> present_;
  std::vector<std::vector<uint8_t>> fragments_;  // index number - 1; freed once complete
};

}  // namespace waypost::ike
