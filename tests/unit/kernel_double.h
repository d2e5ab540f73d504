#pragma once
// In-memory doubles of the kernel interfaces (platform/kernel.h): a TUN device, a UDP socket and
// an rtnetlink socket over a small model of links, addresses, routes and rules, plus recorded
// nftables scripts and sysctls. They record what was asked, so tests can check the decisions of
// the daemon and the wg-quick style setup without root or a network namespace, and they can
// inject packets, datagrams and errors. The namespace tests (interface_setup_test.cc,
// netlink_test.cc, tests/netns/) check the real implementations.
//
// The model is only as faithful as the setup needs: an address brings its subnet route, a
// duplicate route or address fails with EEXIST, route lookups take the longest match in the main
// table (policy rules and fwmarks are recorded, not applied).
#include <cerrno>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "platform/kernel.h"

namespace waypost::test {

// ---- TUN -----------------------------------------------------------------------------------

class TunDouble final : public platform::TunIo {
 public:
  explicit TunDouble(std::string name, bool offloads = false)
      : name_(std::move(name)), offloads_(offloads) {}

  // A packet the kernel routed into the tunnel: the next read() hands it over.
  void inject(std::vector<uint8_t> packet) { inbound_.push_back(std::move(packet)); }
  // Packets written and flushed (what the kernel would have received), oldest first.
  std::vector<std::vector<uint8_t>> written;
  size_t flushes = 0;
  size_t read_calls = 0;
  // While set, flushed packets are counted as write errors instead of written.
  bool fail_writes = false;

  // One packet per read, as without offloads; batches of `nslots` as the real device makes.
  size_t read(uint8_t* slots, size_t nslots, int max_reads, const Deliver& deliver) override {
    ++read_calls;
    std::vector<net::Packet> batch;
    size_t count = 0;
    for (int i = 0; i < max_reads && !inbound_.empty(); ++i) {
      std::vector<uint8_t> p = std::move(inbound_.front());
      inbound_.pop_front();
      if (p.empty() || p.size() > net::kMaxMtu) {
        ++malformed_;
        continue;
      }
      if (batch.size() == nslots) {
        deliver(batch);
        batch.clear();
      }
      uint8_t* at = slots + batch.size() * net::kSlotSize + net::kHeadroom;
      std::copy(p.begin(), p.end(), at);
      batch.push_back({at, uint32_t(p.size())});
      ++count;
    }
    if (!batch.empty()) deliver(batch);
    return count;
  }

  // Copies at once (the caller's buffer may be reused after flush) but makes the packets visible
  // only on flush(), so tests see what a batch really delivered.
  void push(uint8_t* data, uint32_t size) override { pending_.emplace_back(data, data + size); }
  void flush() override {
    ++flushes;
    for (auto& p : pending_) {
      if (fail_writes) {
        ++write_errors_;
      } else {
        written.push_back(std::move(p));
      }
    }
    pending_.clear();
  }

  int fd() const override { return -1; }  // not pollable: tests call read() themselves
  const std::string& name() const override { return name_; }
  bool offloads() const override { return offloads_; }
  uint64_t write_errors() const override { return write_errors_; }
  uint64_t malformed() const override { return malformed_; }

 private:
  std::string name_;
  bool offloads_;
  std::deque<std::vector<uint8_t>> inbound_;
  std::vector<std::vector<uint8_t>> pending_;
  uint64_t write_errors_ = 0;
  uint64_t malformed_ = 0;
};

// ---- UDP -----------------------------------------------------------------------------------

struct SentDatagramRecord {
  std::vector<uint8_t> bytes;
  net::Endpoint to;
  uint32_t fwmark = 0;  // the socket's mark when it left
};

class UdpDouble final : public platform::UdpIo {
 public:
  static constexpr size_t kBatch = 32;  // datagrams per receive call, as recvmmsg without GRO

  UdpDouble(uint16_t port, uint32_t fwmark, bool offloads)
      : port_(port == 0 ? kFirstFreePort : port), fwmark_(fwmark), offloads_(offloads) {}

  // A datagram that arrived from `from`: the next receive() hands it over.
  void inject(std::vector<uint8_t> bytes, const net::Endpoint& from) {
    inbound_.push_back({std::move(bytes), from});
  }
  // Datagrams sent and flushed, oldest first; tests may take them away.
  std::deque<SentDatagramRecord> sent;
  size_t flushes = 0;
  std::vector<uint16_t> rebinds;  // ports asked for
  // Errors for the next set_fwmark() / rebind(); consumed when returned.
  std::optional<Error> fail_set_fwmark;
  std::optional<Error> fail_rebind;

  uint32_t fwmark_value() const { return fwmark_; }
  bool offloads_requested() const { return offloads_; }

  size_t receive(int max_calls, const Deliver& deliver) override {
    size_t total = 0;
    for (int call = 0; call < max_calls && !inbound_.empty(); ++call) {
      // Owned buffers of a full slot each, so the device can open packets in place as it does
      // in the real receive buffers.
      rx_.clear();
      std::vector<net::Datagram> views;
      while (!inbound_.empty() && views.size() < kBatch) {
        Inbound in = std::move(inbound_.front());
        inbound_.pop_front();
        auto& buf = rx_.emplace_back(std::max<size_t>(in.bytes.size(), net::kSlotSize));
        std::copy(in.bytes.begin(), in.bytes.end(), buf.begin());
        views.push_back({buf.data(), uint32_t(in.bytes.size()), in.from});
      }
      total += views.size();
      deliver(views);
    }
    return total;
  }

  void push(const uint8_t* data, uint32_t size, const net::Endpoint& to) override {
    pending_.push_back({std::vector<uint8_t>(data, data + size), to, fwmark_});
  }
  void flush() override {
    ++flushes;
    for (auto& d : pending_) sent.push_back(std::move(d));
    pending_.clear();
  }

  Status set_fwmark(uint32_t mark) override {
    if (fail_set_fwmark) return take(fail_set_fwmark);
    fwmark_ = mark;
    return {};
  }
  Status rebind(uint16_t port, uint32_t fwmark) override {
    rebinds.push_back(port);
    if (fail_rebind) return take(fail_rebind);
    flush();
    port_ = port == 0 ? ++next_free_ : port;
    fwmark_ = fwmark;
    return {};
  }

  int fd() const override { return -1; }  // not pollable: tests call receive() themselves
  uint16_t port() const override { return port_; }
  bool gro() const override { return false; }
  bool gso() const override { return offloads_; }
  uint64_t send_errors() const override { return 0; }
  uint64_t truncated() const override { return 0; }

 private:
  static constexpr uint16_t kFirstFreePort = 40000;  // what "any free port" turns into
  static Status take(std::optional<Error>& e) {
    Error error = std::move(*e);
    e.reset();
    return error;
  }
  struct Inbound {
    std::vector<uint8_t> bytes;
    net::Endpoint from;
  };
  uint16_t port_;
  uint16_t next_free_ = kFirstFreePort;
  uint32_t fwmark_;
  bool offloads_;
  std::deque<Inbound> inbound_;
  std::vector<SentDatagramRecord> pending_;
  std::vector<std::vector<uint8_t>> rx_;
};

// ---- netlink -------------------------------------------------------------------------------

struct FakeLink {
  int index = 0;
  std::string name;
  uint32_t mtu = 1500;
  bool up = false;
  std::vector<net::Prefix> addresses;  // host bits kept
};

// The network the netlink double reads and changes. Every request is logged as one line, e.g.
// "add_route 10.0.0.0/24 dev 2 table 254", in the order made.
struct FakeNetwork {
  std::vector<FakeLink> links;
  std::vector<platform::Route> routes;  // all tables
  std::vector<platform::Rule> rules;
  std::vector<std::string> log;

  // The first request whose log line starts with `op` and contains `detail` fails with `error`
  // (and changes nothing); each injected failure fires once.
  struct Failure {
    std::string op;
    std::string detail;
    Error error;
  };
  std::vector<Failure> failures;
  void fail(std::string op, std::string detail, int err) {
    failures.push_back(
        {std::move(op), std::move(detail), make_errno_error(err, "injected: {}", strerror(err))});
  }

  int add_link(std::string name, uint32_t mtu, bool up = true) {
    int index = int(links.size()) + 1;
    links.push_back({index, std::move(name), mtu, up, {}});
    return index;
  }
  FakeLink* link(int index) {
    for (auto& l : links) {
      if (l.index == index) return &l;
    }
    return nullptr;
  }
  void add_route_entry(int ifindex, const std::string& dst, uint32_t table, uint32_t metric = 0,
                       uint32_t mtu = 0) {
    platform::Route r;
    r.dst = net::Prefix::parse(dst).value();
    r.table = table;
    r.ifindex = ifindex;
    r.metric = metric;
    r.mtu = mtu;
    routes.push_back(r);
  }
  std::vector<platform::Route> table(uint32_t t) const {
    std::vector<platform::Route> out;
    for (const auto& r : routes) {
      if (r.table == t) out.push_back(r);
    }
    return out;
  }
  bool has_route(const std::string& dst, uint32_t t) const {
    auto p = net::Prefix::parse(dst).value();
    return std::any_of(routes.begin(), routes.end(),
                       [&](const platform::Route& r) { return r.dst == p && r.table == t; });
  }
  // The log lines starting with `op`.
  std::vector<std::string> calls(std::string_view op) const {
    std::vector<std::string> out;
    for (const auto& line : log) {
      if (line.starts_with(op)) out.push_back(line);
    }
    return out;
  }
};

class NetlinkDouble final : public platform::NetlinkIo {
 public:
  explicit NetlinkDouble(FakeNetwork& net) : net_(net) {}

  Result<int> link_index(std::string_view name) override {
    if (auto st = request(fmt::format("link_index {}", name)); !st) return st.take_error();
    for (const auto& l : net_.links) {
      if (l.name == name) return l.index;
    }
    return make_errno_error(ENODEV, "no interface named {}", name);
  }
  Result<uint32_t> link_mtu(int ifindex) override {
    if (auto st = request(fmt::format("link_mtu {}", ifindex)); !st) return st.take_error();
    FakeLink* l = net_.link(ifindex);
    if (l == nullptr) return no_link(ifindex);
    return l->mtu;
  }
  Status set_link_up(int ifindex) override {
    if (auto st = request(fmt::format("set_link_up {}", ifindex)); !st) return st;
    FakeLink* l = net_.link(ifindex);
    if (l == nullptr) return no_link(ifindex);
    l->up = true;
    return {};
  }
  Status set_mtu(int ifindex, uint32_t mtu) override {
    if (auto st = request(fmt::format("set_mtu {} {}", ifindex, mtu)); !st) return st;
    FakeLink* l = net_.link(ifindex);
    if (l == nullptr) return no_link(ifindex);
    l->mtu = mtu;
    return {};
  }

  Status add_address(int ifindex, const net::Prefix& address) override {
    const std::string text = fmt::format("{}/{}", address.address.to_string(), address.length);
    if (auto st = request(fmt::format("add_address {} {}", ifindex, text)); !st) return st;
    FakeLink* l = net_.link(ifindex);
    if (l == nullptr) return no_link(ifindex);
    if (std::find(l->addresses.begin(), l->addresses.end(), address) != l->addresses.end()) {
      return make_errno_error(EEXIST, "add address {}: File exists", text);
    }
    l->addresses.push_back(address);
    // As the kernel does: the subnet of a non-host address is reachable through the link.
    if (address.length < address.address.bit_length()) {
      platform::Route r;
      r.dst = net::Prefix::parse(text).value();  // clears the host bits
      r.table = platform::kMainTable;
      r.ifindex = ifindex;
      net_.routes.push_back(r);
    }
    return {};
  }
  Result<std::vector<net::Prefix>> addresses(int ifindex, net::Family family) override {
    if (auto st = request(fmt::format("addresses {}", ifindex)); !st) return st.take_error();
    FakeLink* l = net_.link(ifindex);
    if (l == nullptr) return no_link(ifindex);
    std::vector<net::Prefix> out;
    for (const auto& a : l->addresses) {
      if (a.address.family == family) out.push_back(a);
    }
    return out;
  }

  Status add_route(int ifindex, const net::Prefix& dst, uint32_t table) override {
    if (auto st =
            request(fmt::format("add_route {} dev {} table {}", dst.to_string(), ifindex, table));
        !st) {
      return st;
    }
    if (net_.has_route(dst.to_string(), table)) {
      return make_errno_error(EEXIST, "add route {} table {}: File exists", dst.to_string(), table);
    }
    platform::Route r;
    r.dst = dst;
    r.table = table;
    r.ifindex = ifindex;
    net_.routes.push_back(r);
    return {};
  }
  Result<std::vector<platform::Route>> routes(net::Family family, uint32_t table) override {
    if (auto st = request(fmt::format("routes table {}", table)); !st) return st.take_error();
    std::vector<platform::Route> out;
    for (const auto& r : net_.routes) {
      if (r.table == table && r.dst.address.family == family) out.push_back(r);
    }
    return out;
  }
  Result<bool> table_has_routes(net::Family family, uint32_t table) override {
    auto rs = routes(family, table);
    if (!rs) return rs.take_error();
    return !rs->empty();
  }
  Result<platform::RouteInfo> route_get(const net::IpAddress& dst, uint32_t fwmark) override {
    if (auto st = request(fmt::format("route_get {} mark {}", dst.to_string(), fwmark)); !st) {
      return st.take_error();
    }
    const platform::Route* best = nullptr;
    for (const auto& r : net_.routes) {
      if (r.table != platform::kMainTable || r.dst.address.family != dst.family ||
          !r.dst.contains(dst)) {
        continue;
      }
      if (best == nullptr || r.dst.length > best->dst.length ||
          (r.dst.length == best->dst.length && r.metric < best->metric)) {
        best = &r;
      }
    }
    if (best == nullptr) {
      return make_errno_error(ENETUNREACH, "route get {}: Network is unreachable", dst.to_string());
    }
    return info(*best);
  }
  Result<platform::RouteInfo> default_route(net::Family family) override {
    if (auto st = request("default_route"); !st) return st.take_error();
    const platform::Route* best = nullptr;
    for (const auto& r : net_.routes) {
      if (r.table == platform::kMainTable && r.dst.address.family == family && r.dst.is_default() &&
          (best == nullptr || r.metric < best->metric)) {
        best = &r;
      }
    }
    if (best == nullptr) return make_errno_error(ENOENT, "no default route");
    return info(*best);
  }

  Status add_rule(const platform::Rule& rule) override {
    if (auto st = request("add_rule " + describe(rule)); !st) return st;
    net_.rules.push_back(rule);
    return {};
  }
  Status del_rule(const platform::Rule& rule) override {
    if (auto st = request("del_rule " + describe(rule)); !st) return st;
    auto it = std::find_if(net_.rules.begin(), net_.rules.end(), [&](const platform::Rule& r) {
      platform::Rule want = rule;
      if (rule.priority == 0) want.priority = r.priority;  // 0 = any priority
      return r == want;
    });
    if (it == net_.rules.end()) return make_errno_error(ENOENT, "del rule: No such file");
    net_.rules.erase(it);
    return {};
  }

  // "v4 not fwmark 0xca6c table 51820" and the like, as the log shows rules.
  static std::string describe(const platform::Rule& r) {
    std::string s = r.family == net::Family::kV4 ? "v4" : "v6";
    if (r.fwmark != 0) s += fmt::format("{} fwmark {:#x}", r.invert ? " not" : "", r.fwmark);
    s += fmt::format(" table {}", r.table);
    if (r.suppress_prefixlength >= 0) {
      s += fmt::format(" suppress_prefixlength {}", r.suppress_prefixlength);
    }
    return s;
  }

 private:
  // Logs the request and fires an injected failure that matches it.
  Status request(std::string line) {
    for (auto it = net_.failures.begin(); it != net_.failures.end(); ++it) {
      if (line.starts_with(it->op) && line.find(it->detail) != std::string::npos) {
        Error e = std::move(it->error);
        net_.failures.erase(it);
        net_.log.push_back(std::move(line) + " -> failed");
        return e;
      }
    }
    net_.log.push_back(std::move(line));
    return {};
  }
  static Error no_link(int ifindex) {
    return make_errno_error(ENODEV, "interface {}: No such device", ifindex);
  }
  static platform::RouteInfo info(const platform::Route& r) {
    platform::RouteInfo i;
    i.ifindex = r.ifindex;
    i.mtu = r.mtu;
    i.gateway = r.gateway;
    return i;
  }

  FakeNetwork& net_;
};

// ---- the kernel ----------------------------------------------------------------------------

class KernelDouble final : public platform::Kernel {
 public:
  FakeNetwork net;
  std::map<std::string, std::string> sysctls{{"net.ipv4.conf.all.src_valid_mark", "0"}};
  std::vector<std::string> sysctl_writes;  // "key=value"
  std::vector<std::string> nft_scripts;    // every script run, including failed ones
  // The next nft_run() / create_tun() / bind_udp() / open_netlink() fails with this.
  std::optional<Error> fail_nft, fail_tun, fail_udp, fail_netlink;

  // The devices handed out last (owned by whoever asked for them).
  TunDouble* tun = nullptr;
  UdpDouble* udp = nullptr;

  Result<std::unique_ptr<platform::TunIo>> create_tun(std::string_view name,
                                                      bool offloads) override {
    if (fail_tun) return take(fail_tun);
    auto t = std::make_unique<TunDouble>(std::string(name), offloads);
    tun = t.get();
    net.add_link(std::string(name), 1500, false);  // the link appears with the device, down
    return std::unique_ptr<platform::TunIo>(std::move(t));
  }
  Result<std::unique_ptr<platform::UdpIo>> bind_udp(uint16_t port, uint32_t fwmark,
                                                    bool offloads) override {
    if (fail_udp) return take(fail_udp);
    auto u = std::make_unique<UdpDouble>(port, fwmark, offloads);
    udp = u.get();
    return std::unique_ptr<platform::UdpIo>(std::move(u));
  }
  Result<std::unique_ptr<platform::NetlinkIo>> open_netlink() override {
    if (fail_netlink) return take(fail_netlink);
    return std::unique_ptr<platform::NetlinkIo>(std::make_unique<NetlinkDouble>(net));
  }
  Status nft_run(std::string_view script) override {
    nft_scripts.emplace_back(script);
    if (fail_nft) return take(fail_nft);
    return {};
  }
  Result<std::string> sysctl_read(std::string_view key) override {
    auto it = sysctls.find(std::string(key));
    if (it == sysctls.end()) return make_errno_error(ENOENT, "sysctl {}: no such key", key);
    return it->second;
  }
  Status sysctl_write(std::string_view key, std::string_view value) override {
    sysctl_writes.push_back(fmt::format("{}={}", key, value));
    sysctls[std::string(key)] = std::string(value);
    return {};
  }

 private:
  static Error take(std::optional<Error>& e) {
    Error error = std::move(*e);
    e.reset();
    return error;
  }
};

}  // namespace waypost::test
