#include "wireguard/cookie.h"

#include <cstring>

#include "common/bytes.h"
#include "crypto/aead.h"
#include "crypto/blake2s.h"

namespace waypost::wireguard {

namespace {
// MAC1 covers everything before it; MAC2 everything before MAC2, i.e. including MAC1.
size_t mac1_offset(size_t size) {
  return size - 2 * kMacSize;
}
size_t mac2_offset(size_t size) {
  return size - kMacSize;
}

bool expired(Nanos birth, Nanos lifetime, Nanos now) {
  return birth == kNever || now - birth >= lifetime;
}
}  // namespace

std::array<uint8_t, 32> derive_label_key(std::string_view label, const crypto::PublicKey& key) {
  std::array<uint8_t, 32> out{};
  crypto::blake2s_hash(out, {as_bytes(label), key});
  return out;
}

void CookieChecker::set_local_public_key(const crypto::PublicKey& key) {
  mac1_key_ = derive_label_key(kLabelMac1, key);
  cookie_encryption_key_ = derive_label_key(kLabelCookie, key);
  has_key_ = true;
}

void CookieChecker::cookie_for(Mac& out, const net::Endpoint& source, const Clock& clock,
                               crypto::Random& random) {
  if (expired(secret_birth_, kCookieSecretMaxAge, clock.now())) {
    random.fill(secret_.span());
    secret_birth_ = clock.now();
  }
  // The address as it appears on the wire: 4 or 16 address bytes, then the port (big endian).
  const auto* port = reinterpret_cast<const uint8_t*>(&source.addr.sin6_port);
  if (source.is_v4()) {
    crypto::blake2s_mac(out, secret_.span(), {{&source.addr.sin6_addr.s6_addr[12], 4}, {port, 2}});
  } else {
    crypto::blake2s_mac(out, secret_.span(), {{source.addr.sin6_addr.s6_addr, 16}, {port, 2}});
  }
}

MacCheck CookieChecker::check(std::span<const uint8_t> message, const net::Endpoint& source,
                              const Clock& clock, crypto::Random& random) {
  if (!has_key_ || message.size() < 2 * kMacSize) return MacCheck::kInvalidMac1;
  const size_t m1 = mac1_offset(message.size());
  Mac computed{};
  crypto::blake2s_mac(computed, mac1_key_, {message.first(m1)});
  if (!constant_time_equal(computed, message.subspan(m1, kMacSize))) {
    return MacCheck::kInvalidMac1;
  }
  Mac cookie{};
  cookie_for(cookie, source, clock, random);
  const size_t m2 = mac2_offset(message.size());
  crypto::blake2s_mac(computed, cookie, {message.first(m2)});
  secure_wipe(cookie.data(), cookie.size());
  if (!constant_time_equal(computed, message.subspan(m2, kMacSize))) {
    return MacCheck::kValidMac1Only;
  }
  return MacCheck::kValidMac1AndMac2;
}

void CookieChecker::make_reply(std::span<uint8_t, cookie_reply::kSize> out,
                               std::span<const uint8_t> message, uint32_t receiver_index,
                               const net::Endpoint& source, const Clock& clock,
                               crypto::Random& random) {
  std::memset(out.data(), 0, out.size());
  out[0] = uint8_t(MessageType::kCookieReply);
  store_le32(&out[cookie_reply::kReceiver], receiver_index);
  auto nonce = out.subspan<cookie_reply::kNonce, crypto::kXNonceSize>();
  random.fill(nonce);
  Mac cookie{};
  cookie_for(cookie, source, clock, random);
  // The MAC1 of the message we answer is the associated data, binding the reply to it.
  auto mac1 = message.subspan(mac1_offset(message.size()), kMacSize);
  crypto::xaead_seal(out.subspan(cookie_reply::kCookie, kCookieSize + crypto::kAeadTagSize),
                     cookie_encryption_key_, nonce, cookie, mac1);
  secure_wipe(cookie.data(), cookie.size());
}

void CookieMaker::set_remote_public_key(const crypto::PublicKey& key) {
  mac1_key_ = derive_label_key(kLabelMac1, key);
  cookie_decryption_key_ = derive_label_key(kLabelCookie, key);
  have_sent_mac1_ = false;
  cookie_.wipe();
  cookie_birth_ = kNever;
}

void CookieMaker::add_macs(std::span<uint8_t> message, const Clock& clock) {
  const size_t m1 = mac1_offset(message.size());
  const size_t m2 = mac2_offset(message.size());
  Mac mac{};
  crypto::blake2s_mac(mac, mac1_key_, {message.first(m1)});
  std::memcpy(&message[m1], mac.data(), kMacSize);
  last_mac1_sent_ = mac;
  have_sent_mac1_ = true;
  // A cookie is usable for its secret's lifetime minus the time it may have spent in flight.
  if (expired(cookie_birth_, kCookieSecretMaxAge - kCookieSecretLatency, clock.now())) {
    std::memset(&message[m2], 0, kMacSize);
  } else {
    crypto::blake2s_mac(mac, cookie_.span(), {message.first(m2)});
    std::memcpy(&message[m2], mac.data(), kMacSize);
  }
}

bool CookieMaker::consume_reply(std::span<const uint8_t, cookie_reply::kSize> reply,
                                const Clock& clock) {
  if (!have_sent_mac1_) return false;
  Secret<kCookieSize> cookie;
  auto nonce = reply.subspan<cookie_reply::kNonce, crypto::kXNonceSize>();
  if (!crypto::xaead_open(cookie.span(), cookie_decryption_key_, nonce,
                          reply.subspan(cookie_reply::kCookie, kCookieSize + crypto::kAeadTagSize),
                          last_mac1_sent_)) {
    return false;
  }
  cookie_ = cookie;
  cookie_birth_ = clock.now();
  have_sent_mac1_ = false;  // one reply per message sent
  return true;
}

}  // namespace waypost::wireguard
