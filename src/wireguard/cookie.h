#pragma once
// MAC1/MAC2 and cookie replies (paper 5.4.4 and 5.4.7). A responder under load answers handshake
// messages whose MAC2 does not carry a valid cookie with a cookie reply instead of doing the
// Diffie-Hellman work; the cookie is a MAC of the sender's address under a secret that rotates
// every two minutes, so proving it means the sender can receive at that address.

#include <array>
#include <cstdint>
#include <span>

#include "common/clock.h"
#include "common/secret.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "net/ip.h"
#include "wireguard/messages.h"

namespace waypost::wireguard {

using Mac = std::array<uint8_t, kMacSize>;

// HASH(label || public key): the MAC1 key and the cookie encryption key for an identity.
std::array<uint8_t, 32> derive_label_key(std::string_view label, const crypto::PublicKey& key);

enum class MacCheck { kInvalidMac1, kValidMac1Only, kValidMac1AndMac2 };

// Responder side: owned by the device, keyed by our own public key.
class CookieChecker {
 public:
  void set_local_public_key(const crypto::PublicKey& key);
  bool has_key() const { return has_key_; }

  // Checks MAC1 (always) and MAC2 (cookie for `source`) on a handshake message of `size` bytes
  // whose MACs sit at its end. Constant-time compares.
  MacCheck check(std::span<const uint8_t> message, const net::Endpoint& source, const Clock& clock,
                 crypto::Random& random);

  // Builds a cookie reply to `message` (an initiation or response we will not process now).
  void make_reply(std::span<uint8_t, cookie_reply::kSize> out, std::span<const uint8_t> message,
                  uint32_t receiver_index, const net::Endpoint& source, const Clock& clock,
                  crypto::Random& random);

 private:
  void cookie_for(Mac& out, const net::Endpoint& source, const Clock& clock,
                  crypto::Random& random);

  std::array<uint8_t, 32> mac1_key_{};
  std::array<uint8_t, 32> cookie_encryption_key_{};
  Secret<32> secret_;
  Nanos secret_birth_ = kNever;  // kNever: no secret yet
  bool has_key_ = false;
};

// Initiator side, one per peer: adds MAC1/MAC2 to the handshake messages we send and accepts the
// cookie replies the peer sends back.
class CookieMaker {
 public:
  void set_remote_public_key(const crypto::PublicKey& key);

  // Fills the MAC1 and MAC2 fields at the end of `message`.
  void add_macs(std::span<uint8_t> message, const Clock& clock);

  // Decrypts a cookie reply for the last message we sent; false if it does not authenticate or
  // we have no outstanding MAC1.
  bool consume_reply(std::span<const uint8_t, cookie_reply::kSize> reply, const Clock& clock);

 private:
  std::array<uint8_t, 32> mac1_key_{};
  std::array<uint8_t, 32> cookie_decryption_key_{};
  Mac last_mac1_sent_{};
  bool have_sent_mac1_ = false;
  Secret<kCookieSize> cookie_;
  Nanos cookie_birth_ = kNever;
};

}  // namespace waypost::wireguard
