#pragma once
// Receiver indexes (paper 5.4.1): the random 32-bit numbers by which a peer addresses our
// handshake in progress and our sessions. Every incoming response, cookie reply and data packet
// is looked up here; an entry belongs to a peer's handshake or to one of its keypairs.

#include <cstdint>
#include <unordered_map>

#include "crypto/random.h"

namespace waypost::wireguard {

class Peer;
struct Keypair;

struct IndexEntry {
  Peer* peer = nullptr;
  Keypair* keypair = nullptr;  // nullptr: the entry is the peer's handshake
};

class IndexTable {
 public:
  explicit IndexTable(crypto::Random& random) : random_(random) {}

  // A fresh non-zero index for `peer`'s next handshake message.
  uint32_t add_handshake(Peer& peer);
  // The session derived from the handshake under `index` takes the index over: a response or
  // data packet addressed to it now finds the keypair.
  void assign_keypair(uint32_t index, Peer& peer, Keypair& keypair) {
    entries_[index] = IndexEntry{&peer, &keypair};
  }
  const IndexEntry* find(uint32_t index) const {
    auto it = entries_.find(index);
    return it == entries_.end() ? nullptr : &it->second;
  }
  void release(uint32_t index) { entries_.erase(index); }
  // Removes `index` only if it still is `peer`'s handshake: once a session took it over the
  // entry is the keypair's, and after that keypair is gone the number may be someone else's.
  void release_handshake(uint32_t index, const Peer& peer);
  size_t size() const { return entries_.size(); }

 private:
  crypto::Random& random_;
  std::unordered_map<uint32_t, IndexEntry> entries_;
};

}  // namespace waypost::wireguard
