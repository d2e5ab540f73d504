// ike_peer: Waypost's IKEv2 engine (ike::IkeManager) on real UDP sockets, for interop tests
// against strongSwan before the `waypost ipsec` daemon carries ESP. It speaks IKE only: CHILD SAs
// are negotiated and reported, not installed.
//
//   ike_peer --conf FILE --local IP [--initiate CONN --remote IP] [--seconds N]
//
// Binds IP:500 and IP:4500 (IKE behind the non-ESP marker there; ESP and keepalives are counted
// and dropped). Prints one JSON object per line on stdout for each event:
//   {"event":"ike_up","conn":"home","local_id":"...","remote_id":"...","vips":["10.3.0.1"]}
//   {"event":"child_up","conn":"home","child":"net","local_ts":[...],"remote_ts":[...],
//    "spi_in":"c1000001","spi_out":"c2b4...","encryption":20,"key_bits":256,"integrity":0}
//   {"event":"ike_down","conn":"home","reason":"..."}
// and logs like the daemon on stderr. Runs until --seconds pass (default 30) or SIGTERM/SIGINT;
// with --exit-on-child, exits 0 right after the first child_up, and 1 if the IKE SA it initiated
// goes before.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/log.h"
#include "crypto/random.h"
#include "ike/credentials.h"
#include "ike/ike_manager.h"
#include "ike/swanctl_conf.h"
#include "ike/ts_narrowing.h"

namespace {

using namespace waypost;

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int /*sig*/) {
  g_stop = 1;
}

int bind_udp(const net::IpAddress& ip, uint16_t port) {
  const net::Endpoint ep = net::Endpoint::from(ip, port);
  sockaddr_storage ss{};
  const socklen_t len = ep.to_sockaddr(ss, ip.is_v4());
  const int fd = socket(ip.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string json_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += fmt::format("{}\"{}\"", i ? "," : "", items[i]);
  return out + "]";
}

std::vector<std::string> ts_strings(const std::vector<ike::TrafficSelector>& list) {
  std::vector<std::string> out;
  out.reserve(list.size());
  for (const auto& ts : list) out.push_back(ike::to_string(ts));
  return out;
}

struct Peer final : ike::IkeManagerHost {
  int fd500 = -1;
  int fd4500 = -1;
  uint32_t next_spi = 0xc1000001;
  uint32_t leased = 0;
  bool exit_on_child = false;
  bool child_seen = false;
  bool initiated_failed = false;
  uint64_t esp_dropped = 0;

  void send_ike(const net::Endpoint& local, const net::Endpoint& remote,
                std::span<const uint8_t> message) override {
    sockaddr_storage ss{};
    const socklen_t len = remote.to_sockaddr(ss, remote.is_v4());
    std::vector<uint8_t> buf;
    int fd = fd500;
    if (local.port() == ike::kNatTPort || remote.port() == ike::kNatTPort) {
      buf.assign(4, 0);  // non-ESP marker (RFC 3948 2.2)
      fd = fd4500;
    }
    buf.insert(buf.end(), message.begin(), message.end());
    if (sendto(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
      spdlog::warn("sendto {}: {}", remote.to_string(), std::strerror(errno));
    }
  }
  uint32_t allocate_spi() override { return next_spi++; }
  std::optional<net::IpAddress> lease_address(const ike::Pool& pool, const std::string& /*peer*/,
                                              net::Family family) override {
    if (pool.addrs.first.family != family) return std::nullopt;
    net::IpAddress a = pool.addrs.first;
    // The pool's first address plus a counter, within the pool (tests ask for a handful).
    uint32_t add = ++leased;
    for (size_t i = a.byte_length(); i-- > 0 && add != 0;) {
      const uint32_t sum = a.bytes[i] + (add & 0xff);
      a.bytes[i] = uint8_t(sum);
      add = (add >> 8) + (sum >> 8);
    }
    if (!pool.addrs.contains(a)) return std::nullopt;
    return a;
  }
  void child_sa_up(ike::IkeSa& sa, const ike::ChildSaInfo& c) override {
    std::vector<std::string> vips;
    for (const auto& v : sa.virtual_ips()) vips.push_back(v.to_string());
    std::printf(
        "{\"event\":\"child_up\",\"conn\":\"%s\",\"child\":\"%s\",\"local_ts\":%s,"
        "\"remote_ts\":%s,\"spi_in\":\"%08x\",\"spi_out\":\"%08x\",\"encryption\":%d,"
        "\"key_bits\":%d,\"integrity\":%d,\"vips\":%s}\n",
        sa.name().c_str(), c.name.c_str(), json_list(ts_strings(c.local_ts)).c_str(),
        json_list(ts_strings(c.remote_ts)).c_str(), c.spi_in, c.spi_out,
        int(c.algorithms.encryption), int(c.algorithms.key_bits), int(c.algorithms.integrity),
        json_list(vips).c_str());
    std::fflush(stdout);
    child_seen = true;
  }
  void child_sa_down(ike::IkeSa& sa, const ike::ChildSaInfo& c) override {
    std::printf("{\"event\":\"child_down\",\"conn\":\"%s\",\"child\":\"%s\"}\n", sa.name().c_str(),
                c.name.c_str());
    std::fflush(stdout);
  }
  void ike_sa_down(ike::IkeSa& sa, std::string_view reason) override {
    std::string r(reason);
    for (char& ch : r) {
      if (ch == '"' || ch == '\\') ch = '\'';
    }
    std::printf("{\"event\":\"ike_down\",\"conn\":\"%s\",\"reason\":\"%s\"}\n", sa.name().c_str(),
                r.c_str());
    std::fflush(stdout);
    if (sa.initiator()) initiated_failed = true;
  }
};

int usage() {
  std::fprintf(stderr,
               "usage: ike_peer --conf FILE --local IP [--initiate CONN --remote IP] "
               "[--seconds N] [--exit-on-child] [--debug]\n");
  return 2;
}

}  // namespace

// NOLINTNEXTLINE(bugprone-exception-escape): a test tool; an unexpected exception may terminate it
int main(int argc, char** argv) {
  std::string conf, local_text, initiate, remote_text;
  int seconds_to_run = 30;
  bool exit_on_child = false;
  bool debug = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--conf") {
      conf = next();
    } else if (a == "--local") {
      local_text = next();
    } else if (a == "--initiate") {
      initiate = next();
    } else if (a == "--remote") {
      remote_text = next();
    } else if (a == "--seconds") {
      seconds_to_run = std::atoi(next().c_str());
    } else if (a == "--exit-on-child") {
      exit_on_child = true;
    } else if (a == "--debug") {
      debug = true;
    } else {
      return usage();
    }
  }
  if (conf.empty() || local_text.empty() || (!initiate.empty() && remote_text.empty())) {
    return usage();
  }
  init_logging(debug ? "debug" : "info");
  ike::DiskConfFiles files;
  auto config = ike::parse_swanctl_file(conf, files);
  if (!config) {
    std::fprintf(stderr, "ike_peer: %s\n", config.error().message.c_str());
    return 1;
  }
  if (ike::uses_certificates(*config)) {
    auto creds =
        ike::Credentials::load(*config, std::filesystem::absolute(conf).parent_path().string());
    if (!creds) {
      std::fprintf(stderr, "ike_peer: %s\n", creds.error().message.c_str());
      return 1;
    }
    config->credentials = std::move(*creds);
  }
  auto local_ip = net::IpAddress::parse(local_text);
  if (!local_ip) return usage();

  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  Peer peer;
  peer.exit_on_child = exit_on_child;
  peer.fd500 = bind_udp(*local_ip, ike::kPort);
  peer.fd4500 = bind_udp(*local_ip, ike::kNatTPort);
  if (peer.fd500 < 0 || peer.fd4500 < 0) {
    std::fprintf(stderr, "ike_peer: cannot bind %s:500/4500: %s\n", local_text.c_str(),
                 std::strerror(errno));
    return 1;
  }
  SystemClock clock;
  crypto::SystemRandom random;
  ike::IkeManager manager(clock, random, peer, *config);
  if (!initiate.empty()) {
    auto remote_ip = net::IpAddress::parse(remote_text);
    if (!remote_ip) return usage();
    auto sa = manager.initiate(initiate, "", net::Endpoint::from(*local_ip, ike::kPort),
                               net::Endpoint::from(*remote_ip, ike::kPort));
    if (!sa) {
      std::fprintf(stderr, "ike_peer: %s\n", sa.error().message.c_str());
      return 1;
    }
  }

  Nanos end = clock.now() + seconds(seconds_to_run);
  bool deleting = false;
  std::vector<uint8_t> buf(65536);
  while (clock.now() < end) {
    if (g_stop != 0 && !deleting) {
      // Asked to stop: delete every IKE SA as a daemon going down does, for up to 3 s.
      deleting = true;
      end = clock.now() + seconds(3);
      for (const auto& c : config->connections) manager.terminate(c.name, "ike_peer stopping");
    }
    if (deleting && manager.sas().empty()) break;
    if (exit_on_child && peer.child_seen) return 0;
    if (exit_on_child && peer.initiated_failed) return 1;
    const Nanos wake = std::min(end, manager.next_timer());
    const int timeout_ms =
        int(std::clamp<Nanos>((wake - clock.now()) / kNanosPerMilli + 1, 0, 1000));
    pollfd fds[2] = {{peer.fd500, POLLIN, 0}, {peer.fd4500, POLLIN, 0}};
    if (poll(fds, 2, timeout_ms) < 0 && errno != EINTR) break;
    for (int k = 0; k < 2; ++k) {
      if ((fds[k].revents & POLLIN) == 0) continue;
      sockaddr_storage from{};
      socklen_t from_len = sizeof(from);
      const ssize_t n = recvfrom(fds[k].fd, buf.data(), buf.size(), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n <= 0) continue;
      auto remote = net::Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&from), from_len);
      if (!remote) continue;
      const uint16_t port = k == 0 ? ike::kPort : ike::kNatTPort;
      std::span<const uint8_t> data(buf.data(), size_t(n));
      if (k == 1) {
        // Port 4500: a keepalive (one 0xff byte), IKE behind four zero bytes, or ESP.
        if (data.size() < 4 || data[0] != 0 || data[1] != 0 || data[2] != 0 || data[3] != 0) {
          ++peer.esp_dropped;
          continue;
        }
        data = data.subspan(4);
      }
      manager.receive(data, net::Endpoint::from(*local_ip, port), *remote);
    }
    if (manager.next_timer() <= clock.now()) manager.on_timer();
  }
  for (const auto& sa : manager.sas()) {
    spdlog::info("{}: {} at exit", sa->describe(), ike::to_string(sa->state()));
  }
  return exit_on_child ? (peer.child_seen ? 0 : 1) : 0;
}
