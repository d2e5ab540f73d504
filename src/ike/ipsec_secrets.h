#pragma once
// ipsec.secrets, the secrets file that goes with ipsec.conf (ipsec.secrets(5) of strongSwan,
// FreeS/WAN and Libreswan): one entry per line,
//
//   [SELECTOR...] : TYPE VALUE...
//   192.0.2.1 %any : PSK "a shared secret"
//   @west @east : PSK 0sc2VjcmV0              (0x hex, 0s Base64 when not quoted)
//   : RSA moonKey.pem [passphrase | %prompt]  (also ECDSA, PKCS8)
//   : P12 carol.p12 "passphrase"
//   include ipsec.*.secrets
//
// Selectors are identities (quoted when they hold blanks, as DNs do). EAP, XAUTH, NTLM and PIN
// entries are read so that the importer can say it leaves them out; FreeS/WAN's and Libreswan's
// raw `: RSA { ... }` key blocks, which run over several lines, likewise. Errors name the file
// and line. Secret values are kept in memory that is wiped when freed.

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "crypto/secret_bytes.h"
#include "ike/conf_syntax.h"

namespace waypost::ike {

enum class StrokeSecretType : uint8_t {
  kPsk,
  kRsa,
  kEcdsa,
  kPkcs8,
  kP12,
  kEap,
  kXauth,
  kNtlm,
  kPin,
  kRawRsaBlock,  // `: RSA { Modulus: ... }` (FreeS/WAN, Libreswan)
};

std::string_view to_string(StrokeSecretType type);  // "PSK", "RSA", ...

struct StrokeSecret {
  ConfLocation where;
  std::vector<std::string> selectors;  // identities as written, quotes removed
  StrokeSecretType type = StrokeSecretType::kPsk;
  // PSK, EAP, XAUTH, NTLM: the secret as swanctl.conf writes it: "0x..." hex, "0s..." Base64,
  // or text taken as it is. Key files: the passphrase (text), empty when none.
  crypto::SecretBytes value;
  bool value_is_text = true;  // false: value is 0x / 0s encoded
  std::string file;           // RSA, ECDSA, PKCS8, P12: the file as written
  bool prompt = false;        // %prompt instead of a passphrase
};

// Reads `path` through `files` and what it includes.
Result<std::vector<StrokeSecret>> parse_ipsec_secrets_file(const std::string& path,
                                                           ConfFiles& files);
// The same for text in memory; `name` names the file in messages and anchors includes. With
// `files` null an include is an error.
Result<std::vector<StrokeSecret>> parse_ipsec_secrets_text(std::string_view text,
                                                           const std::string& name,
                                                           ConfFiles* files);

}  // namespace waypost::ike
