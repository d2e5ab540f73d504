#include "server/state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "crypto/x25519.h"

namespace waypost::server {

namespace {

// The address at host index `index` of a prefix (index 1 = first host).
std::optional<net::IpAddress> host_at(const net::Prefix& p, uint64_t index) {
  net::IpAddress a = p.address;
  const int host_bits = a.bit_length() - p.length;
  if (host_bits < 64 && index >= (uint64_t(1) << host_bits)) return std::nullopt;
  // Add index to the address, big-endian, from the last byte.
  uint64_t carry = index;
  for (int i = int(a.byte_length()) - 1; i >= 0 && carry != 0; --i) {
    uint64_t sum = a.bytes[size_t(i)] + (carry & 0xff);
    a.bytes[size_t(i)] = uint8_t(sum);
    carry = (carry >> 8) + (sum >> 8);
  }
  if (!p.contains(a)) return std::nullopt;
  return a;
}

// Host index of `a` within `p` (only meaningful when p contains a and the index fits).
uint64_t index_of(const net::Prefix& p, const net::IpAddress& a) {
  uint64_t idx = 0;
  for (size_t i = 0; i < a.byte_length(); ++i) {
    idx = (idx << 8) | uint64_t(a.bytes[i] ^ p.address.bytes[i]);
  }
  return idx;
}

bool is_broadcast_v4(const net::Prefix& p, uint64_t index) {
  const int host_bits = 32 - p.length;
  return p.address.is_v4() && host_bits < 64 && index == (uint64_t(1) << host_bits) - 1;
}

}  // namespace

net::IpAddress server_ipv4(const ServerConfig& config) {
  return host_at(config.wireguard_network_ipv4, 1).value_or(config.wireguard_network_ipv4.address);
}
net::IpAddress server_ipv6(const ServerConfig& config) {
  return host_at(config.wireguard_network_ipv6, 1).value_or(config.wireguard_network_ipv6.address);
}

net::IpAddress server_ipsec_ipv4(const ServerConfig& config) {
  return host_at(config.strongswan_network, 1).value_or(config.strongswan_network.address);
}
net::IpAddress server_ipsec_ipv6(const ServerConfig& config) {
  return host_at(config.strongswan_network_ipv6, 1)
      .value_or(config.strongswan_network_ipv6.address);
}
std::string ipsec_interface_name(const ServerConfig& config) {
  constexpr size_t kMaxName = 15;  // IFNAMSIZ - 1
  constexpr std::string_view kSuffix = "-ike";
  return config.wireguard_interface.substr(0, kMaxName - kSuffix.size()) + std::string(kSuffix);
}

Result<ReconcileResult> reconcile(ServerState& state, const ServerConfig& config,
                                  crypto::Random& random, int64_t now) {
  ReconcileResult result;
  if (state.private_key.is_zero()) {
    random.fill(state.private_key.span());
    crypto::clamp_private_key(state.private_key);
  }
  state.public_key = crypto::public_from_private(state.private_key);

  std::set<std::string> wanted(config.users.begin(), config.users.end());
  for (auto it = state.users.begin(); it != state.users.end();) {
    if (wanted.count(it->first) == 0) {
      result.removed.push_back(it->first);
      it = state.users.erase(it);
    } else {
      ++it;
    }
  }

  // Addresses in use: the server's (index 1) and every user's. A user keeps its address for
  // life; a new user takes the lowest free index so that numbering stays compact and readable.
  std::set<uint64_t> used4{0, 1}, used6{0, 1};
  for (auto& [name, u] : state.users) {
    if (config.wireguard_network_ipv4.contains(u.ipv4)) {
      used4.insert(index_of(config.wireguard_network_ipv4, u.ipv4));
    }
    if (u.ipv6 && config.wireguard_network_ipv6.contains(*u.ipv6)) {
      used6.insert(index_of(config.wireguard_network_ipv6, *u.ipv6));
    }
  }
  auto next_free = [](std::set<uint64_t>& used, const net::Prefix& pool,
                      bool v4) -> std::optional<net::IpAddress> {
    for (uint64_t i = 2;; ++i) {
      if (used.count(i) != 0) continue;
      if (v4 && is_broadcast_v4(pool, i)) return std::nullopt;
      auto a = host_at(pool, i);
      if (!a) return std::nullopt;
      used.insert(i);
      return a;
    }
  };

  for (const auto& name : config.users) {
    if (state.users.count(name) != 0) continue;
    UserState u;
    crypto::PrivateKey key;
    random.fill(key.span());
    crypto::clamp_private_key(key);
    u.public_key = crypto::public_from_private(key);
    u.private_key = key;
    random.fill(u.preshared_key.span());
    auto a4 = next_free(used4, config.wireguard_network_ipv4, true);
    if (!a4) {
      return make_error("no free address left in wireguard_network_ipv4 {} for user '{}'",
                        config.wireguard_network_ipv4.to_string(), name);
    }
    u.ipv4 = *a4;
    u.created = now;
    state.users.emplace(name, std::move(u));
    result.added.push_back(name);
  }
  // IPv6 addresses are added (and kept) whenever IPv6 is on, also for users created while it
  // was off, so that switching it on later does not renumber anyone.
  if (config.ipv6) {
    for (auto& [name, u] : state.users) {
      if (u.ipv6 && config.wireguard_network_ipv6.contains(*u.ipv6)) continue;
      // Same host number as the IPv4 address when free (10.49.0.7 <-> fd..::7): easier to read.
      const uint64_t same = index_of(config.wireguard_network_ipv4, u.ipv4);
      if (used6.count(same) == 0) {
        if (auto a = host_at(config.wireguard_network_ipv6, same)) {
          used6.insert(same);
          u.ipv6 = *a;
          continue;
        }
      }
      auto a6 = next_free(used6, config.wireguard_network_ipv6, false);
      if (!a6) {
        return make_error("no free address left in wireguard_network_ipv6 {}",
                          config.wireguard_network_ipv6.to_string());
      }
      u.ipv6 = *a6;
    }
  }
  // A pool edited in config.yaml: users outside it are renumbered into it.
  for (auto& [name, u] : state.users) {
    if (!config.wireguard_network_ipv4.contains(u.ipv4)) {
      auto a4 = next_free(used4, config.wireguard_network_ipv4, true);
      if (!a4) return make_error("no free address left in wireguard_network_ipv4");
      u.ipv4 = *a4;
    }
  }
  return result;
}

std::string state_to_json(const ServerState& state) {
  nlohmann::json j;
  j["version"] = kStateSchema;
  j["private_key"] = crypto::key_to_base64(state.private_key.span());
  nlohmann::json users = nlohmann::json::object();
  for (const auto& [name, u] : state.users) {
    nlohmann::json uj;
    if (u.private_key) {
      uj["private_key"] = crypto::key_to_base64(u.private_key->span());
    } else {
      uj["public_key"] = crypto::key_to_base64(u.public_key);
    }
    uj["preshared_key"] = crypto::key_to_base64(u.preshared_key.span());
    uj["ipv4"] = u.ipv4.to_string();
    if (u.ipv6) uj["ipv6"] = u.ipv6->to_string();
    uj["created"] = u.created;
    users[name] = uj;
  }
  j["users"] = users;
  std::string out = j.dump(2) + "\n";
  return out;
}

namespace {
Result<ServerState> parse_state_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("state.json is not valid JSON");
  if (auto v = j.find("version"); v != j.end()) {
    if (!v->is_number_unsigned()) return make_error("state.json: version must be a number");
    if (v->get<uint64_t>() > kStateSchema) {
      return make_error(
          "state.json has version {}, newer than this Waypost understands ({}): it was written by "
          "a newer Waypost; run that version (or restore a backup made before it)",
          v->get<uint64_t>(), kStateSchema);
    }
  }
  ServerState s;
  auto get_string = [](const nlohmann::json& o, const char* key) -> std::optional<std::string> {
    auto it = o.find(key);
    if (it == o.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto pk = get_string(j, "private_key");
  if (!pk) return make_error("state.json: missing private_key");
  auto key = crypto::private_key_from_base64(*pk);
  if (!key) return make_error("state.json: private_key: {}", key.error().message);
  s.private_key = *key;
  s.public_key = crypto::public_from_private(s.private_key);
  auto users = j.find("users");
  if (users != j.end()) {
    if (!users->is_object()) return make_error("state.json: users must be an object");
    for (auto it = users->begin(); it != users->end(); ++it) {
      const std::string& name = it.key();
      const auto& uj = it.value();
      if (!uj.is_object()) return make_error("state.json: user '{}' must be an object", name);
      UserState u;
      auto upk = get_string(uj, "private_key");
      auto pub = get_string(uj, "public_key");
      auto psk = get_string(uj, "preshared_key");
      auto ip4 = get_string(uj, "ipv4");
      if ((!upk && !pub) || !psk || !ip4) {
        return make_error("state.json: user '{}' is incomplete", name);
      }
      auto p = crypto::private_key_from_base64(*psk);
      auto a = net::IpAddress::parse(*ip4);
      if (!p || !a || !a->is_v4()) return make_error("state.json: user '{}' is invalid", name);
      if (upk) {
        auto k = crypto::private_key_from_base64(*upk);
        if (!k) return make_error("state.json: user '{}' is invalid", name);
        u.private_key = *k;
        u.public_key = crypto::public_from_private(*k);
      } else {
        auto k = crypto::public_key_from_base64(*pub);
        if (!k) return make_error("state.json: user '{}' is invalid", name);
        u.public_key = *k;
      }
      u.preshared_key = *p;
      u.ipv4 = *a;
      if (auto ip6 = get_string(uj, "ipv6")) {
        auto a6 = net::IpAddress::parse(*ip6);
        if (!a6 || a6->is_v4()) {
          return make_error("state.json: user '{}' has an invalid ipv6", name);
        }
        u.ipv6 = *a6;
      }
      if (auto c = uj.find("created"); c != uj.end() && c->is_number_integer()) {
        u.created = c->get<int64_t>();
      }
      s.users.emplace(name, std::move(u));
    }
  }
  return s;
}
}  // namespace

Result<ServerState> state_from_json(std::string_view text) {
  return parse_state_json(text).or_kind(ErrorKind::kParse);
}

std::string config_path(const std::string& dir) {
  return dir + "/config.yaml";
}
std::string state_path(const std::string& dir) {
  return dir + "/state.json";
}

Result<ServerConfig> load_config(const std::string& dir) {
  auto text = read_file(config_path(dir));
  if (!text) {
    // Only a missing file means "not set up yet"; a permission or I/O error is said as it is.
    if (!text.error().is(ErrorKind::kNotFound)) return text.take_error();
    return make_error(ErrorKind::kNotFound, "{} (run `waypost server init` first)",
                      text.error().message);
  }
  auto c = parse_server_config(*text);
  if (!c) return c.take_error().context(config_path(dir));
  return c;
}

Result<ServerState> load_state(const std::string& dir) {
  const std::string path = state_path(dir);
  if (::access(path.c_str(), F_OK) != 0) return ServerState{};
  if (auto st = check_private_file(path); !st) return st.take_error();
  auto text = read_file(path);
  if (!text) return text.take_error();
  auto s = state_from_json(*text);
  secure_wipe(text->data(), text->size());
  return s;
}

Status save_state(const std::string& dir, const ServerState& state) {
  std::string text = state_to_json(state);
  auto st = write_file_atomic(state_path(dir), text, 0600);
  secure_wipe(text.data(), text.size());
  return st;
}

Result<DirLock> DirLock::acquire(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string path = dir + "/.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("cannot open {}: {}", path, std::strerror(errno));
  if (::flock(fd, LOCK_EX) != 0) {
    int e = errno;
    ::close(fd);
    return make_error("cannot lock {}: {}", path, std::strerror(e));
  }
  return DirLock(fd);
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace waypost::server
