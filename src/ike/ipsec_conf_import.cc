#include "ike/ipsec_conf_import.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <utility>

#include "common/secret.h"
#include "ike/ipsec_import_conn.h"
#include "ike/ipsec_import_values.h"
#include "ike/swanctl_conf.h"

namespace waypost::ike {

ImportResult::~ImportResult() {
  secure_wipe(text.data(), text.size());
}

namespace {

// Keys only Libreswan, Openswan or FreeS/WAN write, and keys only strongSwan writes: which
// daemon's defaults to read the file with (see StrokeDialect).
constexpr auto kLibreswanKeys = std::to_array<std::string_view>({"ikev2",
                                                                 "phase2",
                                                                 "phase2alg",
                                                                 "salifetime",
                                                                 "encapsulation",
                                                                 "narrowing",
                                                                 "sareftrack",
                                                                 "nat-keepalive",
                                                                 "pfs",
                                                                 "leftrsasigkey",
                                                                 "rightrsasigkey",
                                                                 "leftaddresspool",
                                                                 "rightaddresspool",
                                                                 "modecfgdns",
                                                                 "modecfgdns1",
                                                                 "leftmodecfgclient",
                                                                 "rightmodecfgserver",
                                                                 "protostack",
                                                                 "plutodebug",
                                                                 "klipsdebug",
                                                                 "virtual_private",
                                                                 "nat_traversal",
                                                                 "interfaces",
                                                                 "plutoload",
                                                                 "plutostart",
                                                                 "leftnexthop",
                                                                 "rightnexthop"});
constexpr auto kStrongSwanKeys = std::to_array<std::string_view>(
    {"keyexchange", "charondebug", "leftauth", "rightauth", "leftauth2", "rightauth2", "reauth",
     "margintime", "forceencaps", "closeaction", "leftcertpolicy", "eap_identity", "aaa_identity",
     "leftgroups", "rightgroups", "leftdns", "rightdns", "charonstart", "cachecrls"});

struct DialectChoice {
  bool libreswan = false;
  std::string why;
};

DialectChoice choose_dialect(const IpsecConf& conf, StrokeDialect wanted) {
  if (wanted != StrokeDialect::kAuto) {
    return {wanted == StrokeDialect::kLibreswan, "as asked (--dialect)"};
  }
  const StrokeSetting* libreswan = nullptr;
  const StrokeSetting* strongswan = nullptr;
  const auto scan = [&](const StrokeSection& s) {
    for (const StrokeSetting& x : s.settings) {
      const auto in = [&](const auto& keys) {
        return std::find(keys.begin(), keys.end(), x.key) != keys.end();
      };
      if (libreswan == nullptr && in(kLibreswanKeys)) libreswan = &x;
      if (strongswan == nullptr && in(kStrongSwanKeys)) strongswan = &x;
    }
  };
  scan(conf.setup);
  for (const StrokeSection& s : conf.conns) scan(s);
  if (strongswan != nullptr) {
    return {false, fmt::format("it uses {} [{}]", strongswan->key, strongswan->where.to_string())};
  }
  if (libreswan != nullptr) {
    return {true, fmt::format("it uses {} [{}]", libreswan->key, libreswan->where.to_string())};
  }
  return {false, "nothing in it says otherwise"};
}

// config setup: uniqueids= becomes each connection's unique, strictcrlpolicy= the remote
// rounds' revocation; everything else is the daemon's and is commented.
void import_setup(const StrokeSection& setup, ImportContext& ctx, SwanctlBlock& top) {
  ctx.unique = "replace";  // uniqueids=yes is the default of every ipsec.conf dialect
  for (const StrokeSetting& s : setup.settings) {
    if (s.key == "uniqueids") {
      static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kUnique{
          {{"yes", "replace"},
           {"replace", "replace"},
           {"no", "no"},
           {"never", "never"},
           {"keep", "keep"}}};
      auto it = std::find_if(kUnique.begin(), kUnique.end(),
                             [&](const auto& m) { return m.first == s.value; });
      if (it == kUnique.end()) {
        not_carried(top, s, "unknown value (yes, no, never, replace, keep)");
      } else {
        ctx.unique = std::string(it->second);
      }
    } else if (s.key == "strictcrlpolicy") {
      if (s.value == "yes") {
        ctx.revocation = "strict";
      } else if (s.value == "ifuri") {
        ctx.revocation = "ifuri";
      } else if (s.value != "no") {
        not_carried(top, s, "unknown value (yes, ifuri, no)");
      }
    } else if (s.key.find("debug") != std::string::npos || s.key.starts_with("log") ||
               s.key == "plutostderrlog" || s.key == "audit_log") {
      not_carried(top, s, "config setup: logging is chosen with waypost ipsec up --log-level");
    } else if (s.key == "interfaces" || s.key == "listen") {
      not_carried(top, s, "config setup: Waypost listens on every address");
    } else if (s.key == "nat_traversal" || s.key == "virtual_private" || s.key == "keep_alive" ||
               s.key == "force_keepalive") {
      not_carried(top, s,
                  "config setup: NAT traversal is always on in IKEv2; Waypost sends keepalives "
                  "every 20 s from behind a NAT");
    } else {
      not_carried(top, s, "config setup: a daemon setting with no swanctl.conf equivalent");
    }
  }
  if (setup.setting("uniqueids") == nullptr) {
    top.comment(
        "uniqueids is not set: ipsec.conf's default (yes) is unique = replace on every "
        "connection below");
  }
}

// ca sections as authorities: the CA certificate and its CRL URIs.
Status import_cas(const IpsecConf& conf, SwanctlBlock& authorities, SwanctlBlock& top) {
  for (const StrokeSection& ca : conf.cas) {
    if (ca.name == "%default") continue;
    auto resolved = resolve_section(conf, ca);
    if (!resolved) return resolved.take_error();
    const StrokeSetting* a = resolved->setting("auto");
    if (a != nullptr && a->value == "ignore") {
      top.comment(fmt::format("ca {} [{}] left out: auto=ignore", ca.name, ca.where.to_string()));
      continue;
    }
    const StrokeSetting* cacert = resolved->setting("cacert");
    if (cacert == nullptr) {
      top.comment(
          fmt::format("ca {} [{}] left out: it names no cacert=", ca.name, ca.where.to_string()));
      continue;
    }
    SwanctlBlock& b = authorities.block(swanctl_name(ca.name));
    b.comment(fmt::format("ca {} [{}]", ca.name, ca.where.to_string()));
    b.set("cacert", cacert->value);
    if (!cacert->value.starts_with("/")) {
      b.comment(fmt::format("copy /etc/ipsec.d/cacerts/{} to x509ca/{} beside this file",
                            cacert->value, cacert->value));
    }
    std::vector<std::string> crls;
    for (const StrokeSetting& s : resolved->settings) {
      if (s.key == "cacert" || s.key == "auto") continue;
      if ((s.key == "crluri" || s.key == "crluri1" || s.key == "crluri2") &&
          s.value.find_first_of(", \t") != std::string::npos) {
        not_carried(b, s, "swanctl.conf cannot list a URI with commas or blanks in it");
      } else if (s.key == "crluri" || s.key == "crluri1" || s.key == "crluri2") {
        crls.push_back(s.value);
      } else if (s.key.starts_with("ocspuri")) {
        not_carried(b, s, "OCSP is not supported by Waypost");
      } else {
        not_carried(b, s, "no swanctl.conf equivalent known to the importer");
      }
    }
    if (!crls.empty()) {
      std::string list;
      for (const std::string& c : crls) list += (list.empty() ? "" : ", ") + c;
      b.set("crl_uris", list);
    }
  }
  return {};
}

std::string selectors_text(const StrokeSecret& s) {
  std::string out;
  for (const std::string& id : s.selectors) {
    out += id.find_first_of(" \t") != std::string::npos ? "\"" + id + "\" " : id + " ";
  }
  return out;
}

// ipsec.secrets entries as secrets { ike-N, private-N, pkcs12-N }; what swanctl.conf cannot
// hold is commented without its secret.
void import_secrets(const std::vector<StrokeSecret>& secrets, SwanctlBlock& block,
                    ImportResult& result) {
  int ike = 0;
  int priv = 0;
  int p12 = 0;
  for (const StrokeSecret& s : secrets) {
    const std::string where = s.where.to_string();
    const std::string entry = fmt::format("{}: {}", selectors_text(s), to_string(s.type));
    switch (s.type) {
      case StrokeSecretType::kPsk: {
        std::vector<std::string> ids;
        std::string bad;
        for (const std::string& sel : s.selectors) {
          auto id = import_identity(sel);
          if (!id) {
            bad = id.error().message;
            break;
          }
          ids.push_back(*id);
        }
        if (!bad.empty()) {
          block.comment(fmt::format("not carried over: {} \"...\" ({}) [{}]", entry, bad, where));
          break;
        }
        SwanctlBlock& b = block.block(fmt::format("ike-{}", ++ike));
        b.comment(fmt::format("{} [{}]", entry, where));
        for (size_t i = 0; i < ids.size(); ++i) b.set(fmt::format("id-{}", i + 1), ids[i]);
        b.set("secret", swanctl_secret(s));
        result.has_secrets = true;
        break;
      }
      case StrokeSecretType::kRsa:
      case StrokeSecretType::kEcdsa:
      case StrokeSecretType::kPkcs8:
      case StrokeSecretType::kP12: {
        const bool pkcs12 = s.type == StrokeSecretType::kP12;
        const std::string base = std::filesystem::path(s.file).filename().string();
        if (base.empty() || base == "." || base == "..") {
          block.comment(
              fmt::format("not carried over: {} {} (not a file name) [{}]", entry, s.file, where));
          break;
        }
        SwanctlBlock& b = block.block(pkcs12 ? fmt::format("pkcs12-{}", ++p12)
                                             : fmt::format("private-{}", ++priv));
        b.comment(fmt::format("{} {} [{}]: copy {} to {}/{} beside this file", entry, s.file, where,
                              s.file.starts_with("/") ? s.file : "/etc/ipsec.d/private/" + s.file,
                              pkcs12 ? "pkcs12" : "private", base));
        if (!s.selectors.empty()) {
          b.comment("the selectors are not carried over: swanctl finds a key by its certificate");
        }
        b.set("file", base);
        if (s.prompt) {
          b.comment(
              "not carried over: %prompt (write the passphrase as secret = ...; Waypost "
              "cannot ask for it)");
        } else if (!s.value.empty()) {
          b.set("secret",
                std::string(reinterpret_cast<const char*>(s.value.data()), s.value.size()));
          result.has_secrets = true;
        }
        break;
      }
      case StrokeSecretType::kRawRsaBlock:
        block.comment(fmt::format(
            "not carried over: {} {{ ... }} (a raw RSA key of FreeS/WAN or Libreswan; write it "
            "as a PEM file in private/ and use a certificate) [{}]",
            entry, where));
        break;
      default:
        block.comment(
            fmt::format("not carried over: {} \"...\" ({} secrets are not supported by "
                        "Waypost) [{}]",
                        entry, to_string(s.type), where));
        break;
    }
  }
}

// Conns used by another's also= that have no auto= of their own: templates, as in the
// strongSwan documentation's examples, rather than connections.
std::vector<std::string> templates(const IpsecConf& conf) {
  std::vector<std::string> out;
  for (const StrokeSection& c : conf.conns) {
    for (const StrokeSetting& a : c.also) {
      const StrokeSection* target = conf.find(StrokeSectionKind::kConn, a.value);
      if (target != nullptr && target != &c && target->setting("auto") == nullptr) {
        out.push_back(a.value);
      }
    }
  }
  return out;
}

}  // namespace

Result<ImportResult> import_ipsec_conf(const IpsecConf& conf,
                                       const std::vector<StrokeSecret>* secrets,
                                       const ImportOptions& options) {
  ImportResult result;
  const DialectChoice dialect = choose_dialect(conf, options.dialect);
  ImportContext ctx;
  ctx.libreswan = dialect.libreswan;
  ctx.local = options.local;
  ctx.host_addresses = &options.host_addresses;

  SwanctlBlock top("");
  top.comment(fmt::format("swanctl.conf converted by `waypost ipsec import` from {}{}.",
                          conf.files.front(), secrets != nullptr ? " and its ipsec.secrets" : ""));
  top.comment(
      "It loads in Waypost (waypost ipsec up FILE) and in strongSwan (swanctl --load-all).");
  top.comment(fmt::format("Read with the defaults of {}: {}.",
                          dialect.libreswan ? "Libreswan and FreeS/WAN" : "strongSwan",
                          dialect.why));
  top.comment("\"not carried over\" lines name what this file cannot express, and why.");
  top.comment("");
  import_setup(conf.setup, ctx, top);

  SwanctlBlock connections("connections");
  connections.keep_order();
  const std::vector<std::string> template_names = templates(conf);
  for (const StrokeSection& c : conf.conns) {
    if (c.name == "%default") continue;
    auto resolved = resolve_section(conf, c);
    if (!resolved) return resolved.take_error();
    if (resolved->setting("auto") == nullptr &&
        std::find(template_names.begin(), template_names.end(), c.name) != template_names.end()) {
      connections.comment(fmt::format(
          "conn {} [{}]: a template for also= (it has no auto=), not a connection of its own",
          c.name, c.where.to_string()));
      continue;
    }
    ConnBuilder builder(*resolved, ctx);
    ConnImport conn = builder.build();
    for (std::string& n : conn.notes) result.notes.push_back(std::move(n));
    if (conn.skipped) {
      connections.comment(
          fmt::format("conn {} [{}] left out: {}", c.name, c.where.to_string(), conn.why_skipped));
      result.notes.push_back(fmt::format("conn {} left out: {}", c.name, conn.why_skipped));
      ++result.skipped;
      continue;
    }
    connections.add_block(std::move(conn.block));
    ++result.connections;
  }

  SwanctlBlock authorities("authorities");
  authorities.keep_order();
  if (auto st = import_cas(conf, authorities, top); !st) return st.take_error();
  SwanctlBlock pools("pools");
  ctx.pools.render(pools);
  SwanctlBlock secrets_block("secrets");
  secrets_block.keep_order();
  if (secrets != nullptr) import_secrets(*secrets, secrets_block, result);

  std::string& out = result.text;
  top.render_contents(out, 0);
  out += "\n";
  connections.render(out, 0);
  for (const SwanctlBlock* b : {&pools, &authorities, &secrets_block}) {
    if (b->empty()) continue;
    out += "\n";
    b->render(out, 0);
  }
  auto check = parse_swanctl_text(out, "converted swanctl.conf", nullptr);
  if (!check) result.check = check.take_error();
  return result;
}

}  // namespace waypost::ike
