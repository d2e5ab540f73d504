// Rewriting a list of user names in config.yaml (users, disabled_users) in place, keeping
// everything else byte for byte.
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/config_text.h"

namespace waypost::server {

namespace {

using namespace text;  // NOLINT

struct TextLine {
  std::string_view content;  // without the line break
  std::string_view eol;      // "\n", "\r\n" or "" on a last line without one
};

std::vector<TextLine> split_lines(std::string_view text) {
  std::vector<TextLine> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.push_back({text.substr(start), {}});
      break;
    }
    size_t end = nl;
    if (end > start && text[end - 1] == '\r') {
      --end;
    }
    lines.push_back({text.substr(start, end - start), text.substr(end, nl + 1 - end)});
    start = nl + 1;
  }
  return lines;
}

size_t indent_of(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') {
    ++n;
  }
  return n;
}

bool blank_or_comment(std::string_view line) {
  const std::string_view t = trim(line);
  return t.empty() || t.front() == '#';
}

bool is_item_at(std::string_view line, size_t column) {
  return line.size() > column && indent_of(line) == column && line[column] == '-' &&
         (line.size() == column + 1 || line[column + 1] == ' ' || line[column + 1] == '\t');
}

std::string flow_list(const std::vector<std::string>& users) {
  std::string out = "[";
  for (size_t i = 0; i < users.size(); ++i) {
    out += (i == 0 ? "" : ", ") + yaml_scalar(users[i]);
  }
  return out + "]";
}

// The end (inclusive) of the flow collection that opens at text[open], skipping quoted strings
// and comments; npos if it never closes.
size_t flow_end(std::string_view text, size_t open) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') {
          ++i;
        }
      }
    } else if (c == '\'') {
      for (++i; i < text.size(); ++i) {
        if (text[i] == '\'') {
          if (i + 1 < text.size() && text[i + 1] == '\'') {
            ++i;
          } else {
            break;
          }
        }
      }
    } else if (c == '#' && i > 0 && (text[i - 1] == ' ' || text[i - 1] == '\t')) {
      while (i < text.size() && text[i] != '\n') {
        ++i;
      }
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) {
        return i;
      }
    }
  }
  return std::string_view::npos;
}

// Where the top-level key (`users`, `disabled_users`) is: its line and column (0-based), and the
// value's names in order; nullopt when there is none.
struct UsersKey {
  size_t line = 0;
  size_t column = 0;
  std::vector<std::string> names;  // empty unless the value is a list
};

Result<std::optional<UsersKey>> find_users_key(std::string_view yaml, std::string_view name) {
  try {
    const YAML::Node root = load_single_document(std::string(yaml));
    if (!root.IsMap()) {
      return std::optional<UsersKey>();
    }
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == name) {
        UsersKey k;
        k.line = size_t(std::max(0, it->first.Mark().line));
        k.column = size_t(std::max(0, it->first.Mark().column));
        const YAML::Node value = it->second;
        if (value.IsSequence()) {
          for (const auto& item : value) {
            k.names.push_back(item.IsScalar() ? item.Scalar() : std::string());
          }
        }
        return std::optional<UsersKey>(k);
      }
    }
    return std::optional<UsersKey>();
  } catch (const YAML::Exception& e) {
    return make_error("line {}: {}", line_of(e.mark), e.msg);
  } catch (const std::exception& e) {
    return make_error("line 1: cannot read the configuration: {}", e.what());
  }
}

Error cannot_rewrite(size_t line, std::string_view why) {
  return make_error("line {}: cannot update the list automatically ({}); edit it by hand", line + 1,
                    why);
}

Result<std::string> replace_users(std::string_view yaml, std::string_view name, const UsersKey& key,
                                  const std::vector<std::string>& users) {
  const std::vector<TextLine> lines = split_lines(yaml);
  if (key.line >= lines.size()) {
    return cannot_rewrite(key.line, "the key is not where the parser says");
  }
  std::string_view key_line = lines[key.line].content;
  size_t skip = 0;
  if (key.line == 0 && key_line.starts_with("\xEF\xBB\xBF")) {
    skip = 3;  // yaml-cpp does not count a byte order mark as a column
  }
  const size_t column = key.column + skip;
  if (column >= key_line.size() ||
      key_line.substr(skip, key.column).find_first_not_of(' ') != std::string_view::npos) {
    return cannot_rewrite(key.line, "the list is not a plain block key");
  }
  // The key token, possibly quoted, then the colon.
  size_t pos = column;
  if (key_line[pos] == '"' || key_line[pos] == '\'') {
    const size_t close = key_line.find(key_line[pos], pos + 1);
    if (close == std::string_view::npos) {
      return cannot_rewrite(key.line, "unusual key quoting");
    }
    pos = close + 1;
  } else if (key_line.substr(pos).starts_with(name)) {
    pos += name.size();
  } else {
    return cannot_rewrite(key.line, "unusual key spelling");
  }
  while (pos < key_line.size() && (key_line[pos] == ' ' || key_line[pos] == '\t')) {
    ++pos;
  }
  if (pos >= key_line.size() || key_line[pos] != ':') {
    return cannot_rewrite(key.line, "no colon after the key");
  }
  ++pos;
  // Offset of the key line in the whole text.
  const auto key_offset = size_t(key_line.data() - yaml.data());
  const size_t after_colon = key_offset + pos;

  // The first significant character after the colon decides between a flow list and a block
  // list (or nothing).
  size_t first = after_colon;
  while (first < yaml.size()) {
    const char c = yaml[first];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++first;
    } else if (c == '#') {
      while (first < yaml.size() && yaml[first] != '\n') {
        ++first;
      }
    } else {
      break;
    }
  }
  if (first < yaml.size() && yaml[first] == '[') {
    const size_t close = flow_end(yaml, first);
    if (close == std::string_view::npos) {
      return cannot_rewrite(key.line, "unterminated list");
    }
    std::string out(yaml.substr(0, first));
    out += flow_list(users);
    out += yaml.substr(close + 1);
    return out;
  }

  const std::string_view rest = trim(key_line.substr(pos));
  if (!rest.empty() && rest.front() != '#') {
    return cannot_rewrite(key.line, "the list has an anchor, tag or inline value");
  }
  // The block: following lines indented deeper than the key, or items at the key's own
  // column ("users:\n- a" is valid YAML). Comments and blank lines after the last item are not
  // part of it; they stay where they are.
  size_t end = key.line;  // last line of the block (inclusive)
  for (size_t i = key.line + 1; i < lines.size(); ++i) {
    const std::string_view l = lines[i].content;
    if (blank_or_comment(l)) {
      continue;
    }
    if (indent_of(l) > key.column || is_item_at(l, key.column)) {
      end = i;
      continue;
    }
    break;
  }
  // Entries: an item line with its continuation lines and the comments just above it, so that
  // "# Alice's phone" stays with alice (and leaves with her).
  struct Entry {
    size_t first;
    size_t last;
  };
  std::vector<Entry> entries;
  size_t item_indent = key.column + 2;
  bool simple = true;
  if (end > key.line) {
    size_t i = key.line + 1;
    while (i < lines.size() && blank_or_comment(lines[i].content)) {
      ++i;
    }
    item_indent = indent_of(lines[i].content);
    size_t entry_start = key.line + 1;
    for (size_t j = key.line + 1; j <= end; ++j) {
      const std::string_view l = lines[j].content;
      if (blank_or_comment(l)) {
        continue;
      }
      if (is_item_at(l, item_indent)) {
        entries.push_back({entry_start, j});
      } else if (entries.empty()) {
        simple = false;
      } else {
        entries.back().last = j;
      }
      entry_start = j + 1;
    }
  }
  if (entries.size() != key.names.size()) {
    simple = false;
  }
  const std::string_view eol = lines[key.line].eol.empty() ? "\n" : lines[key.line].eol;

  std::string out(yaml.substr(0, key_offset));
  out += key_line;
  out += eol;
  for (const auto& user : users) {
    auto old = std::find(key.names.begin(), key.names.end(), user);
    if (simple && old != key.names.end()) {
      const Entry& e = entries[size_t(old - key.names.begin())];
      for (size_t j = e.first; j <= e.last; ++j) {
        out += lines[j].content;
        out += eol;
      }
    } else {
      out += std::string(item_indent, ' ') + "- " + yaml_scalar(user);
      out += eol;
    }
  }
  if (end + 1 < lines.size()) {
    const auto tail = size_t(lines[end + 1].content.data() - yaml.data());
    out += yaml.substr(tail);
  }
  return out;
}

// Replaces the list under top-level key `name`; `set` puts the same list into a parsed config,
// for the check that nothing else changed.
Result<std::string> rewrite_name_list(std::string_view yaml, std::string_view name,
                                      const std::vector<std::string>& users,
                                      void (*set)(ServerConfig&, const std::vector<std::string>&)) {
  std::set<std::string> seen;
  for (const auto& u : users) {
    if (auto st = validate_user_name(u); !st) {
      return st.take_error();
    }
    if (!seen.insert(u).second) {
      return make_error("duplicate user '{}'", u);
    }
  }
  auto original = parse_server_config(yaml);
  if (!original) {
    return original.take_error();
  }
  auto key = find_users_key(yaml, name);
  if (!key) {
    return key.take_error();
  }
  std::string out;
  if (!key->has_value()) {
    // No such key yet (a hand-written file, or the first disabled user): add one at the end.
    out = std::string(yaml);
    if (!out.empty() && out.back() != '\n') {
      out += '\n';
    }
    if (users.empty()) {
      out += fmt::format("{}: []\n", name);
    } else {
      out += fmt::format("{}:\n", name);
      for (const auto& u : users) {
        out += "  - " + yaml_scalar(u) + "\n";
      }
    }
  } else {
    auto replaced = replace_users(yaml, name, **key, users);
    if (!replaced) {
      return replaced.take_error();
    }
    out = std::move(*replaced);
  }
  // Whatever the text looked like, the result must mean exactly "the old config with this
  // list"; anything else would silently change a setting the user did not touch.
  auto check = parse_server_config(out);
  ServerConfig expected = std::move(*original);
  set(expected, users);
  if (!check || render_server_config(*check) != render_server_config(expected)) {
    return make_error("cannot update the {} list automatically ({}); edit config.yaml by hand",
                      name, check ? "the layout of the file is unusual" : check.error().message);
  }
  return out;
}

}  // namespace

Result<std::string> rewrite_users(std::string_view yaml, const std::vector<std::string>& users) {
  return rewrite_name_list(yaml, "users", users,
                           [](ServerConfig& c, const std::vector<std::string>& v) { c.users = v; });
}

Result<std::string> rewrite_disabled_users(std::string_view yaml,
                                           const std::vector<std::string>& users) {
  return rewrite_name_list(
      yaml, "disabled_users", users,
      [](ServerConfig& c, const std::vector<std::string>& v) { c.disabled_users = v; });
}

bool user_disabled(const ServerConfig& config, std::string_view user) {
  return std::find(config.disabled_users.begin(), config.disabled_users.end(), user) !=
         config.disabled_users.end();
}

}  // namespace waypost::server
