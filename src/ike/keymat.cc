#include "ike/keymat.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>

namespace waypost::ike {

namespace {
// prf+ numbers its blocks with one octet, starting at 1.
constexpr size_t kMaxPrfPlusBlocks = 255;
}  // namespace

Result<Prf> Prf::create(PrfId id) {
  auto hash = prf_hash(id);
  if (!hash) return hash.take_error();
  return Prf(id, *hash);
}

bool Prf::compute(std::span<const uint8_t> key,
                  std::initializer_list<std::span<const uint8_t>> data,
                  std::span<uint8_t> out) const {
  return crypto::hmac(hash_, key, data, out);
}

Result<SecretBytes> Prf::plus(std::span<const uint8_t> key,
                              std::initializer_list<std::span<const uint8_t>> seed,
                              size_t length) const {
  const size_t block = output_size();
  if (length > kMaxPrfPlusBlocks * block) {
    return make_error("prf+ cannot produce {} bytes (at most {})", length,
                      kMaxPrfPlusBlocks * block);
  }
  SecretBytes out(length);
  // One keyed context for all blocks: reset() keeps the key schedule.
  crypto::Hmac mac(hash_, key);
  std::array<uint8_t, crypto::kMaxDigestSize> t{};
  size_t produced = 0;
  bool ok = mac.valid();
  for (size_t n = 1; ok && produced < length; ++n) {
    const auto counter = uint8_t(n);
    if (n > 1) ok = mac.reset() && mac.update({t.data(), block});
    for (auto part : seed) ok = ok && mac.update(part);
    ok = ok && mac.update({&counter, 1}) && mac.finish({t.data(), block});
    const size_t take = std::min(block, length - produced);
    if (ok) std::copy_n(t.begin(), take, out.data() + produced);
    produced += take;
  }
  OPENSSL_cleanse(t.data(), t.size());
  if (!ok) return make_error("prf+: HMAC failed");
  return out;
}

Result<SecretBytes> skeyseed(PrfId prf, std::span<const uint8_t> ni, std::span<const uint8_t> nr,
                             std::span<const uint8_t> shared_secret) {
  auto p = Prf::create(prf);
  if (!p) return p.take_error();
  // The key is Ni | Nr; nonces are at most 256 bytes each (RFC 7296 3.9).
  SecretBytes key(ni.size() + nr.size());
  std::copy(ni.begin(), ni.end(), key.data());
  std::copy(nr.begin(), nr.end(), key.data() + ni.size());
  SecretBytes out(p->output_size());
  if (!p->compute(key.span(), {shared_secret}, out.span())) {
    return make_error("SKEYSEED: HMAC failed");
  }
  return out;
}

Result<SecretBytes> rekey_skeyseed(PrfId old_prf, std::span<const uint8_t> old_sk_d,
                                   std::span<const uint8_t> new_shared_secret,
                                   std::span<const uint8_t> ni, std::span<const uint8_t> nr) {
  auto p = Prf::create(old_prf);
  if (!p) return p.take_error();
  SecretBytes out(p->output_size());
  if (!p->compute(old_sk_d, {new_shared_secret, ni, nr}, out.span())) {
    return make_error("rekey SKEYSEED: HMAC failed");
  }
  return out;
}

namespace {

// Hands out consecutive slices of a prf+ stream as keys.
class KeySplitter {
 public:
  explicit KeySplitter(const SecretBytes& stream) : stream_(stream) {}
  SecretBytes next(size_t n) {
    SecretBytes key(stream_.span().subspan(offset_, n));
    offset_ += n;
    return key;
  }

 private:
  const SecretBytes& stream_;
  size_t offset_ = 0;
};

}  // namespace

Result<IkeSaKeys> derive_ike_sa_keys(const NegotiatedAlgorithms& algorithms,
                                     std::span<const uint8_t> skeyseed, std::span<const uint8_t> ni,
                                     std::span<const uint8_t> nr, SpiBytes spi_i, SpiBytes spi_r) {
  if (auto st = check_cipher_suite(algorithms); !st) return st.take_error();
  auto prf = Prf::create(algorithms.prf);
  if (!prf) return prf.take_error();
  const size_t d = prf->output_size();
  const size_t a = *integrity_key_size(algorithms.integrity);  // checked above
  const size_t e = *encryption_key_size(algorithms.encryption, algorithms.key_bits);
  auto stream = prf->plus(skeyseed, {ni, nr, spi_i, spi_r}, d + 2 * a + 2 * e + 2 * d);
  if (!stream) return stream.take_error();
  KeySplitter split(*stream);
  IkeSaKeys keys;
  keys.sk_d = split.next(d);
  keys.sk_ai = split.next(a);
  keys.sk_ar = split.next(a);
  keys.sk_ei = split.next(e);
  keys.sk_er = split.next(e);
  keys.sk_pi = split.next(d);
  keys.sk_pr = split.next(d);
  return keys;
}

Result<IkeSaKeys> derive_ike_sa_keys_from_dh(const NegotiatedAlgorithms& algorithms,
                                             std::span<const uint8_t> shared_secret,
                                             std::span<const uint8_t> ni,
                                             std::span<const uint8_t> nr, SpiBytes spi_i,
                                             SpiBytes spi_r, SecretBytes* skeyseed_out) {
  auto seed = skeyseed(algorithms.prf, ni, nr, shared_secret);
  if (!seed) return seed.take_error();
  auto keys = derive_ike_sa_keys(algorithms, seed->span(), ni, nr, spi_i, spi_r);
  if (keys && skeyseed_out != nullptr) *skeyseed_out = std::move(*seed);
  return keys;
}

Result<ChildSaKeys> derive_child_sa_keys(PrfId ike_prf, std::span<const uint8_t> sk_d,
                                         const NegotiatedAlgorithms& child,
                                         std::span<const uint8_t> new_shared_secret,
                                         std::span<const uint8_t> ni, std::span<const uint8_t> nr) {
  if (auto st = check_cipher_suite(child); !st) return st.take_error();
  auto prf = Prf::create(ike_prf);
  if (!prf) return prf.take_error();
  const size_t e = *encryption_key_size(child.encryption, child.key_bits);
  const size_t a = *integrity_key_size(child.integrity);
  auto stream = prf->plus(sk_d, {new_shared_secret, ni, nr}, 2 * (e + a));
  if (!stream) return stream.take_error();
  KeySplitter split(*stream);
  ChildSaKeys keys;
  keys.encryption_i = split.next(e);
  keys.integrity_i = split.next(a);
  keys.encryption_r = split.next(e);
  keys.integrity_r = split.next(a);
  return keys;
}

}  // namespace waypost::ike
