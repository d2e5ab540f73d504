#include "ipsec/local_address.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace waypost::ipsec {

std::optional<net::IpAddress> local_address_toward(const net::IpAddress& remote, uint32_t fwmark) {
  const bool v4 = remote.is_v4();
  const int fd = ::socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  if (fwmark != 0) (void)::setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark));
  sockaddr_storage ss{};
  const socklen_t len = net::Endpoint::from(remote, 500).to_sockaddr(ss, v4);
  std::optional<net::IpAddress> out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    sockaddr_storage mine{};
    socklen_t mine_len = sizeof(mine);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&mine), &mine_len) == 0) {
      if (auto ep = net::Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&mine), mine_len)) {
        out = ep->ip();
      }
    }
  }
  ::close(fd);
  return out;
}

std::vector<net::IpAddress> host_addresses() {
  std::vector<net::IpAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    const int family = i->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    const socklen_t len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (auto ep = net::Endpoint::from_sockaddr(i->ifa_addr, len)) out.push_back(ep->ip());
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace waypost::ipsec
