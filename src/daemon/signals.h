#pragma once
// The signals a daemon stops or reloads on (SIGTERM, SIGINT, SIGHUP), as events on its loop
// rather than in a handler, so that teardown runs on the loop. SIGPIPE is ignored (a CLI that
// goes away mid-answer must not kill the daemon).

#include "common/result.h"
#include "platform/fd.h"

namespace waypost::daemon {

// Blocks those signals for the process and returns a non-blocking signalfd that reports them.
Result<platform::UniqueFd> open_signal_fd();

}  // namespace waypost::daemon
