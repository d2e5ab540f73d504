#pragma once
// Handshake messages wait here between the cheap checks done on receipt (type, size, MAC1) and
// the expensive Diffie-Hellman work, which the event loop does a bounded amount of per turn so
// that data keeps flowing during a flood. The queue's depth is the load signal that switches on
// cookies (as in the Linux module). Fixed capacity, no allocation.

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>

#include "net/ip.h"
#include "wireguard/messages.h"

namespace waypost::wireguard {

struct QueuedHandshake {
  std::array<uint8_t, initiation::kSize> data;
  uint8_t size = 0;
  net::Endpoint from;
};

class HandshakeQueue {
 public:
  static constexpr size_t kCapacity = 1024;
  static constexpr size_t kUnderLoadDepth = kCapacity / 8;

  bool push(const uint8_t* data, size_t size, const net::Endpoint& from) {
    if (count_ == kCapacity || size > initiation::kSize) return false;
    // Allocated on first use: an idle server never pays for it.
    if (!ring_) ring_ = std::make_unique<QueuedHandshake[]>(kCapacity);
    QueuedHandshake& q = ring_[(head_ + count_) % kCapacity];
    std::memcpy(q.data.data(), data, size);
    q.size = uint8_t(size);
    q.from = from;
    ++count_;
    return true;
  }
  const QueuedHandshake* front() const { return count_ == 0 ? nullptr : &ring_[head_]; }
  void pop() {
    head_ = (head_ + 1) % kCapacity;
    --count_;
  }
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }

 private:
  std::unique_ptr<QueuedHandshake[]> ring_;
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace waypost::wireguard
