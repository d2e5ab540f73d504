#include "ike/fragments.h"

#include <utility>

namespace waypost::ike {

namespace {

Error dropped(uint16_t number, uint16_t total, std::string_view why) {
  return make_error(ErrorKind::kProtocol, "IKE fragment {} of {} dropped: {}", number, total, why);
}

}  // namespace

void FragmentReassembler::restart(uint16_t total) {
  total_ = total;
  received_ = 0;
  stored_bytes_ = 0;
  first_inner_ = PayloadType::kNone;
  present_.reset();
  fragments_.clear();
  fragments_.resize(total);
}

ReassembledChain FragmentReassembler::assemble() {
  ReassembledChain out;
  out.first_inner = first_inner_;
  out.chain.reserve(stored_bytes_);
  for (auto& f : fragments_) {
    out.chain.insert(out.chain.end(), f.begin(), f.end());
    std::vector<uint8_t>().swap(f);  // give the memory back now, not when the SA goes
  }
  stored_bytes_ = 0;
  return out;
}

Result<FragmentAccepted> FragmentReassembler::add(const DecryptedFragment& fragment) {
  const uint16_t number = fragment.number;
  const uint16_t total = fragment.total;
  if (total == 0) return dropped(number, total, "Total Fragments is 0");
  if (number == 0 || number > total) return dropped(number, total, "number outside 1..total");
  if (total > kMaxFragments) {
    return dropped(number, total, fmt::format("more than {} fragments", kMaxFragments));
  }
  // RFC 7383 2.6: a larger total means the sender re-fragmented the message for a smaller path
  // MTU; what we have belongs to the old split. A smaller total is a stale retransmission.
  if (total < total_) {
    return dropped(number, total, fmt::format("the message has {} fragments", total_));
  }
  const bool restarting = total > total_;
  const size_t index = number - 1;
  if (!restarting && present_.test(index)) {
    return FragmentAccepted{FragmentStatus::kDuplicate, std::nullopt};
  }
  // Checked before restarting, so that a refused fragment leaves everything as it was.
  const size_t kept = restarting ? 0 : stored_bytes_;
  if (fragment.plaintext.size() > kMaxBytes - kept) {
    return dropped(number, total, fmt::format("more than {} bytes of fragments", kMaxBytes));
  }
  if (restarting) restart(total);
  fragments_[index].assign(fragment.plaintext.begin(), fragment.plaintext.end());
  present_.set(index);
  stored_bytes_ += fragment.plaintext.size();
  ++received_;
  // Only fragment 1 names the first inner payload; the others carry 0 there (RFC 7383 2.5).
  if (number == 1) first_inner_ = fragment.first_inner;
  if (received_ < total_) return FragmentAccepted{FragmentStatus::kStored, std::nullopt};
  return FragmentAccepted{FragmentStatus::kComplete, assemble()};
}

}  // namespace waypost::ike
