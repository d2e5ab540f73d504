#include "wireguard/sessions.h"

namespace waypost::wireguard {

namespace {
void drop(std::unique_ptr<Keypair>& slot, IndexTable& indexes) {
  if (slot) {
    indexes.release(slot->local_index);
    slot.reset();
  }
}
}  // namespace

void Sessions::install(std::unique_ptr<Keypair> keypair, IndexTable& indexes) {
  if (keypair->initiator) {
    if (next_) {
      drop(previous_, indexes);
      previous_ = std::move(next_);
      drop(current_, indexes);
    } else {
      drop(previous_, indexes);
      previous_ = std::move(current_);
    }
    current_ = std::move(keypair);
  } else {
    drop(next_, indexes);
    next_ = std::move(keypair);
    drop(previous_, indexes);
  }
}

bool Sessions::confirm(Keypair* keypair, IndexTable& indexes,
                       std::vector<std::unique_ptr<Keypair>>& retired) {
  if (next_.get() != keypair) return false;
  if (previous_) {
    indexes.release(previous_->local_index);
    retired.push_back(std::move(previous_));
  }
  previous_ = std::move(current_);
  current_ = std::move(next_);
  return true;
}

void Sessions::clear(IndexTable& indexes) {
  drop(previous_, indexes);
  drop(current_, indexes);
  drop(next_, indexes);
}

}  // namespace waypost::wireguard
