// ProposalSpec strings as swanctl.conf writes them <-> IKEv2 transforms (RFC 7296 3.3.2, IANA
// transform IDs), the rules strongSwan applies, and the names status output prints.
#include "ike/proposals.h"

#include <gtest/gtest.h>

namespace waypost::ike {
namespace {

constexpr auto kIke = ProposalProtocol::kIke;
constexpr auto kEsp = ProposalProtocol::kEsp;

TransformSpec t(TransformType type, uint16_t id, uint16_t bits = 0) {
  return TransformSpec{type, id, bits};
}

TEST(IkeProposalsTest, AlgoIkeProposal) {
  auto p = parse_proposal("aes256gcm16-prfsha512-ecp384", kIke);
  ASSERT_TRUE(p) << p.error().message;
  const std::vector<TransformSpec> expected{t(TransformType::kEncryption, 20, 256),
                                            t(TransformType::kPrf, 7),
                                            t(TransformType::kKeyExchange, 20)};
  EXPECT_EQ(p->transforms, expected);
  EXPECT_TRUE(p->is_aead());
  EXPECT_EQ(format_proposal(*p, kIke), "aes256gcm16-prfsha512-ecp384");
}

TEST(IkeProposalsTest, AlgoEspProposalHasNoEsnByDefault) {
  auto p = parse_proposal("aes256gcm16-ecp384", kEsp);
  ASSERT_TRUE(p) << p.error().message;
  const std::vector<TransformSpec> expected{t(TransformType::kEncryption, 20, 256),
                                            t(TransformType::kKeyExchange, 20),
                                            t(TransformType::kEsn, 0)};
  EXPECT_EQ(p->transforms, expected);
  EXPECT_EQ(format_proposal(*p, kEsp), "aes256gcm16-ecp384");
}

TEST(IkeProposalsTest, ClassicIkeProposalDerivesThePrf) {
  auto p = parse_proposal("aes128-sha256-modp2048", kIke);
  ASSERT_TRUE(p) << p.error().message;
  const std::vector<TransformSpec> expected{
      t(TransformType::kEncryption, 12, 128), t(TransformType::kIntegrity, 12),
      t(TransformType::kPrf, 5), t(TransformType::kKeyExchange, 14)};
  EXPECT_EQ(p->transforms, expected);
  EXPECT_EQ(format_proposal(*p, kIke), "aes128-sha256-prfsha256-modp2048");
}

TEST(IkeProposalsTest, KeywordTable) {
  struct Row {
    const char* word;
    TransformSpec transform;
  };
  const Row rows[] = {
      {"aes", t(TransformType::kEncryption, 12, 128)},
      {"aes192", t(TransformType::kEncryption, 12, 192)},
      {"aes256", t(TransformType::kEncryption, 12, 256)},
      {"sha1", t(TransformType::kIntegrity, 2)},
      {"sha2_384", t(TransformType::kIntegrity, 13)},
      {"sha512", t(TransformType::kIntegrity, 14)},
      {"modp3072", t(TransformType::kKeyExchange, 15)},
      {"modp4096", t(TransformType::kKeyExchange, 16)},
      {"ecp256", t(TransformType::kKeyExchange, 19)},
      {"ecp521", t(TransformType::kKeyExchange, 21)},
      {"curve25519", t(TransformType::kKeyExchange, 31)},
      {"x25519", t(TransformType::kKeyExchange, 31)},
  };
  for (const Row& row : rows) {
    const std::string text =
        row.transform.type == TransformType::kEncryption  ? fmt::format("{}-sha256", row.word)
        : row.transform.type == TransformType::kIntegrity ? fmt::format("aes128-{}", row.word)
                                                          : fmt::format("aes128gcm16-{}", row.word);
    auto p = parse_proposal(text, kEsp);
    ASSERT_TRUE(p) << text << ": " << p.error().message;
    EXPECT_EQ(p->of_type(row.transform.type).front(), row.transform) << row.word;
  }
  const std::pair<const char*, uint16_t> gcm[] = {
      {"aes128gcm8", 18},  {"aes128gcm64", 18},  {"aes192gcm12", 19}, {"aes192gcm96", 19},
      {"aes256gcm16", 20}, {"aes256gcm128", 20}, {"aes256gcm", 20},
  };
  for (const auto& [word, id] : gcm) {
    auto p = parse_proposal(word, kEsp);
    ASSERT_TRUE(p) << word << ": " << p.error().message;
    EXPECT_EQ(p->transforms.front().id, id) << word;
  }
  auto chacha = parse_proposal("chacha20poly1305-prfsha256-curve25519", kIke);
  ASSERT_TRUE(chacha);
  EXPECT_EQ(chacha->transforms.front(), t(TransformType::kEncryption, 28));
}

TEST(IkeProposalsTest, SeveralAlgorithmsPerTypeKeepTheirOrder) {
  auto p = parse_proposal("aes256gcm16-aes128gcm16-prfsha384-ecp384-prfsha256-modp3072", kIke);
  ASSERT_TRUE(p);
  EXPECT_EQ(format_proposal(*p, kIke),
            "aes256gcm16-aes128gcm16-prfsha384-prfsha256-ecp384-modp3072");
  auto esp = parse_proposal("aes128-sha256-esn-noesn-modp2048", kEsp);
  ASSERT_TRUE(esp);
  EXPECT_EQ(format_proposal(*esp, kEsp), "aes128-sha256-modp2048-esn-noesn");
}

TEST(IkeProposalsTest, PfSenseAeadIkeProposalWithHash) {
  // pfSense writes the phase 1 hash beside AES-GCM; strongSwan takes it as the PRF.
  auto p = parse_proposal("aes256gcm128-sha256-modp2048", kIke);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(format_proposal(*p, kIke), "aes256gcm16-prfsha256-modp2048");
}

TEST(IkeProposalsTest, ListsAndDefault) {
  auto list = parse_proposals("aes256gcm16-prfsha512-ecp384, aes256-sha384-ecp384", kIke);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ(format_proposals(*list, kIke),
            "aes256gcm16-prfsha512-ecp384, aes256-sha384-prfsha384-ecp384");
  auto with_default = parse_proposals("aes128gcm16-ecp256,default", kEsp);
  ASSERT_TRUE(with_default);
  EXPECT_EQ(with_default->size(), 3u);
  EXPECT_EQ(format_proposals(default_proposals(kIke), kIke),
            "aes256gcm16-aes128gcm16-chacha20poly1305-prfsha384-prfsha256-prfsha512-ecp384-"
            "ecp256-curve25519-ecp521-modp3072-modp2048-modp4096, "
            "aes256-aes128-sha384-sha256-sha512-prfsha384-prfsha256-prfsha512-ecp384-ecp256-"
            "curve25519-ecp521-modp3072-modp2048-modp4096");
  EXPECT_EQ(format_proposals(default_proposals(kEsp), kEsp),
            "aes256gcm16-aes128gcm16-chacha20poly1305, aes256-aes128-sha256-sha384-sha512");
}

TEST(IkeProposalsTest, DefaultsReparseToThemselves) {
  for (ProposalProtocol protocol : {kIke, kEsp}) {
    for (const ProposalSpec& p : default_proposals(protocol)) {
      auto again = parse_proposal(format_proposal(p, protocol), protocol);
      ASSERT_TRUE(again) << again.error().message;
      EXPECT_EQ(*again, p);
    }
  }
}

TEST(IkeProposalsTest, Errors) {
  struct Row {
    const char* text;
    ProposalProtocol protocol;
    const char* message;
  };
  const Row rows[] = {
      {"aes256gcm16-sha256-ecp384", kEsp,
       "proposal 'aes256gcm16-sha256-ecp384' mixes an AEAD cipher with an integrity algorithm"},
      {"aes256gcm16-sha256-prfsha256-ecp384", kIke,
       "proposal 'aes256gcm16-sha256-prfsha256-ecp384' mixes an AEAD cipher with an integrity "
       "algorithm"},
      {"aes256-sha256", kIke,
       "IKE proposal 'aes256-sha256' has no key exchange group (add e.g. ecp384, curve25519 or "
       "modp2048)"},
      {"aes256gcm16-ecp384", kIke,
       "IKE proposal 'aes256gcm16-ecp384' has no PRF (add e.g. prfsha384 or prfsha256)"},
      {"aes256-ecp384", kEsp, "proposal 'aes256-ecp384' has no integrity algorithm"},
      {"sha256-ecp384", kEsp, "proposal 'sha256-ecp384' has no encryption algorithm"},
      {"aes256-blah-ecp384", kEsp, "proposal 'aes256-blah-ecp384': unknown algorithm 'blah'"},
      {"3des-sha1-modp1024", kIke,
       "proposal '3des-sha1-modp1024': '3des' is not supported by Waypost"},
      {"aes256-sha256-modp1536", kIke,
       "proposal 'aes256-sha256-modp1536': 'modp1536' is not supported by Waypost"},
      {"aes128ccm16", kEsp, "proposal 'aes128ccm16': 'aes128ccm16' is not supported by Waypost"},
      {"aes256gcm16-aes256-sha256", kEsp,
       "proposal 'aes256gcm16-aes256-sha256' mixes AEAD and non-AEAD ciphers; write them as two "
       "proposals separated by a comma"},
      {"aes256-sha256-prfsha256", kEsp,
       "ESP proposal 'aes256-sha256-prfsha256': a PRF belongs to IKE proposals"},
      {"aes256-sha256-esn-ecp384", kIke,
       "proposal 'aes256-sha256-esn-ecp384': esn/noesn apply to ESP, not IKE"},
      {"aes256--sha256", kEsp, "proposal 'aes256--sha256': empty algorithm between dashes"},
      {"aes256-sha256-sha256", kEsp, "proposal 'aes256-sha256-sha256': 'sha256' is listed twice"},
      {"aes256gcm16-ecp384!", kEsp,
       "proposal 'aes256gcm16-ecp384!': a trailing '!' is ipsec.conf syntax; swanctl.conf "
       "proposals are always strict, remove it"},
  };
  for (const Row& row : rows) {
    auto p = parse_proposal(row.text, row.protocol);
    ASSERT_FALSE(p) << row.text;
    EXPECT_EQ(p.error().message, row.message);
    EXPECT_TRUE(p.error().is(ErrorKind::kParse));
  }
  auto empty = parse_proposals(" , ", kEsp);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message, "no proposals");
}

TEST(IkeProposalsTest, TransformNames) {
  EXPECT_EQ(transform_name(t(TransformType::kEncryption, 19, 192)), "aes192gcm12");
  EXPECT_EQ(transform_name(t(TransformType::kIntegrity, 13)), "sha384");
  EXPECT_EQ(transform_name(t(TransformType::kPrf, 6)), "prfsha384");
  EXPECT_EQ(transform_name(t(TransformType::kKeyExchange, 31)), "curve25519");
  EXPECT_EQ(transform_name(t(TransformType::kEsn, 1)), "esn");
  EXPECT_EQ(transform_name(t(TransformType::kKeyExchange, 99)), "ke99");
}

}  // namespace
}  // namespace waypost::ike
