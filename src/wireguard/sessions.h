#pragma once
// A peer's transport sessions (paper 5.4.6, 6.1): previous, current and next keypair, rotated
// as handshakes complete and as the responder's new session is confirmed by its first data
// packet, so that packets in flight across a rekey still decrypt. Each keypair's receiver index
// lives in the IndexTable for exactly as long as the keypair does.

#include <memory>
#include <vector>

#include "wireguard/index_table.h"
#include "wireguard/keypair.h"

namespace waypost::wireguard {

class Sessions {
 public:
  Keypair* current() const { return current_.get(); }
  Keypair* next() const { return next_.get(); }
  Keypair* previous() const { return previous_.get(); }

  // A handshake produced `keypair` (its index already assigned to it in `indexes`). As
  // initiator the session is usable at once; as responder it waits in next() for confirmation.
  void install(std::unique_ptr<Keypair> keypair, IndexTable& indexes);
  // A packet arrived under `keypair`: if that is the unconfirmed next session, it becomes
  // current (key confirmation) and true is returned. The dropped previous keypair may still be
  // referenced by later packets of the batch being received: it goes to `retired`, to be freed
  // after the batch.
  bool confirm(Keypair* keypair, IndexTable& indexes,
               std::vector<std::unique_ptr<Keypair>>& retired);
  void clear(IndexTable& indexes);

 private:
  std::unique_ptr<Keypair> previous_;
  std::unique_ptr<Keypair> current_;
  std::unique_ptr<Keypair> next_;
};

}  // namespace waypost::wireguard
