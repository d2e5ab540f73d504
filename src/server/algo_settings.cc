// Reading Algo VPN's config.cfg and .config.yml (server/import_algo.h).
#include <functional>
#include <map>
#include <utility>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "server/config_text.h"
#include "server/import_algo.h"

namespace waypost::server {

namespace {

using text::line_of;
using text::lower;

// Values Ansible computes ("{{ ... }}") mean nothing outside Ansible: treated as unset.
bool templated(const YAML::Node& n) {
  return n.IsScalar() && n.Scalar().find("{{") != std::string::npos;
}

class Reader {
 public:
  Reader(const std::string& file, std::string key, const YAML::Node& value)
      : file_(file), key_(std::move(key)), value_(value) {}

  Error expected(std::string_view what) const {
    return make_error(ErrorKind::kParse, "{} line {}: key '{}': expected {}", file_,
                      line_of(value_.Mark()), key_, what);
  }
  Result<bool> boolean() const {
    if (value_.IsScalar()) {
      const std::string l = lower(value_.Scalar());
      if (l == "true" || l == "yes" || l == "on" || l == "y") return true;
      if (l == "false" || l == "no" || l == "off" || l == "n") return false;
    }
    return expected("true or false");
  }
  Result<uint32_t> number(uint32_t max) const {
    if (value_.IsScalar() && !value_.Scalar().empty() && value_.Scalar().size() <= 10) {
      uint64_t v = 0;
      for (char c : value_.Scalar()) {
        if (c < '0' || c > '9') return expected(fmt::format("a number up to {}", max));
        v = v * 10 + uint64_t(c - '0');
      }
      if (v <= max) return uint32_t(v);
    }
    return expected(fmt::format("a number up to {}", max));
  }
  Result<net::Prefix> network(bool v4) const {
    if (value_.IsScalar()) {
      auto p = net::Prefix::parse(value_.Scalar());
      if (p && p->address.is_v4() == v4 && value_.Scalar().find('/') != std::string::npos) {
        return *p;
      }
    }
    return expected(v4 ? "an IPv4 network" : "an IPv6 network");
  }
  Result<net::IpAddress> address() const {
    if (value_.IsScalar()) {
      if (auto a = net::IpAddress::parse(value_.Scalar())) return *a;
    }
    return expected("an IP address");
  }
  Result<std::string> string() const {
    if (value_.IsScalar()) return value_.Scalar();
    return expected("a string");
  }
  Result<std::vector<std::string>> strings() const {
    std::vector<std::string> out;
    if (value_.IsNull()) return out;
    if (value_.IsScalar()) {
      // Algo's prompt writes "home,work"; "_null" is its "none".
      if (value_.Scalar() == "_null") return out;
      std::string_view s = value_.Scalar();
      size_t start = 0;
      while (start <= s.size()) {
        size_t comma = std::min(s.find(',', start), s.size());
        auto item = text::trim(s.substr(start, comma - start));
        if (!item.empty()) out.emplace_back(item);
        start = comma + 1;
      }
      return out;
    }
    if (!value_.IsSequence()) return expected("a list");
    for (auto it = value_.begin(); it != value_.end(); ++it) {
      const YAML::Node item = *it;
      if (!item.IsScalar()) return expected("a list of names");
      out.push_back(item.Scalar());
    }
    return out;
  }
  Status dns_servers(AlgoSettings& s) const {
    if (!value_.IsMap()) return expected("a mapping with ipv4 and ipv6 lists");
    for (auto it = value_.begin(); it != value_.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node list = it->second;
      const std::string family = key.IsScalar() ? key.Scalar() : "";
      if (family != "ipv4" && family != "ipv6") continue;
      if (!list.IsSequence()) return expected("lists of addresses");
      for (auto item_it = list.begin(); item_it != list.end(); ++item_it) {
        const YAML::Node item = *item_it;
        auto a = item.IsScalar() ? net::IpAddress::parse(item.Scalar())
                                 : Result<net::IpAddress>(make_error("not a scalar"));
        if (!a || a->is_v4() != (family == "ipv4")) return expected("lists of addresses");
        (family == "ipv4" ? s.dns_servers_ipv4 : s.dns_servers_ipv6).push_back(*a);
      }
    }
    return {};
  }

 private:
  const std::string& file_;
  std::string key_;
  YAML::Node value_;
};

template <typename T, typename F>
Status set(std::optional<T>& out, F&& read) {
  auto v = read();
  if (!v) return v.take_error();
  out = T(*v);
  return {};
}

using Handler = std::function<Status(const Reader&, AlgoSettings&)>;

const std::map<std::string, Handler>& handlers() {
  static const auto* table = new std::map<std::string, Handler>{
      {"IP_subject_alt_name",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.endpoint, [&] { return r.string(); });
       }},
      {"algo_server_name",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.server_name, [&] { return r.string(); });
       }},
      {"users",
       [](const Reader& r, AlgoSettings& s) { return set(s.users, [&] { return r.strings(); }); }},
      {"ipsec_enabled",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.ipsec_enabled, [&] { return r.boolean(); });
       }},
      {"wireguard_enabled",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.wireguard_enabled, [&] { return r.boolean(); });
       }},
      {"wireguard_port",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.wireguard_port, [&] { return r.number(65535); });
       }},
      {"wireguard_PersistentKeepalive",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.wireguard_keepalive, [&] { return r.number(65535); });
       }},
      {"wireguard_network_ipv4",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.wireguard_network_ipv4, [&] { return r.network(true); });
       }},
      {"wireguard_network_ipv6",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.wireguard_network_ipv6, [&] { return r.network(false); });
       }},
      {"strongswan_network",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.strongswan_network, [&] { return r.network(true); });
       }},
      {"strongswan_network_ipv6",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.strongswan_network_ipv6, [&] { return r.network(false); });
       }},
      {"algo_dns_adblocking",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.dns_adblocking, [&] { return r.boolean(); });
       }},
      {"dns_encryption",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.dns_encryption, [&] { return r.boolean(); });
       }},
      {"algo_ondemand_cellular",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.ondemand_cellular, [&] { return r.boolean(); });
       }},
      {"algo_ondemand_wifi",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.ondemand_wifi, [&] { return r.boolean(); });
       }},
      {"algo_ondemand_wifi_exclude",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.ondemand_wifi_exclude, [&] { return r.strings(); });
       }},
      {"BetweenClients_DROP",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.between_clients_drop, [&] { return r.boolean(); });
       }},
      {"block_smb", [](const Reader& r,
                       AlgoSettings& s) { return set(s.block_smb, [&] { return r.boolean(); }); }},
      {"block_netbios",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.block_netbios, [&] { return r.boolean(); });
       }},
      {"reduce_mtu",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.reduce_mtu, [&] { return r.number(500); });
       }},
      {"local_service_ip",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.local_service_ip, [&] { return r.address(); });
       }},
      {"local_service_ipv6",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.local_service_ipv6, [&] { return r.address(); });
       }},
      {"dns_servers", [](const Reader& r, AlgoSettings& s) { return r.dns_servers(s); }},
      {"ca_password",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.ca_password, [&] { return r.string(); });
       }},
      {"p12_password",
       [](const Reader& r, AlgoSettings& s) {
         return set(s.p12_password, [&] { return r.string(); });
       }},
  };
  return *table;
}

template <typename T>
void take(std::optional<T>& into, const std::optional<T>& from) {
  if (from) into = from;
}

}  // namespace

Result<AlgoSettings> parse_algo_settings(std::string_view yaml, const std::string& file) {
  AlgoSettings s;
  try {
    const YAML::Node root = text::load_single_document(std::string(yaml));
    if (root.IsNull()) return s;
    if (!root.IsMap()) {
      return make_error(ErrorKind::kParse, "{}: expected a mapping of Algo settings", file);
    }
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      auto h = handlers().find(it->first.Scalar());
      if (h == handlers().end() || it->second.IsNull() || templated(it->second)) continue;
      Reader reader(file, it->first.Scalar(), it->second);
      if (auto st = h->second(reader, s); !st) return st.take_error();
    }
  } catch (const YAML::Exception& e) {
    return make_error(ErrorKind::kParse, "{} line {}: {}", file, line_of(e.mark), e.msg);
  } catch (const std::exception& e) {
    return make_error(ErrorKind::kParse, "{}: {}", file, e.what());
  }
  return s;
}

void merge_algo_settings(AlgoSettings& into, const AlgoSettings& from) {
  take(into.endpoint, from.endpoint);
  take(into.server_name, from.server_name);
  take(into.users, from.users);
  take(into.ipsec_enabled, from.ipsec_enabled);
  take(into.wireguard_enabled, from.wireguard_enabled);
  take(into.wireguard_port, from.wireguard_port);
  take(into.wireguard_keepalive, from.wireguard_keepalive);
  take(into.wireguard_network_ipv4, from.wireguard_network_ipv4);
  take(into.wireguard_network_ipv6, from.wireguard_network_ipv6);
  take(into.strongswan_network, from.strongswan_network);
  take(into.strongswan_network_ipv6, from.strongswan_network_ipv6);
  take(into.dns_adblocking, from.dns_adblocking);
  take(into.dns_encryption, from.dns_encryption);
  take(into.ondemand_cellular, from.ondemand_cellular);
  take(into.ondemand_wifi, from.ondemand_wifi);
  take(into.ondemand_wifi_exclude, from.ondemand_wifi_exclude);
  take(into.between_clients_drop, from.between_clients_drop);
  take(into.block_smb, from.block_smb);
  take(into.block_netbios, from.block_netbios);
  take(into.reduce_mtu, from.reduce_mtu);
  take(into.local_service_ip, from.local_service_ip);
  take(into.local_service_ipv6, from.local_service_ipv6);
  take(into.ca_password, from.ca_password);
  take(into.p12_password, from.p12_password);
  if (!from.dns_servers_ipv4.empty()) into.dns_servers_ipv4 = from.dns_servers_ipv4;
  if (!from.dns_servers_ipv6.empty()) into.dns_servers_ipv6 = from.dns_servers_ipv6;
}

}  // namespace waypost::server
