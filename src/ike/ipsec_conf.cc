#include "ike/ipsec_conf.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

namespace waypost::ike {

const StrokeSetting* StrokeSection::setting(std::string_view key) const {
  for (const StrokeSetting& s : settings) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

const StrokeSection* IpsecConf::find(StrokeSectionKind kind, std::string_view name) const {
  const auto& list = kind == StrokeSectionKind::kCa ? cas : conns;
  for (const StrokeSection& s : list) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

Result<std::vector<std::string>> stroke_include_paths(ConfFiles& files,
                                                      const std::string& including_file,
                                                      const std::string& pattern) {
  std::string full = pattern;
  if (full.front() != '/') {
    const std::string dir = std::filesystem::path(including_file).parent_path().string();
    if (!dir.empty()) full = dir + "/" + full;
  }
  if (full.find_first_of("*?[") == std::string::npos) return std::vector<std::string>{full};
  return files.glob(full);
}

namespace {

Error error_at(const std::string& file, int line, std::string_view message) {
  return Error{fmt::format("{}:{}: {}", file, line, message), 0, ErrorKind::kParse};
}

}  // namespace

Status stroke_check_characters(std::string_view text, const std::string& file) {
  int line = 1;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      ++line;
    } else if ((u < ' ' && c != '\t' && c != '\r') || u == 0x7f) {
      return error_at(file, line, fmt::format("control character 0x{:02x} in the text", u));
    }
  }
  return {};
}

namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

// One word of a line: unquoted text, a quoted string or '='.
struct Token {
  std::string text;
  bool quoted = false;
  bool eq = false;
  bool space_before = false;  // blanks between it and the previous token
};

// Splits ipsec.conf text into lines of tokens, one logical line at a time (a quoted string may
// run on over an escaped newline).
class Lexer {
 public:
  Lexer(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  bool done() const { return pos_ >= text_.size(); }

  // The tokens of the next line; `indented` says whether it starts with a blank, `line` is the
  // number of its first line.
  Status next(std::vector<Token>& tokens, bool& indented, int& line) {
    tokens.clear();
    line = line_;
    indented = pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t');
    bool space = false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '\n') {
        ++pos_;
        ++line_;
        return {};
      }
      if (is_blank(c)) {
        ++pos_;
        space = true;
        continue;
      }
      if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
        continue;
      }
      Token t;
      t.space_before = space;
      space = false;
      if (c == '=') {
        t.eq = true;
        t.text = "=";
        ++pos_;
      } else if (c == '"') {
        if (auto st = quoted(t); !st) return st;
      } else {
        // A word runs to a blank, '#', '=' or '"'; "@#" starts a hex identity, not a comment.
        const size_t start = pos_;
        if (text_.substr(pos_, 2) == "@#") pos_ += 2;
        while (pos_ < text_.size()) {
          const char d = text_[pos_];
          if (is_blank(d) || d == '\n' || d == '#' || d == '=' || d == '"') break;
          ++pos_;
        }
        t.text = std::string(text_.substr(start, pos_ - start));
      }
      tokens.push_back(std::move(t));
    }
    return {};
  }

 private:
  Status quoted(Token& t) {
    const int start_line = line_;
    t.quoted = true;
    ++pos_;  // the opening quote
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return {};
      if (c == '\n') ++line_;
      if (c != '\\') {
        t.text.push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) break;
      const char e = text_[pos_++];
      if (e == 'n') {
        t.text.push_back('\n');
      } else if (e == 'r') {
        t.text.push_back('\r');
      } else if (e == 't') {
        t.text.push_back('\t');
      } else if (e == '\n') {
        ++line_;  // an escaped newline joins the lines
      } else if (e == '\r' && pos_ < text_.size() && text_[pos_] == '\n') {
        ++pos_;
        ++line_;
      } else {
        t.text.push_back(e);
      }
    }
    return error_at(file_, start_line, "unterminated string (a '\"' without its closing '\"')");
  }

  std::string_view text_;
  const std::string& file_;
  size_t pos_ = 0;
  int line_ = 1;
};

// The words after the first '=' of a setting line, as one value: blanks between words become
// one space, '=' and words written together stay together.
std::string join_value(const std::vector<Token>& tokens, size_t from) {
  std::string out;
  for (size_t i = from; i < tokens.size(); ++i) {
    if (i > from && tokens[i].space_before) out.push_back(' ');
    out += tokens[i].text;
  }
  return out;
}

// What the parse of all files shares.
struct Context {
  ConfFiles* files = nullptr;
  const StrokeLimits* limits = nullptr;
  IpsecConf* conf = nullptr;
  std::vector<std::string> include_stack;  // normalized paths of the files being read
  size_t bytes_read = 0;
  size_t settings = 0;
  // The section settings go to: its kind and its index in conns or cas (setup has none).
  std::optional<std::pair<StrokeSectionKind, size_t>> current;
  // Where each key of a section is in its settings, so that a repeated key is found at once
  // (sections can hold many settings in hostile input).
  // Sections by kind and index: conns and cas grow, so their addresses change.
  std::map<std::pair<StrokeSectionKind, size_t>, std::unordered_map<std::string, size_t>> keys;
};

std::string normalize(const std::string& path) {
  return std::filesystem::path(path).lexically_normal().string();
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& file, Context& ctx)
      : text_(text), lexer_(text, file), file_(file), ctx_(ctx) {}

  Status parse() {
    if (auto st = stroke_check_characters(text_, file_); !st) return st;
    std::vector<Token> tokens;
    bool indented = false;
    int line = 0;
    while (!lexer_.done()) {
      if (auto st = lexer_.next(tokens, indented, line); !st) return st;
      if (tokens.empty()) continue;
      const Token& first = tokens.front();
      // "version 2" (FreeS/WAN's first line, also in old strongSwan files) is skipped, as
      // strongSwan's lexer does.
      if (!first.quoted && !first.eq && first.text == "version") continue;
      if (!first.quoted && !first.eq && first.text == "include" && tokens.size() >= 2 &&
          !tokens[1].eq) {
        if (auto st = include(tokens, line); !st) return st;
        continue;
      }
      Status st = indented ? setting(tokens, line) : header(tokens, line);
      if (!st) return st;
    }
    return {};
  }

 private:
  Status header(const std::vector<Token>& tokens, int line) {
    const Token& first = tokens.front();
    const bool word = !first.quoted && !first.eq;
    if (word && first.text == "config") {
      if (tokens.size() != 2 || tokens[1].quoted || tokens[1].text != "setup") {
        return error_at(file_, line, "expected 'config setup'");
      }
      if (ctx_.conf->setup.where.line == 0) ctx_.conf->setup.where = {file_, line};
      ctx_.current.reset();
      return {};
    }
    if (word && (first.text == "conn" || first.text == "ca")) {
      if (tokens.size() < 2 || tokens[1].eq || tokens[1].text.empty()) {
        return error_at(file_, line, fmt::format("'{}' without a section name", first.text));
      }
      if (tokens.size() > 2) {
        return error_at(file_, line,
                        fmt::format("'{} {}' is followed by '{}' (one name per section; settings "
                                    "go on indented lines below)",
                                    first.text, tokens[1].text, tokens[2].text));
      }
      const StrokeSectionKind kind =
          first.text == "conn" ? StrokeSectionKind::kConn : StrokeSectionKind::kCa;
      auto& list = kind == StrokeSectionKind::kConn ? ctx_.conf->conns : ctx_.conf->cas;
      const std::string& name = tokens[1].text;
      auto it = std::find_if(list.begin(), list.end(),
                             [&](const StrokeSection& s) { return s.name == name; });
      if (it == list.end()) {
        if (ctx_.conf->conns.size() + ctx_.conf->cas.size() >= ctx_.limits->max_sections) {
          return error_at(file_, line,
                          fmt::format("more than {} sections", ctx_.limits->max_sections));
        }
        StrokeSection s;
        s.kind = kind;
        s.name = name;
        s.where = {file_, line};
        list.push_back(std::move(s));
        it = list.end() - 1;
      }
      ctx_.current = std::make_pair(kind, size_t(it - list.begin()));
      return {};
    }
    return error_at(file_, line,
                    fmt::format("unexpected '{}' in the first column (sections start with "
                                "'config setup', 'conn NAME' or 'ca NAME'; settings are indented)",
                                first.text));
  }

  StrokeSection* current() {
    if (!ctx_.current) return &ctx_.conf->setup;
    auto& list =
        ctx_.current->first == StrokeSectionKind::kConn ? ctx_.conf->conns : ctx_.conf->cas;
    return &list[ctx_.current->second];
  }

  Status setting(const std::vector<Token>& tokens, int line) {
    const Token& first = tokens.front();
    if (first.eq) return error_at(file_, line, "a setting without a name before '='");
    if (tokens.size() < 2 || !tokens[1].eq) {
      return error_at(
          file_, line,
          fmt::format("'{}' is not a setting (expected {}=VALUE)", first.text, first.text));
    }
    if (!ctx_.current && ctx_.conf->setup.where.line == 0) {
      return error_at(file_, line,
                      fmt::format("setting '{}' before any section (conn NAME, ca NAME or "
                                  "config setup)",
                                  first.text));
    }
    if (++ctx_.settings > ctx_.limits->max_settings) {
      return error_at(file_, line, fmt::format("more than {} settings", ctx_.limits->max_settings));
    }
    StrokeSetting s{first.text, join_value(tokens, 2), {file_, line}};
    StrokeSection* section = current();
    if (s.key == "also") {
      // strongSwan ignores an empty also= and also=%default: every section inherits %default.
      if (section->kind != StrokeSectionKind::kSetup && !s.value.empty() && s.value != "%default") {
        section->also.push_back(std::move(s));
        return {};
      }
    }
    auto& keys = ctx_.keys[ctx_.current.value_or(std::make_pair(StrokeSectionKind::kSetup, 0))];
    if (auto it = keys.find(s.key); it != keys.end()) {
      section->settings[it->second] = std::move(s);
      return {};
    }
    keys.emplace(s.key, section->settings.size());
    section->settings.push_back(std::move(s));
    return {};
  }

  Status include(const std::vector<Token>& tokens, int line) {
    if (tokens.size() != 2) {
      return error_at(file_, line, "include takes one file name or pattern");
    }
    const std::string& pattern = tokens[1].text;
    if (pattern.empty()) return error_at(file_, line, "include without a file name");
    if (ctx_.files == nullptr) {
      return error_at(file_, line, fmt::format("include '{}': includes are disabled", pattern));
    }
    auto paths = stroke_include_paths(*ctx_.files, file_, pattern);
    if (!paths) {
      return error_at(file_, line, fmt::format("include '{}': {}", pattern, paths.error().message));
    }
    if (int(ctx_.include_stack.size()) > ctx_.limits->max_include_depth) {
      return error_at(file_, line,
                      fmt::format("include '{}': includes nested deeper than {}", pattern,
                                  ctx_.limits->max_include_depth));
    }
    for (const std::string& path : *paths) {
      const std::string key = normalize(path);
      if (std::find(ctx_.include_stack.begin(), ctx_.include_stack.end(), key) !=
          ctx_.include_stack.end()) {
        return error_at(file_, line,
                        fmt::format("include '{}': '{}' includes itself", pattern, path));
      }
      if (ctx_.conf->files.size() >= ctx_.limits->max_files) {
        return error_at(
            file_, line,
            fmt::format("include '{}': more than {} files", pattern, ctx_.limits->max_files));
      }
      auto text = ctx_.files->read(path);
      if (!text) {
        return error_at(file_, line,
                        fmt::format("include '{}': {}", pattern, text.error().message));
      }
      ctx_.bytes_read += text->size();
      if (ctx_.bytes_read > ctx_.limits->max_total_bytes) {
        return error_at(file_, line,
                        fmt::format("include '{}': configuration larger than {} bytes", pattern,
                                    ctx_.limits->max_total_bytes));
      }
      ctx_.conf->files.push_back(path);
      ctx_.include_stack.push_back(key);
      Parser inner(*text, path, ctx_);
      Status st = inner.parse();
      ctx_.include_stack.pop_back();
      if (!st) return st;
    }
    return {};
  }

  std::string_view text_;
  Lexer lexer_;
  const std::string& file_;
  Context& ctx_;
};

}  // namespace

Result<IpsecConf> parse_ipsec_conf_text(std::string_view text, const std::string& name,
                                        ConfFiles* files, const StrokeLimits& limits) {
  IpsecConf conf;
  conf.setup.kind = StrokeSectionKind::kSetup;
  conf.files.push_back(name);
  Context ctx;
  ctx.files = files;
  ctx.limits = &limits;
  ctx.conf = &conf;
  ctx.bytes_read = text.size();
  ctx.include_stack.push_back(normalize(name));
  Parser parser(text, name, ctx);
  if (auto st = parser.parse(); !st) return st.take_error();
  return conf;
}

Result<IpsecConf> parse_ipsec_conf_file(const std::string& path, ConfFiles& files,
                                        const StrokeLimits& limits) {
  auto text = files.read(path);
  if (!text) return text.take_error();  // the reader's message names the file
  return parse_ipsec_conf_text(*text, path, &files, limits);
}

}  // namespace waypost::ike
