#pragma once
// After set-up, the daemon gives up every capability it no longer needs. It keeps
// CAP_NET_ADMIN (routes, rules, nftables, interface changes requested over the UAPI socket and
// the teardown), CAP_NET_BIND_SERVICE (a listen port below 1024 set later with `wg set`) and
// CAP_NET_RAW; everything else — module loading, ptrace, mount, reading other users' files,
// changing uid — is dropped from the effective, permitted, inheritable and bounding sets, and
// no_new_privs is set so that nothing it executes (PreDown/PostDown hooks) can regain it.

#include "common/result.h"

namespace waypost::daemon {

Status drop_privileges();

// Effective capability mask of this process (for tests and `waypost show`).
uint64_t effective_capabilities();

}  // namespace waypost::daemon
