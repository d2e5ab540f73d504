#include "ike/ipsec_secrets.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <optional>
#include <utility>

#include "common/secret.h"
#include "ike/ipsec_conf.h"
#include "ike/swanctl_values.h"

namespace waypost::ike {

std::string_view to_string(StrokeSecretType type) {
  switch (type) {
    case StrokeSecretType::kPsk:
      return "PSK";
    case StrokeSecretType::kRsa:
    case StrokeSecretType::kRawRsaBlock:
      return "RSA";
    case StrokeSecretType::kEcdsa:
      return "ECDSA";
    case StrokeSecretType::kPkcs8:
      return "PKCS8";
    case StrokeSecretType::kP12:
      return "P12";
    case StrokeSecretType::kEap:
      return "EAP";
    case StrokeSecretType::kXauth:
      return "XAUTH";
    case StrokeSecretType::kNtlm:
      return "NTLM";
    case StrokeSecretType::kPin:
      return "PIN";
  }
  return "?";
}

namespace {

constexpr int kMaxIncludeDepth = 10;
constexpr size_t kMaxFiles = 256;
constexpr size_t kMaxEntries = size_t{1} << 16;

Error error_at(const std::string& file, int line, std::string_view message) {
  return Error{fmt::format("{}:{}: {}", file, line, message), 0, ErrorKind::kParse};
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

struct TypeName {
  std::string_view name;
  StrokeSecretType type;
};
constexpr std::array kTypes{
    TypeName{"PSK", StrokeSecretType::kPsk},     TypeName{"RSA", StrokeSecretType::kRsa},
    TypeName{"ECDSA", StrokeSecretType::kEcdsa}, TypeName{"PKCS8", StrokeSecretType::kPkcs8},
    TypeName{"P12", StrokeSecretType::kP12},     TypeName{"EAP", StrokeSecretType::kEap},
    TypeName{"XAUTH", StrokeSecretType::kXauth}, TypeName{"NTLM", StrokeSecretType::kNtlm},
    TypeName{"PIN", StrokeSecretType::kPin},
};

// Reads words off a line: blanks separate them, "..." and '...' quote them.
class Words {
 public:
  explicit Words(std::string_view text) : text_(text) {}

  bool at_end() {
    skip_blanks();
    return pos_ >= text_.size() || text_[pos_] == '#';
  }
  std::string_view rest() const { return text_.substr(std::min(pos_, text_.size())); }

  // The next word; nullopt at the end, an error for a quote without its end.
  Result<std::optional<std::string>> next(bool& quoted) {
    quoted = false;
    if (at_end()) return std::optional<std::string>();
    const char c = text_[pos_];
    if (c == '"' || c == '\'') {
      const size_t end = text_.find(c, pos_ + 1);
      if (end == std::string_view::npos) {
        return make_error("a {} without its closing {}", c == '"' ? "'\"'" : "\"'\"",
                          c == '"' ? "'\"'" : "\"'\"");
      }
      std::string word(text_.substr(pos_ + 1, end - pos_ - 1));
      pos_ = end + 1;
      quoted = true;
      return std::optional<std::string>(std::move(word));
    }
    const size_t start = pos_;
    while (pos_ < text_.size() && !is_blank(text_[pos_])) ++pos_;
    return std::optional<std::string>(std::string(text_.substr(start, pos_ - start)));
  }

 private:
  void skip_blanks() {
    while (pos_ < text_.size() && is_blank(text_[pos_])) ++pos_;
  }
  std::string_view text_;
  size_t pos_ = 0;
};

// Where the selectors end: the first ':' outside quotes that a blank (or the end of the line)
// follows and that does not end an IPv6 address ("fd00::1" has colons, "fd00:: :" ends one).
std::optional<size_t> find_separator(std::string_view line) {
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
      continue;
    }
    if (c != ':') continue;
    const bool blank_after = i + 1 >= line.size() || is_blank(line[i + 1]);
    if (!blank_after) continue;
    const bool blank_before = i == 0 || is_blank(line[i - 1]);
    if (blank_before) return i;
    // "@west: PSK" (FreeS/WAN wrote the colon right after the last selector): accepted unless
    // the word before holds colons itself, as an IPv6 address does.
    size_t start = i;
    while (start > 0 && !is_blank(line[start - 1])) --start;
    if (line.substr(start, i - start).find(':') == std::string_view::npos) return i;
  }
  return std::nullopt;
}

class SecretsParser {
 public:
  SecretsParser(ConfFiles* files, std::vector<StrokeSecret>& out) : files_(files), out_(out) {}

  Status parse(std::string_view text, const std::string& file, int depth) {
    if (auto st = stroke_check_characters(text, file); !st) return st;
    int line_no = 0;
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t end = std::min(text.find('\n', pos), text.size());
      std::string_view line = text.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
      while (!line.empty() && is_blank(line.back())) line.remove_suffix(1);
      if (line.empty() || line.front() == '#') continue;
      if (line.starts_with("include") && line.size() > 7 && is_blank(line[7])) {
        if (auto st = include(line.substr(8), file, line_no, depth); !st) return st;
        continue;
      }
      if (out_.size() >= kMaxEntries) {
        return error_at(file, line_no, fmt::format("more than {} entries", kMaxEntries));
      }
      StrokeSecret secret;
      secret.where = {file, line_no};
      if (auto st = entry(line, secret); !st) {
        return error_at(file, line_no, st.error().message);
      }
      if (secret.type == StrokeSecretType::kRawRsaBlock &&
          line.find('}') == std::string_view::npos) {
        // The key runs on to the line holding the closing brace.
        bool closed = false;
        while (!closed && pos < text.size()) {
          const size_t e = std::min(text.find('\n', pos), text.size());
          closed = text.substr(pos, e - pos).find('}') != std::string_view::npos;
          pos = e + 1;
          ++line_no;
        }
        if (!closed) return error_at(file, secret.where.line, "'{' of an RSA key without its '}'");
      }
      out_.push_back(std::move(secret));
    }
    return {};
  }

 private:
  Status entry(std::string_view line, StrokeSecret& secret) {
    const auto sep = find_separator(line);
    if (!sep) return make_error("missing ' : ' between the selectors and the secret");
    Words selectors(line.substr(0, *sep));
    while (true) {
      bool quoted = false;
      auto word = selectors.next(quoted);
      if (!word) return word.take_error();
      if (!*word) break;
      secret.selectors.push_back(std::move(**word));
    }
    Words rest(line.substr(*sep + 1));
    bool quoted = false;
    auto type_word = rest.next(quoted);
    if (!type_word) return type_word.take_error();
    if (!*type_word || quoted) {
      return make_error(
          "missing the type of secret after ':' (PSK, RSA, ECDSA, PKCS8, P12, EAP, "
          "XAUTH, NTLM or PIN)");
    }
    std::string upper = **type_word;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return char(std::toupper(c)); });
    auto type = std::find_if(kTypes.begin(), kTypes.end(),
                             [&](const TypeName& t) { return t.name == upper; });
    if (type == kTypes.end()) {
      return make_error(
          "unknown type of secret '{}' (PSK, RSA, ECDSA, PKCS8, P12, EAP, XAUTH, "
          "NTLM or PIN)",
          **type_word);
    }
    secret.type = type->type;
    switch (secret.type) {
      case StrokeSecretType::kRsa:
      case StrokeSecretType::kEcdsa:
      case StrokeSecretType::kPkcs8:
      case StrokeSecretType::kP12:
        return key_file(rest, secret);
      case StrokeSecretType::kPin:
        return {};  // smartcard PINs: left out by the importer, whatever they say
      default:
        return shared(rest, secret);
    }
  }

  static Status key_file(Words& rest, StrokeSecret& secret) {
    if (secret.type == StrokeSecretType::kRsa && rest.rest().find('{') != std::string_view::npos &&
        rest.rest().find_first_not_of(" \t") == rest.rest().find('{')) {
      secret.type = StrokeSecretType::kRawRsaBlock;
      return {};
    }
    bool quoted = false;
    auto file = rest.next(quoted);
    if (!file) return file.take_error();
    if (!*file || (*file)->empty()) {
      return make_error("{} without a file name", to_string(secret.type));
    }
    secret.file = std::move(**file);
    auto pass = rest.next(quoted);
    if (!pass) return pass.take_error();
    if (*pass) {
      if (!quoted && **pass == "%prompt") {
        secret.prompt = true;
      } else {
        secret.value = crypto::SecretBytes(
            std::span(reinterpret_cast<const uint8_t*>((*pass)->data()), (*pass)->size()));
      }
      secure_wipe((*pass)->data(), (*pass)->size());
    }
    return {};
  }

  static Status shared(Words& rest, StrokeSecret& secret) {
    bool quoted = false;
    auto value = rest.next(quoted);
    if (!value) return value.take_error();
    if (!*value) return make_error("{} without a secret", to_string(secret.type));
    std::string& text = **value;
    if (!quoted && text.size() > 2 && text[0] == '0' &&
        (text[1] == 'x' || text[1] == 'X' || text[1] == 's' || text[1] == 'S')) {
      // 0x hex or 0s Base64, as swanctl.conf also reads them.
      text[1] = char(std::tolower(static_cast<unsigned char>(text[1])));
      auto decoded = parse_secret(text);
      if (!decoded || decoded->empty()) {
        const bool hex = text[1] == 'x';
        secure_wipe(text.data(), text.size());
        return make_error("{}: invalid {} secret", to_string(secret.type),
                          hex ? "hex (0x)" : "Base64 (0s)");
      }
      secret.value_is_text = false;
    }
    if (text.empty()) return make_error("{} with an empty secret", to_string(secret.type));
    secret.value =
        crypto::SecretBytes(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    secure_wipe(text.data(), text.size());
    return {};
  }

  Status include(std::string_view pattern_text, const std::string& file, int line, int depth) {
    while (!pattern_text.empty() && is_blank(pattern_text.front())) pattern_text.remove_prefix(1);
    const std::string pattern(pattern_text.substr(0, pattern_text.find_first_of(" \t#")));
    if (pattern.empty()) return error_at(file, line, "include without a file name");
    if (files_ == nullptr) {
      return error_at(file, line, fmt::format("include '{}': includes are disabled", pattern));
    }
    if (depth + 1 > kMaxIncludeDepth) {
      return error_at(
          file, line,
          fmt::format("include '{}': includes nested deeper than {}", pattern, kMaxIncludeDepth));
    }
    auto paths = stroke_include_paths(*files_, file, pattern);
    if (!paths) {
      return error_at(file, line, fmt::format("include '{}': {}", pattern, paths.error().message));
    }
    for (const std::string& path : *paths) {
      if (++files_read_ > kMaxFiles) {
        return error_at(file, line,
                        fmt::format("include '{}': more than {} files", pattern, kMaxFiles));
      }
      auto text = files_->read(path);
      if (!text) {
        return error_at(file, line, fmt::format("include '{}': {}", pattern, text.error().message));
      }
      Status st = parse(*text, path, depth + 1);
      secure_wipe(text->data(), text->size());
      if (!st) return st;
    }
    return {};
  }

  ConfFiles* files_;
  std::vector<StrokeSecret>& out_;
  size_t files_read_ = 0;
};

}  // namespace

Result<std::vector<StrokeSecret>> parse_ipsec_secrets_text(std::string_view text,
                                                           const std::string& name,
                                                           ConfFiles* files) {
  std::vector<StrokeSecret> out;
  SecretsParser parser(files, out);
  if (auto st = parser.parse(text, name, 0); !st) return st.take_error();
  return out;
}

Result<std::vector<StrokeSecret>> parse_ipsec_secrets_file(const std::string& path,
                                                           ConfFiles& files) {
  auto text = files.read(path);
  if (!text) return text.take_error();  // the reader's message names the file
  auto out = parse_ipsec_secrets_text(*text, path, &files);
  secure_wipe(text->data(), text->size());
  return out;
}

}  // namespace waypost::ike
