#include "ike/auth_octets.h"

#include <openssl/crypto.h>

#include <array>
#include <string_view>

namespace waypost::ike {

namespace {

constexpr std::string_view kKeyPad = "Key Pad for IKEv2";

}  // namespace

Result<std::vector<uint8_t>> signed_octets(const Prf& prf, std::span<const uint8_t> init_message,
                                           std::span<const uint8_t> peer_nonce,
                                           std::span<const uint8_t> sk_p, const IdPayload& id) {
  const std::array<uint8_t, 4> id_header = {uint8_t(id.type), 0, 0, 0};
  std::vector<uint8_t> maced(prf.output_size());
  if (!prf.compute(sk_p, {id_header, id.data}, maced)) {
    return make_error("cannot compute the prf over the ID payload");
  }
  std::vector<uint8_t> out;
  out.reserve(init_message.size() + peer_nonce.size() + maced.size());
  out.insert(out.end(), init_message.begin(), init_message.end());
  out.insert(out.end(), peer_nonce.begin(), peer_nonce.end());
  out.insert(out.end(), maced.begin(), maced.end());
  return out;
}

Result<std::vector<uint8_t>> psk_auth(const Prf& prf, std::span<const uint8_t> secret,
                                      std::span<const uint8_t> octets) {
  SecretBytes pad_key(prf.output_size());
  const std::span<const uint8_t> pad(reinterpret_cast<const uint8_t*>(kKeyPad.data()),
                                     kKeyPad.size());
  std::vector<uint8_t> out(prf.output_size());
  if (!prf.compute(secret, {pad}, pad_key.span()) || !prf.compute(pad_key.span(), {octets}, out)) {
    return make_error("cannot compute the pre-shared key AUTH");
  }
  return out;
}

bool psk_auth_verifies(const Prf& prf, std::span<const uint8_t> secret,
                       std::span<const uint8_t> octets, std::span<const uint8_t> received) {
  auto expected = psk_auth(prf, secret, octets);
  return expected && expected->size() == received.size() &&
         CRYPTO_memcmp(expected->data(), received.data(), received.size()) == 0;
}

}  // namespace waypost::ike
