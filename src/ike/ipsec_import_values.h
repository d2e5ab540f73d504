#pragma once
// Value translations from ipsec.conf / ipsec.secrets to swanctl.conf, for the importer
// (ipsec_conf_import.h): proposals, times, identities, protocol/port selectors and secrets.
// Whatever they return is checked with the parsers `waypost ipsec up` uses (swanctl_values.h,
// proposals.h), so the importer never writes a value Waypost would refuse.

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "ike/ipsec_secrets.h"
#include "ike/proposals.h"
#include "ike/swanctl_values.h"

namespace waypost::ike {

// ike= / esp= (also Libreswan's phase2alg=) as a proposals list.
struct ProposalImport {
  std::vector<std::string> kept;  // proposals Waypost reads, strongSwan's spelling
  // Proposals left out, each with why ("3des-sha1-modp1024: unknown or unsupported ...").
  std::vector<std::string> dropped;
  bool strict = false;  // written with a trailing '!'
};
// `libreswan` reads Libreswan's spellings as well: ';' before the DH group, sha2 (SHA-256),
// aes_gcm(_c|_b|_a)[-]N, chacha20_poly1305, dhNN and a key size as its own word (aes-256).
ProposalImport import_proposals(std::string_view text, ProposalProtocol protocol, bool libreswan);

// "90", "90s", "30m", "8h", "1d" (ipsec.conf and swanctl.conf write times alike).
Result<Seconds> parse_stroke_time(std::string_view text);
// The shortest exact spelling: "3h", "171m", "35s", "0s".
std::string format_time(Seconds t);

// An identity (leftid=, an ipsec.secrets selector) as swanctl.conf writes it; an error for
// what parse_identity refuses.
Result<std::string> import_identity(std::string_view text);

// leftprotoport= ("17/1701", "udp/%any", "tcp", "6/443") as a traffic selector suffix
// "[17/1701]" (empty for "%any": no restriction); protocol names tcp, udp, icmp, ipv6-icmp, gre,
// sctp and a few well-known port names (l2tp, http, https, domain, ssh) are translated, others are
// an error.
Result<std::string> import_protoport(std::string_view text);

// The secret of a PSK entry as swanctl.conf's `secret =` takes it: 0x / 0s values as written,
// text quoted; text that swanctl.conf would misread (starting with 0x or 0s, or with quotes,
// backslashes or control characters) as 0x hex.
std::string swanctl_secret(const StrokeSecret& secret);

}  // namespace waypost::ike
