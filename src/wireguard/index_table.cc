#include "wireguard/index_table.h"

namespace waypost::wireguard {

uint32_t IndexTable::add_handshake(Peer& peer) {
  for (;;) {
    const uint32_t index = random_.u32();
    if (index == 0) continue;
    if (entries_.emplace(index, IndexEntry{&peer, nullptr}).second) return index;
  }
}

void IndexTable::release_handshake(uint32_t index, const Peer& peer) {
  auto it = entries_.find(index);
  if (it != entries_.end() && it->second.peer == &peer && it->second.keypair == nullptr) {
    entries_.erase(it);
  }
}

}  // namespace waypost::wireguard
