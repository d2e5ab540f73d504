#include "ike/swanctl_writer.h"

#include <algorithm>

#include "common/secret.h"

namespace waypost::ike {

namespace {

// Unquoted, a value's words are joined by single spaces and '#', '}' end it; anything that
// would change that way is quoted.
bool needs_quotes(std::string_view v) {
  if (v.empty() || v.front() == ' ' || v.back() == ' ' || v.find("  ") != std::string_view::npos) {
    return true;
  }
  return std::any_of(v.begin(), v.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < ' ' || u == 0x7f || c == '#' || c == '{' || c == '}' || c == '"' || c == '\\';
  });
}

void indent_to(std::string& out, int indent) {
  out.append(size_t(indent) * 2, ' ');
}

}  // namespace

std::string swanctl_value_text(std::string_view value) {
  if (!needs_quotes(value)) return std::string(value);
  return swanctl_quoted_text(value);
}

std::string swanctl_quoted_text(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string swanctl_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
    out.push_back(keep ? c : '-');
  }
  if (out.empty()) out = "unnamed";
  // strongSwan's lexer reads "include {" as an include statement.
  if (out == "include") out = "include_";
  return out;
}

SwanctlBlock::~SwanctlBlock() {
  for (Item& item : items_) secure_wipe(item.text.data(), item.text.size());
}

SwanctlBlock& SwanctlBlock::add_block(SwanctlBlock block) {
  blocks_.push_back(std::make_unique<SwanctlBlock>(std::move(block)));
  items_.push_back(Item{Item::Kind::kBlock, {}, {}, blocks_.size() - 1});
  return *blocks_.back();
}

void SwanctlBlock::set(std::string_view key, std::string value) {
  for (Item& item : items_) {
    if (item.kind == Item::Kind::kValue && item.key == key) {
      item.text = std::move(value);
      return;
    }
  }
  items_.push_back(Item{Item::Kind::kValue, std::string(key), std::move(value), 0});
}

void SwanctlBlock::comment(std::string_view text) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(pos, end - pos));
    for (char& c : line) {
      const auto u = static_cast<unsigned char>(c);
      if (u < ' ' || u == 0x7f) c = '?';
    }
    items_.push_back(Item{Item::Kind::kComment, {}, std::move(line), 0});
    pos = end + 1;
  }
}

SwanctlBlock& SwanctlBlock::block(std::string_view name) {
  for (const Item& item : items_) {
    if (item.kind == Item::Kind::kBlock && blocks_[item.block]->name() == name) {
      return *blocks_[item.block];
    }
  }
  blocks_.push_back(std::make_unique<SwanctlBlock>(std::string(name)));
  items_.push_back(Item{Item::Kind::kBlock, {}, {}, blocks_.size() - 1});
  return *blocks_.back();
}

const SwanctlBlock* SwanctlBlock::find_block(std::string_view name) const {
  for (const auto& b : blocks_) {
    if (b->name() == name) return b.get();
  }
  return nullptr;
}

const std::string* SwanctlBlock::value(std::string_view key) const {
  for (const Item& item : items_) {
    if (item.kind == Item::Kind::kValue && item.key == key) return &item.text;
  }
  return nullptr;
}

void SwanctlBlock::render(std::string& out, int indent) const {
  indent_to(out, indent);
  out += name_;
  out += " {\n";
  render_contents(out, indent + 1);
  indent_to(out, indent);
  out += "}\n";
}

void SwanctlBlock::render_contents(std::string& out, int indent) const {
  // Values and comments first, then the sub-sections in the order they were made, so that a
  // section reads top-down whatever order the importer filled it in.
  for (const Item& item : items_) {
    if (item.kind == Item::Kind::kValue) {
      indent_to(out, indent);
      out += item.key;
      out += " = ";
      out += swanctl_value_text(item.text);
      out += "\n";
    } else if (item.kind == Item::Kind::kComment) {
      indent_to(out, indent);
      out += item.text.empty() ? "#" : "# " + item.text;
      out += "\n";
    } else if (keep_order_) {
      blocks_[item.block]->render(out, indent);
    }
  }
  if (keep_order_) return;
  for (const auto& b : blocks_) b->render(out, indent);
}

}  // namespace waypost::ike
