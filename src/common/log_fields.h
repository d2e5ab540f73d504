#pragma once
// Structured fields for log lines: who a line is about. The journal gets them as fields of the
// entry (WAYPOST_USER, WAYPOST_PEER, WAYPOST_PROTOCOL, WAYPOST_ENDPOINT), so that
// `journalctl WAYPOST_USER=phone` shows one user's lines; the text of a line is unchanged.
// Code that logs about a peer sets the fields for the lines it writes (ScopedLogFields, per
// thread); the server registers which user each peer belongs to, so lines written deep in the
// protocol code, which knows keys and identities but not users, still carry the user.

#include <map>
#include <string>

namespace waypost {

struct LogFields {
  std::string user;      // a server user name
  std::string peer;      // a WireGuard public key (base64) or an IKE identity
  std::string protocol;  // "wireguard", "ikev2"
  std::string endpoint;  // the peer's address and port
};

// The fields of this thread's current scope (empty outside any).
const LogFields& current_log_fields();

class ScopedLogFields {
 public:
  explicit ScopedLogFields(LogFields fields);
  ~ScopedLogFields();
  ScopedLogFields(const ScopedLogFields&) = delete;
  ScopedLogFields& operator=(const ScopedLogFields&) = delete;

 private:
  LogFields saved_;
};

// Peer (WireGuard key in base64, IKE identity) -> user name; replaces the whole table.
void set_log_user_names(std::map<std::string, std::string> names);
// The user of `peer`, or "" if none is registered. Thread-safe.
std::string log_user_of(const std::string& peer);

}  // namespace waypost
