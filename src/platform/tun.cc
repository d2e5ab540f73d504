#include "platform/tun.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace waypost::platform {

Result<TunDevice> TunDevice::create(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return make_error("invalid interface name '{}'", name);
  }
  std::string n(name);
  if (if_nametoindex(n.c_str()) != 0) {
    return make_error("interface {} already exists (is it already up? try: waypost down {})", n,
                      n);
  }
  int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ENODEV || e == ENXIO) {
      return make_error("/dev/net/tun is not available ({}): the kernel needs TUN support "
                        "(modprobe tun), and containers must pass the device through",
                        std::strerror(e));
    }
    if (e == EACCES || e == EPERM) {
      return make_error("cannot open /dev/net/tun ({}): run as root or with CAP_NET_ADMIN",
                        std::strerror(e));
    }
    return make_error("cannot open /dev/net/tun: {}", std::strerror(e));
  }
  UniqueFd owned(fd);
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, n.data(), n.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    if (e == EPERM || e == EACCES) {
      return make_error("cannot create interface {}: permission denied (run as root or with "
                        "CAP_NET_ADMIN)",
                        n);
    }
    if (e == EBUSY || e == EEXIST) return make_error("interface {} already exists", n);
    return make_error("cannot create interface {}: {}", n, std::strerror(e));
  }
  return TunDevice(std::move(owned), n);
}

size_t TunDevice::read_batch(uint8_t* slots, std::span<dataplane::Packet> out) {
  size_t n = 0;
  for (; n < out.size(); ++n) {
    uint8_t* data = slots + n * dataplane::kSlotSize + dataplane::kHeadroom;
    ssize_t r = ::read(fd_.get(), data, dataplane::kMaxMtu);
    if (r <= 0) break;  // EAGAIN: drained
    out[n] = dataplane::Packet{data, uint32_t(r)};
  }
  return n;
}

void TunDevice::push(const uint8_t* data, uint32_t size) {
  if (::write(fd_.get(), data, size) < 0) {
    ++write_errors_;
    WP_LOG_RATELIMITED(debug, "write to {} failed: {}", name_, std::strerror(errno));
  }
}

}  // namespace waypost::platform
