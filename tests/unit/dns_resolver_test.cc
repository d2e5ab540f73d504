// The resolver end to end against a real unbound(8) on loopback: answers through libunbound's
// asynchronous path over UDP and TCP, blocking (also behind CNAMEs), truncation, SERVFAIL within
// the timeout when the upstream is down or silent, status counters, list reloads, and
// DNS-over-TLS through the relay to unbound serving TLS with a test CA. Skipped when unbound is
// not installed (scripts/install-deps.sh --test installs it).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/bytes.h"
#include "dns/message.h"
#include "dns/resolver.h"
#include "test_util.h"

extern char** environ;

namespace waypost::dns {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* kUnbound = "/usr/sbin/unbound";

// A port free for both UDP and TCP on 127.0.0.1 (good enough: tests pick fresh ones each time).
uint16_t free_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int u = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    const bool bound = ::bind(u, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 &&
                       ::getsockname(u, reinterpret_cast<sockaddr*>(&sa), &len) == 0;
    int t = ::socket(AF_INET, SOCK_STREAM, 0);
    bool ok = bound && ::bind(t, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    ::close(t);
    ::close(u);
    if (ok) return ntohs(sa.sin_port);
  }
  return 0;
}

std::vector<uint8_t> make_query(uint16_t id, std::string_view name, uint16_t qtype,
                                bool edns = false) {
  std::vector<uint8_t> q = {uint8_t(id >> 8),     uint8_t(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0,
                            uint8_t(edns ? 1 : 0)};
  const auto wire = test::dns_wire_name(name);
  q.insert(q.end(), wire.begin(), wire.end());
  q.insert(q.end(), {uint8_t(qtype >> 8), uint8_t(qtype), 0, 1});
  if (edns) q.insert(q.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0});
  return q;
}

struct Answer {
  std::vector<uint8_t> bytes;
  uint16_t id() const { return load_be16(bytes.data()); }
  uint16_t flags() const { return load_be16(bytes.data() + 2); }
  int rcode() const { return flags() & 0xF; }
  bool tc() const { return flags() & kFlagTc; }
  uint16_t ancount() const { return load_be16(bytes.data() + 6); }
  // Addresses of the A/AAAA records in the answer section, as text.
  std::vector<std::string> addresses() const {
    std::vector<std::string> out;
    size_t pos = 12;
    auto skip_name = [&] {
      while (pos < bytes.size()) {
        uint8_t l = bytes[pos];
        if ((l & 0xC0) == 0xC0) {
          pos += 2;
          return;
        }
        pos += 1 + l;
        if (l == 0) return;
      }
    };
    skip_name();
    pos += 4;
    for (int i = 0; i < ancount() && pos + 10 <= bytes.size(); ++i) {
      skip_name();
      uint16_t type = load_be16(bytes.data() + pos);
      uint16_t rdlen = load_be16(bytes.data() + pos + 8);
      pos += 10;
      char buf[INET6_ADDRSTRLEN] = {};
      if (type == kTypeA && rdlen == 4) inet_ntop(AF_INET, bytes.data() + pos, buf, sizeof(buf));
      if (type == kTypeAaaa && rdlen == 16) {
        inet_ntop(AF_INET6, bytes.data() + pos, buf, sizeof(buf));
      }
      if (buf[0]) out.emplace_back(buf);
      pos += rdlen;
    }
    return out;
  }
};

socklen_t server_address(const char* ip, uint16_t port, sockaddr_storage& ss) {
  ss = {};
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  inet_pton(AF_INET6, ip, &in6->sin6_addr);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  return sizeof(sockaddr_in6);
}

std::optional<Answer> ask_udp(uint16_t port, const std::vector<uint8_t>& query,
                              int timeout_ms = 4000, const char* server = "127.0.0.1") {
  sockaddr_storage sa;
  const socklen_t sl = server_address(server, port, sa);
  int fd = ::socket(sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ::sendto(fd, query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&sa), sl);
  pollfd p{fd, POLLIN, 0};
  std::optional<Answer> a;
  if (::poll(&p, 1, timeout_ms) == 1) {
    std::vector<uint8_t> buf(65536);
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n > 0) {
      buf.resize(size_t(n));
      a = Answer{std::move(buf)};
    }
  }
  ::close(fd);
  return a;
}

bool read_exact(int fd, uint8_t* p, size_t n, int timeout_ms) {
  while (n) {
    pollfd pf{fd, POLLIN, 0};
    if (::poll(&pf, 1, timeout_ms) != 1) return false;
    ssize_t r = ::read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= size_t(r);
  }
  return true;
}

// Sends every query on one connection at once (pipelined), then reads as many answers.
std::vector<Answer> ask_tcp(uint16_t port, const std::vector<std::vector<uint8_t>>& queries,
                            const char* server = "127.0.0.1") {
  sockaddr_storage sa;
  const socklen_t sl = server_address(server, port, sa);
  int fd = ::socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  std::vector<Answer> out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sl) == 0) {
    std::vector<uint8_t> wire;
    for (const auto& q : queries) {
      wire.push_back(uint8_t(q.size() >> 8));
      wire.push_back(uint8_t(q.size()));
      wire.insert(wire.end(), q.begin(), q.end());
    }
    (void)!::write(fd, wire.data(), wire.size());
    for (size_t i = 0; i < queries.size(); ++i) {
      uint8_t len[2];
      if (!read_exact(fd, len, 2, 4000)) break;
      Answer a;
      a.bytes.resize(load_be16(len));
      if (!read_exact(fd, a.bytes.data(), a.bytes.size(), 4000)) break;
      out.push_back(std::move(a));
    }
  }
  ::close(fd);
  return out;
}

// The event loop on its own thread, as in the daemon; test code runs on it through call().
class LoopThread {
 public:
  LoopThread() : loop_(std::move(platform::EventLoop::create().value())) {
    wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    (void)loop_.add(wake_, EPOLLIN, [this](uint32_t) {
      uint64_t v;
      (void)!::read(wake_, &v, sizeof(v));
      std::vector<std::function<void()>> jobs;
      {
        std::lock_guard lock(mu_);
        jobs.swap(jobs_);
      }
      for (auto& j : jobs) j();
    });
  }
  ~LoopThread() {
    stop();
    ::close(wake_);
  }
  platform::EventLoop& loop() { return loop_; }
  void start() {
    thread_ = std::thread([this] { loop_.run([] { return kNever; }); });
  }
  template <typename F>
  auto call(F f) -> decltype(f()) {
    if (!thread_.joinable()) return f();
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    {
      std::lock_guard lock(mu_);
      jobs_.push_back([&task] { task(); });
    }
    uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof(one));
    return fut.get();
  }
  void stop() {
    if (!thread_.joinable()) return;
    call([this] { loop_.stop(); });
    thread_.join();
  }

 private:
  platform::EventLoop loop_;
  int wake_ = -1;
  std::mutex mu_;
  std::vector<std::function<void()>> jobs_;
  std::thread thread_;
};

// unbound(8) serving a local zone on loopback: plain DNS on one port, DNS-over-TLS on another.
class UpstreamServer {
 public:
  // `extra` is appended after the server clause (auth-zone: clauses).
  bool start(const fs::path& dir, bool tls, const std::string& extra = "") {
    dir_ = dir;
    plain_port_ = free_port();
    tls_port_ = free_port();
    std::ofstream conf(dir / "unbound.conf");
    conf << "server:\n"
         << "  interface: 127.0.0.1@" << plain_port_ << "\n"
         << "  port: " << plain_port_ << "\n"
         << "  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n"
         << "  directory: \"" << dir.string() << "\"\n  pidfile: \"\"\n"
         << "  use-syslog: no\n  logfile: \"\"\n  verbosity: 0\n"
         << "  num-threads: 1\n  so-reuseport: no\n"
         << "  access-control: 127.0.0.0/8 allow\n"
         << "  module-config: \"iterator\"\n"
         << "  local-zone: \"waypost.example.\" static\n"
         << "  local-data: \"host.waypost.example. 300 IN A 192.0.2.7\"\n"
         << "  local-data: \"host.waypost.example. 300 IN AAAA 2001:db8::7\"\n"
         << "  local-data: \"cloaked.waypost.example. 300 IN CNAME tracker.ads.waypost.example.\"\n"
         << "  local-data: \"tracker.ads.waypost.example. 300 IN A 192.0.2.66\"\n"
         << "  local-data: \"ok.ads.waypost.example. 300 IN A 192.0.2.67\"\n";
    for (int i = 1; i <= 60; ++i) {
      conf << "  local-data: \"big.waypost.example. 300 IN A 192.0.2." << i << "\"\n";
    }
    if (tls) {
      conf << "  interface: 127.0.0.1@" << tls_port_ << "\n"
           << "  tls-port: " << tls_port_ << "\n"
           << "  tls-service-key: \"" << (dir / "server.key").string() << "\"\n"
           << "  tls-service-pem: \"" << (dir / "server.pem").string() << "\"\n";
    }
    conf << "remote-control:\n  control-enable: no\n" << extra;
    conf.close();
    const std::string conf_path = (dir / "unbound.conf").string();
    const std::string log_path = (dir / "unbound.log").string();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const char* argv[] = {kUnbound, "-d", "-c", conf_path.c_str(), nullptr};
    int r = posix_spawn(&pid_, kUnbound, &fa, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0) return false;
    // Ready when it answers.
    for (int i = 0; i < 100; ++i) {
      if (ask_udp(plain_port_, make_query(1, "host.waypost.example", kTypeA), 100)) return true;
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
    }
    return false;
  }
  ~UpstreamServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  uint16_t plain_port() const { return plain_port_; }
  uint16_t tls_port() const { return tls_port_; }
  std::string log() const {
    std::ifstream f(dir_ / "unbound.log");
    return {std::istreambuf_iterator<char>(f), {}};
  }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
  uint16_t plain_port_ = 0;
  uint16_t tls_port_ = 0;
};

class DnsResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kUnbound, X_OK) != 0) GTEST_SKIP() << "unbound is not installed";
    char tmpl[] = "/tmp/waypost-dns-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    write_file("block.hosts",
               "# test list\n127.0.0.1 localhost\n0.0.0.0 blocked.example\n"
               "0.0.0.0 ads.waypost.example\n");
  }
  void TearDown() override {
    loop_.stop();
    resolver_.reset();
    upstream_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void write_file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  bool start_upstream(bool tls = false, const std::string& extra = "") {
    upstream_ = std::make_unique<UpstreamServer>();
    return upstream_->start(dir_, tls, extra);
  }
  ResolverConfig config(const std::string& upstream, bool encryption) {
    ResolverConfig c;
    c.listen.push_back(*net::IpAddress::parse("127.0.0.1"));
    c.allowed_clients.push_back(*net::Prefix::parse("127.0.0.0/8"));
    c.port = free_port();
    c.encryption = encryption;
    c.upstreams.push_back(*parse_upstream(upstream, encryption));
    c.dnssec = false;  // the test zone is unsigned and nothing here may reach the root
    c.adblocking = true;
    c.blocklists.push_back((dir_ / "block.hosts").string());
    c.allowlist.emplace_back("ok.ads.waypost.example");
    c.upstream_timeout = millis(1500);
    return c;
  }
  void start_resolver(const ResolverConfig& c) {
    auto r = Resolver::start(c, loop_.loop());
    ASSERT_TRUE(r.ok()) << r.error().message;
    resolver_ = std::move(*r);
    port_ = c.port;
    loop_.start();
  }
  nlohmann::json status() {
    return loop_.call([this] { return resolver_->status(); });
  }
  Status reload(const ResolverConfig& c) {
    return loop_.call([&] { return resolver_->reload(c); });
  }

  fs::path dir_;
  LoopThread loop_;
  std::unique_ptr<UpstreamServer> upstream_;
  std::unique_ptr<Resolver> resolver_;
  uint16_t port_ = 0;
};

TEST_F(DnsResolverTest, AnswersThroughUnboundOverUdpAndTcp) {
  ASSERT_TRUE(start_upstream());
  start_resolver(config(fmt::format("127.0.0.1@{}", upstream_->plain_port()), false));

  // Mixed case comes back as sent; the ID is the client's.
  auto a = ask_udp(port_, make_query(0x4242, "HoSt.WayPost.example", kTypeA));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id(), 0x4242);
  EXPECT_EQ(a->rcode(), kNoError);
  EXPECT_EQ(a->addresses(), std::vector<std::string>{"192.0.2.7"});
  EXPECT_EQ(std::string(a->bytes.begin() + 13, a->bytes.begin() + 17), "HoSt");

  auto aaaa = ask_udp(port_, make_query(7, "host.waypost.example", kTypeAaaa, true));
  ASSERT_TRUE(aaaa);
  EXPECT_EQ(aaaa->addresses(), std::vector<std::string>{"2001:db8::7"});

  auto nx = ask_udp(port_, make_query(8, "nothing.waypost.example", kTypeA));
  ASSERT_TRUE(nx);
  EXPECT_EQ(nx->rcode(), kNxDomain);

  // 60 addresses do not fit in 512 bytes: TC over UDP, everything over TCP.
  auto big = ask_udp(port_, make_query(9, "big.waypost.example", kTypeA));
  ASSERT_TRUE(big);
  EXPECT_TRUE(big->tc());
  EXPECT_EQ(big->ancount(), 0);
  auto tcp = ask_tcp(port_, {make_query(10, "big.waypost.example", kTypeA),
                             make_query(11, "host.waypost.example", kTypeA),
                             make_query(12, "blocked.example", kTypeA)});
  ASSERT_EQ(tcp.size(), 3u);
  for (const auto& t : tcp) {
    if (t.id() == 10) {
      EXPECT_EQ(t.addresses().size(), 60u);
    } else if (t.id() == 11) {
      EXPECT_EQ(t.addresses(), std::vector<std::string>{"192.0.2.7"});
    } else {
      EXPECT_EQ(t.id(), 12);
      EXPECT_EQ(t.addresses(), std::vector<std::string>{"0.0.0.0"});
    }
  }

  auto s = status();
  EXPECT_EQ(s["queries"], 7);
  EXPECT_EQ(s["tcp_queries"], 3);
  EXPECT_EQ(s["answered"], 6);
  EXPECT_EQ(s["blocked"], 1);
  EXPECT_EQ(s["truncated"], 1);
  EXPECT_EQ(s["upstream_ok"], true);
  EXPECT_FALSE(s.contains("problem"));
  EXPECT_EQ(s["clients"]["127.0.0.1"]["queries"], 7);
  EXPECT_EQ(s["clients"]["127.0.0.1"]["blocked"], 1);
  EXPECT_EQ(s["inflight"], 0);
}

TEST_F(DnsResolverTest, RepeatedQuestionsAreAnsweredFromTheAnswerCache) {
  ASSERT_TRUE(start_upstream());
  start_resolver(config(fmt::format("127.0.0.1@{}", upstream_->plain_port()), false));
  auto first = ask_udp(port_, make_query(1, "host.waypost.example", kTypeA));
  ASSERT_TRUE(first);
  EXPECT_EQ(status()["cache_hits"], 0);
  // Another ID and another spelling: the client's own ID and question come back.
  auto again = ask_udp(port_, make_query(0x5151, "HOST.waypost.EXAMPLE", kTypeA));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id(), 0x5151);
  EXPECT_EQ(again->addresses(), std::vector<std::string>{"192.0.2.7"});
  EXPECT_EQ(std::string(again->bytes.begin() + 13, again->bytes.begin() + 17), "HOST");
  auto nx1 = ask_udp(port_, make_query(2, "nothing.waypost.example", kTypeA));
  auto nx2 = ask_udp(port_, make_query(3, "nothing.waypost.example", kTypeA));
  ASSERT_TRUE(nx1 && nx2);
  EXPECT_EQ(nx2->rcode(), kNxDomain);
  // The lab zone's NXDOMAIN carries no SOA, so there is no TTL to keep it for: not cached.
  auto s = status();
  EXPECT_EQ(s["cache_hits"], 1);
  EXPECT_EQ(s["answered"], 4);
  EXPECT_EQ(s["answer_cache"]["entries"], 1);
}

TEST_F(DnsResolverTest, ListensOnIpv6Too) {
  int probe = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_storage ss;
  socklen_t sl = server_address("::1", 0, ss);
  const bool have_v6 = probe >= 0 && ::bind(probe, reinterpret_cast<sockaddr*>(&ss), sl) == 0;
  if (probe >= 0) ::close(probe);
  if (!have_v6) GTEST_SKIP() << "no ::1";
  ASSERT_TRUE(start_upstream());
  auto c = config(fmt::format("127.0.0.1@{}", upstream_->plain_port()), false);
  c.listen.push_back(*net::IpAddress::parse("::1"));
  c.allowed_clients.push_back(*net::Prefix::parse("::1/128"));
  start_resolver(c);
  auto a = ask_udp(port_, make_query(1, "host.waypost.example", kTypeAaaa), 4000, "::1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->addresses(), std::vector<std::string>{"2001:db8::7"});
  auto t = ask_tcp(port_, {make_query(2, "blocked.example", kTypeAaaa)}, "::1");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].addresses(), std::vector<std::string>{"::"});
  auto s = status();
  EXPECT_EQ(s["listen"].size(), 2u);
  EXPECT_EQ(s["clients"]["::1"]["queries"], 2);
}

TEST_F(DnsResolverTest, BlocksListedNamesSubdomainsAndCnameTargets) {
  ASSERT_TRUE(start_upstream());
  start_resolver(config(fmt::format("127.0.0.1@{}", upstream_->plain_port()), false));

  auto a = ask_udp(port_, make_query(1, "blocked.example", kTypeA));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->rcode(), kNoError);
  EXPECT_EQ(a->addresses(), std::vector<std::string>{"0.0.0.0"});
  auto aaaa = ask_udp(port_, make_query(2, "deep.sub.Blocked.Example", kTypeAaaa));
  ASSERT_TRUE(aaaa);
  EXPECT_EQ(aaaa->addresses(), std::vector<std::string>{"::"});
  auto mx = ask_udp(port_, make_query(3, "blocked.example", kTypeMx));
  ASSERT_TRUE(mx);
  EXPECT_EQ(mx->rcode(), kNoError);
  EXPECT_EQ(mx->ancount(), 0);
  // cloaked.waypost.example is a CNAME to a blocked name.
  auto cloaked = ask_udp(port_, make_query(4, "cloaked.waypost.example", kTypeA));
  ASSERT_TRUE(cloaked);
  EXPECT_EQ(cloaked->addresses(), std::vector<std::string>{"0.0.0.0"});
  // Allow-listed below a blocked domain: the real answer.
  auto allowed = ask_udp(port_, make_query(5, "ok.ads.waypost.example", kTypeA));
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->addresses(), std::vector<std::string>{"192.0.2.67"});
  // Firefox's DoH canary.
  auto canary = ask_udp(port_, make_query(6, "use-application-dns.net", kTypeA));
  ASSERT_TRUE(canary);
  EXPECT_EQ(canary->rcode(), kNxDomain);

  auto s = status();
  EXPECT_EQ(s["blocked"], 5);
  EXPECT_EQ(s["cname_blocked"], 1);
  EXPECT_EQ(s["lists"]["blocked_domains"], 2);
  EXPECT_EQ(s["lists"]["allowed_domains"], 1);

  // NXDOMAIN mode.
  auto c = config(fmt::format("127.0.0.1@{}", upstream_->plain_port()), false);
  c.port = port_;
  c.block_response = BlockResponse::kNxdomain;
  ASSERT_TRUE(reload(c).ok());
  auto nx = ask_udp(port_, make_query(7, "blocked.example", kTypeA));
  ASSERT_TRUE(nx);
  EXPECT_EQ(nx->rcode(), kNxDomain);
}

TEST_F(DnsResolverTest, MalformedAndRefusedQueries) {
  ASSERT_TRUE(start_upstream());
  start_resolver(config(fmt::format("127.0.0.1@{}", upstream_->plain_port()), false));
  auto bad = make_query(0x1111, "host.waypost.example", kTypeA);
  bad.resize(bad.size() - 3);  // cut into the question
  auto formerr = ask_udp(port_, bad);
  ASSERT_TRUE(formerr);
  EXPECT_EQ(formerr->id(), 0x1111);
  EXPECT_EQ(formerr->rcode(), kFormErr);
  auto axfr = ask_udp(port_, make_query(0x2222, "waypost.example", kTypeAxfr));
  ASSERT_TRUE(axfr);
  EXPECT_EQ(axfr->rcode(), kRefused);
  EXPECT_FALSE(ask_udp(port_, {1, 2, 3}, 300));  // no header: no answer
  auto s = status();
  EXPECT_EQ(s["formerr"], 1);
  EXPECT_EQ(s["refused"], 1);
  EXPECT_EQ(s["dropped"], 1);
}

TEST_F(DnsResolverTest, ClientsOutsideTheAllowedPrefixesGetNothing) {
  ASSERT_TRUE(start_upstream());
  auto c = config(fmt::format("127.0.0.1@{}", upstream_->plain_port()), false);
  c.allowed_clients = {*net::Prefix::parse("10.49.0.0/16")};
  start_resolver(c);
  EXPECT_FALSE(ask_udp(port_, make_query(1, "host.waypost.example", kTypeA), 500));
  EXPECT_TRUE(ask_tcp(port_, {make_query(2, "host.waypost.example", kTypeA)}).empty());
  auto s = status();
  EXPECT_EQ(s["queries"], 0);
  EXPECT_EQ(s["not_allowed"], 2);
}

TEST_F(DnsResolverTest, ServfailWithinTheTimeoutWhenTheUpstreamIsDown) {
  // Nothing listens on this port (ICMP port unreachable), and nothing answers on the other.
  const uint16_t closed = free_port();
  int silent = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  auto c = config(fmt::format("127.0.0.1@{}", closed), false);
  c.upstreams.push_back(*parse_upstream(fmt::format("127.0.0.1@{}", ntohs(sa.sin_port)), false));
  c.upstream_timeout = millis(400);
  start_resolver(c);
  for (int i = 0; i < 4; ++i) {
    const auto t0 = Clock::now();
    auto a =
        ask_udp(port_, make_query(uint16_t(100 + i), fmt::format("q{}.example.org", i), kTypeA));
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    ASSERT_TRUE(a) << "no answer at all";
    EXPECT_EQ(a->rcode(), kServFail);
    EXPECT_LT(ms, 1000) << "SERVFAIL took " << ms << " ms with a 400 ms timeout";
  }
  // TCP clients are not left hanging either.
  auto t = ask_tcp(port_, {make_query(200, "tcp.example.org", kTypeA)});
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].rcode(), kServFail);
  auto s = status();
  EXPECT_EQ(s["servfail"], 5);
  EXPECT_GE(s["timeouts"].get<int>(), 1);  // the silent upstream: our timer answered
  EXPECT_GE(s["upstream_failures"].get<int>(), 5);
  EXPECT_EQ(s["upstream_ok"], false);
  ASSERT_TRUE(s.contains("problem"));
  EXPECT_NE(s["problem"].get<std::string>().find("every upstream has failed for"),
            std::string::npos)
      << s["problem"];
  EXPECT_EQ(s["inflight"], 0);
  ::close(silent);
}

TEST_F(DnsResolverTest, ReloadSwapsListsAndKeepsCounters) {
  ASSERT_TRUE(start_upstream());
  auto c = config(fmt::format("127.0.0.1@{}", upstream_->plain_port()), false);
  start_resolver(c);
  auto a = ask_udp(port_, make_query(1, "tracker.ads.waypost.example", kTypeA));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->addresses(), std::vector<std::string>{"0.0.0.0"});

  write_file("block.hosts", "0.0.0.0 host.waypost.example\n");
  c.port = port_;
  ASSERT_TRUE(reload(c).ok());
  auto b = ask_udp(port_, make_query(2, "tracker.ads.waypost.example", kTypeA));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->addresses(), std::vector<std::string>{"192.0.2.66"});
  auto h = ask_udp(port_, make_query(3, "host.waypost.example", kTypeA));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->addresses(), std::vector<std::string>{"0.0.0.0"});

  // A broken reload changes nothing.
  auto broken = c;
  broken.blocklists.push_back((dir_ / "missing.hosts").string());
  EXPECT_FALSE(reload(broken).ok());
  auto again = ask_udp(port_, make_query(4, "host.waypost.example", kTypeA));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->addresses(), std::vector<std::string>{"0.0.0.0"});
  auto moved = c;
  moved.port = uint16_t(port_ + 1);
  EXPECT_FALSE(reload(moved).ok());

  auto s = status();
  EXPECT_EQ(s["queries"], 4);
  EXPECT_EQ(s["blocked"], 3);
  EXPECT_EQ(s["lists"]["blocked_domains"], 1);
}

TEST_F(DnsResolverTest, MissingTrustAnchorFailsAtStart) {
  auto c = config("127.0.0.1@53", false);
  c.dnssec = true;
  c.trust_anchor_file = (dir_ / "no-root.key").string();
  auto r = Resolver::start(c, loop_.loop());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no-root.key"), std::string::npos) << r.error().message;
}

// DNSSEC: a zone signed here (ldns-signzone), served by unbound as an auth-zone, with its DS as
// the resolver's trust anchor. A record changed after signing must give SERVFAIL; a good answer
// carries AD for a client that asks for it.
TEST_F(DnsResolverTest, DnssecValidation) {
  if (std::system("command -v ldns-signzone >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "ldns-signzone (ldnsutils) is not installed";
  }
  const std::string d = dir_.string();
  write_file("signed.zone",
             "$ORIGIN signed.example.\n$TTL 300\n"
             "@ IN SOA ns admin 1 3600 600 86400 300\n@ IN NS ns\nns IN A 192.0.2.1\n"
             "host IN A 192.0.2.7\ntampered IN A 192.0.2.8\n");
  const std::string cmd =
      "(cd " + d +
      " && k=$(ldns-keygen -a ECDSAP256SHA256 -k signed.example) && ldns-signzone -n signed.zone"
      " $k && cp $k.ds root.key && sed -i 's/192\\.0\\.2\\.8$/192.0.2.99/' signed.zone.signed)"
      " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ASSERT_TRUE(start_upstream(false, "auth-zone:\n  name: \"signed.example.\"\n  zonefile: \"" + d +
                                        "/signed.zone.signed\"\n  for-upstream: yes\n"
                                        "  for-downstream: yes\n  fallback-enabled: no\n"))
      << upstream_->log();
  auto c = config(fmt::format("127.0.0.1@{}", upstream_->plain_port()), false);
  c.dnssec = true;
  c.trust_anchor_file = d + "/root.key";
  start_resolver(c);

  auto q = make_query(1, "host.signed.example", kTypeA);
  q[3] |= 0x20;  // AD: "tell me whether it validated" (RFC 6840)
  auto good = ask_udp(port_, q);
  ASSERT_TRUE(good);
  EXPECT_EQ(good->rcode(), kNoError);
  EXPECT_TRUE(good->flags() & kFlagAd);
  EXPECT_EQ(good->addresses(), std::vector<std::string>{"192.0.2.7"});
  // Without AD or DO the bit is not set (RFC 6840 section 5.8).
  auto plain = ask_udp(port_, make_query(2, "host.signed.example", kTypeA));
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->flags() & kFlagAd);

  auto bad = ask_udp(port_, make_query(3, "tampered.signed.example", kTypeA));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->rcode(), kServFail);
  auto s = status();
  EXPECT_EQ(s["validation_failures"], 1);
  EXPECT_EQ(s["upstream_ok"], true);  // one bad zone is not a failing upstream
}

// DNS-over-TLS: unbound serves TLS with a certificate from a test CA; the resolver trusts only
// that CA. The upstream has no plaintext listener on the port the resolver uses, so answers
// prove the TLS path; a wrong name proves the certificate is checked.
TEST_F(DnsResolverTest, DnsOverTlsUpstream) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl";
  const std::string d = dir_.string();
  const std::string cmd =
      "(cd " + d +
      " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
      "-out ca.pem -days 2 -subj '/CN=Waypost test CA' "
      "&& openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key "
      "-out server.csr -subj '/CN=dot.waypost.test' "
      "&& printf 'subjectAltName=DNS:dot.waypost.test\\n' > ext.cnf "
      "&& openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
      "-out server.pem -days 2 -extfile ext.cnf) >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ASSERT_TRUE(start_upstream(true)) << upstream_->log();

  auto c = config(fmt::format("127.0.0.1@{}#dot.waypost.test", upstream_->tls_port()), true);
  c.ca_bundle = d + "/ca.pem";
  start_resolver(c);
  auto a = ask_udp(port_, make_query(1, "host.waypost.example", kTypeA));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->addresses(), std::vector<std::string>{"192.0.2.7"});
  auto tcp = ask_tcp(port_, {make_query(2, "big.waypost.example", kTypeA)});
  ASSERT_EQ(tcp.size(), 1u);
  EXPECT_EQ(tcp[0].addresses().size(), 60u);
  auto s = status();
  ASSERT_TRUE(s.contains("tls"));
  EXPECT_GE(s["tls"][0]["handshakes"].get<int>(), 1);
  EXPECT_EQ(s["tls"][0]["failures"], 0);
  EXPECT_EQ(s["answered"], 2);

  // The same server under a name its certificate does not carry: refused by the relay.
  auto wrong = config(fmt::format("127.0.0.1@{}#other.waypost.test", upstream_->tls_port()), true);
  wrong.port = port_;
  wrong.ca_bundle = c.ca_bundle;
  wrong.upstream_timeout = millis(800);
  ASSERT_TRUE(reload(wrong).ok());
  for (int i = 0; i < 3; ++i) {
    auto f =
        ask_udp(port_, make_query(uint16_t(10 + i), fmt::format("n{}.waypost.example", i), kTypeA));
    ASSERT_TRUE(f);
    EXPECT_EQ(f->rcode(), kServFail);
  }
  s = status();
  EXPECT_EQ(s["upstream_ok"], false);
  const std::string problem = s.value("problem", "");
  EXPECT_NE(problem.find("certificate rejected"), std::string::npos) << problem;
  EXPECT_NE(problem.find("hostname mismatch"), std::string::npos) << problem;
  EXPECT_GE(s["tls"][0]["failures"].get<int>(), 1);
  EXPECT_EQ(s["answered"], 2);  // counters survive the reload

  // Back to the right name, with the CA as a hashed directory this time: answers again, and the
  // problem is gone with the first good answer.
  ASSERT_EQ(std::system(("mkdir -p " + d + "/cas && cp " + d + "/ca.pem " + d +
                         "/cas/ && openssl rehash " + d + "/cas >/dev/null 2>&1")
                            .c_str()),
            0);
  c.ca_bundle = d + "/cas";
  c.port = port_;
  ASSERT_TRUE(reload(c).ok());
  auto back = ask_udp(port_, make_query(20, "host.waypost.example", kTypeA));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->addresses(), std::vector<std::string>{"192.0.2.7"});
  s = status();
  EXPECT_EQ(s["upstream_ok"], true);
  EXPECT_FALSE(s.contains("problem"));
  EXPECT_EQ(s["answered"], 3);
}

// The resolver's status object as the server puts it on the wire ("running" is the server's),
// key by key and type by type: the control socket's clients (CLI, doctor, monitoring scripts)
// read these names. Written down from the JSON the resolver built before its status was typed.
std::map<std::string, std::string> shape(const nlohmann::json& j) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : j.items()) {
    std::string type = value.type_name();
    if (value.is_number_unsigned()) {
      type = "unsigned";
    } else if (value.is_number_integer()) {
      type = "integer";
    }
    out[key] = type;
  }
  return out;
}

TEST_F(DnsResolverTest, StatusKeepsItsKeysAndTypes) {
  ASSERT_TRUE(start_upstream());
  start_resolver(config(fmt::format("127.0.0.1@{}", upstream_->plain_port()), false));
  ASSERT_TRUE(ask_udp(port_, make_query(1, "host.waypost.example", kTypeA)));
  ASSERT_TRUE(ask_udp(port_, make_query(2, "blocked.example", kTypeA)));
  auto s = status();
  s["running"] = true;  // what ServerDaemon adds
  const std::map<std::string, std::string> top{{"running", "boolean"},
                                               {"listen", "array"},
                                               {"encryption", "boolean"},
                                               {"dnssec", "boolean"},
                                               {"adblocking", "boolean"},
                                               {"upstreams", "array"},
                                               {"queries", "unsigned"},
                                               {"tcp_queries", "unsigned"},
                                               {"answered", "unsigned"},
                                               {"cache_hits", "unsigned"},
                                               {"answer_cache", "object"},
                                               {"blocked", "unsigned"},
                                               {"cname_blocked", "unsigned"},
                                               {"servfail", "unsigned"},
                                               {"formerr", "unsigned"},
                                               {"refused", "unsigned"},
                                               {"notimp", "unsigned"},
                                               {"badvers", "unsigned"},
                                               {"dropped", "unsigned"},
                                               {"not_allowed", "unsigned"},
                                               {"overload", "unsigned"},
                                               {"timeouts", "unsigned"},
                                               {"upstream_failures", "unsigned"},
                                               {"validation_failures", "unsigned"},
                                               {"truncated", "unsigned"},
                                               {"send_errors", "unsigned"},
                                               {"tcp_rejected", "unsigned"},
                                               {"inflight", "unsigned"},
                                               {"inflight_peak", "unsigned"},
                                               {"tcp_connections", "unsigned"},
                                               {"upstream_ok", "boolean"},
                                               {"consecutive_upstream_failures", "unsigned"},
                                               {"lists", "object"},
                                               {"clients", "object"}};
  EXPECT_EQ(shape(s), top) << s.dump(2);
  EXPECT_EQ(s["listen"], nlohmann::json::array({fmt::format("127.0.0.1:{}", port_)}));
  EXPECT_EQ(s["upstreams"],
            nlohmann::json::array({fmt::format("127.0.0.1@{}", upstream_->plain_port())}));
  const std::map<std::string, std::string> cache{{"entries", "unsigned"}, {"bytes", "unsigned"}};
  EXPECT_EQ(shape(s["answer_cache"]), cache);
  const std::map<std::string, std::string> lists{{"blocked_domains", "unsigned"},
                                                 {"allowed_domains", "unsigned"},
                                                 {"memory_bytes", "unsigned"},
                                                 {"loaded_at", "integer"},
                                                 {"files", "array"}};
  EXPECT_EQ(shape(s["lists"]), lists);
  ASSERT_EQ(s["lists"]["files"].size(), 1u);
  const std::map<std::string, std::string> file{{"path", "string"},
                                                {"lines", "unsigned"},
                                                {"domains", "unsigned"},
                                                {"ignored_lines", "unsigned"}};
  EXPECT_EQ(shape(s["lists"]["files"][0]), file);
  ASSERT_EQ(s["clients"].size(), 1u);  // no "other": fewer clients than the tracking limit
  const std::map<std::string, std::string> client{{"queries", "unsigned"}, {"blocked", "unsigned"}};
  EXPECT_EQ(shape(s["clients"]["127.0.0.1"]), client);
  EXPECT_EQ(s["clients"]["127.0.0.1"]["queries"], 2);
  EXPECT_EQ(s["clients"]["127.0.0.1"]["blocked"], 1);
}

}  // namespace
}  // namespace waypost::dns
