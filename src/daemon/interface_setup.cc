#include "daemon/interface_setup.h"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>

#include "wireguard/messages.h"

extern char** environ;

namespace waypost::daemon {

namespace {

using platform::NetlinkIo;
using platform::Rule;

constexpr uint32_t kFallbackMtu = 1500;
constexpr uint32_t kFirstAutoTable = 51820;

// Interface names wg-quick accepts; anything else could not have come from a config file name,
// and the name ends up inside nftables scripts and hook command lines.
bool valid_ifname(std::string_view name) {
  if (name.empty() || name.size() > 15) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '=' || c == '+' || c == '.' || c == '-';
  });
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return fmt::format("wait status {}", status);
}

// Runs argv[0] (an absolute path) and waits for it. The child starts with default signal
// dispositions and an empty signal mask whatever the daemon uses for itself. When input is given
// it becomes the child's stdin; otherwise stdin is /dev/null, so a hook cannot eat the daemon's.
Result<int> spawn_and_wait(const std::vector<std::string>& argv,
                           const std::optional<std::string>& input) {
  std::vector<char*> args;
  args.reserve(argv.size());
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  int pipe_fds[2] = {-1, -1};
  if (input && pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return make_error("{}: pipe: {}", argv[0], std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (input) {
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (input) close(pipe_fds[0]);
  if (rc != 0) {
    if (input) close(pipe_fds[1]);
    return make_error("cannot run {}: {}", argv[0], std::strerror(rc));
  }

  if (input) {
    // If the child exits without reading, the write must fail with EPIPE rather than raise
    // SIGPIPE in the daemon: block it for this thread and discard it if it became pending.
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    size_t done = 0;
    while (done < input->size()) {
      ssize_t n = write(pipe_fds[1], input->data() + done, input->size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += size_t(n);
    }
    close(pipe_fds[1]);
    timespec zero{};
    while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return make_error("{}: waitpid: {}", argv[0], std::strerror(errno));
  }
  return status;
}

std::string substitute_ifname(std::string hook, const std::string& ifname) {
  size_t at = 0;
  while ((at = hook.find("%i", at)) != std::string::npos) {
    hook.replace(at, 2, ifname);
    at += ifname.size();
  }
  return hook;
}

Status run_hook(std::string_view phase, const std::string& hook, const std::string& ifname) {
  std::string command = substitute_ifname(hook, ifname);
  auto status = spawn_and_wait({"/bin/bash", "-e", "-o", "pipefail", "-c", command}, std::nullopt);
  if (!status) return make_error("{} hook `{}`: {}", phase, command, status.error().message);
  if (*status != 0) {
    return make_error("{} hook `{}` failed: {}", phase, command, describe_wait_status(*status));
  }
  return {};
}

Status run_hooks(std::string_view phase, const std::vector<std::string>& hooks,
                 const std::string& ifname) {
  for (const auto& hook : hooks) {
    if (auto st = run_hook(phase, hook, ifname); !st) return st;
  }
  return {};
}

// The first executable `name` on PATH, like `type -P`.
std::optional<std::string> find_in_path(std::string_view name) {
  const char* path = getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  while (true) {
    size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + std::string(name);
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) return std::nullopt;
    dirs.remove_prefix(colon + 1);
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<uint32_t> parse_u32(std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  uint32_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// Looks a routing table name up the way ip(8) does: built-in names, then rt_tables files.
std::optional<uint32_t> table_by_name(std::string_view name) {
  if (name == "main") return 254;
  if (name == "local") return 255;
  if (name == "default") return 253;
  std::vector<std::string> files = {"/etc/iproute2/rt_tables", "/usr/share/iproute2/rt_tables",
                                    "/usr/lib/iproute2/rt_tables"};
  for (const char* dir : {"/etc/iproute2/rt_tables.d", "/usr/share/iproute2/rt_tables.d"}) {
    if (DIR* d = opendir(dir)) {
      while (dirent* e = readdir(d)) {
        std::string_view file = e->d_name;
        if (file.size() > 5 && file.ends_with(".conf")) {
          files.push_back(dir + ("/" + std::string(file)));
        }
      }
      closedir(d);
    }
  }
  for (const auto& file : files) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string number, table;
      if (!(fields >> number >> table) || number.starts_with("#")) continue;
      if (table == name) {
        if (auto n = parse_u32(number)) return n;
      }
    }
  }
  return std::nullopt;
}

// Table= as a choice: nullopt for auto, 0 for off, else the table number.
Result<std::optional<uint32_t>> table_setting(const std::optional<std::string>& table) {
  if (!table) return std::optional<uint32_t>();
  std::string_view t = trim(*table);
  if (t == "auto" || t.empty()) return std::optional<uint32_t>();
  if (t == "off") return std::optional<uint32_t>(0);
  std::optional<uint32_t> number = parse_u32(t);
  if (!number) number = table_by_name(t);
  if (!number) {
    return make_error("Table = '{}': neither a number nor a table name known to iproute2", t);
  }
  if (*number == 0) return make_error("Table = '{}': table 0 is not a routing table", t);
  return number;
}

const char* nft_family(net::Family family) {
  return family == net::Family::kV4 ? "ip" : "ip6";
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

}  // namespace

std::string resolvconf_interface_prefix(const std::string& order_file,
                                        const std::string& resolvconf) {
  struct stat st {};
  if (stat(order_file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
  if (lstat(resolvconf.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) return "";
  std::ifstream in(order_file);
  std::string line;
  while (std::getline(in, line)) {
    std::string_view entry = trim(line);
    if (entry.size() < 2 || entry.back() != '*') continue;
    std::string_view stem = entry.substr(0, entry.size() - 1);
    bool plain = std::all_of(stem.begin(), stem.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    });
    if (plain) return std::string(stem) + ".";
  }
  return "";
}

Status InterfaceSetup::run_pre_up(const wireguard::WgQuickConfig& config,
                                  const std::string& ifname) {
  return run_hooks("PreUp", config.iface.pre_up, ifname);
}

InterfaceSetup::InterfaceSetup(InterfaceSetup&& other) noexcept {
  *this = std::move(other);
}

InterfaceSetup& InterfaceSetup::operator=(InterfaceSetup&& other) noexcept {
  if (this != &other) {
    netlink_ = std::move(other.netlink_);
    context_ = std::move(other.context_);
    ifindex_ = other.ifindex_;
    active_ = std::exchange(other.active_, false);
    explicit_mtu_ = other.explicit_mtu_;
    mtu_ = other.mtu_;
    table_ = other.table_;
    fwmark_ = other.fwmark_;
    config_fwmark_ = other.config_fwmark_;
    dns_warning_ = std::move(other.dns_warning_);
    rules_ = std::move(other.rules_);
    nft_families_ = std::move(other.nft_families_);
    resolvconf_ = std::move(other.resolvconf_);
    resolvconf_name_ = std::move(other.resolvconf_name_);
    pre_down_ = std::move(other.pre_down_);
    post_down_ = std::move(other.post_down_);
    other.rules_.clear();
    other.nft_families_.clear();
    other.resolvconf_.reset();
  }
  return *this;
}

Result<uint32_t> InterfaceSetup::automatic_mtu() {
  NetlinkIo& nl = *netlink_;
  // The MTU of the path a route leads to: the route's own MTU metric, else its device's MTU.
  // Routes through our own interface are skipped: encrypted packets never take them (they carry
  // the fwmark once policy routing is on), and counting them would feed our MTU back into itself.
  auto path_mtu = [&](const platform::RouteInfo& info) -> uint32_t {
    if (info.ifindex == ifindex_) return 0;
    if (info.mtu != 0) return info.mtu;
    if (info.ifindex == 0) return 0;
    auto link = nl.link_mtu(info.ifindex);
    return link ? *link : 0;
  };

  // The real per-packet overhead: WireGuard's 32 bytes (header and tag) plus UDP's 8 and the
  // outer IP header, 20 bytes for IPv4 and 40 for IPv6 (docs/MTU.md has the arithmetic). Each
  // endpoint is judged by its own family; the interface takes the smallest result.
  auto overhead = [](bool v4) -> uint32_t {
    return wireguard::tunnel_overhead(v4 ? net::Family::kV4 : net::Family::kV6);
  };
  uint32_t best = 0;
  if (context_.peer_endpoints) {
    for (const auto& endpoint : context_.peer_endpoints()) {
      if (!endpoint.valid()) continue;
      auto info = nl.route_get(endpoint.ip(), fwmark_ != 0 ? fwmark_ : config_fwmark_);
      if (!info) continue;  // unreachable now; the route monitor will tell us when that changes
      uint32_t m = path_mtu(*info);
      if (m <= overhead(endpoint.is_v4())) continue;
      m -= overhead(endpoint.is_v4());
      // A peer pads what it sends to a multiple of 16 (up to its own MTU): an MTU that is not
      // itself a multiple of 16 would let a stock peer's full-size packets grow past the path.
      m &= ~uint32_t(15);
      if (best == 0 || m < best) best = m;
    }
  }
  if (best == 0) {
    // No endpoint to go by (a server waiting for its clients, who may come over either family):
    // the default route's MTU minus the larger, IPv6, overhead.
    uint32_t link = 0;
    for (net::Family family : {net::Family::kV4, net::Family::kV6}) {
      auto info = nl.default_route(family);
      if (!info) continue;
      link = path_mtu(*info);
      if (link != 0) break;
    }
    if (link == 0) link = kFallbackMtu;
    if (link <= overhead(false)) {
      return make_error("automatic MTU: path MTU {} leaves no room for WireGuard's {} bytes", link,
                        overhead(false));
    }
    best = link - overhead(false);
  }
  return best;
}

Result<bool> InterfaceSetup::refresh_mtu() {
  if (!active_ || explicit_mtu_ || !netlink_) return false;
  auto mtu = automatic_mtu();
  if (!mtu) return mtu.take_error();
  if (*mtu == mtu_) return false;
  if (auto st = netlink_->set_mtu(ifindex_, *mtu); !st) return st.take_error();
  mtu_ = *mtu;
  return true;
}

Status InterfaceSetup::add_default(const net::Prefix& prefix) {
  NetlinkIo& nl = *netlink_;
  const net::Family family = prefix.address.family;
  if (fwmark_ == 0) {
    if (config_fwmark_ != 0) {
      fwmark_ = config_fwmark_;  // the device already marks its packets; reuse that as the table
    } else {
      uint32_t table = kFirstAutoTable;
      for (;; ++table) {
        auto v4 = nl.table_has_routes(net::Family::kV4, table);
        if (!v4) return v4.take_error();
        auto v6 = nl.table_has_routes(net::Family::kV6, table);
        if (!v6) return v6.take_error();
        if (!*v4 && !*v6) break;
        if (table == UINT32_MAX) {
          return make_error("no free routing table above {}", kFirstAutoTable);
        }
      }
      if (!context_.set_fwmark) {
        return make_error("routing {} through {} needs an fwmark, but none can be set",
                          prefix.to_string(), context_.ifname);
      }
      if (auto st = context_.set_fwmark(table); !st) {
        return make_error("cannot mark {}'s own packets for policy routing: {}", context_.ifname,
                          st.error().message);
      }
      fwmark_ = table;
    }
  }
  table_ = fwmark_;

  // Everything not marked by our own sockets goes to the tunnel's table; the main table is asked
  // first, but its default route is ignored, so more specific routes (the LAN) keep working.
  Rule not_marked{.family = family, .table = fwmark_, .fwmark = fwmark_, .invert = true};
  if (auto st = nl.add_rule(not_marked); !st) return st;
  rules_.push_back(not_marked);
  Rule suppress{.family = family, .table = platform::kMainTable, .suppress_prefixlength = 0};
  if (auto st = nl.add_rule(suppress); !st) return st;
  rules_.push_back(suppress);
  if (auto st = nl.add_route(ifindex_, prefix, fwmark_); !st) return st;

  if (family == net::Family::kV4) {
    // Replies to marked packets must pass reverse-path filtering with the mark considered.
    auto current = kernel().sysctl_read("net.ipv4.conf.all.src_valid_mark");
    if (!current || *current != "1") {
      if (auto st = kernel().sysctl_write("net.ipv4.conf.all.src_valid_mark", "1"); !st) {
        return st;
      }
    }
  }

  auto addresses = nl.addresses(ifindex_, family);
  if (!addresses) return addresses.take_error();
  const char* pf = nft_family(family);
  const std::string table = "waypost-" + context_.ifname;
  std::string script;
  // Declaring and deleting first replaces a table left behind by a crashed run, in the same
  // transaction, so the rules below are never doubled.
  script += fmt::format("add table {0} {1}\ndelete table {0} {1}\nadd table {0} {1}\n", pf, table);
  script += fmt::format(
      "add chain {0} {1} preraw {{ type filter hook prerouting priority -300; }}\n"
      "add chain {0} {1} premangle {{ type filter hook prerouting priority -150; }}\n"
      "add chain {0} {1} postmangle {{ type filter hook postrouting priority -150; }}\n",
      pf, table);
  for (const auto& address : *addresses) {
    script += fmt::format(
        "add rule {0} {1} preraw iifname != \"{2}\" {0} daddr {3} fib saddr type != local drop\n",
        pf, table, context_.ifname, address.address.to_string());
  }
  script += fmt::format("add rule {} {} postmangle meta l4proto udp mark {} ct mark set mark\n", pf,
                        table, fwmark_);
  script +=
      fmt::format("add rule {} {} premangle meta l4proto udp meta mark set ct mark\n", pf, table);
  if (auto st = kernel().nft_run(script); !st) {
    return make_error("nftables table {} {}: {}", pf, table, st.error().message);
  }
  nft_families_.emplace_back(pf);
  return {};
}

Status InterfaceSetup::route(const net::Prefix& prefix,
                             const std::optional<uint32_t>& explicit_table) {
  NetlinkIo& nl = *netlink_;
  if (explicit_table) return nl.add_route(ifindex_, prefix, *explicit_table);
  if (prefix.is_default()) return add_default(prefix);
  // A route already covering this prefix through our interface (the subnet route of an
  // Address=) makes another one pointless, and adding it would fail as a duplicate.
  auto existing = nl.routes(prefix.address.family, platform::kMainTable);
  if (!existing) return existing.take_error();
  for (const auto& r : *existing) {
    if (r.ifindex == ifindex_ && r.dst.length <= prefix.length && r.dst.contains(prefix.address)) {
      return {};
    }
  }
  return nl.add_route(ifindex_, prefix, platform::kMainTable);
}

Result<InterfaceSetup> InterfaceSetup::up(const wireguard::WgQuickConfig& config,
                                          const SetupContext& context) {
  if (!valid_ifname(context.ifname)) {
    return make_error("invalid interface name '{}'", context.ifname);
  }
  auto table = table_setting(config.iface.table);
  if (!table) return table.take_error();

  InterfaceSetup setup;
  setup.context_ = context;
  if (setup.context_.kernel == nullptr) setup.context_.kernel = &platform::system_kernel();
  setup.pre_down_ = config.iface.pre_down;
  setup.post_down_ = config.iface.post_down;
  auto nl = setup.kernel().open_netlink();
  if (!nl) return nl.take_error();
  setup.netlink_ = std::move(*nl);
  auto index = setup.netlink_->link_index(context.ifname);
  if (!index) return index.take_error();
  setup.ifindex_ = *index;
  setup.active_ = true;
  setup.config_fwmark_ = config.iface.fwmark.value_or(0);

  auto fail = [&setup](Error error) -> Result<InterfaceSetup> {
    std::vector<std::string> undo_failures;
    setup.undo(undo_failures);
    setup.active_ = false;
    if (!undo_failures.empty()) {
      error.message += "; while undoing: " + join(undo_failures, "; ");
    }
    return error;
  };

  NetlinkIo& link = *setup.netlink_;
  for (const auto& address : config.iface.addresses) {
    if (auto st = link.add_address(setup.ifindex_, address); !st) return fail(st.take_error());
  }

  if (config.iface.mtu) {
    setup.explicit_mtu_ = true;
    setup.mtu_ = *config.iface.mtu;
  } else {
    auto mtu = setup.automatic_mtu();
    if (!mtu) return fail(mtu.take_error());
    setup.mtu_ = *mtu;
  }
  if (auto st = link.set_mtu(setup.ifindex_, setup.mtu_); !st) return fail(st.take_error());
  if (auto st = link.set_link_up(setup.ifindex_); !st) return fail(st.take_error());

  const auto& dns = config.iface.dns_servers;
  if (!dns.empty()) {
    std::vector<std::string> servers;
    servers.reserve(dns.size());
    for (const auto& s : dns) servers.push_back(s.to_string());
    std::string records;
    for (const auto& s : servers) records += "nameserver " + s + "\n";
    if (!config.iface.dns_search.empty()) {
      records += "search " + join(config.iface.dns_search, " ") + "\n";
    }
    auto resolvconf = find_in_path("resolvconf");
    if (!resolvconf) {
      std::string what = join(servers, ", ");
      if (!config.iface.dns_search.empty()) {
        what += " (search " + join(config.iface.dns_search, " ") + ")";
      }
      setup.dns_warning_ =
          "DNS= is set but resolvconf is not installed; DNS servers were not applied: " + what;
    } else {
      std::string name =
          resolvconf_interface_prefix("/etc/resolvconf/interface-order", *resolvconf) +
          context.ifname;
      auto status =
          spawn_and_wait({*resolvconf, "-a", name, "-m", "0", "-x"}, std::optional(records));
      if (!status) return fail(status.take_error());
      if (*status != 0) {
        return fail(
            make_error("resolvconf -a {} -m 0 -x failed: {}", name, describe_wait_status(*status)));
      }
      setup.resolvconf_ = *resolvconf;
      setup.resolvconf_name_ = name;
    }
  }

  if (!table->has_value()) {
    setup.table_ = platform::kMainTable;  // until a /0 switches on policy routing
  } else {
    setup.table_ = **table;
  }
  if (setup.table_ != 0) {
    // Most specific first, as wg-quick orders them; duplicates across peers only once.
    std::vector<net::Prefix> prefixes;
    for (const auto& peer : config.peers) {
      for (const auto& p : peer.allowed_ips) {
        if (std::find(prefixes.begin(), prefixes.end(), p) == prefixes.end()) {
          prefixes.push_back(p);
        }
      }
    }
    std::stable_sort(
        prefixes.begin(), prefixes.end(),
        [](const net::Prefix& a, const net::Prefix& b) { return a.length > b.length; });
    for (const auto& prefix : prefixes) {
      if (auto st = setup.route(prefix, *table); !st) return fail(st.take_error());
    }
  }

  if (auto st = run_hooks("PostUp", config.iface.post_up, context.ifname); !st) {
    return fail(st.take_error());
  }
  return setup;
}

void InterfaceSetup::undo(std::vector<std::string>& failures) {
  if (resolvconf_) {
    auto status = spawn_and_wait({*resolvconf_, "-d", resolvconf_name_, "-f"}, std::nullopt);
    if (!status) {
      failures.push_back(status.error().message);
    } else if (*status != 0) {
      failures.push_back(fmt::format("resolvconf -d {} -f failed: {}", resolvconf_name_,
                                     describe_wait_status(*status)));
    }
    resolvconf_.reset();
  }
  for (const auto& pf : nft_families_) {
    const std::string table = "waypost-" + context_.ifname;
    // Declaring the table first makes the delete succeed even if it is already gone.
    auto st = kernel().nft_run(fmt::format("add table {0} {1}\ndelete table {0} {1}\n", pf, table));
    if (!st) {
      failures.push_back(
          fmt::format("remove nftables table {} {}: {}", pf, table, st.error().message));
    }
  }
  nft_families_.clear();
  if (netlink_) {
    for (const auto& rule : rules_) {
      auto st = netlink_->del_rule(rule);
      if (!st && st.error().code != ENOENT) failures.push_back(st.error().message);
    }
  }
  rules_.clear();
}

Status InterfaceSetup::down() {
  if (!active_) return {};
  active_ = false;
  std::vector<std::string> failures;
  if (auto st = run_hooks("PreDown", pre_down_, context_.ifname); !st) {
    failures.push_back(st.error().message);
  }
  undo(failures);
  if (auto st = run_hooks("PostDown", post_down_, context_.ifname); !st) {
    failures.push_back(st.error().message);
  }
  if (!failures.empty()) return Error{join(failures, "; ")};
  return {};
}

}  // namespace waypost::daemon
