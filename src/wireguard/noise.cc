#include "wireguard/noise.h"

#include <cstring>

#include "common/bytes.h"
#include "crypto/aead.h"
#include "crypto/blake2s.h"

namespace waypost::wireguard {

namespace {

using crypto::kAeadTagSize;
using crypto::kKeySize;

// Hash and chaining-key values shared by every handshake: C0 = HASH(construction) and
// H0 = HASH(C0 || identifier).
struct InitialChain {
  std::array<uint8_t, 32> chaining_key{};
  std::array<uint8_t, 32> hash{};
  InitialChain() {
    crypto::blake2s_hash(chaining_key, {as_bytes(kConstruction)});
    crypto::blake2s_hash(hash, {chaining_key, as_bytes(kIdentifier)});
  }
};
const InitialChain& initial_chain() {
  static const InitialChain c;
  return c;
}

// H = HASH(H || data)
void mix_hash(Secret<32>& h, std::span<const uint8_t> data) {
  std::array<uint8_t, 32> out{};
  crypto::blake2s_hash(out, {h.span(), data});
  h = Secret<32>(std::span<const uint8_t, 32>(out));
  secure_wipe(out.data(), out.size());
}

// C = KDF1(C, input)
void mix_key(Secret<32>& c, std::span<const uint8_t> input) {
  Secret<32> out;
  crypto::kdf(c.span(), input, out.data());
  c = out;
}

// (C, k) = KDF2(C, DH(priv, pub)); false if the DH result is unusable.
bool mix_dh(Secret<32>& c, Secret<32>& key, const crypto::X25519Key& priv,
            const crypto::PublicKey& pub) {
  Secret<32> dh;
  if (!priv.derive(dh.span(), pub)) return false;
  Secret<32> next;
  crypto::kdf(c.span(), dh.span(), next.data(), key.data());
  c = next;
  return true;
}

// (C, k) = KDF2(C, precomputed shared secret)
void mix_precomputed(Secret<32>& c, Secret<32>& key, const Secret<32>& dh) {
  Secret<32> next;
  crypto::kdf(c.span(), dh.span(), next.data(), key.data());
  c = next;
}

// AEAD with a zero nonce under key, authenticating H; then H = HASH(H || ciphertext).
void seal_and_hash(std::span<uint8_t> out, const Secret<32>& key,
                   std::span<const uint8_t> plaintext, Secret<32>& h) {
  crypto::aead_seal(out, key.span(), 0, plaintext, h.span());
  mix_hash(h, out);
}
bool open_and_hash(std::span<uint8_t> out, const Secret<32>& key,
                   std::span<const uint8_t> ciphertext, Secret<32>& h) {
  if (!crypto::aead_open(out, key.span(), 0, ciphertext, h.span())) return false;
  mix_hash(h, ciphertext);
  return true;
}

// The responder-side (or initiator-side, mirrored) tail shared by create and consume response:
// mixes the PSK and returns the key for the empty payload.
void mix_psk(Secret<32>& c, Secret<32>& h, Secret<32>& key, const crypto::SymmetricKey& psk) {
  Secret<32> next, tau;
  crypto::kdf(c.span(), psk.span(), next.data(), tau.data(), key.data());
  c = next;
  mix_hash(h, tau.span());
}

}  // namespace

Tai64n tai64n_now(const Clock& clock) {
  // 2^62 + 10: TAI64 label for the Unix epoch, plus the TAI-UTC offset of 1972 that the format
  // traditionally applies (as the Linux module does).
  constexpr uint64_t kTai64Base = 0x400000000000000aULL;
  // Round down to 2^24 ns (~16.8 ms), the largest power of two below 1 s / 50 initiations.
  constexpr int64_t kWhitening = int64_t(1) << 24;
  WallTime w = clock.wall();
  Tai64n t{};
  store_be64(t.data(), kTai64Base + uint64_t(w.sec));
  store_be32(t.data() + 8, uint32_t(w.nsec - w.nsec % kWhitening));
  return t;
}

void LocalIdentity::set_private_key(const crypto::PrivateKey& key) {
  static_key = crypto::X25519Key::from_private(key);
  const auto& chain = initial_chain();
  crypto::blake2s_hash(initial_hash, {chain.hash, static_key.public_key()});
}

void LocalIdentity::clear() {
  static_key.reset();
  initial_hash.fill(0);
}

void Handshake::set_static_keys(const LocalIdentity& local, const crypto::PublicKey& remote) {
  remote_static = remote;
  if (!local.has_key() || !local.static_key.derive(precomputed_static_static.span(), remote)) {
    precomputed_static_static.wipe();
  }
}

void Handshake::zero() {
  state = HandshakeState::kZeroed;
  local_ephemeral.reset();
  remote_ephemeral.fill(0);
  chaining_key.wipe();
  hash.wipe();
  remote_index = 0;
}

bool create_initiation(std::span<uint8_t, initiation::kSize> msg, Handshake& hs,
                       const LocalIdentity& local, uint32_t sender_index, const Clock& clock,
                       crypto::Random& random) {
  if (!local.has_key() || hs.precomputed_static_static.is_zero()) return false;
  std::memset(msg.data(), 0, msg.size());
  msg[0] = uint8_t(MessageType::kHandshakeInitiation);
  store_le32(&msg[initiation::kSender], sender_index);

  const auto& chain = initial_chain();
  Secret<32> c(std::span<const uint8_t, 32>(chain.chaining_key));
  Secret<32> h;
  // The initiator's H starts from the responder's public key.
  crypto::blake2s_hash(h.span(), {chain.hash, hs.remote_static});

  // e
  hs.local_ephemeral = crypto::X25519Key::generate(random);
  if (!hs.local_ephemeral.valid()) return false;
  const auto& e_pub = hs.local_ephemeral.public_key();
  std::memcpy(&msg[initiation::kEphemeral], e_pub.data(), kKeySize);
  mix_key(c, e_pub);
  mix_hash(h, e_pub);

  // es
  Secret<32> key;
  if (!mix_dh(c, key, hs.local_ephemeral, hs.remote_static)) return false;
  // s
  seal_and_hash(msg.subspan(initiation::kStatic, kKeySize + kAeadTagSize), key,
                local.static_key.public_key(), h);
  // ss
  mix_precomputed(c, key, hs.precomputed_static_static);
  // {t}
  Tai64n ts = tai64n_now(clock);
  seal_and_hash(msg.subspan(initiation::kTimestamp, kTimestampSize + kAeadTagSize), key, ts, h);

  hs.chaining_key = c;
  hs.hash = h;
  hs.local_index = sender_index;
  hs.state = HandshakeState::kCreatedInitiation;
  return true;
}

const char* to_string(InitiationError e) {
  switch (e) {
    case InitiationError::kNone:
      return "ok";
    case InitiationError::kNoLocalKey:
      return "no private key configured";
    case InitiationError::kBadEphemeral:
      return "invalid ephemeral key";
    case InitiationError::kDecryptStatic:
      return "cannot decrypt the initiator's static key (it does not use our public key)";
    case InitiationError::kUnknownPeer:
      return "unknown peer public key";
    case InitiationError::kDecryptTimestamp:
      return "cannot decrypt the timestamp (the peer's private key does not match its public key)";
    case InitiationError::kReplayedTimestamp:
      return "replayed or old timestamp";
    case InitiationError::kFlood:
      return "too many initiations from this peer";
  }
  return "?";
}

InitiationError begin_consume_initiation(std::span<const uint8_t, initiation::kSize> msg,
                                         const LocalIdentity& local, PendingInitiation& out) {
  if (!local.has_key()) return InitiationError::kNoLocalKey;
  const auto& chain = initial_chain();
  Secret<32> c(std::span<const uint8_t, 32>(chain.chaining_key));
  Secret<32> h(std::span<const uint8_t, 32>(local.initial_hash));

  // e
  std::memcpy(out.remote_ephemeral.data(), &msg[initiation::kEphemeral], kKeySize);
  mix_key(c, out.remote_ephemeral);
  mix_hash(h, out.remote_ephemeral);
  // es
  Secret<32> key;
  if (!mix_dh(c, key, local.static_key, out.remote_ephemeral)) {
    return InitiationError::kBadEphemeral;
  }
  // s
  if (!open_and_hash(out.remote_static, key,
                     msg.subspan(initiation::kStatic, kKeySize + kAeadTagSize), h)) {
    return InitiationError::kDecryptStatic;
  }
  out.chaining_key = c;
  out.hash = h;
  out.sender_index = load_le32(&msg[initiation::kSender]);
  return InitiationError::kNone;
}

InitiationError finish_consume_initiation(std::span<const uint8_t, initiation::kSize> msg,
                                          PendingInitiation& pending, Handshake& hs,
                                          const Clock& clock) {
  if (hs.precomputed_static_static.is_zero()) return InitiationError::kDecryptTimestamp;
  Secret<32> c = pending.chaining_key;
  Secret<32> h = pending.hash;
  Secret<32> key;
  // ss
  mix_precomputed(c, key, hs.precomputed_static_static);
  // {t}
  Tai64n ts{};
  if (!open_and_hash(ts, key, msg.subspan(initiation::kTimestamp, kTimestampSize + kAeadTagSize),
                     h)) {
    return InitiationError::kDecryptTimestamp;
  }
  // Replay: the timestamp must be strictly newer than any accepted before (big-endian compare).
  if (std::memcmp(ts.data(), hs.latest_timestamp.data(), ts.size()) <= 0) {
    return InitiationError::kReplayedTimestamp;
  }
  const Nanos now = clock.now();
  if (hs.last_initiation_consumption != kNever &&
      now - hs.last_initiation_consumption < kMinInitiationInterval) {
    return InitiationError::kFlood;
  }

  hs.zero();
  hs.remote_ephemeral = pending.remote_ephemeral;
  hs.latest_timestamp = ts;
  hs.remote_index = pending.sender_index;
  hs.chaining_key = c;
  hs.hash = h;
  hs.last_initiation_consumption = now;
  hs.state = HandshakeState::kConsumedInitiation;
  return InitiationError::kNone;
}

bool create_response(std::span<uint8_t, response::kSize> msg, Handshake& hs,
                     const LocalIdentity& local, uint32_t sender_index, crypto::Random& random) {
  (void)local;
  if (hs.state != HandshakeState::kConsumedInitiation) return false;
  std::memset(msg.data(), 0, msg.size());
  msg[0] = uint8_t(MessageType::kHandshakeResponse);
  store_le32(&msg[response::kSender], sender_index);
  store_le32(&msg[response::kReceiver], hs.remote_index);

  Secret<32> c = hs.chaining_key;
  Secret<32> h = hs.hash;
  // e
  hs.local_ephemeral = crypto::X25519Key::generate(random);
  if (!hs.local_ephemeral.valid()) return false;
  const auto& e_pub = hs.local_ephemeral.public_key();
  std::memcpy(&msg[response::kEphemeral], e_pub.data(), kKeySize);
  mix_key(c, e_pub);
  mix_hash(h, e_pub);
  // ee, se
  Secret<32> dh;
  if (!hs.local_ephemeral.derive(dh.span(), hs.remote_ephemeral)) return false;
  mix_key(c, dh.span());
  if (!hs.local_ephemeral.derive(dh.span(), hs.remote_static)) return false;
  mix_key(c, dh.span());
  // psk
  Secret<32> key;
  mix_psk(c, h, key, hs.preshared_key);
  // {}
  seal_and_hash(msg.subspan(response::kEmpty, kAeadTagSize), key, {}, h);

  hs.chaining_key = c;
  hs.hash = h;
  hs.local_index = sender_index;
  hs.state = HandshakeState::kCreatedResponse;
  return true;
}

bool consume_response(std::span<const uint8_t, response::kSize> msg, Handshake& hs,
                      const LocalIdentity& local) {
  if (hs.state != HandshakeState::kCreatedInitiation || !local.has_key()) return false;
  Secret<32> c = hs.chaining_key;
  Secret<32> h = hs.hash;
  crypto::PublicKey e_remote{};
  std::memcpy(e_remote.data(), &msg[response::kEphemeral], kKeySize);
  // e
  mix_key(c, e_remote);
  mix_hash(h, e_remote);
  // ee, se (from our side: our ephemeral with their ephemeral, our static with their ephemeral)
  Secret<32> dh;
  if (!hs.local_ephemeral.derive(dh.span(), e_remote)) return false;
  mix_key(c, dh.span());
  if (!local.static_key.derive(dh.span(), e_remote)) return false;
  mix_key(c, dh.span());
  // psk
  Secret<32> key;
  mix_psk(c, h, key, hs.preshared_key);
  // {}
  std::array<uint8_t, 0> empty{};
  if (!open_and_hash(empty, key, msg.subspan(response::kEmpty, kAeadTagSize), h)) return false;

  hs.remote_ephemeral = e_remote;
  hs.remote_index = load_le32(&msg[response::kSender]);
  hs.chaining_key = c;
  hs.hash = h;
  hs.state = HandshakeState::kConsumedResponse;
  return true;
}

std::optional<SessionKeys> begin_session(Handshake& hs) {
  if (hs.state != HandshakeState::kCreatedResponse &&
      hs.state != HandshakeState::kConsumedResponse) {
    return std::nullopt;
  }
  SessionKeys keys;
  keys.initiator = hs.state == HandshakeState::kConsumedResponse;
  Secret<32> first, second;
  crypto::kdf(hs.chaining_key.span(), {}, first.data(), second.data());
  if (keys.initiator) {
    keys.send = first;
    keys.receive = second;
  } else {
    keys.send = second;
    keys.receive = first;
  }
  keys.local_index = hs.local_index;
  keys.remote_index = hs.remote_index;
  hs.zero();
  return keys;
}

}  // namespace waypost::wireguard
