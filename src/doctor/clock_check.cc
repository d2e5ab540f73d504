#include "doctor/clock_check.h"

#include <sys/timex.h>
#include <unistd.h>

#include <fmt/format.h>

namespace waypost::doctor {

namespace {
// The kernel keeps STA_UNSYNC clear only while an NTP daemon updates it; a maximum error this
// large (16 s, NTP's limit) means nobody has for a long time.
constexpr long kMaxErrorLimitUs = 16'000'000;
}  // namespace

ClockState read_clock_state() {
  ClockState s;
  timex tx{};
  tx.modes = 0;  // read only
  if (::adjtimex(&tx) >= 0) {
    s.kernel_known = true;
    s.kernel_unsync = (tx.status & STA_UNSYNC) != 0;
    s.maxerror_us = tx.maxerror;
  }
  s.timesyncd_synchronized = ::access("/run/systemd/timesync/synchronized", F_OK) == 0;
  return s;
}

Finding clock_finding(const ClockState& s) {
  Finding f;
  f.id = "clock";
  f.data = {{"kernel_unsync", s.kernel_unsync},
            {"maxerror_us", s.maxerror_us},
            {"timesyncd_synchronized", s.timesyncd_synchronized}};
  const std::string why =
      "WireGuard puts the current time in every handshake initiation, and a peer ignores an "
      "initiation whose time is not later than the last one it accepted from this key. A clock "
      "that is merely wrong does no harm, but one that jumps backwards (a VM restored from a "
      "snapshot, a dead RTC battery, a manual change) makes the peer ignore every new handshake "
      "until the clock passes the old time again; restarting the peer's interface also clears "
      "it.";
  const bool synced = s.timesyncd_synchronized ||
                      (s.kernel_known && !s.kernel_unsync && s.maxerror_us < kMaxErrorLimitUs);
  if (synced) {
    f.status = Status::kOk;
    f.summary = s.timesyncd_synchronized && (!s.kernel_known || s.kernel_unsync)
                    ? "The system clock is synchronized (systemd-timesyncd)."
                    : fmt::format("The system clock is synchronized by NTP (maximum error {} ms).",
                                  s.maxerror_us / 1000);
    f.detail = why;
    return f;
  }
  f.status = Status::kWarn;
  f.summary = s.kernel_known
                  ? "The system clock is not synchronized by NTP: if it ever jumps backwards, "
                    "peers will ignore this machine's handshakes for a while."
                  : "Could not tell whether the system clock is synchronized.";
  f.detail = why;
  f.fix =
      "sudo timedatectl set-ntp true   # systemd-timesyncd\n"
      "or: sudo apt install chrony     # any NTP client will do";
  return f;
}

}  // namespace waypost::doctor
