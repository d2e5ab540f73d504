#pragma once
// What the web admin may do with VPN users, as an interface the server implements
// (server/web_users.h): the web folder knows nothing of config.yaml, state.json or the daemon, and
// the router is tested and fuzzed with a fake.
//
// Errors carry their kind, which becomes the HTTP status: kNotFound 404, kParse 400 (field
// "name"; with code EEXIST, a name that is taken: 409), anything else 503 (the server could not
// do it; the message says why).

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace waypost::web {

// One VPN user as the page lists it.
struct UserView {
  std::string name;
  std::string ipv4;  // WireGuard address
  std::string ipv6;  // "" without IPv6
  bool wireguard = true;
  bool ikev2 = false;
  bool enabled = true;
  std::string disabled_reason;  // "" when enabled
  bool online = false;          // a WireGuard handshake in the last 3 minutes, or an IKE SA
  int64_t last_handshake = 0;   // unix seconds, 0 = never
  std::string endpoint;         // the client's address and port as the server sees it
  uint64_t rx_bytes = 0;        // from the user (all its sessions)
  uint64_t tx_bytes = 0;        // to the user
  // The same bytes by where they were counted: the WireGuard peer, each IKEv2 CHILD SA. Each
  // starts from zero on its own (a CHILD SA rekeyed, an IKE SA of a second device gone), so the
  // traffic history takes the difference source by source; a sum would seem to restart when
  // one of them ends. Empty: rx_bytes and tx_bytes are one source.
  struct Source {
    std::string key;  // "wg", "esp:<inbound SPI>"
    uint64_t rx_bytes = 0;
    uint64_t tx_bytes = 0;
  };
  std::vector<Source> sources;
  // The running server reported this user's counters (rx/tx above). False when it did not
  // answer, or for a disabled user (no peer): then the counters say nothing, not "zero".
  bool live = false;
};

// One client file a user can download (WireGuard .conf, Apple profile, .p12, ...).
struct ProfileFile {
  std::string name;  // a plain file name, unique per user ("phone.conf")
  uint64_t size = 0;
};

class UserDirectory {
 public:
  virtual ~UserDirectory() = default;
  virtual Result<std::vector<UserView>> list() = 0;
  virtual Result<UserView> add(const std::string& name) = 0;
  virtual Status remove(const std::string& name) = 0;
  virtual Result<UserView> set_enabled(const std::string& name, bool enabled) = 0;
  // Gives a user a new name: WireGuard keys and addresses stay (its clients keep working); the
  // files are written again under the new name, and an IKEv2 certificate, whose identity is the
  // name, is replaced (the old one revoked). kParse for a bad or taken new name (EEXIST: 409).
  virtual Result<UserView> rename(const std::string& name, const std::string& new_name) = 0;
  virtual Result<std::vector<ProfileFile>> files(const std::string& name) = 0;
  // The bytes of one file from files(name).
  virtual Result<std::string> file(const std::string& name, const std::string& file_name) = 0;
  // The QR code of the user's WireGuard .conf, as an SVG image.
  virtual Result<std::string> qr_svg(const std::string& name) = 0;
};

}  // namespace waypost::web
