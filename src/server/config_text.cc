#include "server/config_text.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <set>

namespace waypost::server::text {

namespace {
// Values quoted in error messages are cut here so that one pasted blob does not flood the
// terminal.
constexpr size_t kMaxQuoted = 80;
}  // namespace

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_ifname_char(char c) {
  return is_ascii_alnum(c) || c == '_' || c == '=' || c == '+' || c == '.' || c == '-';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = char(c - 'A' + 'a');
    }
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string quoted(std::string_view s) {
  if (s.size() > kMaxQuoted) {
    return fmt::format("'{}...'", s.substr(0, kMaxQuoted));
  }
  return fmt::format("'{}'", s);
}

namespace {
bool is_yaml_special_word(std::string_view s) {
  static const std::set<std::string> kWords = {"null", "~",  "true", "false", "yes",
                                               "no",   "on", "off",  "y",     "n"};
  return kWords.count(lower(s)) != 0;
}
}  // namespace

// A YAML scalar that reads back as exactly `s`: plain when that is unambiguous, else
// double-quoted with escapes.
std::string yaml_scalar(std::string_view s) {
  bool plain = !s.empty() && !is_yaml_special_word(s) && (is_ascii_alnum(s[0]) || s[0] == '_') &&
               !(s[0] >= '0' && s[0] <= '9') && std::all_of(s.begin(), s.end(), [](char c) {
                 return is_ascii_alnum(c) || c == '_' || c == '.' || c == '-' || c == '/';
               });
  if (plain) {
    return std::string(s);
  }
  std::string out = "\"";
  for (char c : s) {
    const auto u = uint8_t(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// Numbers and addresses made only of digits and dots read back fine without quotes, but names
// starting with a digit are quoted (as Algo recommends) so that nobody mistakes them for numbers.
std::string yaml_number_like(std::string_view s) {
  const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '.' || c == '/';
  });
  return plain ? std::string(s) : yaml_scalar(s);
}

void render_scalars(std::string& out, std::string_view key,
                    const std::vector<std::string>& values) {
  std::vector<std::string> items;
  items.reserve(values.size());
  for (const auto& v : values) items.push_back(yaml_scalar(v));
  render_list(out, key, items);
}

void render_list(std::string& out, std::string_view key, const std::vector<std::string>& items,
                 std::string_view indent) {
  if (items.empty()) {
    out += fmt::format("{}{}: []\n", indent, key);
    return;
  }
  out += fmt::format("{}{}:\n", indent, key);
  for (const auto& item : items) {
    out += fmt::format("{}  - {}\n", indent, item);
  }
}

std::string yes_no(bool b) {
  return b ? "true" : "false";
}

int line_of(const YAML::Mark& m) {
  return m.line >= 0 ? m.line + 1 : 1;
}

namespace {
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (count_++ == 1) {
      second_ = mark;
    }
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  int count() const { return count_; }
  const YAML::Mark& second() const { return second_; }

 private:
  int count_ = 0;
  YAML::Mark second_ = YAML::Mark::null_mark();
};

// Throws YAML::Exception like the rest of yaml-cpp; callers catch it.
}  // namespace

YAML::Node load_single_document(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
  }
  if (counter.count() > 1) {
    throw YAML::ParserException(counter.second(), "expected one YAML document, found more");
  }
  return YAML::Load(text);
}

}  // namespace waypost::server::text
