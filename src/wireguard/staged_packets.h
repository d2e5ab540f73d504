#pragma once
// Packets waiting for a session (paper 6.3: queued while a handshake is under way, sent in
// order once it completes). Owned copies with the data-plane head/tailroom around them, so they
// are sealed in place like any other packet; at most kMaxStagedPackets, the oldest dropped
// first, as the kernel does.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "dataplane/packet.h"
#include "wireguard/messages.h"

namespace waypost::wireguard {

class StagedPackets {
 public:
  // Returns true if the oldest packet had to be dropped to make room.
  bool push(const dataplane::Packet& p) {
    bool dropped = false;
    if (packets_.size() >= kMaxStagedPackets) {
      packets_.erase(packets_.begin());
      dropped = true;
    }
    std::vector<uint8_t> copy(size_t{dataplane::kHeadroom} + p.size + dataplane::kTailroom);
    std::copy_n(p.data, size_t{p.size}, copy.begin() + dataplane::kHeadroom);
    packets_.push_back(std::move(copy));
    return dropped;
  }
  // A keepalive is an empty transport packet.
  void push_keepalive() { packets_.emplace_back(dataplane::kHeadroom + dataplane::kTailroom); }
  // Takes every staged buffer; Packet views into them via view().
  std::vector<std::vector<uint8_t>> take() {
    std::vector<std::vector<uint8_t>> out;
    out.swap(packets_);
    return out;
  }
  static dataplane::Packet view(std::vector<uint8_t>& buffer) {
    return {buffer.data() + dataplane::kHeadroom,
            uint32_t(buffer.size() - dataplane::kHeadroom - dataplane::kTailroom)};
  }
  // Drops everything; returns how many packets that was.
  size_t clear() {
    const size_t n = packets_.size();
    packets_.clear();
    return n;
  }
  size_t size() const { return packets_.size(); }
  bool empty() const { return packets_.empty(); }

 private:
  std::vector<std::vector<uint8_t>> packets_;
};

}  // namespace waypost::wireguard
