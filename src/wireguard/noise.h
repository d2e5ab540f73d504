#pragma once
// The Noise_IKpsk2 handshake (paper 5.4.2 - 5.4.5): building and consuming initiation and
// response messages, and deriving the transport keys. MACs are added/checked by cookie.h; peer
// lookup, indexes and timers belong to the device.
//
// Handshake state, per peer:
//
//   initiator:  kZeroed --create_initiation--> kCreatedInitiation --consume_response-->
//   kConsumedResponse responder:  kZeroed --consume_initiation--> kConsumedInitiation
//   --create_response--> kCreatedResponse
//
// and begin_session() turns kConsumedResponse / kCreatedResponse into a keypair and returns the
// handshake to kZeroed. A new initiation may replace any state (the newest attempt wins).

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "common/clock.h"
#include "common/secret.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/x25519.h"
#include "wireguard/messages.h"

namespace waypost::wireguard {

using Tai64n = std::array<uint8_t, kTimestampSize>;
// TAI64N of the wall clock, with the nanoseconds rounded down so that the stamp does not leak
// precise timing (the Linux module rounds to a power of two below 1 s / 50).
Tai64n tai64n_now(const Clock& clock);

enum class HandshakeState : uint8_t {
  kZeroed,
  kCreatedInitiation,
  kConsumedInitiation,
  kCreatedResponse,
  kConsumedResponse,
};

// Our static identity plus what can be precomputed from it.
struct LocalIdentity {
  crypto::X25519Key static_key;  // invalid while no private key is configured
  std::array<uint8_t, 32>
      initial_hash{};  // HASH(HASH(HASH(construction) || identifier) || our public)

  void set_private_key(const crypto::PrivateKey& key);
  void clear();
  bool has_key() const { return static_key.valid(); }
};

// Per-peer handshake state.
struct Handshake {
  HandshakeState state = HandshakeState::kZeroed;
  crypto::PublicKey remote_static{};
  Secret<32> precomputed_static_static;  // DH(our static, their static); zero if unusable
  crypto::SymmetricKey preshared_key;    // zeros when none
  crypto::X25519Key local_ephemeral;
  crypto::PublicKey remote_ephemeral{};
  Secret<32> chaining_key;
  Secret<32> hash;
  Tai64n latest_timestamp{};  // greatest initiation timestamp accepted from this peer
  uint32_t local_index = 0;
  uint32_t remote_index = 0;
  Nanos last_initiation_consumption = kNever;

  // Recomputes precomputed_static_static; call when either static key changes.
  void set_static_keys(const LocalIdentity& local, const crypto::PublicKey& remote);
  // Forgets the ephemeral and the chaining state (not the timestamp or static keys).
  void zero();
};

// Builds an initiation (all but the MACs) into `msg`. Fails only without usable keys.
bool create_initiation(std::span<uint8_t, initiation::kSize> msg, Handshake& hs,
                       const LocalIdentity& local, uint32_t sender_index, const Clock& clock,
                       crypto::Random& random);

enum class InitiationError : uint8_t {
  kNone,
  kNoLocalKey,
  kBadEphemeral,      // DH with the ephemeral failed (low-order point)
  kDecryptStatic,     // not encrypted to our public key
  kUnknownPeer,       // the static key decrypted but belongs to no configured peer
  kDecryptTimestamp,  // wrong static-static key: the peer's private key does not match
  kReplayedTimestamp,
  kFlood,  // initiations from this peer faster than 50 per second
};
const char* to_string(InitiationError e);

// Result of the first step of consuming an initiation: the peer's claimed static key and the
// state needed to finish once the caller found that peer.
struct PendingInitiation {
  crypto::PublicKey remote_static{};
  crypto::PublicKey remote_ephemeral{};
  Secret<32> chaining_key;
  Secret<32> hash;
  uint32_t sender_index = 0;
};

// Step 1: decrypts the initiator's static key.
InitiationError begin_consume_initiation(std::span<const uint8_t, initiation::kSize> msg,
                                         const LocalIdentity& local, PendingInitiation& out);
// Step 2: with the peer's handshake found by static key, authenticates the timestamp, applies
// replay and flood protection, and moves the handshake to kConsumedInitiation.
InitiationError finish_consume_initiation(std::span<const uint8_t, initiation::kSize> msg,
                                          PendingInitiation& pending, Handshake& hs,
                                          const Clock& clock);

// Builds a response (all but the MACs) to a consumed initiation.
bool create_response(std::span<uint8_t, response::kSize> msg, Handshake& hs,
                     const LocalIdentity& local, uint32_t sender_index, crypto::Random& random);

// Consumes a response for a handshake in kCreatedInitiation (found by the receiver index).
bool consume_response(std::span<const uint8_t, response::kSize> msg, Handshake& hs,
                      const LocalIdentity& local);

struct SessionKeys {
  Secret<32> send;
  Secret<32> receive;
  bool initiator = false;
  uint32_t local_index = 0;
  uint32_t remote_index = 0;
};
// Derives transport keys from a completed handshake and zeroes the handshake.
std::optional<SessionKeys> begin_session(Handshake& hs);

}  // namespace waypost::wireguard
