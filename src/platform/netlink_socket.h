#pragma once
// The rtnetlink socket shared by Netlink (requests) and RouteMonitor (notifications): internal
// to platform/netlink*.cc.

#include <cstddef>
#include <cstdint>

#include "common/result.h"

namespace waypost::platform {

// A datagram buffer large enough for any rtnetlink message the kernel sends us.
constexpr size_t kNetlinkReceiveBufferSize = 64 * 1024;

// A bound NETLINK_ROUTE socket subscribed to `groups` (RTMGRP_*; 0 for requests only).
Result<int> open_rtnetlink_socket(uint32_t groups, bool nonblocking);

}  // namespace waypost::platform
