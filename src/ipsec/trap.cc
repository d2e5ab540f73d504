#include "ipsec/trap.h"

#include <fmt/format.h>

#include <algorithm>

#include "dataplane/packet.h"
#include "esp/child_sa.h"

namespace waypost::ipsec {

Trap::Trap(std::string conn, std::string child, std::vector<net::Prefix> remote, uint32_t mtu,
           std::function<void(Trap&)> trigger)
    : conn_(std::move(conn)),
      child_(std::move(child)),
      remote_(std::move(remote)),
      path_(mtu),
      trigger_(std::move(trigger)) {}

std::string Trap::describe() const {
  return fmt::format("trap {}/{}", conn_, child_);
}

uint32_t Trap::overhead() const {
  // What the CHILD SA it stands in for will add, at most (AES-CBC with a 32-byte ICV over IPv6).
  return esp::esp_overhead(net::Family::kV6, esp::Cipher::kAes256Cbc,
                           esp::Integrity::kHmacSha512_256);
}

void Trap::send(std::span<dataplane::Packet> packets) {
  for (const auto& p : packets) {
    if (queued_.size() >= kMaxQueued || p.size > dataplane::kMaxMtu) {
      ++dropped_;
      continue;
    }
    std::vector<uint8_t> slot(dataplane::kSlotSize);
    std::copy(p.data, p.data + p.size, slot.begin() + dataplane::kHeadroom);
    slot.resize(dataplane::kHeadroom + p.size + dataplane::kTailroom);
    queued_.push_back(std::move(slot));
  }
  if (!initiating_ && !packets.empty()) {
    initiating_ = true;
    ++triggered_;
    trigger_(*this);
  }
}

void Trap::flush_to(dataplane::Tunnel& sink, const std::function<void()>& send_now) {
  std::vector<dataplane::Packet> packets;
  packets.reserve(queued_.size());
  for (auto& slot : queued_) {
    packets.push_back({slot.data() + dataplane::kHeadroom,
                       uint32_t(slot.size() - dataplane::kHeadroom - dataplane::kTailroom)});
  }
  if (!packets.empty()) {
    sink.send(packets);
    send_now();
  }
  queued_.clear();
}

}  // namespace waypost::ipsec
