#include "ike/ipsec_import_values.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "common/encoding.h"

namespace waypost::ike {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(sep, pos);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

struct Alias {
  std::string_view from;
  std::string_view to;
};
// Libreswan's names for what strongSwan's keywords say.
constexpr std::array kLibreswanAliases{
    Alias{"sha2", "sha256"},        Alias{"sha2_256", "sha256"},
    Alias{"sha2_384", "sha384"},    Alias{"sha2_512", "sha512"},
    Alias{"aes_cbc", "aes"},        Alias{"chacha20_poly1305", "chacha20poly1305"},
    Alias{"dh14", "modp2048"},      Alias{"dh15", "modp3072"},
    Alias{"dh16", "modp4096"},      Alias{"dh19", "ecp256"},
    Alias{"dh20", "ecp384"},        Alias{"dh21", "ecp521"},
    Alias{"dh31", "curve25519"},    Alias{"aes_gcm", "aesgcm16"},
    Alias{"aes_gcm_c", "aesgcm16"}, Alias{"aes_gcm16", "aesgcm16"},
    Alias{"aes_gcm_b", "aesgcm12"}, Alias{"aes_gcm12", "aesgcm12"},
    Alias{"aes_gcm_a", "aesgcm8"},  Alias{"aes_gcm8", "aesgcm8"},
};

// One Libreswan proposal in strongSwan's words: "aes_gcm256-sha2;dh19" is
// "aes256gcm16-sha256-ecp256", "aes-256-sha1" is "aes256-sha1".
std::string libreswan_to_strongswan(std::string_view proposal) {
  std::string text(proposal);
  std::replace(text.begin(), text.end(), ';', '-');
  std::vector<std::string> words;
  for (std::string& w : split(text, '-')) {
    std::transform(w.begin(), w.end(), w.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    // A key size written apart from its cipher ("aes-256", "aes_gcm-128").
    if (all_digits(w) && !words.empty() && words.back().find("aes") == 0 &&
        !std::any_of(words.back().begin(), words.back().end(),
                     [](char c) { return c >= '0' && c <= '9'; })) {
      words.back() += w;
      continue;
    }
    words.push_back(std::move(w));
  }
  for (std::string& w : words) {
    // "aes_gcm256", "aes_gcm_c256": the key size after the mode.
    std::string size;
    std::string base = w;
    while (!base.empty() && base.back() >= '0' && base.back() <= '9') {
      size.insert(size.begin(), base.back());
      base.pop_back();
    }
    const auto exact = std::find_if(kLibreswanAliases.begin(), kLibreswanAliases.end(),
                                    [&](const Alias& a) { return a.from == w; });
    if (exact != kLibreswanAliases.end()) {
      w = std::string(exact->to);
    } else if (!size.empty()) {
      const auto sized = std::find_if(
          kLibreswanAliases.begin(), kLibreswanAliases.end(),
          [&](const Alias& a) { return a.from == base && a.to.starts_with("aesgcm"); });
      if (sized != kLibreswanAliases.end()) w = "aes" + size + std::string(sized->to.substr(3));
    }
    if (w.starts_with("aesgcm")) w = "aes128" + w.substr(3);  // no size: AES-128
  }
  std::string out;
  for (const std::string& w : words) {
    if (!out.empty()) out.push_back('-');
    out += w;
  }
  return out;
}

struct Protocol {
  std::string_view name;
  int number;
};
constexpr std::array kProtocols{
    Protocol{"tcp", 6},        Protocol{"udp", 17},    Protocol{"icmp", 1},
    Protocol{"ipv6-icmp", 58}, Protocol{"icmpv6", 58}, Protocol{"gre", 47},
    Protocol{"sctp", 132},     Protocol{"esp", 50},    Protocol{"ah", 51}};
struct Service {
  std::string_view name;
  int port;
};
constexpr std::array kServices{Service{"l2tp", 1701},       Service{"http", 80},
                               Service{"https", 443},       Service{"domain", 53},
                               Service{"ssh", 22},          Service{"isakmp", 500},
                               Service{"ipsec-nat-t", 4500}};

}  // namespace

ProposalImport import_proposals(std::string_view text, ProposalProtocol protocol, bool libreswan) {
  ProposalImport out;
  std::string all = trimmed(text);
  if (!all.empty() && all.back() == '!') {
    out.strict = true;
    all.pop_back();
  }
  for (const std::string& raw : split(all, ',')) {
    std::string p = trimmed(raw);
    if (p.empty()) continue;
    if (p.back() == '!') {  // "a!,b!": each marked, strict all the same
      out.strict = true;
      p.pop_back();
    }
    const std::string spelled = libreswan ? libreswan_to_strongswan(p) : p;
    auto parsed = parse_proposal(spelled, protocol);
    if (parsed) {
      out.kept.push_back(spelled);
    } else {
      out.dropped.push_back(fmt::format("{}: {}", p, parsed.error().message));
    }
  }
  return out;
}

Result<Seconds> parse_stroke_time(std::string_view text) {
  return parse_time(trimmed(text));
}

std::string format_time(Seconds t) {
  const auto s = t.count();
  if (s != 0 && s % 86400 == 0) return fmt::format("{}d", s / 86400);
  if (s != 0 && s % 3600 == 0) return fmt::format("{}h", s / 3600);
  if (s != 0 && s % 60 == 0) return fmt::format("{}m", s / 60);
  return fmt::format("{}s", s);
}

Result<std::string> import_identity(std::string_view text) {
  std::string id = trimmed(text);
  if (id == "0.0.0.0") id = "%any";  // ipsec.secrets(5): the obsolete spelling of %any
  auto parsed = parse_identity(id);
  if (!parsed) return parsed.take_error();
  return id;
}

Result<std::string> import_protoport(std::string_view text) {
  const std::string t = trimmed(text);
  const size_t slash = t.find('/');
  std::string proto = t.substr(0, slash);
  std::string port = slash == std::string::npos ? "" : t.substr(slash + 1);
  std::transform(proto.begin(), proto.end(), proto.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  if (proto.empty() || proto == "%any" || proto == "0") {
    proto = "%any";
  } else if (!all_digits(proto)) {
    auto p = std::find_if(kProtocols.begin(), kProtocols.end(),
                          [&](const Protocol& x) { return x.name == proto; });
    if (p == kProtocols.end()) return make_error("unknown protocol '{}'", proto);
    proto = std::to_string(p->number);
  }
  if (!port.empty() && port != "%any" && !all_digits(port)) {
    auto s = std::find_if(kServices.begin(), kServices.end(),
                          [&](const Service& x) { return x.name == port; });
    if (s == kServices.end()) return make_error("unknown port name '{}' (write the number)", port);
    port = std::to_string(s->port);
  }
  if (proto == "%any" && (port.empty() || port == "%any")) return std::string();  // no limit
  std::string out = "[" + proto + (port.empty() ? "" : "/" + port) + "]";
  // Checked the way swanctl.conf's traffic selectors are.
  if (auto ts = parse_traffic_selector("dynamic" + out); !ts) {
    return make_error("'{}': {}", t, ts.error().message);
  }
  return out;
}

std::string swanctl_secret(const StrokeSecret& secret) {
  const std::string_view text(reinterpret_cast<const char*>(secret.value.data()),
                              secret.value.size());
  if (!secret.value_is_text) return std::string(text);
  const bool plain = !(text.size() >= 2 && text[0] == '0' &&
                       (text[1] == 'x' || text[1] == 's' || text[1] == 'X' || text[1] == 'S')) &&
                     std::all_of(text.begin(), text.end(), [](char c) {
                       const auto u = static_cast<unsigned char>(c);
                       return u >= ' ' && u < 0x7f && c != '"' && c != '\\';
                     });
  if (plain) return std::string(text);
  return "0x" + to_hex(secret.value.span());
}

}  // namespace waypost::ike
