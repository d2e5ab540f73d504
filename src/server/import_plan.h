#pragma once
// What `waypost server import-algo` and `server import-wg` take over from another VPN server, in
// one shape: the config.yaml and state.json to write, Algo's IKEv2 PKI, and a line for everything
// the user should know (names changed, things not carried over and why). Building a plan reads
// and checks every input; writing it (write_import) only writes, so --dry-run is "build, print".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "crypto/keys.h"
#include "net/ip.h"
#include "server/config.h"
#include "server/ipsec_pki.h"
#include "server/state.h"

namespace waypost::server {

// One client of the old server, as its files describe it.
struct ImportedPeer {
  std::string label;  // its name in the old server (any text); "" when it has none
  std::optional<crypto::PrivateKey> private_key;
  crypto::PublicKey public_key{};
  std::optional<crypto::SymmetricKey> preshared_key;
  std::optional<net::IpAddress> ipv4;
  std::optional<net::IpAddress> ipv6;
  bool disabled = false;  // disabled in wg-easy
  int64_t created = 0;
  std::string where;  // "wg0.conf line 12", for messages
};

struct ImportPlan {
  std::string source;  // what was read, for the summary
  ServerConfig config;
  ServerState state;
  std::optional<ImportedPki> pki;
  std::vector<std::string> notes;  // one line each: what the user should know
};

// A Waypost user name for an old server's label: characters outside [A-Za-z0-9_.@-] become '-',
// runs of '-' shrink to one, leading '.'/'-' go, at most 64 characters; "" stays "".
std::string user_name_for_label(std::string_view label);

// Adds `peer` to the plan as a user: a name from its label (or "peer<N>" without one), unique
// in the plan (a "-2" suffix otherwise), with a note whenever the name differs from the label.
// Refuses a public key or tunnel address another user has already. Addresses must be inside the
// plan's pools (set them first): otherwise Waypost would renumber the user and the device's
// profile would stop working.
Status add_imported_peer(ImportPlan& plan, const ImportedPeer& peer);

// The plan as text: source, endpoint, port, pools, each user (addresses, whether a profile can be
// written), the IKEv2 PKI, then the notes.
std::string describe_plan(const ImportPlan& plan);

// Creates the server directory `dir` from the plan: config.yaml, state.json, the PKI and every
// client profile. Everything is built in a staging directory inside `dir` and moved into place
// only when complete, config.yaml last: an error leaves `dir` as it was. An existing server
// (config.yaml, state.json, pki/, ipsec/ or configs/) is refused unless `force`; with it, the old
// files are moved to <dir>/.pre-import-<time>/ first. Returns notes from the PKI (what could not
// be issued without Algo's CA key).
Result<std::vector<std::string>> write_import(const ImportPlan& plan, const std::string& dir,
                                              bool force);

}  // namespace waypost::server
