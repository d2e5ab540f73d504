#include "wireguard/peer.h"

#include "common/log.h"
#include "crypto/keys.h"
#include "wireguard/messages.h"
#include "wireguard/peer_set.h"

namespace waypost::wireguard {

std::string Peer::describe() const {
  return "peer " + crypto::key_to_base64(public_key_) + " (" +
         (endpoint_ ? endpoint_->to_string() : std::string("no endpoint")) + ")";
}

LogFields Peer::log_fields() const {
  return {{},
          crypto::key_to_base64(public_key_),
          "wireguard",
          endpoint_ ? endpoint_->to_string() : std::string()};
}

uint32_t Peer::overhead() const {
  return tunnel_overhead(endpoint_ && endpoint_->is_v4() ? net::Family::kV4 : net::Family::kV6);
}

void Peer::schedule_probe(Nanos delay) {
  set_.arm(*this, kTimerPathProbe, delay);
}

void Peer::learn_endpoint(const net::Endpoint& from) {
  if (endpoint_ && *endpoint_ == from) return;
  if (endpoint_) {
    const ScopedLogFields fields(log_fields());
    spdlog::info("{}: endpoint changed to {}", describe(), from.to_string());
  }
  endpoint_ = from;
}

}  // namespace waypost::wireguard
