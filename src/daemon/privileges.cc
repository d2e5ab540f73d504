#include "daemon/privileges.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace waypost::daemon {

namespace {
constexpr uint64_t kKeep = (uint64_t(1) << CAP_NET_ADMIN) | (uint64_t(1) << CAP_NET_BIND_SERVICE) |
                           (uint64_t(1) << CAP_NET_RAW);

bool capget_all(__user_cap_data_struct (&data)[2]) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capget, &header, data) == 0;
}
}  // namespace

uint64_t effective_capabilities() {
  __user_cap_data_struct data[2]{};
  if (!capget_all(data)) return 0;
  return uint64_t(data[0].effective) | uint64_t(data[1].effective) << 32;
}

Status drop_privileges() {
  // Bounding set first (needs CAP_SETPCAP for each capability still in it).
  for (int cap = 0; cap <= 63; ++cap) {
    if ((kKeep >> cap) & 1) continue;
    const int in_set = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (in_set < 0) break;  // past the last known capability
    // Already gone (a systemd unit's CapabilityBoundingSet= removes all but ours, CAP_SETPCAP
    // included): nothing to drop, and trying would fail for want of CAP_SETPCAP.
    if (in_set == 0) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
      return make_error("cannot drop capability {}: {}", cap, std::strerror(errno));
    }
  }
  __user_cap_data_struct data[2]{};
  if (!capget_all(data)) return make_error("capget: {}", std::strerror(errno));
  for (int i = 0; i < 2; ++i) {
    const auto keep = uint32_t(kKeep >> (32 * i));
    data[i].effective &= keep;
    data[i].permitted &= keep;
    data[i].inheritable &= keep;
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  if (syscall(SYS_capset, &header, data) != 0) {
    return make_error("capset: {}", std::strerror(errno));
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return make_error("no_new_privs: {}", std::strerror(errno));
  }
  return {};
}

}  // namespace waypost::daemon
