#include "ike/proposals.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

namespace waypost::ike {

namespace {

constexpr TransformSpec encr(EncryptionId id, uint16_t bits = 0) {
  return TransformSpec{TransformType::kEncryption, uint16_t(id), bits};
}
constexpr TransformSpec integ(IntegrityId id) {
  return TransformSpec{TransformType::kIntegrity, uint16_t(id), 0};
}
constexpr TransformSpec prf(PrfId id) {
  return TransformSpec{TransformType::kPrf, uint16_t(id), 0};
}
constexpr TransformSpec ke(DhGroup id) {
  return TransformSpec{TransformType::kKeyExchange, uint16_t(id), 0};
}
constexpr TransformSpec esn(EsnId id) {
  return TransformSpec{TransformType::kEsn, uint16_t(id), 0};
}

struct Keyword {
  std::string_view name;
  TransformSpec transform;
};

// Every keyword but the AES-GCM family, which aes_gcm_keyword() spells out.
constexpr std::array kKeywords{
    Keyword{"aes", encr(EncryptionId::kAesCbc, 128)},
    Keyword{"aes128", encr(EncryptionId::kAesCbc, 128)},
    Keyword{"aes192", encr(EncryptionId::kAesCbc, 192)},
    Keyword{"aes256", encr(EncryptionId::kAesCbc, 256)},
    Keyword{"chacha20poly1305", encr(EncryptionId::kChaCha20Poly1305)},
    Keyword{"sha1", integ(IntegrityId::kHmacSha1_96)},
    Keyword{"sha", integ(IntegrityId::kHmacSha1_96)},
    Keyword{"sha256", integ(IntegrityId::kHmacSha256_128)},
    Keyword{"sha2_256", integ(IntegrityId::kHmacSha256_128)},
    Keyword{"sha384", integ(IntegrityId::kHmacSha384_192)},
    Keyword{"sha2_384", integ(IntegrityId::kHmacSha384_192)},
    Keyword{"sha512", integ(IntegrityId::kHmacSha512_256)},
    Keyword{"sha2_512", integ(IntegrityId::kHmacSha512_256)},
    Keyword{"prfsha1", prf(PrfId::kHmacSha1)},
    Keyword{"prfsha256", prf(PrfId::kHmacSha256)},
    Keyword{"prfsha384", prf(PrfId::kHmacSha384)},
    Keyword{"prfsha512", prf(PrfId::kHmacSha512)},
    Keyword{"modp1024", ke(DhGroup::kModp1024)},
    Keyword{"modp2048", ke(DhGroup::kModp2048)},
    Keyword{"modp3072", ke(DhGroup::kModp3072)},
    Keyword{"modp4096", ke(DhGroup::kModp4096)},
    Keyword{"ecp256", ke(DhGroup::kEcp256)},
    Keyword{"ecp384", ke(DhGroup::kEcp384)},
    Keyword{"ecp521", ke(DhGroup::kEcp521)},
    Keyword{"curve25519", ke(DhGroup::kCurve25519)},
    Keyword{"x25519", ke(DhGroup::kCurve25519)},
    Keyword{"esn", esn(EsnId::kYes)},
    Keyword{"noesn", esn(EsnId::kNo)},
};

// strongSwan keywords for algorithms Waypost does not implement: refused by name so that the
// message says "not supported" rather than "unknown".
constexpr std::array<std::string_view, 43> kUnsupported{
    "3des",         "des",      "cast128",  "blowfish",    "blowfish128",  "blowfish192",
    "blowfish256",  "null",     "camellia", "camellia128", "camellia192",  "camellia256",
    "serpent",      "twofish",  "md5",      "md5_128",     "aesxcbc",      "aescmac",
    "sha256_96",    "sha1_160", "prfmd5",   "prfaesxcbc",  "prfaescmac",   "prfcamelliaxcbc",
    "modp768",      "modp1536", "modp6144", "modp8192",    "modp1024s160", "modp2048s224",
    "modp2048s256", "ecp192",   "ecp224",   "ecp224bp",    "ecp256bp",     "ecp384bp",
    "ecp512bp",     "curve448", "x448",     "mlkem512",    "mlkem768",     "mlkem1024",
    "ntru128",
};

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// aes{128,192,256}gcm{16,12,8,128,96,64,}: the ICV length in bytes or bits, 16 when omitted.
std::optional<TransformSpec> aes_gcm_keyword(std::string_view word) {
  if (!word.starts_with("aes") || word.size() < 9) return std::nullopt;
  const std::string_view bits = word.substr(3, 3);
  if (word.substr(6, 3) != "gcm") return std::nullopt;
  uint16_t key_bits = 0;
  if (bits == "128") {
    key_bits = 128;
  } else if (bits == "192") {
    key_bits = 192;
  } else if (bits == "256") {
    key_bits = 256;
  } else {
    return std::nullopt;
  }
  const std::string_view icv = word.substr(9);
  if (icv.empty() || icv == "16" || icv == "128") return encr(EncryptionId::kAesGcm16, key_bits);
  if (icv == "12" || icv == "96") return encr(EncryptionId::kAesGcm12, key_bits);
  if (icv == "8" || icv == "64") return encr(EncryptionId::kAesGcm8, key_bits);
  return std::nullopt;
}

bool is_unsupported_keyword(std::string_view word) {
  if (std::find(kUnsupported.begin(), kUnsupported.end(), word) != kUnsupported.end()) {
    return true;
  }
  // AES in CTR, CCM and GMAC modes, and the key exchanges of RFC 9370 (ke1_...).
  if (word.starts_with("aes") &&
      (word.find("ccm") != std::string_view::npos || word.find("ctr") != std::string_view::npos ||
       word.find("gmac") != std::string_view::npos)) {
    return true;
  }
  return word.size() > 4 && word.starts_with("ke") && word[3] == '_' &&
         is_digits(word.substr(2, 1));
}

std::optional<TransformSpec> lookup(std::string_view word) {
  for (const Keyword& k : kKeywords) {
    if (k.name == word) return k.transform;
  }
  return aes_gcm_keyword(word);
}

// The PRF an integrity keyword selects in an IKE proposal without an explicit PRF.
PrfId prf_for(IntegrityId id) {
  switch (id) {
    case IntegrityId::kHmacSha256_128:
      return PrfId::kHmacSha256;
    case IntegrityId::kHmacSha384_192:
      return PrfId::kHmacSha384;
    case IntegrityId::kHmacSha512_256:
      return PrfId::kHmacSha512;
    case IntegrityId::kHmacSha1_96:
    case IntegrityId::kNone:
      break;
  }
  return PrfId::kHmacSha1;
}

constexpr std::array kTypeOrder{TransformType::kEncryption, TransformType::kIntegrity,
                                TransformType::kPrf, TransformType::kKeyExchange,
                                TransformType::kEsn};

void add_unique(std::vector<TransformSpec>& list, const TransformSpec& t) {
  if (std::find(list.begin(), list.end(), t) == list.end()) list.push_back(t);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool ProposalSpec::is_aead() const {
  for (const TransformSpec& t : transforms) {
    if (t.type == TransformType::kEncryption) return ike::is_aead(EncryptionId(t.id));
  }
  return false;
}

std::vector<TransformSpec> ProposalSpec::of_type(TransformType type) const {
  std::vector<TransformSpec> out;
  for (const TransformSpec& t : transforms) {
    if (t.type == type) out.push_back(t);
  }
  return out;
}

Result<ProposalSpec> parse_proposal(std::string_view text, ProposalProtocol protocol) {
  const bool ike = protocol == ProposalProtocol::kIke;
  if (text.empty()) return make_error(ErrorKind::kParse, "empty proposal");
  if (text.back() == '!') {
    return make_error(ErrorKind::kParse,
                      "proposal '{}': a trailing '!' is ipsec.conf syntax; swanctl.conf "
                      "proposals are always strict, remove it",
                      text);
  }
  std::vector<TransformSpec> encryption, integrity, prfs, groups, esns;
  std::vector<std::string_view> seen;
  std::string_view rest = text;
  while (true) {
    const size_t dash = rest.find('-');
    const std::string_view word = rest.substr(0, dash);
    if (word.empty()) {
      return make_error(ErrorKind::kParse, "proposal '{}': empty algorithm between dashes", text);
    }
    if (std::find(seen.begin(), seen.end(), word) != seen.end()) {
      return make_error(ErrorKind::kParse, "proposal '{}': '{}' is listed twice", text, word);
    }
    seen.push_back(word);
    const std::optional<TransformSpec> t = lookup(word);
    if (!t) {
      if (is_unsupported_keyword(word)) {
        return make_error(ErrorKind::kParse, "proposal '{}': '{}' is not supported by Waypost",
                          text, word);
      }
      return make_error(ErrorKind::kParse, "proposal '{}': unknown algorithm '{}'", text, word);
    }
    switch (t->type) {
      case TransformType::kEncryption:
        add_unique(encryption, *t);
        break;
      case TransformType::kIntegrity:
        add_unique(integrity, *t);
        break;
      case TransformType::kPrf:
        add_unique(prfs, *t);
        break;
      case TransformType::kKeyExchange:
        add_unique(groups, *t);
        break;
      case TransformType::kEsn:
        add_unique(esns, *t);
        break;
    }
    if (dash == std::string_view::npos) break;
    rest.remove_prefix(dash + 1);
  }

  if (encryption.empty()) {
    return make_error(ErrorKind::kParse, "proposal '{}' has no encryption algorithm", text);
  }
  const bool aead = is_aead(EncryptionId(encryption.front().id));
  for (const TransformSpec& e : encryption) {
    if (is_aead(EncryptionId(e.id)) != aead) {
      return make_error(ErrorKind::kParse,
                        "proposal '{}' mixes AEAD and non-AEAD ciphers; write them as two "
                        "proposals separated by a comma",
                        text);
    }
  }
  if (ike) {
    if (!esns.empty()) {
      return make_error(ErrorKind::kParse, "proposal '{}': esn/noesn apply to ESP, not IKE", text);
    }
    if (groups.empty()) {
      return make_error(ErrorKind::kParse,
                        "IKE proposal '{}' has no key exchange group (add e.g. ecp384, "
                        "curve25519 or modp2048)",
                        text);
    }
    if (aead && !integrity.empty() && !prfs.empty()) {
      return make_error(ErrorKind::kParse,
                        "proposal '{}' mixes an AEAD cipher with an integrity algorithm", text);
    }
    if (prfs.empty()) {
      for (const TransformSpec& i : integrity) add_unique(prfs, prf(prf_for(IntegrityId(i.id))));
    }
    if (aead) integrity.clear();  // the integrity keywords only chose the PRFs
    if (prfs.empty()) {
      return make_error(ErrorKind::kParse,
                        "IKE proposal '{}' has no PRF (add e.g. prfsha384 or prfsha256)", text);
    }
    if (!aead && integrity.empty()) {
      return make_error(ErrorKind::kParse, "proposal '{}' has no integrity algorithm", text);
    }
  } else {
    if (!prfs.empty()) {
      return make_error(ErrorKind::kParse, "ESP proposal '{}': a PRF belongs to IKE proposals",
                        text);
    }
    if (aead && !integrity.empty()) {
      return make_error(ErrorKind::kParse,
                        "proposal '{}' mixes an AEAD cipher with an integrity algorithm", text);
    }
    if (!aead && integrity.empty()) {
      return make_error(ErrorKind::kParse, "proposal '{}' has no integrity algorithm", text);
    }
    if (esns.empty()) esns.push_back(esn(EsnId::kNo));
  }

  ProposalSpec p;
  for (auto* list : {&encryption, &integrity, &prfs, &groups, &esns}) {
    p.transforms.insert(p.transforms.end(), list->begin(), list->end());
  }
  return p;
}

Result<std::vector<ProposalSpec>> parse_proposals(std::string_view text,
                                                  ProposalProtocol protocol) {
  std::vector<ProposalSpec> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find_first_of(", \t", start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = trim(text.substr(start, end - start));
    if (!item.empty()) {
      if (item == "default") {
        for (ProposalSpec& p : default_proposals(protocol)) out.push_back(std::move(p));
      } else {
        auto p = parse_proposal(item, protocol);
        if (!p) return p.take_error();
        out.push_back(std::move(*p));
      }
    }
    start = end + 1;
  }
  if (out.empty()) return make_error(ErrorKind::kParse, "no proposals");
  return out;
}

std::vector<ProposalSpec> default_proposals(ProposalProtocol protocol) {
  const std::vector<TransformSpec> groups{ke(DhGroup::kEcp384),     ke(DhGroup::kEcp256),
                                          ke(DhGroup::kCurve25519), ke(DhGroup::kEcp521),
                                          ke(DhGroup::kModp3072),   ke(DhGroup::kModp2048),
                                          ke(DhGroup::kModp4096)};
  ProposalSpec aead{{encr(EncryptionId::kAesGcm16, 256), encr(EncryptionId::kAesGcm16, 128),
                     encr(EncryptionId::kChaCha20Poly1305)}};
  ProposalSpec cbc{{encr(EncryptionId::kAesCbc, 256), encr(EncryptionId::kAesCbc, 128)}};
  if (protocol == ProposalProtocol::kIke) {
    for (const TransformSpec& t :
         {integ(IntegrityId::kHmacSha384_192), integ(IntegrityId::kHmacSha256_128),
          integ(IntegrityId::kHmacSha512_256)}) {
      cbc.transforms.push_back(t);
    }
    for (ProposalSpec* p : {&aead, &cbc}) {
      for (PrfId id : {PrfId::kHmacSha384, PrfId::kHmacSha256, PrfId::kHmacSha512}) {
        p->transforms.push_back(prf(id));
      }
      p->transforms.insert(p->transforms.end(), groups.begin(), groups.end());
    }
  } else {
    for (const TransformSpec& t :
         {integ(IntegrityId::kHmacSha256_128), integ(IntegrityId::kHmacSha384_192),
          integ(IntegrityId::kHmacSha512_256)}) {
      cbc.transforms.push_back(t);
    }
    aead.transforms.push_back(esn(EsnId::kNo));
    cbc.transforms.push_back(esn(EsnId::kNo));
  }
  return {aead, cbc};
}

std::string transform_name(const TransformSpec& t) {
  switch (t.type) {
    case TransformType::kEncryption:
      switch (EncryptionId(t.id)) {
        case EncryptionId::kAesCbc:
          return fmt::format("aes{}", t.key_length);
        case EncryptionId::kAesGcm16:
          return fmt::format("aes{}gcm16", t.key_length);
        case EncryptionId::kAesGcm12:
          return fmt::format("aes{}gcm12", t.key_length);
        case EncryptionId::kAesGcm8:
          return fmt::format("aes{}gcm8", t.key_length);
        case EncryptionId::kChaCha20Poly1305:
          return "chacha20poly1305";
        case EncryptionId::kAesCtr:
          return fmt::format("aes{}ctr", t.key_length);
      }
      return fmt::format("encr{}", t.id);
    case TransformType::kIntegrity:
      switch (IntegrityId(t.id)) {
        case IntegrityId::kHmacSha1_96:
          return "sha1";
        case IntegrityId::kHmacSha256_128:
          return "sha256";
        case IntegrityId::kHmacSha384_192:
          return "sha384";
        case IntegrityId::kHmacSha512_256:
          return "sha512";
        case IntegrityId::kNone:
          return "none";
      }
      return fmt::format("integ{}", t.id);
    case TransformType::kPrf:
      switch (PrfId(t.id)) {
        case PrfId::kHmacSha1:
          return "prfsha1";
        case PrfId::kHmacSha256:
          return "prfsha256";
        case PrfId::kHmacSha384:
          return "prfsha384";
        case PrfId::kHmacSha512:
          return "prfsha512";
      }
      return fmt::format("prf{}", t.id);
    case TransformType::kKeyExchange:
      switch (DhGroup(t.id)) {
        case DhGroup::kModp1024:
          return "modp1024";
        case DhGroup::kModp2048:
          return "modp2048";
        case DhGroup::kModp3072:
          return "modp3072";
        case DhGroup::kModp4096:
          return "modp4096";
        case DhGroup::kEcp256:
          return "ecp256";
        case DhGroup::kEcp384:
          return "ecp384";
        case DhGroup::kEcp521:
          return "ecp521";
        case DhGroup::kCurve25519:
          return "curve25519";
        case DhGroup::kNone:
          return "none";
      }
      return fmt::format("ke{}", t.id);
    case TransformType::kEsn:
      return EsnId(t.id) == EsnId::kYes ? "esn" : "noesn";
  }
  return fmt::format("transform{}:{}", unsigned(t.type), t.id);
}

std::string format_proposal(const ProposalSpec& proposal, ProposalProtocol protocol) {
  std::string out;
  for (TransformType type : kTypeOrder) {
    const std::vector<TransformSpec> list = proposal.of_type(type);
    // "noesn" alone is what an ESP proposal without esn keywords means; leave it implied.
    if (type == TransformType::kEsn && protocol == ProposalProtocol::kEsp && list.size() == 1 &&
        list.front() == esn(EsnId::kNo)) {
      continue;
    }
    for (const TransformSpec& t : list) {
      if (!out.empty()) out.push_back('-');
      out += transform_name(t);
    }
  }
  return out;
}

std::string format_proposals(const std::vector<ProposalSpec>& proposals,
                             ProposalProtocol protocol) {
  std::string out;
  for (const ProposalSpec& p : proposals) {
    if (!out.empty()) out += ", ";
    out += format_proposal(p, protocol);
  }
  return out;
}

}  // namespace waypost::ike
