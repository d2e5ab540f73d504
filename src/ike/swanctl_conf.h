#pragma once
// The configuration of `waypost ipsec`: the subset of strongSwan's swanctl.conf(5) Waypost
// implements, with strongSwan's key names and defaults, so that a strongSwan or pfSense file
// loads as it is. docs/IPSEC.md lists every key. A key Waypost does not implement is an error
// naming its file, line and dotted path, never skipped:
//   site.conf:12: connections.branch.children.net.start_action: unknown value 'sometimes'
//   (none, trap, start)

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "ike/conf_syntax.h"
#include "ike/proposals.h"
#include "ike/swanctl_values.h"

namespace waypost::ike {

class Credentials;  // credentials.h

enum class Unique : uint8_t { kNo, kNever, kReplace, kKeep };
enum class Fragmentation : uint8_t { kYes, kAccept, kForce, kNo };
enum class SendCert : uint8_t { kIfAsked, kAlways, kNever };
enum class ChildAction : uint8_t { kNone, kTrap, kStart };  // start_action, close_action
enum class DpdAction : uint8_t { kClear, kTrap, kRestart };
enum class Revocation : uint8_t { kRelaxed, kIfUri, kStrict };
// tunnel, or pass: a shunt that keeps its traffic out of every tunnel (pfSense's LAN bypass).
enum class ChildMode : uint8_t { kTunnel, kPass };

// How a round authenticates: with a certificate's key (pubkey, or rsa / ecdsa to require that
// key type of the peer's chain) or a pre-shared key.
enum class AuthClass : uint8_t { kPubkey, kPsk };
enum class KeyType : uint8_t { kAny, kRsa, kEcdsa };

struct AuthRound {
  std::string section;  // "local", "local-0", "remote-1"
  ConfLocation where;
  AuthClass auth = AuthClass::kPubkey;
  KeyType key_type = KeyType::kAny;              // rsa-... / ecdsa-... constraints
  unsigned min_key_bits = 0;                     // "rsa-2048", "ecdsa-384"
  std::vector<HashAlgorithm> hashes;             // "pubkey-sha256-sha384": signature hashes allowed
  Identity id;                                   // local: unset means the IKE address; remote: %any
  std::vector<std::string> certs;                // file names, relative to x509/ unless absolute
  std::vector<std::string> cacerts;              // remote: relative to x509ca/
  Revocation revocation = Revocation::kRelaxed;  // remote only
  unsigned round = 0;                            // sort key; file order when equal
};

struct Child {
  std::string name;
  ConfLocation where;
  std::vector<TrafficSelectorSpec> local_ts;   // default: dynamic
  std::vector<TrafficSelectorSpec> remote_ts;  // default: dynamic
  std::vector<ProposalSpec> esp_proposals;     // default: default_proposals(kEsp)
  ChildAction start_action = ChildAction::kNone;
  ChildAction close_action = ChildAction::kNone;
  DpdAction dpd_action = DpdAction::kClear;
  Seconds rekey_time{3600};
  Seconds life_time{3960};  // rekey_time + 10% unless set
  Seconds rand_time{360};   // life_time - rekey_time unless set
  Seconds inactivity{0};
  ChildMode mode = ChildMode::kTunnel;
  bool policies = true;  // accepted for pfSense (VTI writes no); Waypost always routes
  uint32_t reqid = 0;    // accepted for pfSense's VTI children; 0 = allocate
  bool ipcomp = false;   // offered by the peer's choice; Waypost never compresses
  uint32_t replay_window = 32;
  // Waypost's keep-alive (pfSense's "automatically ping host"): an address in the remote subnet
  // pinged through the tunnel every keep_alive_interval; a child whose pings go unanswered is
  // rekeyed, then its IKE SA started again (ipsec/keep_alive.h).
  std::optional<net::IpAddress> keep_alive;
  Seconds keep_alive_interval{10};
};

struct Connection {
  std::string name;
  ConfLocation where;
  unsigned version = 0;                   // 0 = any, which for Waypost means IKEv2; 1 is refused
  std::vector<AddressSpec> local_addrs;   // default: %any
  std::vector<AddressSpec> remote_addrs;  // default: %any
  ConfLocation remote_addrs_where;        // for messages about remote_addrs
  uint16_t local_port = 500;
  uint16_t remote_port = 500;
  std::vector<ProposalSpec> proposals;  // default: default_proposals(kIke)
  std::vector<net::IpAddress> vips;
  std::vector<std::string> pools;
  ConfLocation pools_where;
  bool encap = false;
  Seconds dpd_delay{0};
  Seconds dpd_timeout{0};  // 0: Waypost's retransmission schedule decides
  Seconds rekey_time{14400};
  Seconds reauth_time{0};
  Seconds over_time{1440};  // 10% of the longer of rekey_time and reauth_time unless set
  Seconds rand_time{1440};  // over_time unless set
  Unique unique = Unique::kNo;
  Fragmentation fragmentation = Fragmentation::kYes;
  bool mobike = true;
  unsigned keyingtries = 1;  // 0 = forever
  SendCert send_cert = SendCert::kIfAsked;
  bool send_certreq = true;
  std::vector<AuthRound> local;  // sorted by round; one default round when none is written
  std::vector<AuthRound> remote;
  std::vector<Child> children;
  // The section as written (references resolved), in a canonical form: two connections with the
  // same fingerprint are the same definition, so a reload leaves their SAs alone.
  std::string fingerprint;
  // Removed by a reload: kept in place, because SAs being torn down and half-open exchanges may
  // still point at it, but never matched, initiated or listed again.
  bool retired = false;
};

enum class SecretKind : uint8_t {
  kIke,      // ike<suffix>: a pre-shared key for IKE
  kPrivate,  // private<suffix> / rsa / ecdsa / pkcs8: passphrase of a key file
  kRsa,
  kEcdsa,
  kPkcs8,
  kPkcs12,
};

struct Secret {
  std::string name;  // the section name ("ike-0")
  ConfLocation where;
  SecretKind kind = SecretKind::kIke;
  std::vector<Identity> ids;  // ike: the identities it belongs to; none = any
  SecretBytes secret;         // ike: the key; others: the passphrase (may be empty)
  std::string file;           // private/rsa/ecdsa/pkcs8/pkcs12: the key file
};

struct Pool {
  std::string name;
  ConfLocation where;
  AddressRange addrs;
  std::vector<net::IpAddress> dns;
  std::string fingerprint;  // as Connection::fingerprint
};

// The canonical text of a parsed section (its values and subsections, in order, without
// locations), for telling whether a definition changed.
std::string section_fingerprint(const ConfSection& s);

struct Authority {
  std::string name;
  ConfLocation where;
  std::string cacert;  // relative to x509ca/ unless absolute
  std::vector<std::string> crl_uris;
};

struct IpsecConfig {
  // A deque: a reload appends connections without moving the ones SAs point at.
  std::deque<Connection> connections;
  std::vector<Secret> secrets;
  std::vector<Pool> pools;
  std::vector<Authority> authorities;
  // Settings accepted with a caveat the user should see once ("ipcomp = yes: Waypost never
  // compresses"), each with its location.
  std::vector<std::string> warnings;
  // Certificates and keys from the directory beside the file (Credentials::load); null when no
  // connection authenticates with certificates.
  std::shared_ptr<const Credentials> credentials;

  const Pool* pool(std::string_view name) const;
};

// The IKE pre-shared key for a pair of identities, chosen as strongSwan chooses: the secret
// whose ids match most of the two (an `id = %any` matches weakly, a secret without ids
// matches anything); nullptr when no secret matches.
const Secret* find_ike_secret(const IpsecConfig& config, const Identity& local,
                              const Identity& remote);

// Builds the model from a parsed tree (conf_syntax.h), checking every key and value and the
// cross-references: pools named by connections exist, an initiating child (start_action
// start or trap) has a specific remote address, a psk round has a secret it can use.
Result<IpsecConfig> build_ipsec_config(const ConfSection& root);

// Reads and checks a swanctl.conf file and what it includes.
Result<IpsecConfig> parse_swanctl_file(const std::string& path, ConfFiles& files);
// The same for text in memory; `name` is used in messages and for relative includes.
Result<IpsecConfig> parse_swanctl_text(std::string_view text, const std::string& name,
                                       ConfFiles* files);

}  // namespace waypost::ike
