#pragma once
// systemd readiness notification (Type=notify) without linking libsystemd: one datagram to
// $NOTIFY_SOCKET, as sd_notify(3) documents. A no-op outside systemd.

namespace waypost::daemon {

void notify_ready();
void notify_stopping();

}  // namespace waypost::daemon
