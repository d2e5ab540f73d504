#pragma once
// `waypost ipsec import`: an ipsec.conf (FreeS/WAN, Libreswan, strongSwan's stroke format, the
// files Algo VPN writes) and its ipsec.secrets, converted into the swanctl.conf that
// `waypost ipsec up` reads and strongSwan's swanctl loads. docs/IPSEC.md has the mapping.
//
// What cannot be carried over is never dropped silently: the output says so where it would
// have gone, as "# not carried over: key=value (why) [file:line]", and connections the output
// cannot hold (IKEv1, transport mode, EAP, auto=ignore, ...) are left out with a comment saying
// why. The result is checked by parsing it back with parse_swanctl_text.

#include <string>
#include <vector>

#include "common/result.h"
#include "ike/ipsec_conf.h"
#include "ike/ipsec_secrets.h"
#include "net/ip.h"

namespace waypost::ike {

// Which daemon's defaults the file was written for. They differ where nothing is written:
// strongSwan reauthenticates at ikelifetime (reauth=yes) and checks no liveness without
// dpdaction=; Libreswan (and FreeS/WAN, Openswan) rekeys and holds on DPD.
enum class StrokeDialect : uint8_t { kAuto, kStrongSwan, kLibreswan };
// Which end of each conn is this host: ipsec starter and pluto pick the one whose address is
// on an interface (left unless only right is); fixed with kLeft / kRight.
enum class LocalEnd : uint8_t { kAuto, kLeft, kRight };

struct ImportOptions {
  StrokeDialect dialect = StrokeDialect::kAuto;
  LocalEnd local = LocalEnd::kAuto;
  // This host's addresses, for LocalEnd::kAuto (empty: left is local).
  std::vector<net::IpAddress> host_addresses;
};

struct ImportResult {
  std::string text;  // the swanctl.conf; holds the secrets (wiped when destroyed)
  // One line per thing the user should know about at once (stderr): connections left out,
  // which end was taken as local where ipsec starter would have swapped them.
  std::vector<std::string> notes;
  size_t connections = 0;  // written
  size_t skipped = 0;      // left out with a comment
  bool has_secrets = false;
  // Whether `waypost ipsec up` reads the result; the error is its parser's (a PSK connection
  // with no matching secret when no ipsec.secrets was given, say).
  Status check;

  ImportResult() = default;
  ImportResult(const ImportResult&) = delete;
  ImportResult& operator=(const ImportResult&) = delete;
  ImportResult(ImportResult&&) = default;
  ImportResult& operator=(ImportResult&&) = default;
  ~ImportResult();
};

// `secrets` may be null (no ipsec.secrets given).
Result<ImportResult> import_ipsec_conf(const IpsecConf& conf,
                                       const std::vector<StrokeSecret>* secrets,
                                       const ImportOptions& options);

}  // namespace waypost::ike
