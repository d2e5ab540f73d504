#pragma once
// Kernel parameters through /proc/sys. Network keys apply to the network namespace of the calling
// thread at the time of the call.

#include <string>
#include <string_view>

#include "common/result.h"

namespace waypost::platform {

// key uses sysctl(8)'s dotted form: "net.ipv4.conf.all.src_valid_mark".
Status sysctl_write(std::string_view key, std::string_view value);
// The value with its trailing newline removed.
Result<std::string> sysctl_read(std::string_view key);

}  // namespace waypost::platform
