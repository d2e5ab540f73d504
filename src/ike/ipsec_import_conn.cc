#include "ike/ipsec_import_conn.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "ike/ipsec_import_values.h"
#include "ike/swanctl_values.h"

namespace waypost::ike {

namespace {

using Strings = std::vector<std::string>;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

// "rsa-2048", "ecdsa-384-sha384", "pubkey-sha256-sha512": a method with key size and signature
// hash constraints, in the words swanctl.conf's auth takes.
bool is_auth_constraint(std::string_view v) {
  const std::vector<std::string> words = [&] {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos <= v.size()) {
      size_t end = v.find('-', pos);
      if (end == std::string_view::npos) end = v.size();
      out.emplace_back(v.substr(pos, end - pos));
      pos = end + 1;
    }
    return out;
  }();
  if (words.size() < 2) return false;
  if (words[0] != "pubkey" && words[0] != "rsa" && words[0] != "ecdsa") return false;
  return std::all_of(words.begin() + 1, words.end(), [](const std::string& w) {
    if (w == "rsa" || w == "ecdsa" || w == "sha1" || w == "sha256" || w == "sha384" ||
        w == "sha512") {
      return true;
    }
    return !w.empty() && w.find_first_not_of("0123456789") == std::string::npos &&
           parse_number(w, 16384).ok();
  });
}

// One file name as swanctl.conf lists them (no commas or blanks, which would split it).
bool is_single_name(std::string_view v) {
  return !v.empty() && v.find_first_of(", \t") == std::string_view::npos;
}

}  // namespace

// A list value's items: split on commas (and, inside Libreswan's {a b} lists, blanks).
std::vector<std::string> list_items(std::string_view value) {
  std::string text(value);
  if (text.size() >= 2 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, text.size() - 2);
    std::replace(text.begin(), text.end(), ' ', ',');
  }
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(pos, end - pos);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(std::move(item));
    pos = end + 1;
  }
  return out;
}

std::string comma_list(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& i : items) {
    if (!out.empty()) out += ", ";
    out += i;
  }
  return out;
}

// --- Settings, comments --------------------------------------------------------------

Settings::Settings(const ResolvedSection& conn) : conn_(conn), read_(conn.settings.size()) {}

const StrokeSetting* Settings::get(std::string_view key) {
  for (size_t i = 0; i < conn_.settings.size(); ++i) {
    if (conn_.settings[i].key == key) {
      read_[i] = true;
      return &conn_.settings[i];
    }
  }
  return nullptr;
}

bool Settings::has(std::string_view key) const {
  return conn_.setting(key) != nullptr;
}

std::vector<const StrokeSetting*> Settings::unread() const {
  std::vector<const StrokeSetting*> out;
  for (size_t i = 0; i < conn_.settings.size(); ++i) {
    if (!read_[i]) out.push_back(&conn_.settings[i]);
  }
  return out;
}

std::string shown(const StrokeSetting& s) {
  const bool quote = s.value.find_first_of(" \t#") != std::string::npos;
  return quote ? fmt::format("{}=\"{}\"", s.key, s.value) : fmt::format("{}={}", s.key, s.value);
}

void not_carried(SwanctlBlock& block, const StrokeSetting& s, std::string_view why) {
  block.comment(fmt::format("not carried over: {} ({}) [{}]", shown(s), why, s.where.to_string()));
}

// --- ConnBuilder: the ends --------------------------------------------------------------------

ConnBuilder::ConnBuilder(const ResolvedSection& conn, ImportContext& ctx)
    : conn_(conn), ctx_(ctx), settings_(conn) {}

std::string ConnBuilder::end_key(bool local, std::string_view suffix) const {
  return std::string(local == local_is_left_ ? "left" : "right") + std::string(suffix);
}

SwanctlBlock& ConnBuilder::child() {
  return out_.block.block("children").block(out_.name);
}

void ConnBuilder::skip(const StrokeSetting& s, std::string_view why) {
  out_.skipped = true;
  out_.why_skipped = fmt::format("{} [{}]: {}", shown(s), s.where.to_string(), why);
}

ConnImport ConnBuilder::build() {
  const StrokeSection& section = *conn_.section;
  std::string name = swanctl_name(section.name);
  const std::string base = name;
  for (int n = 2;
       std::find(ctx_.taken_names.begin(), ctx_.taken_names.end(), name) != ctx_.taken_names.end();
       ++n) {
    name = fmt::format("{}-{}", base, n);
  }
  ctx_.taken_names.push_back(name);
  out_.name = name;
  out_.block = SwanctlBlock(name);
  std::string origin = fmt::format("conn {} [{}]", section.name, section.where.to_string());
  if (!conn_.parents.empty()) {
    std::vector<std::string> parents;
    for (const StrokeSection* p : conn_.parents) {
      parents.push_back(p->name == "%default" ? "%default" : "also=" + p->name);
    }
    origin += ", with " + comma_list(parents);
  }
  out_.block.comment(origin);
  if (name != section.name) {
    out_.block.comment(fmt::format(
        "named {} here: swanctl.conf section names hold letters, digits, '-' and '_'", name));
  }
  if (skip_checks()) return std::move(out_);
  choose_local_end();
  // The sections in the order they are written.
  round(true);
  round(false);
  child();
  version();
  addresses();
  traffic_selectors();
  proposals();
  virtual_ips_and_pools();
  dead_peer_detection();
  lifetimes();
  actions();
  flags();
  authentication(true);
  authentication(false);
  leftovers();
  return std::move(out_);
}

bool ConnBuilder::skip_checks() {
  if (const auto* s = settings_.get("auto"); s != nullptr && s->value == "ignore") {
    skip(*s, "ipsec starter does not load it either");
  } else if (const auto* k = settings_.get("keyexchange"); k != nullptr && k->value == "ikev1") {
    skip(*k, "IKEv1: Waypost speaks IKEv2 only");
  } else if (const auto* v2 = settings_.get("ikev2");
             v2 != nullptr && (v2->value == "no" || v2->value == "never")) {
    skip(*v2, "IKEv1: Waypost speaks IKEv2 only");
  } else if (const auto* t = settings_.get("type"); t != nullptr && t->value != "tunnel") {
    if (t->value == "transport" || t->value == "transport_proxy" || t->value == "beet") {
      skip(*t, "transport mode: Waypost is route-based and carries tunnel mode only");
    } else if (t->value == "passthrough" || t->value == "pass") {
      skip(*t,
           "a bypass policy: Waypost is route-based, so traffic that no CHILD SA routes never "
           "enters a tunnel; for strongSwan write a child with mode = pass and start_action = "
           "trap");
    } else if (t->value == "drop" || t->value == "reject") {
      skip(*t, "a drop policy: not supported by Waypost");
    } else {
      skip(*t, "unknown type (tunnel, transport, passthrough, drop)");
    }
  }
  if (out_.skipped) return true;
  if (const auto* a = settings_.get("authby"); a != nullptr) {
    const std::string v = lower(a->value);
    if (v == "never") {
      skip(*a, "a policy without IKE (a shunt): Waypost is route-based");
    } else if (v.starts_with("xauth")) {
      skip(*a, "XAuth is IKEv1: Waypost speaks IKEv2 only");
    } else if (v == "null") {
      skip(*a, "NULL authentication (RFC 7619) is not supported by Waypost");
    } else if (v == "eap") {
      skip(*a, "EAP is not supported by Waypost");
    }
  }
  for (std::string_view key : {"leftauth", "rightauth"}) {
    const auto* a = settings_.get(key);
    if (!out_.skipped && a != nullptr &&
        (lower(a->value).starts_with("eap") || lower(a->value).starts_with("xauth"))) {
      skip(*a, "EAP and XAuth are not supported by Waypost (pubkey or psk)");
    }
  }
  for (std::string_view key : {"leftauth2", "rightauth2"}) {
    if (const auto* a = settings_.get(key); !out_.skipped && a != nullptr) {
      skip(*a, "a second authentication round (RFC 4739) is not supported by Waypost");
    }
  }
  for (std::string_view key :
       {"leftxauthclient", "rightxauthserver", "leftxauthserver", "rightxauthclient"}) {
    if (const auto* a = settings_.get(key); !out_.skipped && a != nullptr && a->value == "yes") {
      skip(*a, "XAuth is IKEv1: Waypost speaks IKEv2 only");
    }
  }
  for (std::string_view key : {"left", "right"}) {
    const auto* a = settings_.get(key);
    if (!out_.skipped && a != nullptr &&
        (a->value.starts_with("%opportunistic") || a->value == "%group")) {
      skip(*a, "opportunistic encryption is not supported by Waypost");
    }
  }
  return out_.skipped;
}

void ConnBuilder::choose_local_end() {
  if (ctx_.local != LocalEnd::kAuto) {
    local_is_left_ = ctx_.local == LocalEnd::kLeft;
    return;
  }
  const auto on_host = [&](const StrokeSetting* s) {
    if (s == nullptr || ctx_.host_addresses == nullptr) return false;
    for (std::string item : list_items(s->value)) {
      if (item.starts_with("%")) item.erase(0, 1);
      auto ip = net::IpAddress::parse(item);
      if (ip && std::find(ctx_.host_addresses->begin(), ctx_.host_addresses->end(), *ip) !=
                    ctx_.host_addresses->end()) {
        return true;
      }
    }
    return false;
  };
  const auto* right = conn_.setting("right");
  if (!on_host(conn_.setting("left")) && on_host(right)) {
    local_is_left_ = false;
    out_.block.comment(fmt::format(
        "right={} is an address of this host: right is the local end here (as ipsec starter "
        "decides)",
        right->value));
    out_.notes.push_back(
        fmt::format("conn {}: right={} is an address of this host, so right is "
                    "the local end",
                    conn_.section->name, right->value));
  }
}

void ConnBuilder::addresses() {
  for (bool local : {true, false}) {
    const StrokeSetting* s = end(local, "");
    if (s == nullptr) continue;
    std::vector<std::string> kept;
    for (const std::string& item : list_items(s->value)) {
      if (item == "%defaultroute") {
        if (local) {
          out_.block.comment(
              fmt::format("{}: any local address (Waypost uses the one the kernel "
                          "routes toward the peer)",
                          shown(*s)));
        } else {
          not_carried(out_.block, *s, "%defaultroute names this host, not the peer");
        }
        continue;
      }
      std::string text = item;
      if (text.starts_with("%") && text != "%any" && text != "%any4" && text != "%any6") {
        text.erase(0, 1);  // "%vpn.example.org": allow %any if the name does not resolve
        not_carried(out_.block, *s,
                    "the '%' fallback to %any: swanctl.conf resolves the name when it is used");
      }
      auto spec = parse_address_spec(text);
      if (!spec || text.find_first_of(" \t") != std::string::npos) {
        not_carried(out_.block, *s,
                    spec ? fmt::format("'{}' is not an address or a host name", text)
                         : spec.error().message);
        continue;
      }
      if (!local && spec->is_specific()) remote_specific_ = true;
      kept.push_back(text);
    }
    const bool only_any =
        std::all_of(kept.begin(), kept.end(), [](const std::string& k) { return k == "%any"; });
    if (!kept.empty() && !only_any) {
      out_.block.set(local ? "local_addrs" : "remote_addrs", comma_list(kept));
    }
  }
  for (bool local : {true, false}) {
    const StrokeSetting* s = end(local, "ikeport");
    if (s == nullptr) continue;
    auto port = parse_number(s->value, 65535);
    if (!port || *port == 0) {
      not_carried(out_.block, *s, "not a port number");
      continue;
    }
    out_.block.set(local ? "local_port" : "remote_port", std::to_string(*port));
  }
}

void ConnBuilder::traffic_selectors() {
  for (bool local : {true, false}) {
    std::string suffix;
    if (const StrokeSetting* pp = end(local, "protoport")) {
      auto r = import_protoport(pp->value);
      if (r) {
        suffix = *r;
      } else {
        not_carried(child(), *pp, r.error().message);
      }
    }
    const StrokeSetting* s = end(local, "subnet");
    if (s == nullptr && ctx_.libreswan) s = end(local, "subnets");
    std::vector<std::string> selectors;
    if (s != nullptr) {
      for (const std::string& item : list_items(s->value)) {
        if (item.starts_with("vhost:") || item.starts_with("vnet:")) {
          not_carried(child(), *s, "vhost:/vnet: virtual subnets are not in swanctl.conf");
          continue;
        }
        std::string ts = item == "%dynamic" ? "dynamic" : item;
        if (ts.find('[') == std::string::npos) ts += suffix;
        if (auto parsed = parse_traffic_selector(ts); !parsed) {
          not_carried(child(), *s, fmt::format("{}: {}", item, parsed.error().message));
          continue;
        }
        selectors.push_back(ts);
      }
    } else if (!suffix.empty()) {
      selectors.push_back("dynamic" + suffix);
    }
    if (selectors.empty()) continue;
    if (!local) {
      remote_ts_ipv6_only_ = std::all_of(selectors.begin(), selectors.end(), [](const auto& t) {
        auto p = parse_traffic_selector(t);
        return p && !p->dynamic && !p->range.first.is_v4();
      });
    }
    child().set(local ? "local_ts" : "remote_ts", comma_list(selectors));
  }
}

void ConnBuilder::authentication(bool local) {
  SwanctlBlock& r = round(local);
  // leftauth= for this end, else authby= for both; strongSwan's default is pubkey.
  std::string auth = "pubkey";
  if (const StrokeSetting* a = end(local, "auth")) {
    const std::string v = lower(a->value);
    if (v == "psk" || v == "secret") {
      auth = "psk";
    } else if (v == "pubkey" || v == "rsasig" || v == "rsa" || v == "ecdsa" || v == "ecdsasig") {
      auth = "pubkey";
    } else if (is_auth_constraint(v)) {
      auth = v;  // key size and hash constraints, as swanctl.conf writes them
    } else {
      not_carried(r, *a, "unknown method; pubkey is used");
    }
  } else if (const StrokeSetting* by = settings_.get("authby")) {
    std::string v = lower(by->value);
    if (const size_t bar = v.find('|'); bar != std::string::npos) {
      not_carried(r, *by, "one method per end in swanctl.conf: the first is used");
      v.resize(bar);
    }
    if (v == "secret" || v == "psk") {
      auth = "psk";
    } else if (v != "rsasig" && v != "rsa" && v != "pubkey" && v != "ecdsasig" && v != "ecdsa") {
      not_carried(r, *by, "unknown method; pubkey is used");
    }
  }
  r.set("auth", auth);

  if (const StrokeSetting* id = end(local, "id")) {
    if (id->value == "%fromcert") {
      r.comment(
          fmt::format("{}: the certificate's subject, which swanctl.conf uses without an "
                      "id",
                      shown(*id)));
    } else if (id->value.starts_with("%") && id->value != "%any" && id->value != "%any4" &&
               id->value != "%any6") {
      not_carried(r, *id, "no such identity in swanctl.conf");
    } else if (auto v = import_identity(id->value)) {
      r.set("id", *v);
    } else {
      not_carried(r, *id, v.error().message);
    }
  } else if (!local && !settings_.has(end_key(false, "cert"))) {
    // ipsec.conf's rightid defaults to right's address (or name); swanctl.conf's to %any,
    // which would accept any identity the peer can prove.
    const StrokeSetting* addr = conn_.setting(end_key(false, ""));
    std::vector<std::string> items = addr != nullptr ? list_items(addr->value) : Strings{};
    if (items.size() == 1) {
      std::string a = items.front();
      if (a.starts_with("%") && a != "%any" && a != "%any4" && a != "%any6") a.erase(0, 1);
      auto spec = parse_address_spec(a);
      auto peer_id = import_identity(a);
      if (spec && spec->is_specific() && peer_id) {
        r.set("id", *peer_id);
        r.comment(
            fmt::format("{} is not set: ipsec.conf expects the peer's address as its "
                        "identity",
                        end_key(false, "id")));
      }
    }
  }

  if (const StrokeSetting* cert = end(local, "cert")) {
    const std::string& v = cert->value;
    if (v.starts_with("%")) {
      not_carried(r, *cert, "smartcards are not supported by Waypost");
    } else if (!is_single_name(v)) {
      not_carried(r, *cert, "swanctl.conf cannot name a file with commas or blanks in it");
    } else if (ctx_.libreswan && v.find_first_of("./") == std::string::npos) {
      r.set("certs", v + ".pem");
      r.comment(fmt::format(
          "{}: a nickname in Libreswan's NSS database; export the certificate into x509/ beside "
          "this file: certutil -L -d sql:/etc/ipsec.d -n '{}' -a > x509/{}.pem",
          shown(*cert), v, v));
    } else {
      r.set("certs", v);
      if (!v.starts_with("/")) {
        r.comment(
            fmt::format("{}: copy /etc/ipsec.d/certs/{} to x509/{} beside this file "
                        "(swanctl's directory for certificates)",
                        shown(*cert), v, v));
      }
    }
  }
  if (const StrokeSetting* ca = end(local, "ca")) {
    not_carried(r, *ca,
                "swanctl.conf names a CA by its certificate file (remote.cacerts in x509ca/); "
                "Waypost checks against every CA in x509ca/");
  }
  if (const StrokeSetting* send = end(local, "sendcert")) {
    const std::string v = lower(send->value);
    if (!local) {
      not_carried(r, *send, "the peer's own setting");
    } else if (v == "always" || v == "yes") {
      out_.block.set("send_cert", "always");
    } else if (v == "never" || v == "no") {
      out_.block.set("send_cert", "never");
    } else if (v != "ifasked") {
      not_carried(r, *send, "unknown value (always, never, ifasked)");
    }
  }
  for (std::string_view key : {"sigkey", "rsasigkey"}) {
    const StrokeSetting* k = end(local, key);
    if (k == nullptr || k->value == "%cert") continue;
    not_carried(r, *k,
                "raw public keys are not supported by Waypost: authenticate with certificates or "
                "a PSK");
  }
  if (!local && auth != "psk" && !ctx_.revocation.empty()) r.set("revocation", ctx_.revocation);
}

}  // namespace waypost::ike
