#include "doctor/debug_report.h"

#include <algorithm>
#include <cctype>

#include "net/ip.h"

namespace waypost::doctor {

namespace {

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '@' ||
         c == '-';
}

bool base64_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/';
}

// Private, loopback, link-local, CGNAT, unspecified and broadcast IPv4 stay; the rest is public.
bool keep_v4(const net::IpAddress& a) {
  const uint8_t b0 = a.bytes[0], b1 = a.bytes[1];
  return b0 == 10 || b0 == 127 || b0 == 0 || b0 == 255 || (b0 == 172 && (b1 & 0xf0) == 16) ||
         (b0 == 192 && b1 == 168) || (b0 == 169 && b1 == 254) || (b0 == 100 && (b1 & 0xc0) == 64);
}

bool keep_v6(const net::IpAddress& a) {
  const uint8_t b0 = a.bytes[0], b1 = a.bytes[1];
  const bool zero_prefix =
      std::all_of(a.bytes.begin(), a.bytes.begin() + 15, [](uint8_t b) { return b == 0; });
  return (b0 & 0xfe) == 0xfc || (b0 == 0xfe && (b1 & 0xc0) == 0x80) || zero_prefix;
}

// Replaces WireGuard keys (44 base64 characters ending in '=') with <key>.
std::string redact_keys(std::string_view in) {
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    if (base64_char(in[i]) && (i == 0 || !base64_char(in[i - 1]))) {
      size_t j = i;
      while (j < in.size() && base64_char(in[j])) ++j;
      if (j - i == 43 && j < in.size() && in[j] == '=') {
        out += "<key>";
        i = j + 1;
        continue;
      }
      out.append(in.substr(i, j - i));
      i = j;
      continue;
    }
    out += in[i++];
  }
  return out;
}

// Replaces public IPv4 and IPv6 addresses (tokens of address characters that parse as one).
std::string redact_addresses(std::string_view in) {
  std::string out;
  size_t i = 0;
  auto addr_char = [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == '.' || c == ':';
  };
  while (i < in.size()) {
    if (!addr_char(in[i]) || (i > 0 && (std::isalnum(static_cast<unsigned char>(in[i - 1])) != 0 ||
                                        in[i - 1] == '_' || in[i - 1] == '-'))) {
      out += in[i++];
      continue;
    }
    size_t j = i;
    while (j < in.size() && addr_char(in[j])) ++j;
    std::string_view token = in.substr(i, j - i);
    // "1.2.3.4:51820" and "[2001:db8::1]:500": try the token, then without a port.
    std::string_view bare = token;
    // A sentence's full stop or a label's colon is not part of the address.
    while (!bare.empty() && (bare.back() == '.' || bare.back() == ':')) bare.remove_suffix(1);
    auto parsed = net::IpAddress::parse(bare);
    if (!parsed && bare.find('.') != std::string_view::npos) {
      const size_t colon = bare.rfind(':');
      if (colon != std::string_view::npos) {
        auto v4 = net::IpAddress::parse(bare.substr(0, colon));
        if (v4 && v4->is_v4()) {
          bare = bare.substr(0, colon);
          parsed = v4;
        }
      }
    }
    const bool is_word_end = j >= in.size() || std::isalnum(static_cast<unsigned char>(in[j])) == 0;
    if (parsed && is_word_end && !(parsed->is_v4() ? keep_v4(*parsed) : keep_v6(*parsed))) {
      out += parsed->is_v4() ? "<ipv4>" : "<ipv6>";
      out.append(token.substr(bare.size()));
    } else {
      out.append(token);
    }
    i = j;
  }
  return out;
}

}  // namespace

Redactor::Redactor(const std::vector<std::string>& users,
                   const std::map<std::string, std::string>& names) {
  for (size_t i = 0; i < users.size(); ++i) {
    if (!users[i].empty()) words_.emplace_back(users[i], "user" + std::to_string(i + 1));
  }
  for (const auto& [word, placeholder] : names) {
    if (!word.empty()) words_.emplace_back(word, placeholder);
  }
  // Longest first, so that "phone.work" is not half-replaced by "phone".
  std::stable_sort(words_.begin(), words_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

std::string Redactor::apply(std::string_view text) const {
  std::string s = redact_addresses(redact_keys(text));
  // PEM blocks (certificates, keys) go whole.
  for (size_t b = s.find("-----BEGIN "); b != std::string::npos; b = s.find("-----BEGIN ", b)) {
    const size_t e = s.find("-----END ", b);
    if (e == std::string::npos) {
      s.replace(b, std::string::npos, "<PEM redacted>");
      break;
    }
    const size_t end_line = s.find("-----", e + 9);
    const size_t stop = end_line == std::string::npos ? s.size() : end_line + 5;
    s.replace(b, stop - b, "<PEM redacted>");
    b += 14;
  }
  for (const auto& [word, placeholder] : words_) {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
      const size_t at = s.find(word, i);
      if (at == std::string::npos) {
        out.append(s, i, std::string::npos);
        break;
      }
      // '@' separates a user from a domain (IKEv2 identities) unless the word has one itself.
      const bool at_splits = word.find('@') == std::string::npos;
      const bool starts = at == 0 || !name_char(s[at - 1]) || (s[at - 1] == '@' && at_splits);
      const size_t end = at + word.size();
      // A name ends where name characters end; "phone." at a sentence's end still counts.
      const bool ends = end >= s.size() || !name_char(s[end]) || (s[end] == '@' && at_splits) ||
                        (s[end] == '.' && (end + 1 >= s.size() || !name_char(s[end + 1])));
      out.append(s, i, at - i);
      out += starts && ends ? placeholder : word;
      i = end;
    }
    s = std::move(out);
  }
  return s;
}

std::string render_report(const std::vector<ReportSection>& sections, const Redactor& redactor,
                          std::string_view header) {
  std::string out(header);
  if (!out.empty() && out.back() != '\n') out += '\n';
  for (const ReportSection& sec : sections) {
    out += "\n== " + sec.title + " ==\n";
    for (const ReportItem& item : sec.items) {
      out += item.ok ? "[OK]  " : "[ERR] ";
      out += item.line;
      out += '\n';
    }
    if (!sec.evidence.empty()) {
      size_t start = 0;
      while (start < sec.evidence.size()) {
        const size_t nl = sec.evidence.find('\n', start);
        const size_t stop = nl == std::string::npos ? sec.evidence.size() : nl;
        out += "      ";
        out.append(sec.evidence, start, stop - start);
        out += '\n';
        start = stop + 1;
      }
    }
  }
  return redactor.apply(out);
}

}  // namespace waypost::doctor
