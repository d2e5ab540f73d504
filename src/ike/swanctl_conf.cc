#include "ike/swanctl_conf.h"

#include <algorithm>
#include <array>
#include <set>
#include <span>
#include <string_view>
#include <utility>

#include "common/secret.h"

namespace waypost::ike {

namespace {

using Keys = std::span<const std::string_view>;

// Keys of the sections below; a key in none of the lists is unknown.
constexpr auto kConnectionKeys = std::to_array<std::string_view>(
    {"version",     "local_addrs", "remote_addrs", "local_port", "remote_port",   "proposals",
     "vips",        "pools",       "encap",        "dpd_delay",  "dpd_timeout",   "rekey_time",
     "reauth_time", "over_time",   "rand_time",    "unique",     "fragmentation", "mobike",
     "keyingtries", "send_cert",   "send_certreq", "aggressive", "pull"});
constexpr auto kAuthKeys =
    std::to_array<std::string_view>({"auth", "id", "certs", "cacerts", "revocation", "round"});
constexpr auto kChildKeys = std::to_array<std::string_view>(
    {"local_ts", "remote_ts", "esp_proposals", "start_action", "close_action", "dpd_action",
     "rekey_time", "life_time", "rand_time", "inactivity", "mode", "policies", "reqid", "ipcomp",
     "replay_window", "keep_alive", "keep_alive_interval"});

// strongSwan's keys that Waypost does not implement: refused as "not supported" rather than
// "unknown", so that the user knows the key is right and the feature is missing.
constexpr auto kUnsupportedKeys =
    std::to_array<std::string_view>({"dscp",           "childless",
                                     "ppk_id",         "ppk_required",
                                     "if_id_in",       "if_id_out",
                                     "mediation",      "mediated_by",
                                     "mediation_peer", "pubkeys",
                                     "eap_id",         "aaa_id",
                                     "xauth_id",       "groups",
                                     "cert_policy",    "ca_id",
                                     "ah_proposals",   "rekey_bytes",
                                     "life_bytes",     "rand_bytes",
                                     "rekey_packets",  "life_packets",
                                     "rand_packets",   "updown",
                                     "hostaccess",     "policies_fwd_out",
                                     "priority",       "interface",
                                     "mark_in",        "mark_in_sa",
                                     "mark_out",       "set_mark_in",
                                     "set_mark_out",   "label",
                                     "label_mode",     "tfc_padding",
                                     "hw_offload",     "copy_df",
                                     "copy_ecn",       "copy_dscp",
                                     "sha256_96",      "per_cpu_sas",
                                     "ocsp",           "ocsp_uris",
                                     "cert_uri_base",  "nbns",
                                     "dhcp",           "netmask",
                                     "server",         "subnet",
                                     "split_include",  "split_exclude",
                                     "handle",         "slot",
                                     "module",         "pin"});

bool contains(Keys keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::string join(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : fmt::format("{}.{}", path, name);
}

Error located(const ConfLocation& where, const std::string& path, std::string_view message) {
  return Error{fmt::format("{}: {}: {}", where.to_string(), path, message), 0, ErrorKind::kParse};
}

Error value_error(const ConfValue& v, const std::string& path, const Error& e) {
  return located(v.where, join(path, v.key), e.message);
}

Error unknown_key(const ConfValue& v, const std::string& path) {
  if (contains(kUnsupportedKeys, v.key)) {
    return located(v.where, join(path, v.key), "not supported by Waypost");
  }
  return located(v.where, join(path, v.key), "unknown key");
}

Error unknown_section(const ConfSection& s, const std::string& path, std::string_view expected) {
  return located(s.where, join(path, s.name), fmt::format("unknown section ({})", expected));
}

// An enumerated value: one of `names`, mapped to `values` in order.
template <typename T, size_t N>
Result<T> parse_choice(std::string_view text, const std::array<std::string_view, N>& names,
                       const std::array<T, N>& values) {
  for (size_t i = 0; i < N; ++i) {
    if (text == names[i]) return values[i];
  }
  std::string list;
  for (std::string_view n : names) {
    if (!list.empty()) list += ", ";
    list += n;
  }
  return make_error("unknown value '{}' ({})", text, list);
}

Result<ChildAction> parse_child_action(std::string_view text) {
  return parse_choice<ChildAction, 3>(
      text, {"none", "trap", "start"},
      {ChildAction::kNone, ChildAction::kTrap, ChildAction::kStart});
}

template <typename T, typename Parse>
Result<std::vector<T>> parse_each(std::string_view text, Parse parse) {
  auto items = split_list(text);
  if (!items) return items.take_error();
  std::vector<T> out;
  for (const std::string& item : *items) {
    auto v = parse(item);
    if (!v) return v.take_error();
    out.push_back(std::move(*v));
  }
  return out;
}

Result<std::vector<std::string>> parse_names(std::string_view text) {
  return split_list(text);
}

// "pubkey", "psk", "rsa-2048", "ecdsa-384-sha384", "pubkey-sha256-sha512".
Status parse_auth(std::string_view text, AuthRound& round) {
  if (text.starts_with("eap") || text.starts_with("xauth")) {
    return make_error("'{}': EAP and XAuth are not supported by Waypost (pubkey, rsa, ecdsa, psk)",
                      text);
  }
  if (text.starts_with("ike:")) {
    return make_error("'{}': separate IKE signature constraints (ike:) are not supported", text);
  }
  if (text == "psk") {
    round.auth = AuthClass::kPsk;
    return {};
  }
  round.auth = AuthClass::kPubkey;
  bool saw_rsa = false;
  bool saw_ecdsa = false;
  std::string_view rest = text;
  bool first = true;
  while (true) {
    const size_t dash = rest.find('-');
    const std::string_view word = rest.substr(0, dash);
    if (first && word == "pubkey") {
      // no key type constraint
    } else if (word == "rsa") {
      saw_rsa = true;
    } else if (word == "ecdsa") {
      saw_ecdsa = true;
    } else if (!first && !word.empty() &&
               std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      auto bits = parse_number(word, 16384);
      if (!bits) return make_error("'{}': invalid key size '{}'", text, word);
      if (round.min_key_bits == 0 || *bits < round.min_key_bits) round.min_key_bits = *bits;
    } else if (!first &&
               (word == "sha1" || word == "sha256" || word == "sha384" || word == "sha512")) {
      round.hashes.push_back(word == "sha1"     ? HashAlgorithm::kSha1
                             : word == "sha256" ? HashAlgorithm::kSha256
                             : word == "sha384" ? HashAlgorithm::kSha384
                                                : HashAlgorithm::kSha512);
    } else {
      return make_error(
          "unknown value '{}' (pubkey, rsa, ecdsa or psk, with optional key sizes "
          "and sha256/sha384/sha512)",
          text);
    }
    first = false;
    if (dash == std::string_view::npos) break;
    rest.remove_prefix(dash + 1);
  }
  round.key_type = saw_rsa == saw_ecdsa ? KeyType::kAny : saw_rsa ? KeyType::kRsa : KeyType::kEcdsa;
  return {};
}

// The "file" of a cert<suffix> / cacert<suffix> subsection, appended to `files`.
Status read_cert_section(const ConfSection& s, const std::string& path,
                         std::vector<std::string>& files) {
  const std::string here = join(path, s.name);
  if (!s.sections.empty()) return unknown_section(s.sections.front(), here, "none expected here");
  for (const ConfValue& v : s.values) {
    if (v.key != "file") return unknown_key(v, here);
    if (!v.value.empty()) files.push_back(v.value);
  }
  return {};
}

Result<AuthRound> build_auth_round(const ConfSection& s, const std::string& path, bool remote) {
  const std::string here = join(path, s.name);
  AuthRound round;
  round.section = s.name;
  round.where = s.where;
  for (const ConfValue& v : s.values) {
    if (!contains(kAuthKeys, v.key) || (!remote && (v.key == "cacerts" || v.key == "revocation"))) {
      return unknown_key(v, here);
    }
    if (v.value.empty()) continue;
    Status st;
    if (v.key == "auth") {
      st = parse_auth(v.value, round);
    } else if (v.key == "id") {
      auto id = parse_identity(v.value);
      if (id) round.id = std::move(*id);
      st = id ? Status{} : Status{id.take_error()};
    } else if (v.key == "certs" || v.key == "cacerts") {
      auto names = parse_names(v.value);
      if (names) (v.key == "certs" ? round.certs : round.cacerts) = std::move(*names);
      st = names ? Status{} : Status{names.take_error()};
    } else if (v.key == "revocation") {
      auto r = parse_choice<Revocation, 3>(
          v.value, {"relaxed", "ifuri", "strict"},
          {Revocation::kRelaxed, Revocation::kIfUri, Revocation::kStrict});
      if (r) round.revocation = *r;
      st = r ? Status{} : Status{r.take_error()};
    } else {  // round
      auto n = parse_number(v.value, 1000);
      if (n) round.round = unsigned(*n);
      st = n ? Status{} : Status{n.take_error()};
    }
    if (!st) return value_error(v, here, st.error());
  }
  for (const ConfSection& sub : s.sections) {
    if (sub.name.starts_with("cacert") && remote) {
      if (auto st = read_cert_section(sub, here, round.cacerts); !st) return st.take_error();
    } else if (sub.name.starts_with("cert")) {
      if (auto st = read_cert_section(sub, here, round.certs); !st) return st.take_error();
    } else {
      return unknown_section(sub, here, remote ? "cert<suffix> or cacert<suffix>" : "cert<suffix>");
    }
  }
  return round;
}

Result<Child> build_child(const ConfSection& s, const std::string& path) {
  const std::string here = join(path, s.name);
  Child child;
  child.name = s.name;
  child.where = s.where;
  child.local_ts.push_back(*parse_traffic_selector("dynamic"));
  child.remote_ts.push_back(*parse_traffic_selector("dynamic"));
  child.esp_proposals = default_proposals(ProposalProtocol::kEsp);
  bool life_set = false;
  bool rand_set = false;
  if (!s.sections.empty()) return unknown_section(s.sections.front(), here, "none expected here");
  for (const ConfValue& v : s.values) {
    if (!contains(kChildKeys, v.key)) return unknown_key(v, here);
    if (v.value.empty()) continue;
    Status st;
    if (v.key == "local_ts" || v.key == "remote_ts") {
      auto ts = parse_each<TrafficSelectorSpec>(v.value, parse_traffic_selector);
      if (ts) (v.key == "local_ts" ? child.local_ts : child.remote_ts) = std::move(*ts);
      st = ts ? Status{} : Status{ts.take_error()};
    } else if (v.key == "esp_proposals") {
      auto p = parse_proposals(v.value, ProposalProtocol::kEsp);
      if (p) child.esp_proposals = std::move(*p);
      st = p ? Status{} : Status{p.take_error()};
    } else if (v.key == "start_action" || v.key == "close_action") {
      auto a = parse_child_action(v.value);
      if (a) (v.key == "start_action" ? child.start_action : child.close_action) = *a;
      st = a ? Status{} : Status{a.take_error()};
    } else if (v.key == "dpd_action") {
      auto a =
          parse_choice<DpdAction, 3>(v.value, {"clear", "trap", "restart"},
                                     {DpdAction::kClear, DpdAction::kTrap, DpdAction::kRestart});
      if (a) child.dpd_action = *a;
      st = a ? Status{} : Status{a.take_error()};
    } else if (v.key == "rekey_time" || v.key == "life_time" || v.key == "rand_time" ||
               v.key == "inactivity") {
      auto t = parse_time(v.value);
      if (t && v.key == "rekey_time") {
        child.rekey_time = *t;
      } else if (t && v.key == "life_time") {
        child.life_time = *t;
        life_set = true;
      } else if (t && v.key == "rand_time") {
        child.rand_time = *t;
        rand_set = true;
      } else if (t) {
        child.inactivity = *t;
      }
      st = t ? Status{} : Status{t.take_error()};
    } else if (v.key == "mode") {
      if (v.value == "tunnel") {
        child.mode = ChildMode::kTunnel;
      } else if (v.value == "pass") {
        child.mode = ChildMode::kPass;
      } else if (v.value == "transport" || v.value == "transport_proxy" || v.value == "beet" ||
                 v.value == "drop") {
        st = make_error("mode '{}' is not supported by Waypost (tunnel, pass)", v.value);
      } else {
        st = make_error("unknown value '{}' (tunnel, pass)", v.value);
      }
    } else if (v.key == "keep_alive") {
      auto a = net::IpAddress::parse(v.value);
      if (a) child.keep_alive = *a;
      st = a ? Status{}
             : Status{make_error("'{}' is not an IP address (an address in the "
                                 "remote subnet to ping through the tunnel)",
                                 v.value)};
    } else if (v.key == "keep_alive_interval") {
      auto t = parse_time(v.value);
      if (t && (t->count() < 1 || t->count() > 3600)) {
        st = make_error("'{}' is out of range (1s to 1h)", v.value);
      } else if (t) {
        child.keep_alive_interval = *t;
      } else {
        st = t.take_error();
      }
    } else if (v.key == "policies" || v.key == "ipcomp") {
      auto b = parse_bool(v.value);
      if (b) (v.key == "policies" ? child.policies : child.ipcomp) = *b;
      st = b ? Status{} : Status{b.take_error()};
    } else {  // reqid, replay_window
      auto n = parse_number(v.value, v.key == "reqid" ? 0xffffffffULL : 4096);
      if (n) (v.key == "reqid" ? child.reqid : child.replay_window) = uint32_t(*n);
      st = n ? Status{} : Status{n.take_error()};
    }
    if (!st) return value_error(v, here, st.error());
  }
  // strongSwan's default is 10% more than rekey_time; with rekeying off (0) there is no hard
  // lifetime either, not one of a second.
  if (!life_set && child.rekey_time.count() == 0) child.life_time = Seconds(0);
  if (!life_set && child.rekey_time.count() != 0) {
    child.life_time = child.rekey_time + std::max(Seconds(1), child.rekey_time / 10);
  }
  if (child.rekey_time.count() != 0 && child.life_time <= child.rekey_time) {
    const ConfValue* life = s.value("life_time");
    return located(life != nullptr ? life->where : s.where, join(here, "life_time"),
                   "must be longer than rekey_time (the hard lifetime ends a child SA that "
                   "failed to rekey)");
  }
  if (!rand_set) {
    child.rand_time =
        child.rekey_time.count() == 0 ? Seconds(0) : child.life_time - child.rekey_time;
  }
  // The keep-alive's pings go where the child's traffic goes: an address outside every remote
  // traffic selector would be routed elsewhere and prove nothing about this tunnel.
  if (child.keep_alive) {
    const bool covered = std::any_of(child.remote_ts.begin(), child.remote_ts.end(),
                                     [&](const TrafficSelectorSpec& ts) {
                                       return ts.dynamic || ts.range.contains(*child.keep_alive);
                                     });
    if (!covered) {
      std::string remote;
      for (const TrafficSelectorSpec& ts : child.remote_ts) {
        remote += (remote.empty() ? "" : ", ") + ts.text;
      }
      const ConfValue* ka = s.value("keep_alive");
      return located(ka != nullptr ? ka->where : s.where, join(here, "keep_alive"),
                     fmt::format("{} is outside remote_ts ({}): the pings would not go "
                                 "through this CHILD_SA",
                                 child.keep_alive->to_string(), remote));
    }
  }
  return child;
}

// Sets one key of a connection section. `explicit_rekey` records whether rekey_time was
// written, since reauth_time changes its default.
Status apply_connection_key(Connection& c, const ConfValue& v, bool& explicit_rekey, bool& over_set,
                            bool& rand_set) {
  const std::string& k = v.key;
  const std::string_view text = v.value;
  if (k == "version") {
    auto n = parse_number(text, 2);
    if (!n) return n.take_error();
    if (*n == 1) return make_error("IKEv1 is not supported by Waypost (use 2 or 0)");
    c.version = unsigned(*n);
  } else if (k == "local_addrs" || k == "remote_addrs") {
    auto a = parse_each<AddressSpec>(text, parse_address_spec);
    if (!a) return a.take_error();
    (k == "local_addrs" ? c.local_addrs : c.remote_addrs) = std::move(*a);
    if (k == "remote_addrs") c.remote_addrs_where = v.where;
  } else if (k == "local_port" || k == "remote_port") {
    auto n = parse_number(text, 65535);
    if (!n || *n == 0) return make_error("invalid port '{}' (1-65535)", text);
    (k == "local_port" ? c.local_port : c.remote_port) = uint16_t(*n);
  } else if (k == "proposals") {
    auto p = parse_proposals(text, ProposalProtocol::kIke);
    if (!p) return p.take_error();
    c.proposals = std::move(*p);
  } else if (k == "vips") {
    auto ips = parse_each<net::IpAddress>(
        text, [](std::string_view s) { return net::IpAddress::parse(s); });
    if (!ips) return ips.take_error();
    c.vips = std::move(*ips);
  } else if (k == "pools") {
    auto names = parse_names(text);
    if (!names) return names.take_error();
    c.pools = std::move(*names);
    c.pools_where = v.where;
  } else if (k == "encap" || k == "mobike" || k == "send_certreq") {
    auto b = parse_bool(text);
    if (!b) return b.take_error();
    (k == "encap" ? c.encap : k == "mobike" ? c.mobike : c.send_certreq) = *b;
  } else if (k == "aggressive" || k == "pull") {
    auto b = parse_bool(text);
    if (!b) return b.take_error();
    if (k == "aggressive" && *b) return make_error("Aggressive Mode is IKEv1, not supported");
    if (k == "pull" && !*b) return make_error("push mode is IKEv1, not supported");
  } else if (k == "dpd_delay" || k == "dpd_timeout" || k == "rekey_time" || k == "reauth_time" ||
             k == "over_time" || k == "rand_time") {
    auto t = parse_time(text);
    if (!t) return t.take_error();
    if (k == "dpd_delay") {
      c.dpd_delay = *t;
    } else if (k == "dpd_timeout") {
      c.dpd_timeout = *t;
    } else if (k == "rekey_time") {
      c.rekey_time = *t;
      explicit_rekey = true;
    } else if (k == "reauth_time") {
      c.reauth_time = *t;
    } else if (k == "over_time") {
      c.over_time = *t;
      over_set = true;
    } else {
      c.rand_time = *t;
      rand_set = true;
    }
  } else if (k == "unique") {
    auto u =
        parse_choice<Unique, 4>(text, {"no", "never", "replace", "keep"},
                                {Unique::kNo, Unique::kNever, Unique::kReplace, Unique::kKeep});
    if (!u) return u.take_error();
    c.unique = *u;
  } else if (k == "fragmentation") {
    auto f = parse_choice<Fragmentation, 4>(
        text, {"yes", "accept", "force", "no"},
        {Fragmentation::kYes, Fragmentation::kAccept, Fragmentation::kForce, Fragmentation::kNo});
    if (!f) return f.take_error();
    c.fragmentation = *f;
  } else if (k == "keyingtries") {
    auto n = parse_number(text, 1000000);
    if (!n) return n.take_error();
    c.keyingtries = unsigned(*n);
  } else {  // send_cert
    auto s = parse_choice<SendCert, 3>(text, {"ifasked", "always", "never"},
                                       {SendCert::kIfAsked, SendCert::kAlways, SendCert::kNever});
    if (!s) return s.take_error();
    c.send_cert = *s;
  }
  return {};
}

Result<Connection> build_connection(const ConfSection& s, const std::string& path,
                                    std::vector<std::string>& warnings) {
  const std::string here = join(path, s.name);
  Connection c;
  c.name = s.name;
  c.fingerprint = section_fingerprint(s);
  c.where = s.where;
  c.remote_addrs_where = s.where;
  c.pools_where = s.where;
  c.local_addrs.push_back(*parse_address_spec("%any"));
  c.remote_addrs.push_back(*parse_address_spec("%any"));
  c.proposals = default_proposals(ProposalProtocol::kIke);
  bool explicit_rekey = false;
  bool over_set = false;
  bool rand_set = false;
  for (const ConfValue& v : s.values) {
    if (!contains(kConnectionKeys, v.key)) return unknown_key(v, here);
    if (v.value.empty()) continue;
    if (auto st = apply_connection_key(c, v, explicit_rekey, over_set, rand_set); !st) {
      return value_error(v, here, st.error());
    }
  }
  if (c.reauth_time.count() != 0 && !explicit_rekey) c.rekey_time = Seconds(0);
  if (!over_set) c.over_time = std::max(c.rekey_time, c.reauth_time) / 10;
  if (!rand_set) c.rand_time = c.over_time;

  for (const ConfSection& sub : s.sections) {
    if (sub.name.starts_with("local") || sub.name.starts_with("remote")) {
      const bool remote = sub.name.starts_with("remote");
      auto round = build_auth_round(sub, here, remote);
      if (!round) return round.take_error();
      (remote ? c.remote : c.local).push_back(std::move(*round));
    } else if (sub.name == "children") {
      if (!sub.values.empty()) return unknown_key(sub.values.front(), join(here, "children"));
      for (const ConfSection& cs : sub.sections) {
        auto child = build_child(cs, join(here, "children"));
        if (!child) return child.take_error();
        if (child->ipcomp) {
          warnings.push_back(fmt::format(
              "{}: {}.ipcomp = yes: Waypost does not compress; it declines IPComp and the peer "
              "continues without it",
              cs.value("ipcomp")->where.to_string(), join(join(here, "children"), cs.name)));
        }
        c.children.push_back(std::move(*child));
      }
    } else {
      return unknown_section(sub, here, "local<suffix>, remote<suffix> or children");
    }
  }
  for (auto* rounds : {&c.local, &c.remote}) {
    if (rounds->empty()) {
      AuthRound round;
      round.section = rounds == &c.local ? "local" : "remote";
      round.where = s.where;
      rounds->push_back(std::move(round));
    }
    std::stable_sort(rounds->begin(), rounds->end(),
                     [](const AuthRound& a, const AuthRound& b) { return a.round < b.round; });
  }
  return c;
}

struct SecretPrefix {
  std::string_view prefix;
  SecretKind kind;
};
constexpr std::array kSecretPrefixes{
    SecretPrefix{"ike", SecretKind::kIke},     SecretPrefix{"private", SecretKind::kPrivate},
    SecretPrefix{"rsa", SecretKind::kRsa},     SecretPrefix{"ecdsa", SecretKind::kEcdsa},
    SecretPrefix{"pkcs8", SecretKind::kPkcs8}, SecretPrefix{"pkcs12", SecretKind::kPkcs12},
};

Result<Secret> build_secret(const ConfSection& s, const std::string& path) {
  const std::string here = join(path, s.name);
  Secret secret;
  secret.name = s.name;
  secret.where = s.where;
  auto prefix = std::find_if(kSecretPrefixes.begin(), kSecretPrefixes.end(),
                             [&](const SecretPrefix& p) { return s.name.starts_with(p.prefix); });
  if (prefix == kSecretPrefixes.end()) {
    for (std::string_view unsupported : {"eap", "xauth", "ntlm", "token"}) {
      if (s.name.starts_with(unsupported)) {
        return located(s.where, here, "secrets of this type are not supported by Waypost");
      }
    }
    return unknown_section(s, path, "ike<suffix>, private<suffix>, rsa, ecdsa, pkcs8, pkcs12");
  }
  secret.kind = prefix->kind;
  if (!s.sections.empty()) return unknown_section(s.sections.front(), here, "none expected here");
  bool has_secret = false;
  for (const ConfValue& v : s.values) {
    const bool ike = secret.kind == SecretKind::kIke;
    if (v.key == "secret") {
      if (v.value.empty() && !ike) continue;  // a key file without passphrase
      auto bytes = parse_secret(v.value);
      if (!bytes) return value_error(v, here, bytes.error());
      secret.secret = std::move(*bytes);
      has_secret = !secret.secret.empty();
    } else if (ike && v.key.starts_with("id")) {
      if (v.value.empty()) continue;
      auto id = parse_identity(v.value);
      if (!id) return value_error(v, here, id.error());
      secret.ids.push_back(std::move(*id));
    } else if (!ike && v.key == "file") {
      secret.file = v.value;
    } else {
      return unknown_key(v, here);
    }
  }
  if (secret.kind == SecretKind::kIke && !has_secret) {
    return located(s.where, join(here, "secret"), "missing (an IKE secret needs secret = ...)");
  }
  if (secret.kind != SecretKind::kIke && secret.file.empty()) {
    return located(s.where, join(here, "file"), "missing (the key file this passphrase opens)");
  }
  return secret;
}

Result<Pool> build_pool(const ConfSection& s, const std::string& path) {
  const std::string here = join(path, s.name);
  Pool pool;
  pool.name = s.name;
  pool.where = s.where;
  bool has_addrs = false;
  if (!s.sections.empty()) return unknown_section(s.sections.front(), here, "none expected here");
  for (const ConfValue& v : s.values) {
    if (v.key == "addrs") {
      auto r = parse_address_range(v.value);
      if (!r) return value_error(v, here, r.error());
      pool.addrs = *r;
      has_addrs = true;
    } else if (v.key == "dns") {
      auto ips = parse_each<net::IpAddress>(
          v.value, [](std::string_view t) { return net::IpAddress::parse(t); });
      if (!ips) return value_error(v, here, ips.error());
      pool.dns = std::move(*ips);
    } else {
      return unknown_key(v, here);
    }
  }
  if (!has_addrs) return located(s.where, join(here, "addrs"), "missing (a subnet or a range)");
  return pool;
}

Result<Authority> build_authority(const ConfSection& s, const std::string& path) {
  const std::string here = join(path, s.name);
  Authority a;
  a.name = s.name;
  a.where = s.where;
  if (!s.sections.empty()) return unknown_section(s.sections.front(), here, "none expected here");
  for (const ConfValue& v : s.values) {
    if (v.key == "cacert") {
      a.cacert = v.value;
    } else if (v.key == "crl_uris") {
      auto uris = parse_names(v.value);
      if (!uris) return value_error(v, here, uris.error());
      a.crl_uris = std::move(*uris);
    } else {
      return unknown_key(v, here);
    }
  }
  if (a.cacert.empty()) return located(s.where, join(here, "cacert"), "missing");
  return a;
}

// The first names of every section reference: top-level sections used as templates.
void collect_reference_roots(const ConfSection& s, std::set<std::string>& roots) {
  for (const std::string& r : s.references) roots.insert(r.substr(0, r.find('.')));
  for (const ConfSection& sub : s.sections) collect_reference_roots(sub, roots);
}

int identity_score(const Secret& secret, const Identity& local, const Identity& remote) {
  if (secret.ids.empty()) return 1;
  int score = 0;
  for (const Identity* side : {&local, &remote}) {
    int best = 0;
    for (const Identity& id : secret.ids) {
      if (id.any || side->any) {
        best = std::max(best, 1);  // %any, or an identity only known at run time
      } else if (id.matches(*side)) {
        best = 2;
      }
    }
    score += best;
  }
  return score;
}

Status cross_check(const IpsecConfig& config) {
  for (const Connection& c : config.connections) {
    const std::string path = join("connections", c.name);
    for (const std::string& name : c.pools) {
      if (config.pool(name) == nullptr) {
        return located(c.pools_where, join(path, "pools"),
                       fmt::format("pool '{}' is not defined in the pools section", name));
      }
    }
    for (const Child& child : c.children) {
      if (child.start_action == ChildAction::kNone || child.mode == ChildMode::kPass) continue;
      const bool can_initiate = std::any_of(c.remote_addrs.begin(), c.remote_addrs.end(),
                                            [](const AddressSpec& a) { return a.is_specific(); });
      if (!can_initiate) {
        return located(
            c.remote_addrs_where, join(path, "remote_addrs"),
            fmt::format("child '{}' initiates (start_action = {}) but remote_addrs "
                        "has no address or host name to send to",
                        child.name, child.start_action == ChildAction::kStart ? "start" : "trap"));
      }
    }
    const auto psk = [](const AuthRound& r) { return r.auth == AuthClass::kPsk; };
    auto local = std::find_if(c.local.begin(), c.local.end(), psk);
    auto remote = std::find_if(c.remote.begin(), c.remote.end(), psk);
    if (local == c.local.end() && remote == c.remote.end()) continue;
    const Identity local_id = local != c.local.end() ? local->id : c.local.front().id;
    const Identity remote_id = remote != c.remote.end() ? remote->id : c.remote.front().id;
    if (find_ike_secret(config, local_id, remote_id) == nullptr) {
      const AuthRound& round = local != c.local.end() ? *local : *remote;
      return located(round.where, join(path, round.section) + ".auth",
                     fmt::format("psk, but no secrets {{ ike... {{ }} }} section matches the "
                                 "identities '{}' and '{}'",
                                 local_id.any ? "%any" : local_id.text,
                                 remote_id.any ? "%any" : remote_id.text));
    }
  }
  return {};
}

// The tree holds secrets as text; wipe them before it is freed.
void wipe_secrets(ConfSection& root) {
  ConfSection* secrets = root.section("secrets");
  if (secrets == nullptr) return;
  for (ConfSection& s : secrets->sections) {
    for (ConfValue& v : s.values) {
      if (!v.value.empty()) secure_wipe(v.value.data(), v.value.size());
    }
  }
}

}  // namespace

const Pool* IpsecConfig::pool(std::string_view name) const {
  for (const Pool& p : pools) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const Secret* find_ike_secret(const IpsecConfig& config, const Identity& local,
                              const Identity& remote) {
  const Secret* best = nullptr;
  int best_score = 0;
  for (const Secret& s : config.secrets) {
    if (s.kind != SecretKind::kIke) continue;
    const int score = identity_score(s, local, remote);
    if (score > best_score) {
      best = &s;
      best_score = score;
    }
  }
  return best;
}

namespace {
void append_fingerprint(const ConfSection& s, std::string& out) {
  out += s.name;
  out += '{';
  for (const ConfValue& v : s.values) {
    out += v.key;
    out += '=';
    out += std::to_string(v.value.size());  // length-prefixed: no value can fake a boundary
    out += ':';
    out += v.value;
    out += ';';
  }
  for (const ConfSection& sub : s.sections) append_fingerprint(sub, out);
  out += '}';
}
}  // namespace

std::string section_fingerprint(const ConfSection& s) {
  std::string out;
  append_fingerprint(s, out);
  return out;
}

Result<IpsecConfig> build_ipsec_config(const ConfSection& root) {
  IpsecConfig config;
  std::set<std::string> templates;
  collect_reference_roots(root, templates);
  if (!root.values.empty()) return unknown_key(root.values.front(), "");
  for (const ConfSection& top : root.sections) {
    if (top.name == "connections") {
      if (!top.values.empty()) return unknown_key(top.values.front(), "connections");
      for (const ConfSection& s : top.sections) {
        auto c = build_connection(s, "connections", config.warnings);
        if (!c) return c.take_error();
        config.connections.push_back(std::move(*c));
      }
    } else if (top.name == "secrets") {
      if (!top.values.empty()) return unknown_key(top.values.front(), "secrets");
      for (const ConfSection& s : top.sections) {
        auto secret = build_secret(s, "secrets");
        if (!secret) return secret.take_error();
        config.secrets.push_back(std::move(*secret));
      }
    } else if (top.name == "pools") {
      if (!top.values.empty()) return unknown_key(top.values.front(), "pools");
      for (const ConfSection& s : top.sections) {
        auto pool = build_pool(s, "pools");
        if (!pool) return pool.take_error();
        pool->fingerprint = section_fingerprint(s);
        config.pools.push_back(std::move(*pool));
      }
    } else if (top.name == "authorities") {
      if (!top.values.empty()) return unknown_key(top.values.front(), "authorities");
      for (const ConfSection& s : top.sections) {
        auto a = build_authority(s, "authorities");
        if (!a) return a.take_error();
        config.authorities.push_back(std::move(*a));
      }
    } else if (templates.count(top.name) == 0) {
      // Sections that others reference are templates (pfSense's con-mobile-defaults); their
      // settings are checked where they are used.
      return unknown_section(top, "", "connections, secrets, pools or authorities");
    }
  }
  if (auto st = cross_check(config); !st) return st.take_error();
  return config;
}

Result<IpsecConfig> parse_swanctl_text(std::string_view text, const std::string& name,
                                       ConfFiles* files) {
  auto tree = parse_conf_text(text, name, files);
  if (!tree) return tree.take_error();
  auto config = build_ipsec_config(*tree);
  wipe_secrets(*tree);
  return config;
}

Result<IpsecConfig> parse_swanctl_file(const std::string& path, ConfFiles& files) {
  auto text = files.read(path);
  if (!text) return text.take_error().context(path);
  auto config = parse_swanctl_text(*text, path, &files);
  secure_wipe(text->data(), text->size());
  return config;
}

}  // namespace waypost::ike
