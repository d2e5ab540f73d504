#include "dns/blocklist.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "net/ip.h"
#include "platform/fd.h"

namespace waypost::dns {

namespace {

uint32_t hash_name(std::string_view name) {
  return uint32_t(std::hash<std::string_view>{}(name));
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Splits off the next whitespace-separated token.
std::string_view next_token(std::string_view& s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  size_t n = 0;
  while (n < s.size() && !is_space(s[n])) ++n;
  std::string_view t = s.substr(0, n);
  s.remove_prefix(n);
  return t;
}

// Names every hosts file carries for the machine itself (StevenBlack's lists start with them);
// they are not ad domains, and resolving "localhost" is unbound's business.
bool hosts_boilerplate(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "localhost",     "localhost.localdomain", "local",        "broadcasthost",
      "ip6-localhost", "ip6-loopback",          "ip6-localnet", "ip6-mcastprefix",
      "ip6-allnodes",  "ip6-allrouters",        "ip6-allhosts", "localdomain",
  };
  for (auto n : kNames) {
    if (name == n) return true;
  }
  return false;
}

// Addresses that mean "block" in a hosts file. Other addresses (a hosts file that maps a name
// to a real machine) are not block entries.
bool blocking_address(const net::IpAddress& a) {
  if (a.is_v4()) {
    const bool zero = a.bytes[0] == 0 && a.bytes[1] == 0 && a.bytes[2] == 0 && a.bytes[3] == 0;
    return zero || a.bytes[0] == 127;
  }
  for (int i = 0; i < 15; ++i) {
    if (a.bytes[i] != 0) return false;
  }
  return a.bytes[15] == 0 || a.bytes[15] == 1;
}

bool looks_like_address(std::string_view t) {
  if (t.empty()) return false;
  if (t.find(':') != std::string_view::npos) return true;
  for (char c : t) {
    if (!(c == '.' || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

struct Emitter {
  EmitFn emit;
  void* ctx;
  size_t emitted = 0;
  bool bad = false;
  void name(std::string_view text, bool subdomains_only) {
    char buf[254];
    size_t n = normalize_domain(text, buf);
    if (n == 0) {
      bad = true;
      return;
    }
    emit(ctx, std::string_view(buf, n), subdomains_only);
    ++emitted;
  }
};

// "address=/a.example/b.example/0.0.0.0" or "server=/a.example/" (dnsmasq).
LineKind parse_dnsmasq(std::string_view line, bool is_address, Emitter& e) {
  auto last = line.rfind('/');
  if (last == 0 || last == std::string_view::npos) return LineKind::kIgnored;
  std::string_view target = line.substr(last + 1);
  if (is_address) {
    if (!(target.empty() || target == "#" || target == "0.0.0.0" || target == "::" ||
          target == "127.0.0.1" || target == "::1")) {
      return LineKind::kIgnored;  // a redirect to a real address, not a block
    }
  } else if (!target.empty()) {
    return LineKind::kIgnored;  // forwarding a domain elsewhere, not a block
  }
  std::string_view domains = line.substr(1, last - 1);
  while (!domains.empty()) {
    auto slash = domains.find('/');
    std::string_view d = domains.substr(0, slash);
    if (!d.empty()) e.name(d, false);
    if (slash == std::string_view::npos) break;
    domains.remove_prefix(slash + 1);
  }
  return e.emitted && !e.bad ? LineKind::kDomains : LineKind::kIgnored;
}

}  // namespace

// --- DomainSet -------------------------------------------------------------------------------

uint8_t DomainSet::find(std::string_view name, uint32_t hash) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.length == 0) return 0;
    if (s.hash == hash && s.length == name.size() &&
        std::memcmp(arena_.data() + s.offset, name.data(), name.size()) == 0) {
      return s.flags;
    }
  }
}

void DomainSet::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.length == 0) continue;
    size_t i = s.hash & mask;
    while (slots_[i].length != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void DomainSet::insert(std::string_view name, bool subdomains_only) {
  if (name.empty() || name.size() > 253) return;
  if ((count_ + 1) * 4 > slots_.size() * 3) grow();
  const uint8_t flag = subdomains_only ? kSubdomains : kSelf;
  const uint32_t h = hash_name(name);
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  for (;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.length == 0) break;
    if (s.hash == h && s.length == name.size() &&
        std::memcmp(arena_.data() + s.offset, name.data(), name.size()) == 0) {
      s.flags |= flag;
      return;
    }
  }
  slots_[i] = Slot{h, uint32_t(arena_.size()), uint8_t(name.size()), flag};
  arena_.append(name);
  ++count_;
}

bool DomainSet::matches(std::string_view name) const {
  if (count_ == 0 || name.empty()) return false;
  if (find(name, hash_name(name)) & kSelf) return true;
  for (size_t dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.', dot + 1)) {
    std::string_view parent = name.substr(dot + 1);
    if (find(parent, hash_name(parent)) != 0) return true;
  }
  return false;
}

// --- line parsing ----------------------------------------------------------------------------

size_t normalize_domain(std::string_view text, char* out) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty() || text.size() > 253) return 0;
  size_t label = 0;
  bool tld_numeric = true;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (label == 0) return 0;
      label = 0;
      tld_numeric = true;
      out[i] = c;
      continue;
    }
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    const bool digit = c >= '0' && c <= '9';
    if (!((c >= 'a' && c <= 'z') || digit || c == '-' || c == '_')) return 0;
    if (!digit) tld_numeric = false;
    if (++label > 63) return 0;
    out[i] = c;
  }
  if (label == 0) return 0;
  // No top-level domain is all digits (RFC 3696 section 2): such a "name" is an address.
  if (tld_numeric) return 0;
  return text.size();
}

LineKind parse_list_line(std::string_view line, EmitFn emit, void* ctx) {
  // A '#' starts a comment only at the start or after whitespace: adblock cosmetic rules
  // ("example.com##.banner") must not turn into "example.com".
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' && (i == 0 || is_space(line[i - 1]))) {
      line = line.substr(0, i);
      break;
    }
  }
  line = trim(line);
  if (line.empty() || line.front() == '!' || line.front() == '[') return LineKind::kBlank;
  Emitter e{emit, ctx};

  if (line.starts_with("||")) {
    std::string_view rest = line.substr(2);
    auto caret = rest.find('^');
    if (caret == std::string_view::npos) return LineKind::kIgnored;
    std::string_view options = rest.substr(caret + 1);
    // "$important" changes nothing for us; other modifiers narrow the rule to browsers,
    // clients or record types, so applying it to everything would over-block.
    if (!(options.empty() || options == "$important")) return LineKind::kIgnored;
    e.name(rest.substr(0, caret), false);
    return e.emitted ? LineKind::kDomains : LineKind::kIgnored;
  }
  if (line.starts_with("address=/")) return parse_dnsmasq(line.substr(8), true, e);
  if (line.starts_with("server=/")) return parse_dnsmasq(line.substr(7), false, e);

  std::string_view rest = line;
  std::string_view first = next_token(rest);
  if (looks_like_address(first)) {
    auto ip = net::IpAddress::parse(first);
    if (!ip || !blocking_address(*ip)) return LineKind::kIgnored;
    bool boilerplate = false;
    for (std::string_view t = next_token(rest); !t.empty(); t = next_token(rest)) {
      if (hosts_boilerplate(t)) {
        boilerplate = true;
        continue;
      }
      e.name(t, false);
    }
    if (e.emitted) return LineKind::kDomains;
    return boilerplate && !e.bad ? LineKind::kBlank : LineKind::kIgnored;
  }
  if (!trim(rest).empty()) return LineKind::kIgnored;  // "domain something": not a format we know
  if (first.starts_with("*.")) {
    e.name(first.substr(2), true);
  } else {
    e.name(first, false);
  }
  return e.emitted ? LineKind::kDomains : LineKind::kIgnored;
}

// --- Blocklist -------------------------------------------------------------------------------

namespace {

Result<std::string> read_file(const std::string& path) {
  platform::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return make_error("cannot read block list {}: {}", path, std::strerror(errno));
  struct stat st {};
  if (fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return make_error("block list {} is a directory", path);
  }
  std::string data;
  if (st.st_size > 0) data.reserve(size_t(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error("cannot read block list {}: {}", path, std::strerror(errno));
    }
    if (n == 0) break;
    data.append(buf, size_t(n));
  }
  return data;
}

}  // namespace

void Blocklist::add_text(std::string_view text, ListStats& stats) {
  struct Ctx {
    DomainSet* set;
    size_t* domains;
  } c{&block_, &stats.domains};
  auto emit = [](void* p, std::string_view name, bool subdomains_only) {
    auto* cx = static_cast<Ctx*>(p);
    cx->set->insert(name, subdomains_only);
    ++*cx->domains;
  };
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++stats.lines;
    if (parse_list_line(line, emit, &c) == LineKind::kIgnored) {
      if (stats.ignored++ == 0) stats.first_ignored = std::string(trim(line).substr(0, 80));
    }
  }
}

Status Blocklist::add_allow(const std::vector<std::string>& allow) {
  for (const auto& entry : allow) {
    std::string_view t = trim(entry);
    bool subdomains_only = false;
    if (t.starts_with("*.")) {
      t.remove_prefix(2);
      subdomains_only = true;
    }
    char buf[254];
    size_t n = normalize_domain(t, buf);
    if (n == 0) return make_error("allow-list entry '{}' is not a domain name", entry);
    allow_.insert(std::string_view(buf, n), subdomains_only);
  }
  return {};
}

Result<std::shared_ptr<const Blocklist>> Blocklist::load(const std::vector<std::string>& files,
                                                         const std::vector<std::string>& allow) {
  auto b = std::make_shared<Blocklist>();
  if (auto st = b->add_allow(allow); !st) return st.take_error();
  for (const auto& path : files) {
    auto text = read_file(path);
    if (!text) return text.take_error();
    ListStats stats;
    stats.path = path;
    b->add_text(*text, stats);
    b->stats_.push_back(std::move(stats));
  }
  b->block_.shrink();
  b->allow_.shrink();
  return std::shared_ptr<const Blocklist>(std::move(b));
}

Result<std::shared_ptr<const Blocklist>> Blocklist::from_texts(
    const std::vector<std::string_view>& texts, const std::vector<std::string>& allow) {
  auto b = std::make_shared<Blocklist>();
  if (auto st = b->add_allow(allow); !st) return st.take_error();
  for (size_t i = 0; i < texts.size(); ++i) {
    ListStats stats;
    stats.path = "text " + std::to_string(i + 1);
    b->add_text(texts[i], stats);
    b->stats_.push_back(std::move(stats));
  }
  return std::shared_ptr<const Blocklist>(std::move(b));
}

}  // namespace waypost::dns
