#include "ike/conf_syntax.h"

#include <fnmatch.h>
#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <unordered_set>
#include <utility>

#include "common/atomic_file.h"
#include "common/secret.h"

namespace waypost::ike {

std::string ConfLocation::to_string() const {
  return fmt::format("{}:{}", file, line);
}

const ConfValue* ConfSection::value(std::string_view key) const {
  for (const ConfValue& v : values) {
    if (v.key == key) return &v;
  }
  return nullptr;
}

const ConfSection* ConfSection::section(std::string_view wanted) const {
  for (const ConfSection& s : sections) {
    if (s.name == wanted) return &s;
  }
  return nullptr;
}

ConfSection* ConfSection::section(std::string_view wanted) {
  for (ConfSection& s : sections) {
    if (s.name == wanted) return &s;
  }
  return nullptr;
}

namespace {

std::string normalize(const std::string& path) {
  return std::filesystem::path(path).lexically_normal().string();
}

}  // namespace

// --- files ---------------------------------------------------------------------------------

Result<std::string> DiskConfFiles::read(const std::string& path) {
  return read_file(path, size_t{4} << 20);
}

Result<std::vector<std::string>> DiskConfFiles::glob(const std::string& pattern) {
  glob_t g{};
  const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
  std::vector<std::string> out;
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  }
  globfree(&g);
  if (rc != 0 && rc != GLOB_NOMATCH) {
    return make_error(ErrorKind::kIo, "cannot expand '{}'", pattern);
  }
  return out;  // glob(3) sorts unless told not to
}

void MemoryConfFiles::add(const std::string& path, std::string text) {
  files_[normalize(path)] = std::move(text);
}

Result<std::string> MemoryConfFiles::read(const std::string& path) {
  auto it = files_.find(normalize(path));
  if (it == files_.end()) return make_error(ErrorKind::kNotFound, "no such file '{}'", path);
  return it->second;
}

Result<std::vector<std::string>> MemoryConfFiles::glob(const std::string& pattern) {
  std::vector<std::string> out;
  for (const auto& [path, text] : files_) {
    if (fnmatch(normalize(pattern).c_str(), path.c_str(), FNM_PATHNAME) == 0) out.push_back(path);
  }
  return out;
}

namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

// Characters that end a name: the syntax characters strongswan.conf(5) excludes from names.
bool ends_name(char c) {
  return c == '#' || c == '{' || c == '}' || c == '=' || c == '"' || c == ':' || c == ',' ||
         c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool has_wildcard(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

// What the parse of all files shares: the reader, the limits and the include stack.
struct ParseContext {
  ConfFiles* files = nullptr;
  const ConfLimits* limits = nullptr;
  std::vector<std::string> include_stack;  // normalized paths of the files being parsed
  size_t files_read = 0;
  size_t bytes_read = 0;
  size_t items = 0;
};

class Parser {
 public:
  Parser(std::string_view text, std::string file, ParseContext& ctx)
      : text_(text), file_(std::move(file)), ctx_(ctx) {}

  // Parses statements into `section` until the end of the text.
  Status parse_file_body(ConfSection& section) { return parse_body(section, 0, false); }

 private:
  template <typename... Args>
  Error error_at(int line, fmt::format_string<Args...> format, Args&&... args) const {
    return Error{
        fmt::format("{}:{}: {}", file_, line, fmt::format(format, std::forward<Args>(args)...)), 0,
        ErrorKind::kParse};
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  void skip_blanks() {
    while (!at_end() && is_blank(text_[pos_])) ++pos_;
  }
  void skip_comment() {
    while (!at_end() && text_[pos_] != '\n') ++pos_;
  }
  // Blanks, newlines and comments between statements.
  void skip_space() {
    while (!at_end()) {
      const char c = text_[pos_];
      if (is_blank(c)) {
        ++pos_;
      } else if (c == '\n') {
        ++pos_;
        ++line_;
      } else if (c == '#') {
        skip_comment();
      } else {
        break;
      }
    }
  }

  // A section or key name; "::" stands for ':'.
  std::string read_name() {
    std::string name;
    while (!at_end()) {
      const char c = text_[pos_];
      if (c == ':' && pos_ + 1 < text_.size() && text_[pos_ + 1] == ':') {
        name.push_back(':');
        pos_ += 2;
        continue;
      }
      if (ends_name(c)) break;
      name.push_back(c);
      ++pos_;
    }
    return name;
  }

  Status parse_body(ConfSection& section, int depth, bool inside_braces) {
    while (true) {
      skip_space();
      if (at_end()) {
        if (inside_braces) {
          return error_at(section.where.line, "section '{}' is not closed (missing '}}')",
                          section.name);
        }
        return {};
      }
      const char c = peek();
      if (c == '}') {
        if (!inside_braces) return error_at(line_, "'}}' without a section to close");
        ++pos_;
        return {};
      }
      if (ends_name(c)) return error_at(line_, "unexpected '{}'", c);
      const int line = line_;
      if (++ctx_.items > ctx_.limits->max_items) {
        return error_at(line, "more than {} sections and settings", ctx_.limits->max_items);
      }
      std::string name = read_name();
      skip_blanks();
      if (name == "include" && peek() != '=' && peek() != '{' && peek() != ':') {
        if (auto st = parse_include(section, depth, line); !st) return st;
        continue;
      }
      // A section's '{' may follow on a later line.
      skip_space();
      const char next = peek();
      if (next == '=') {
        ++pos_;
        auto value = parse_value(line);
        if (!value) return value.take_error();
        set_value(section, ConfValue{std::move(name), std::move(*value), {file_, line}});
        continue;
      }
      if (next == '{' || next == ':') {
        std::vector<std::string> references;
        if (next == ':') {
          ++pos_;
          auto refs = parse_references(line);
          if (!refs) return refs.take_error();
          references = std::move(*refs);
        }
        ++pos_;  // '{'
        if (depth + 1 > ctx_.limits->max_section_depth) {
          return error_at(line, "sections nested deeper than {}", ctx_.limits->max_section_depth);
        }
        ConfSection* child = section.section(name);
        if (child == nullptr) {
          section.sections.push_back(ConfSection{name, {}, {file_, line}, {}, {}});
          child = &section.sections.back();
        }
        for (std::string& r : references) {
          if (std::find(child->references.begin(), child->references.end(), r) ==
              child->references.end()) {
            child->references.push_back(std::move(r));
          }
        }
        if (auto st = parse_body(*child, depth + 1, true); !st) return st;
        continue;
      }
      if (at_end()) return error_at(line, "'{}' is not followed by '=' or '{{'", name);
      return error_at(line, "expected '=' or '{{' after '{}', found '{}'", name, next);
    }
  }

  static void set_value(ConfSection& section, ConfValue value) {
    for (ConfValue& v : section.values) {
      if (v.key == value.key) {
        v = std::move(value);
        return;
      }
    }
    section.values.push_back(std::move(value));
  }

  // `name : a, b.c {`: the absolute names up to the '{'.
  Result<std::vector<std::string>> parse_references(int line) {
    std::vector<std::string> refs;
    while (true) {
      skip_space();
      std::string ref;
      while (!at_end() && !ends_name(peek())) ref.push_back(text_[pos_++]);
      if (ref.empty() || ref.front() == '.' || ref.back() == '.' ||
          ref.find("..") != std::string::npos) {
        return error_at(line, "expected a section name to reference after ':'");
      }
      refs.push_back(std::move(ref));
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '{') return refs;
      return error_at(line, "expected ',' or '{{' in the list of referenced sections");
    }
  }

  // The body of a double-quoted string (the opening quote already consumed).
  Result<std::string> parse_quoted(int line) {
    std::string out;
    while (true) {
      if (at_end()) return error_at(line, "unterminated string (missing '\"')");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (c == '\r') continue;
      if (c == '\n') {
        ++line_;
        out.push_back('\n');
        continue;
      }
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (at_end()) return error_at(line, "unterminated string (missing '\"')");
      const char e = text_[pos_++];
      switch (e) {
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case '\r':
          if (peek() == '\n') {
            ++pos_;
            ++line_;
          }
          break;
        case '\n':  // a backslash at the end of a line joins the next one
          ++line_;
          break;
        default:
          out.push_back(e);
      }
    }
  }

  // After '=': words and quoted strings up to the end of the line, a '#' or a '}'.
  Result<std::string> parse_value(int line) {
    std::string value;
    bool first = true;
    while (true) {
      skip_blanks();
      const char c = peek();
      if (at_end() || c == '\n' || c == '#' || c == '}') return value;
      std::string part;
      if (c == '"') {
        ++pos_;
        auto quoted = parse_quoted(line);
        if (!quoted) return quoted.take_error();
        part = std::move(*quoted);
      } else {
        while (!at_end()) {
          const char d = text_[pos_];
          if (d == '#' || d == '}' || d == '"' || d == '\n' || is_blank(d)) break;
          part.push_back(d);
          ++pos_;
        }
      }
      if (!first) value.push_back(' ');
      value += part;
      first = false;
    }
  }

  // `include PATTERN`: the pattern ends at a blank, '#', '}' or the end of the line; a
  // backslash escapes those, and double quotes keep them.
  Result<std::string> parse_include_pattern(int line) {
    std::string pattern;
    while (!at_end()) {
      const char c = text_[pos_];
      if (c == '#' || c == '}' || c == '\n' || is_blank(c)) break;
      if (c == '"') {
        ++pos_;
        auto quoted = parse_quoted(line);
        if (!quoted) return quoted.take_error();
        pattern += *quoted;
        continue;
      }
      if (c == '\\' && pos_ + 1 < text_.size()) {
        const char e = text_[pos_ + 1];
        if (e == '"' || e == '#' || e == '}' || e == ' ') {
          pattern.push_back(e);
          pos_ += 2;
          continue;
        }
      }
      pattern.push_back(c);
      ++pos_;
    }
    skip_blanks();
    if (!at_end() && peek() != '\n' && peek() != '#' && peek() != '}') {
      return error_at(line, "include takes one file name or pattern (quote names with spaces)");
    }
    if (pattern.empty()) return error_at(line, "include without a file name");
    return pattern;
  }

  Status parse_include(ConfSection& section, int depth, int line) {
    auto pattern = parse_include_pattern(line);
    if (!pattern) return pattern.take_error();
    if (ctx_.files == nullptr) {
      return error_at(line, "include '{}': includes are disabled", *pattern);
    }
    std::string full = *pattern;
    if (full.front() != '/') {
      const std::string dir = std::filesystem::path(file_).parent_path().string();
      if (!dir.empty()) full = dir + "/" + full;
    }
    std::vector<std::string> paths;
    if (has_wildcard(full)) {
      auto matches = ctx_.files->glob(full);
      if (!matches) return error_at(line, "include '{}': {}", *pattern, matches.error().message);
      paths = std::move(*matches);  // no match is fine, as with a shell glob in strongSwan
    } else {
      paths.push_back(full);
    }
    if (static_cast<int>(ctx_.include_stack.size()) > ctx_.limits->max_include_depth) {
      return error_at(line, "include '{}': includes nested deeper than {}", *pattern,
                      ctx_.limits->max_include_depth);
    }
    for (const std::string& path : paths) {
      const std::string key = normalize(path);
      if (std::find(ctx_.include_stack.begin(), ctx_.include_stack.end(), key) !=
          ctx_.include_stack.end()) {
        return error_at(line, "include '{}': '{}' includes itself", *pattern, path);
      }
      if (++ctx_.files_read > ctx_.limits->max_files) {
        return error_at(line, "include '{}': more than {} files", *pattern, ctx_.limits->max_files);
      }
      auto text = ctx_.files->read(path);
      if (!text) return error_at(line, "include '{}': {}", *pattern, text.error().message);
      ctx_.bytes_read += text->size();
      if (ctx_.bytes_read > ctx_.limits->max_total_bytes) {
        return error_at(line, "include '{}': configuration larger than {} bytes", *pattern,
                        ctx_.limits->max_total_bytes);
      }
      ctx_.include_stack.push_back(key);
      Parser inner(*text, path, ctx_);
      // Settings of an included file go into the section the include statement is in.
      Status st = inner.parse_body(section, depth, false);
      ctx_.include_stack.pop_back();
      secure_wipe(text->data(), text->size());  // the file may hold secrets
      if (!st) return st;
    }
    return {};
  }

  std::string_view text_;
  std::string file_;
  ParseContext& ctx_;
  size_t pos_ = 0;
  int line_ = 1;
};

// --- references ----------------------------------------------------------------------------

// Sections whose references lead through this many others are refused, which bounds the
// recursion of resolve() whatever the input.
constexpr size_t kMaxReferenceChain = 256;

class ReferenceResolver {
 public:
  ReferenceResolver(ConfSection& root, const ConfLimits& limits) : root_(root), limits_(limits) {}

  Status resolve_all() { return resolve(root_); }

 private:
  ConfSection* find(std::string_view dotted) {
    ConfSection* s = &root_;
    while (!dotted.empty()) {
      const size_t dot = dotted.find('.');
      s = s->section(dotted.substr(0, dot));
      if (s == nullptr) return nullptr;
      dotted = dot == std::string_view::npos ? std::string_view{} : dotted.substr(dot + 1);
    }
    return s;
  }

  bool is_resolved(const ConfSection* s) const { return done_.count(s) != 0; }

  // Children first, then this section's references, so that what gets copied is complete.
  Status resolve(ConfSection& s) {
    if (is_resolved(&s)) return {};
    visiting_.push_back(&s);
    // Resolving a child only ever appends to that child's own lists, never to s.sections.
    for (ConfSection& child : s.sections) {
      if (auto st = resolve(child); !st) return st;
    }
    for (const std::string& ref : s.references) {
      ConfSection* target = find(ref);
      if (target == nullptr) {
        return Error{fmt::format("{}: section '{}' references '{}', which does not exist",
                                 s.where.to_string(), s.name, ref),
                     0, ErrorKind::kParse};
      }
      if (std::find(visiting_.begin(), visiting_.end(), target) != visiting_.end()) {
        return Error{fmt::format("{}: section '{}' references '{}', which contains or references "
                                 "it (a cycle)",
                                 s.where.to_string(), s.name, ref),
                     0, ErrorKind::kParse};
      }
      if (visiting_.size() > kMaxReferenceChain) {
        return Error{fmt::format("{}: section '{}': references chained deeper than {}",
                                 s.where.to_string(), s.name, kMaxReferenceChain),
                     0, ErrorKind::kParse};
      }
      if (auto st = resolve(*target); !st) return st;
      const ConfSection copy = *target;  // the target may be inside `s`
      if (auto st = merge(s, copy); !st) return st;
    }
    visiting_.pop_back();
    done_.insert(&s);
    return {};
  }

  // Adds what `from` has and `into` lacks; subsections of the same name merge.
  Status merge(ConfSection& into, const ConfSection& from) {
    // Every item looked at counts, copied or not, so that many references to one large
    // section cannot make the work grow without bound.
    for (const ConfValue& v : from.values) {
      if (auto st = count(into); !st) return st;
      if (into.value(v.key) == nullptr) into.values.push_back(v);
    }
    for (const ConfSection& sub : from.sections) {
      if (auto st = count(into); !st) return st;
      if (ConfSection* mine = into.section(sub.name)) {
        if (auto st = merge(*mine, sub); !st) return st;
        continue;
      }
      into.sections.push_back(ConfSection{sub.name, sub.references, sub.where, {}, {}});
      // Merging into the fresh copy counts every item it brings.
      if (auto st = merge(into.sections.back(), sub); !st) return st;
    }
    return {};
  }

  Status count(const ConfSection& into) {
    if (++items_ > limits_.max_items) {
      return Error{fmt::format("{}: references expand to more than {} settings",
                               into.where.to_string(), limits_.max_items),
                   0, ErrorKind::kParse};
    }
    return {};
  }

  ConfSection& root_;
  const ConfLimits& limits_;
  std::vector<const ConfSection*> visiting_;
  // Sections already complete. A copy appended later may reuse a freed address; it is complete
  // too, and resolving a section twice changes nothing.
  std::unordered_set<const ConfSection*> done_;
  size_t items_ = 0;
};

Result<ConfSection> parse_with_context(std::string_view text, const std::string& name,
                                       ParseContext& ctx) {
  ConfSection root;
  root.where = {name, 1};
  ctx.bytes_read += text.size();
  if (ctx.bytes_read > ctx.limits->max_total_bytes) {
    return make_error(ErrorKind::kParse, "{}:1: file larger than {} bytes", name,
                      ctx.limits->max_total_bytes);
  }
  ctx.include_stack.push_back(normalize(name));
  Parser parser(text, name, ctx);
  if (auto st = parser.parse_file_body(root); !st) return st.take_error();
  if (auto st = resolve_references(root, *ctx.limits); !st) return st.take_error();
  return root;
}

}  // namespace

Status resolve_references(ConfSection& root, const ConfLimits& limits) {
  ReferenceResolver resolver(root, limits);
  return resolver.resolve_all();
}

Result<ConfSection> parse_conf_text(std::string_view text, const std::string& name,
                                    ConfFiles* files, const ConfLimits& limits) {
  ParseContext ctx;
  ctx.files = files;
  ctx.limits = &limits;
  ctx.files_read = 1;
  return parse_with_context(text, name, ctx);
}

Result<ConfSection> parse_conf_file(const std::string& path, ConfFiles& files,
                                    const ConfLimits& limits) {
  auto text = files.read(path);
  if (!text) return text.take_error().context(path);
  return parse_conf_text(*text, path, &files, limits);
}

}  // namespace waypost::ike
