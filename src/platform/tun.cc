#include "platform/tun.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

namespace waypost::platform {

TunDevice::TunDevice(UniqueFd fd, std::string name, bool vnet)
    : fd_(std::move(fd)), name_(std::move(name)), vnet_(vnet) {
  if (vnet_) staging_ = PageBuffer(65536);
}

Result<TunDevice> TunDevice::create(std::string_view name, bool offloads) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return make_error("invalid interface name '{}'", name);
  }
  std::string n(name);
  if (if_nametoindex(n.c_str()) != 0) {
    return make_error("interface {} already exists (is it already up? try: waypost down {})", n, n);
  }
  int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ENODEV || e == ENXIO) {
      return make_error(
          "/dev/net/tun is not available ({}): the kernel needs TUN support "
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
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (offloads ? IFF_VNET_HDR : 0);
  std::memcpy(ifr.ifr_name, n.data(), n.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    if (e == EPERM || e == EACCES) {
      return make_error(
          "cannot create interface {}: permission denied (run as root or with "
          "CAP_NET_ADMIN)",
          n);
    }
    if (e == EBUSY || e == EEXIST) return make_error("interface {} already exists", n);
    return make_error("cannot create interface {}: {}", n, std::strerror(e));
  }
  bool vnet = false;
  if (offloads) {
    int hdr = int(kVnetHdrSize);
    unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) == 0) {
      // UDP segmentation offload (kernel 6.2+) when available, TSO alone otherwise.
      vnet = ioctl(fd, TUNSETOFFLOAD, base | TUN_F_USO4 | TUN_F_USO6) == 0 ||
             ioctl(fd, TUNSETOFFLOAD, base) == 0;
    }
    if (!vnet) {
      // The header is still there (IFF_VNET_HDR), just never carries GSO: keep parsing it.
      spdlog::warn("{}: the kernel refused TUN offloads; continuing without", n);
      vnet = true;
    }
  }
  return TunDevice(std::move(owned), n, vnet);
}

namespace {
// Hands out the caller's slots; when they run out, delivers the full batch and starts over.
class SlotSink final : public SegmentSink {
 public:
  SlotSink(uint8_t* slots, size_t nslots, std::vector<net::Packet>& batch,
           const TunDevice::Deliver& deliver)
      : slots_(slots), nslots_(nslots), batch_(batch), deliver_(deliver) {}
  uint8_t* next(size_t capacity) override {
    if (capacity > net::kMaxMtu) return nullptr;
    if (batch_.size() == nslots_) {
      deliver_(batch_);
      batch_.clear();
    }
    return slots_ + batch_.size() * net::kSlotSize + net::kHeadroom;
  }
  void commit(size_t len) override {
    uint8_t* data = slots_ + batch_.size() * net::kSlotSize + net::kHeadroom;
    batch_.push_back({data, uint32_t(len)});
    ++count_;
  }
  size_t count() const { return count_; }

 private:
  uint8_t* slots_;
  size_t nslots_;
  std::vector<net::Packet>& batch_;
  const TunDevice::Deliver& deliver_;
  size_t count_ = 0;
};
}  // namespace

size_t TunDevice::read(uint8_t* slots, size_t nslots, int max_reads, const Deliver& deliver) {
  thread_local std::vector<net::Packet> batch;
  batch.clear();
  batch.reserve(nslots);
  SlotSink sink(slots, nslots, batch, deliver);
  for (int i = 0; i < max_reads; ++i) {
    if (!vnet_) {
      uint8_t* data = sink.next(net::kMaxMtu);
      ssize_t r = ::read(fd_.get(), data, net::kMaxMtu);
      if (r <= 0) break;
      sink.commit(size_t(r));
      continue;
    }
    virtio_net_hdr hdr{};
    iovec iov[2] = {{&hdr, kVnetHdrSize}, {staging_.data(), staging_.size()}};
    ssize_t r = ::readv(fd_.get(), iov, 2);
    if (r <= ssize_t(kVnetHdrSize)) break;
    if (segment_packet(hdr, staging_.data(), size_t(r) - kVnetHdrSize, sink) < 0) {
      ++malformed_;
      WP_LOG_RATELIMITED(debug, "{}: dropped a malformed packet from the kernel", name_);
    }
  }
  if (!batch.empty()) deliver(batch);
  size_t n = sink.count();
  batch.clear();
  return n;
}

void TunDevice::write_group(const TcpCoalescer::Group& g) {
  iovec iov[TcpCoalescer::kMaxPieces + 1];
  iov[0] = {const_cast<virtio_net_hdr*>(&g.hdr), kVnetHdrSize};
  for (size_t i = 0; i < g.count; ++i) {
    iov[i + 1] = {const_cast<uint8_t*>(g.pieces[i].data), g.pieces[i].len};
  }
  if (::writev(fd_.get(), iov, int(g.count + 1)) < 0) {
    ++write_errors_;
    WP_LOG_RATELIMITED(debug, "write to {} failed: {}", name_, std::strerror(errno));
  }
}

void TunDevice::push(uint8_t* data, uint32_t size) {
  if (!vnet_) {
    if (::write(fd_.get(), data, size) < 0) {
      ++write_errors_;
      WP_LOG_RATELIMITED(debug, "write to {} failed: {}", name_, std::strerror(errno));
    }
    return;
  }
  coalescer_.add(data, size, [this](const TcpCoalescer::Group& g) { write_group(g); });
}

void TunDevice::flush() {
  if (vnet_) coalescer_.flush([this](const TcpCoalescer::Group& g) { write_group(g); });
}

}  // namespace waypost::platform
