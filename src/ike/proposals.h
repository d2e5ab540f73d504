#pragma once
// Algorithm proposals written the way swanctl.conf writes them ("aes256gcm16-prfsha512-ecp384",
// several separated by commas) and the IKEv2 transforms (RFC 7296 3.3.2, IANA numbers in
// constants.h) they stand for; and back, for status output.
//
// Keywords (strongSwan's names, so that existing files work):
//   encryption  aes128 aes192 aes256 (CBC; "aes" is aes128),
//               aes{128,192,256}gcm{16,12,8} (also gcm128/gcm96/gcm64 and plain "gcm" = gcm16),
//               chacha20poly1305
//   integrity   sha1 sha256 sha384 sha512 (also sha2_256 sha2_384 sha2_512): HMAC-SHA1-96,
//               HMAC-SHA2-256-128, -384-192, -512-256
//   PRF         prfsha1 prfsha256 prfsha384 prfsha512
//   key exch.   modp2048 modp3072 modp4096 ecp256 ecp384 ecp521 curve25519 (alias x25519),
//               modp1024 (weak; never in a default, for Windows' built-in client)
//   ESN         esn noesn (ESP only; noesn when neither is given)
//   default     Waypost's default proposals (default_proposals below), usable beside others.
//
// Rules, as strongSwan applies them:
//   - An IKE proposal needs a key exchange group and a PRF. Without an explicit prf* keyword
//     each integrity keyword also selects the PRF of the same hash. In an AEAD IKE proposal
//     that is all an integrity keyword does (pfSense writes "aes256gcm16-sha256-modp2048"),
//     so integrity keywords there are an error only beside an explicit PRF.
//   - An ESP proposal has no PRF; its key exchange group (optional) is used for PFS when the
//     child SA is rekeyed. An AEAD ESP proposal with an integrity algorithm is an error.
//   - AEAD and non-AEAD ciphers cannot share a proposal (RFC 7296 3.3); write two proposals.
//   - Algorithms strongSwan knows but Waypost does not implement (3des, modp1536, ...) are
//     refused by name, as is anything unknown.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "ike/constants.h"

namespace waypost::ike {

enum class ProposalProtocol : uint8_t { kIke, kEsp };

// TransformSpec and ProposalSpec are what a configuration asks for. They are deliberately not
// named Transform and Proposal: payloads.h defines those (the wire form, with attributes and
// numbers) in this same namespace, and two classes of one name in one namespace are an ODR
// violation the linker does not report; it showed up as misaligned vector destructors under UBSan.
struct TransformSpec {
  TransformType type = TransformType::kEncryption;
  uint16_t id = 0;
  uint16_t key_length = 0;  // bits, for ciphers with a Key Length attribute (AES); else 0

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 false positive on a defaulted <=>
  auto operator<=>(const TransformSpec&) const = default;
};

struct ProposalSpec {
  // Grouped by type in the order encryption, integrity, PRF, key exchange, ESN; within a type
  // in order of preference.
  std::vector<TransformSpec> transforms;

  bool is_aead() const;
  std::vector<TransformSpec> of_type(TransformType type) const;
  bool operator==(const ProposalSpec&) const = default;
};

// One proposal ("aes128-sha256-modp2048"). Errors name the keyword and the proposal.
Result<ProposalSpec> parse_proposal(std::string_view text, ProposalProtocol protocol);

// A list as swanctl.conf's proposals / esp_proposals take it: proposals separated by commas
// (or blanks); "default" stands for default_proposals(protocol).
Result<std::vector<ProposalSpec>> parse_proposals(std::string_view text, ProposalProtocol protocol);

// Waypost's "default": AEAD first, then AES-CBC with HMAC-SHA2, no SHA-1, no group below 2048
// bits. IKE: aes256gcm16-aes128gcm16-chacha20poly1305-prfsha384-prfsha256-prfsha512-ecp384-
// ecp256-curve25519-ecp521-modp3072-modp2048-modp4096 and aes256-aes128-sha384-sha256-sha512
// with the same groups. ESP: aes256gcm16-aes128gcm16-chacha20poly1305 and
// aes256-aes128-sha256-sha384-sha512, without PFS.
std::vector<ProposalSpec> default_proposals(ProposalProtocol protocol);

// strongSwan-style names: "aes256gcm16", "sha384", "prfsha384", "ecp384", "noesn".
std::string transform_name(const TransformSpec& t);
// "aes256gcm16-prfsha512-ecp384"; parse_proposal of the result gives the same transforms.
std::string format_proposal(const ProposalSpec& proposal, ProposalProtocol protocol);
std::string format_proposals(const std::vector<ProposalSpec>& proposals, ProposalProtocol protocol);

}  // namespace waypost::ike
