#pragma once
// What the server must remember across restarts: its own key and, per user, keys and addresses.
// Stored as <dir>/state.json, mode 0600, written atomically. config.yaml says *who* the users
// are; reconcile() makes the state agree with it (new users get keys and the lowest free
// addresses, removed users are forgotten), so a crash between writing the two files, or a hand
// edit of config.yaml, always resolves to a consistent state.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "net/ip.h"
#include "server/config.h"

namespace waypost::server {

// The format of state.json, in its "version" key (absent: 1). An older Waypost refuses a newer
// file; a newer one migrates an older (upgrade.h).
//   1: every user has "private_key"
//   2: a user may have only "public_key" (imported from a server file that lists peers' public
//      keys alone); a version-1 reader would call such a user incomplete
inline constexpr uint32_t kStateSchema = 2;

struct UserState {
  // Unknown for a user imported from a server's config (a wg-quick server file lists only its
  // peers' public keys): the user keeps the profile it has, and Waypost writes none for it.
  std::optional<crypto::PrivateKey> private_key;
  crypto::PublicKey public_key{};
  // Zero when the peer has none (WireGuard then mixes in 32 zero bytes, the same thing).
  crypto::SymmetricKey preshared_key;
  net::IpAddress ipv4;
  std::optional<net::IpAddress> ipv6;
  int64_t created = 0;  // unix seconds
};

struct ServerState {
  crypto::PrivateKey private_key;
  crypto::PublicKey public_key{};
  std::map<std::string, UserState> users;
};

struct ReconcileResult {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  bool changed() const { return !added.empty() || !removed.empty(); }
};

// Creates the server key if the state is new; adds/removes users to match `config.users`;
// gives users IPv6 addresses when `config.ipv6` is on. Fails only when a pool is exhausted.
Result<ReconcileResult> reconcile(ServerState& state, const ServerConfig& config,
                                  crypto::Random& random, int64_t now);

// The server's own tunnel addresses: the first host of each pool.
net::IpAddress server_ipv4(const ServerConfig& config);
net::IpAddress server_ipv6(const ServerConfig& config);
// The server's addresses in the IKEv2 pools (strongswan_network*): its DNS resolver answers
// IKEv2 clients there; the pools hand out the addresses after it.
net::IpAddress server_ipsec_ipv4(const ServerConfig& config);
net::IpAddress server_ipsec_ipv6(const ServerConfig& config);
// The TUN device of the IKEv2 side: "<wireguard_interface>-ike" (shortened to fit 15 bytes).
std::string ipsec_interface_name(const ServerConfig& config);

std::string state_to_json(const ServerState& state);
Result<ServerState> state_from_json(std::string_view text);

// Files under a server directory.
std::string config_path(const std::string& dir);
std::string state_path(const std::string& dir);

Result<ServerConfig> load_config(const std::string& dir);
// Missing state.json is an empty state; a readable-by-others one is refused.
Result<ServerState> load_state(const std::string& dir);
Status save_state(const std::string& dir, const ServerState& state);

// Holds an exclusive lock on <dir>/.lock for the lifetime of the object, so that concurrent
// `users add` commands do not interleave their read-modify-write.
class DirLock {
 public:
  static Result<DirLock> acquire(const std::string& dir);
  DirLock(DirLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DirLock& operator=(DirLock&&) = delete;
  ~DirLock();

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace waypost::server
