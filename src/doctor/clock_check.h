#pragma once
// Is the system clock synchronized? WireGuard puts a timestamp in every handshake initiation and
// a peer ignores initiations whose timestamp is not later than the last one it accepted from
// us, so a clock that jumps backwards breaks reconnection until it catches up again.

#include <optional>

#include "doctor/findings.h"

namespace waypost::doctor {

struct ClockState {
  bool kernel_known = false;            // adjtimex answered
  bool kernel_unsync = true;            // STA_UNSYNC set (no NTP daemon disciplines the clock)
  long maxerror_us = 0;                 // the kernel's estimate of the maximum error
  bool timesyncd_synchronized = false;  // /run/systemd/timesync/synchronized exists
};

ClockState read_clock_state();
Finding clock_finding(const ClockState& state);

}  // namespace waypost::doctor
