#pragma once
// `waypost server import-wg`: a WireGuard server's wg-quick file (wg-easy's, PiVPN's or
// hand-made), with wg-easy's own database when there is one, as an ImportPlan. The server keeps
// its private key, port and pools, every peer its public key, preshared key and tunnel address,
// so the devices' profiles keep working. Peer names come from wg-easy's database, else from
// the comments around each [Peer] (see peer_name_from_comment).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "server/import_plan.h"
#include "server/wg_easy.h"
#include "wireguard/conf.h"

namespace waypost::server {

// The name a comment line gives a peer, or "" when it names none. Liberal, for the spellings
// in the wild: "# Client: laptop (2f1c...)" (wg-easy), "### begin laptop ###" (PiVPN),
// "### Client laptop" (wireguard-install), "# Name = laptop", "# name: laptop",
// "# friendly_name = laptop", and a plain "# laptop" (Algo). `line` includes the '#'.
std::string peer_name_from_comment(std::string_view line);

struct WgServerPeer {
  wireguard::ConfPeer peer;
  std::string name;  // from comments; "" when none
};

struct WgServerConf {
  wireguard::ConfInterface iface;
  std::vector<WgServerPeer> peers;
};

// Parses a wg-quick server file with the names of its peers. Errors name `file` and the line.
Result<WgServerConf> parse_wg_server_conf(std::string_view text, const std::string& file);

struct WgImportInputs {
  std::string conf_file;  // for messages
  WgServerConf conf;
  std::optional<WgEasyData> wg_easy;
  std::string endpoint;  // from the command line; else wg-easy's host; else required
  bool skip_disabled = false;
};

// The plan: pools from the interface's Address (the server must be their first address, as
// Waypost's is), every peer and every wg-easy client (disabled ones too, unless skip_disabled).
// IKEv2 comes on with a new CA (Waypost's default), as for a new server.
Result<ImportPlan> plan_wg_import(const WgImportInputs& in, crypto::Random& random);

}  // namespace waypost::server
