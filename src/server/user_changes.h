#pragma once
// Changing who may use the VPN: adding, removing, disabling and enabling users. config.yaml is
// the record (its `users:` and `disabled_users:` lists); under the directory lock state.json, the
// IKEv2 certificates (and their CRL) and the client files are brought in line, then config.yaml
// is written, then a running server is told to apply it (its control socket's "sync"), so the
// change takes effect without a restart. `waypost users ...` and the web page both come here, so
// a change made in one shows in the other.

#include <string>
#include <vector>

#include "common/result.h"

namespace waypost::server {

struct UserChangeResult {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> disabled;
  std::vector<std::string> enabled;
  // The running server: "" when none runs; otherwise "applied" or why it did not apply.
  std::string server;
  bool server_applied = false;
};

// Asks a running server to apply config.yaml as it is now (its control socket's "sync") and
// records its answer in out.server / out.server_applied; none running is fine (it reads the files
// when it starts). The functions below call it after their change.
struct ServerConfig;
void tell_running_server(const ServerConfig& config, UserChangeResult& out);

// Adds the users `add` (new keys, addresses, certificates, client files) and removes `remove`
// (their files go, certificates are revoked, sessions end). A name that exists already (add) or
// does not exist (remove) is an error and changes nothing.
Result<UserChangeResult> change_users(const std::string& dir, const std::vector<std::string>& add,
                                      const std::vector<std::string>& remove);

// Disables (`enabled` false) or enables users. A disabled user keeps its keys, addresses and
// files, but its WireGuard peer is gone from the running server and its IKEv2 certificate is on
// hold: its sessions end now and it cannot connect until it is enabled. Disabling a disabled
// user (or enabling an enabled one) is no error and changes nothing.
Result<UserChangeResult> set_users_enabled(const std::string& dir,
                                           const std::vector<std::string>& names, bool enabled);

// Renames a user: its WireGuard keys and addresses move to the new name (its clients keep
// working), its files are written again under the new name, and, with IKEv2, its certificate
// (whose identity is the name) is revoked and a new one issued, so its IKEv2 profile must be
// installed again. Stays disabled if it was. The new name must be valid and unused.
Result<UserChangeResult> rename_user(const std::string& dir, const std::string& from,
                                     const std::string& to);

}  // namespace waypost::server
