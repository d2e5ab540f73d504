#pragma once
// Who may use a running interface's JSON control socket. Root may do anything. Members of the
// status group ("waypost", created by the Debian package) may connect too, but only to read
// status: the socket is opened to that group when it exists, and its commands that change
// anything (down, sync, dns_reload, handshake, ...) are refused to anyone but root. The UAPI
// socket stays root-only, as it hands out the private key.

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace waypost::daemon {

inline constexpr const char* kStatusGroup = "waypost";

// The group's id, or nothing when there is no such group (then the socket stays 0600, as before
// the group existed).
std::optional<gid_t> group_id(const std::string& name);

// Whether a connection from `uid` is root's (or the daemon's own user's, which may differ in
// tests): such a connection may use every command.
bool is_admin(uid_t uid);

// Whether `cmd` only reads state, so that status-group members may use it.
bool is_read_only_command(std::string_view cmd);

}  // namespace waypost::daemon
