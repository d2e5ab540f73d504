#include "crypto/dh.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/dh.h>  // EVP_PKEY_CTX_set_dh_pad
#include <openssl/ec.h>
#include <openssl/param_build.h>

namespace waypost::crypto {

namespace {

struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;
struct CtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, CtxDeleter>;
struct BldDeleter {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamsDeleter {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct GroupDeleter {
  void operator()(EC_GROUP* g) const { EC_GROUP_free(g); }
};
struct PointDeleter {
  void operator()(EC_POINT* p) const { EC_POINT_free(p); }
};

enum class Family : uint8_t { kModp, kEcp, kX25519 };

Family family(DhKind kind) {
  switch (kind) {
    case DhKind::kModp1024:
    case DhKind::kModp2048:
    case DhKind::kModp3072:
    case DhKind::kModp4096:
      return Family::kModp;
    case DhKind::kEcp256:
    case DhKind::kEcp384:
    case DhKind::kEcp521:
      return Family::kEcp;
    case DhKind::kX25519:
      return Family::kX25519;
  }
  return Family::kX25519;
}

// OpenSSL's algorithm and group names. "modp_2048" is the RFC 3526 group (IKE group 14), not
// RFC 7919's "ffdhe2048".
const char* algorithm_name(DhKind kind) {
  switch (family(kind)) {
    case Family::kModp:
      return "DH";
    case Family::kEcp:
      return "EC";
    case Family::kX25519:
      return "X25519";
  }
  return "X25519";
}

// nullptr for X25519, and for modp1024, which OpenSSL has no name for (push_domain()).
const char* group_name(DhKind kind) {
  switch (kind) {
    case DhKind::kModp1024:
      return nullptr;
    case DhKind::kModp2048:
      return "modp_2048";
    case DhKind::kModp3072:
      return "modp_3072";
    case DhKind::kModp4096:
      return "modp_4096";
    case DhKind::kEcp256:
      return "P-256";
    case DhKind::kEcp384:
      return "P-384";
    case DhKind::kEcp521:
      return "P-521";
    case DhKind::kX25519:
      return nullptr;
  }
  return nullptr;
}

int curve_nid(DhKind kind) {
  switch (kind) {
    case DhKind::kEcp256:
      return NID_X9_62_prime256v1;
    case DhKind::kEcp384:
      return NID_secp384r1;
    case DhKind::kEcp521:
      return NID_secp521r1;
    default:
      return NID_undef;
  }
}

// Field size of an ECP group (P-521: 66 bytes).
size_t field_size(DhKind kind) {
  return dh_shared_size(kind);
}

Result<std::unique_ptr<OSSL_PARAM, ParamsDeleter>> build(OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamsDeleter> params(OSSL_PARAM_BLD_to_param(bld));
  if (!params) return make_error("out of memory building key parameters");
  return params;
}

// The group of a key to build: its name, or for modp1024 the RFC 2409 prime (OpenSSL's copy)
// and generator 2. `keep` holds the BIGNUMs until the parameters are built.
Status push_domain(OSSL_PARAM_BLD* bld, DhKind kind, std::vector<BnPtr>& keep) {
  if (const char* name = group_name(kind)) {
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, name, 0) != 1) {
      return make_error("{}: out of memory", dh_name(kind));
    }
    return {};
  }
  BnPtr p(BN_get_rfc2409_prime_1024(nullptr));
  BnPtr g(BN_new());
  if (!p || !g || BN_set_word(g.get(), 2) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, p.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, g.get()) != 1) {
    return make_error("{}: out of memory", dh_name(kind));
  }
  keep.push_back(std::move(p));
  keep.push_back(std::move(g));
  return {};
}

struct DomainDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using DomainPtr = std::unique_ptr<EVP_PKEY, DomainDeleter>;

// modp1024's domain parameters as a key of their own, to generate keys from.
Result<DomainPtr> modp1024_domain() {
  std::unique_ptr<OSSL_PARAM_BLD, BldDeleter> bld(OSSL_PARAM_BLD_new());
  std::vector<BnPtr> keep;
  if (!bld) return make_error("modp1024: out of memory");
  if (auto st = push_domain(bld.get(), DhKind::kModp1024, keep); !st) return st.take_error();
  auto params = build(bld.get());
  if (!params) return params.take_error();
  CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEY_PARAMETERS, params->get()) != 1) {
    return make_error("modp1024: OpenSSL refused the group's parameters");
  }
  return DomainPtr(raw);
}

}  // namespace

size_t dh_public_size(DhKind kind) {
  return family(kind) == Family::kEcp ? 2 * dh_shared_size(kind) : dh_shared_size(kind);
}

size_t dh_shared_size(DhKind kind) {
  switch (kind) {
    case DhKind::kModp1024:
      return 128;
    case DhKind::kModp2048:
      return 256;
    case DhKind::kModp3072:
      return 384;
    case DhKind::kModp4096:
      return 512;
    case DhKind::kEcp256:
      return 32;
    case DhKind::kEcp384:
      return 48;
    case DhKind::kEcp521:
      return 66;
    case DhKind::kX25519:
      return 32;
  }
  return 0;
}

const char* dh_name(DhKind kind) {
  switch (kind) {
    case DhKind::kModp1024:
      return "modp1024";
    case DhKind::kModp2048:
      return "modp2048";
    case DhKind::kModp3072:
      return "modp3072";
    case DhKind::kModp4096:
      return "modp4096";
    case DhKind::kEcp256:
      return "ecp256";
    case DhKind::kEcp384:
      return "ecp384";
    case DhKind::kEcp521:
      return "ecp521";
    case DhKind::kX25519:
      return "curve25519";
  }
  return "?";
}

Result<DhKeyPair> DhKeyPair::generate(DhKind kind) {
  CtxPtr ctx;
  if (kind == DhKind::kModp1024) {
    auto domain = modp1024_domain();
    if (!domain) return domain.take_error();
    ctx.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, domain->get(), nullptr));
  } else {
    ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, algorithm_name(kind), nullptr));
  }
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) {
    return make_error("{}: key generation unavailable", dh_name(kind));
  }
  if (const char* group = group_name(kind);
      group != nullptr && EVP_PKEY_CTX_set_group_name(ctx.get(), group) != 1) {
    return make_error("{}: OpenSSL does not know group {}", dh_name(kind), group);
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) {
    return make_error("{}: key generation failed", dh_name(kind));
  }
  DhKeyPair pair(kind, PkeyPtr(raw));
  if (auto st = pair.fill_public(); !st) return st.take_error();
  return pair;
}

Result<DhKeyPair> DhKeyPair::from_private(DhKind kind, std::span<const uint8_t> private_value) {
  if (family(kind) == Family::kX25519) {
    if (private_value.size() != 32) return make_error(ErrorKind::kParse, "X25519: 32-byte key");
    PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_value.data(),
                                              private_value.size()));
    if (!pkey) return make_error("X25519: key setup failed");
    DhKeyPair pair(kind, std::move(pkey));
    if (auto st = pair.fill_public(); !st) return st.take_error();
    return pair;
  }
  if (family(kind) != Family::kEcp) {
    return make_error("{}: keys from a given private value are not supported", dh_name(kind));
  }
  if (private_value.size() != field_size(kind)) {
    return make_error(ErrorKind::kParse, "{}: private value must be {} bytes", dh_name(kind),
                      field_size(kind));
  }
  // OpenSSL 3.0 does not derive an EC public key on import, so compute d*G here.
  std::unique_ptr<EC_GROUP, GroupDeleter> group(
      EC_GROUP_new_by_curve_name_ex(nullptr, nullptr, curve_nid(kind)));
  BnPtr d(BN_bin2bn(private_value.data(), int(private_value.size()), nullptr));
  if (!group || !d) return make_error("{}: out of memory", dh_name(kind));
  if (BN_is_zero(d.get()) || BN_cmp(d.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    return make_error(ErrorKind::kParse, "{}: private value out of range", dh_name(kind));
  }
  std::unique_ptr<EC_POINT, PointDeleter> q(EC_POINT_new(group.get()));
  std::vector<uint8_t> encoded(1 + 2 * field_size(kind));
  if (!q || EC_POINT_mul(group.get(), q.get(), d.get(), nullptr, nullptr, nullptr) != 1 ||
      EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, encoded.data(),
                         encoded.size(), nullptr) != encoded.size()) {
    return make_error("{}: public key computation failed", dh_name(kind));
  }
  std::unique_ptr<OSSL_PARAM_BLD, BldDeleter> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group_name(kind), 0) !=
          1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, encoded.data(),
                                       encoded.size()) != 1) {
    return make_error("{}: out of memory", dh_name(kind));
  }
  auto params = build(bld.get());
  if (!params) return params.take_error();
  CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params->get()) != 1) {
    return make_error("{}: key import failed", dh_name(kind));
  }
  DhKeyPair pair(kind, PkeyPtr(raw));
  if (auto st = pair.fill_public(); !st) return st.take_error();
  return pair;
}

Status DhKeyPair::fill_public() {
  const size_t size = dh_public_size(kind_);
  switch (family(kind_)) {
    case Family::kX25519: {
      public_.resize(size);
      size_t len = size;
      if (EVP_PKEY_get_raw_public_key(pkey_.get(), public_.data(), &len) != 1 || len != size) {
        return make_error("X25519: cannot read the public key");
      }
      return {};
    }
    case Family::kEcp: {
      std::vector<uint8_t> encoded(1 + size);
      size_t len = 0;
      if (EVP_PKEY_get_octet_string_param(pkey_.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                          encoded.data(), encoded.size(), &len) != 1 ||
          len != encoded.size() || encoded[0] != POINT_CONVERSION_UNCOMPRESSED) {
        return make_error("{}: cannot read the public key", dh_name(kind_));
      }
      public_.assign(encoded.begin() + 1, encoded.end());
      return {};
    }
    case Family::kModp: {
      BIGNUM* raw = nullptr;
      if (EVP_PKEY_get_bn_param(pkey_.get(), OSSL_PKEY_PARAM_PUB_KEY, &raw) != 1) {
        return make_error("{}: cannot read the public key", dh_name(kind_));
      }
      BnPtr y(raw);
      public_.resize(size);
      if (BN_bn2binpad(y.get(), public_.data(), int(size)) != int(size)) {
        return make_error("{}: public key longer than the prime", dh_name(kind_));
      }
      return {};
    }
  }
  return make_error("unknown group");
}

Result<DhKeyPair::PkeyPtr> DhKeyPair::peer_key(std::span<const uint8_t> peer_public) const {
  if (peer_public.size() != dh_public_size(kind_)) {
    return make_error(ErrorKind::kParse, "{}: public value has {} bytes, expected {}",
                      dh_name(kind_), peer_public.size(), dh_public_size(kind_));
  }
  if (family(kind_) == Family::kX25519) {
    PkeyPtr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(),
                                             peer_public.size()));
    if (!peer) return make_error("X25519: key setup failed");
    return peer;
  }
  std::unique_ptr<OSSL_PARAM_BLD, BldDeleter> bld(OSSL_PARAM_BLD_new());
  std::vector<BnPtr> keep;
  if (!bld) return make_error("{}: out of memory", dh_name(kind_));
  if (auto st = push_domain(bld.get(), kind_, keep); !st) return st.take_error();
  std::vector<uint8_t> encoded;
  BnPtr y;
  if (family(kind_) == Family::kEcp) {
    encoded.reserve(1 + peer_public.size());
    encoded.push_back(POINT_CONVERSION_UNCOMPRESSED);
    encoded.insert(encoded.end(), peer_public.begin(), peer_public.end());
    if (OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, encoded.data(),
                                         encoded.size()) != 1) {
      return make_error("{}: out of memory", dh_name(kind_));
    }
  } else {
    // RFC 7296 / SP 800-56A: 1 < y < p - 1 (y = 1 and y = p - 1 give a secret of 1 or +-1).
    BIGNUM* raw_p = nullptr;
    if (EVP_PKEY_get_bn_param(pkey_.get(), OSSL_PKEY_PARAM_FFC_P, &raw_p) != 1) {
      return make_error("{}: cannot read the prime", dh_name(kind_));
    }
    BnPtr p(raw_p);
    y.reset(BN_bin2bn(peer_public.data(), int(peer_public.size()), nullptr));
    BnPtr p_minus_1(BN_dup(p.get()));
    if (!y || !p_minus_1 || BN_sub_word(p_minus_1.get(), 1) != 1) {
      return make_error("{}: out of memory", dh_name(kind_));
    }
    if (BN_cmp(y.get(), BN_value_one()) <= 0 || BN_cmp(y.get(), p_minus_1.get()) >= 0) {
      return make_error(ErrorKind::kParse, "{}: public value out of range", dh_name(kind_));
    }
    if (OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, y.get()) != 1) {
      return make_error("{}: out of memory", dh_name(kind_));
    }
  }
  auto params = build(bld.get());
  if (!params) return params.take_error();
  CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, algorithm_name(kind_), nullptr));
  EVP_PKEY* raw = nullptr;
  // For ECP the import decodes the point and refuses one that is not on the curve.
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params->get()) != 1) {
    return make_error(ErrorKind::kParse, "{}: invalid public value", dh_name(kind_));
  }
  return PkeyPtr(raw);
}

Result<SecretBytes> DhKeyPair::shared_secret(std::span<const uint8_t> peer_public) const {
  if (!pkey_) return make_error("{}: no key", dh_name(kind_));
  auto peer = peer_key(peer_public);
  if (!peer) return peer.take_error();
  CtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1) {
    return make_error("{}: key exchange unavailable", dh_name(kind_));
  }
  // IKE wants g^ir at the prime's full length (RFC 7296 2.14); OpenSSL strips leading zeros
  // unless asked to pad.
  if (family(kind_) == Family::kModp && EVP_PKEY_CTX_set_dh_pad(ctx.get(), 1) != 1) {
    return make_error("{}: cannot pad the shared secret", dh_name(kind_));
  }
  // What RFC 6989 asks is done by peer_key(): MODP values in range (the groups' primes are safe
  // primes), ECP points on the curve (checked when the point is decoded; the NIST curves have
  // cofactor 1, so a point on the curve is in the prime-order group), nothing for Curve25519.
  // OpenSSL's full check would add a scalar multiplication by the group order, as costly as the
  // key exchange itself (0.6 ms on P-384 here) and on the critical path of every IKE_SA_INIT.
  if (EVP_PKEY_derive_set_peer_ex(ctx.get(), peer->get(), 0) != 1) {
    return make_error(ErrorKind::kParse, "{}: peer's public value refused", dh_name(kind_));
  }
  const size_t expected = dh_shared_size(kind_);
  size_t len = 0;
  if (EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1 || len != expected) {
    return make_error("{}: unexpected shared secret size", dh_name(kind_));
  }
  SecretBytes secret(expected);
  // OpenSSL's X25519 refuses an all-zero result (a low-order peer point, RFC 7748 6.1).
  if (EVP_PKEY_derive(ctx.get(), secret.data(), &len) != 1 || len != expected) {
    return make_error(ErrorKind::kParse, "{}: key exchange with the peer's value failed",
                      dh_name(kind_));
  }
  uint8_t acc = 0;
  for (uint8_t b : secret.span()) acc |= b;
  if (acc == 0) return make_error(ErrorKind::kParse, "{}: all-zero shared secret", dh_name(kind_));
  return secret;
}

}  // namespace waypost::crypto
