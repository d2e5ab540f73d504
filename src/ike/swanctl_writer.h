#pragma once
// Writes swanctl.conf text: nested `name { }` sections, `key = value` lines and `#` comments,
// indented by two spaces per level; within a section its values and comments in the order they
// were added, then its sub-sections in the order they were made (or all in the order made, with
// keep_order()). Values are quoted when the
// syntax needs it (blanks, '#', braces, quotes, backslashes, control characters), with the
// escapes both strongSwan's and Waypost's parsers read (\" \\ \n \r \t). The importer
// (ipsec_conf_import.h) builds a document with it; nothing here knows what the keys mean.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace waypost::ike {

// A value as it must appear after "key = ".
std::string swanctl_value_text(std::string_view value);
// `value` always double-quoted, with the escapes above (for secrets, which are never bare).
std::string swanctl_quoted_text(std::string_view value);

// A section or key name strongSwan accepts: characters other than letters, digits, '-' and '_'
// become '-' (swanctl.conf names cannot hold . , : = { } " # or blanks); never empty.
std::string swanctl_name(std::string_view name);

class SwanctlBlock {
 public:
  explicit SwanctlBlock(std::string name) : name_(std::move(name)) {}
  SwanctlBlock(SwanctlBlock&&) = default;
  SwanctlBlock& operator=(SwanctlBlock&&) = default;
  SwanctlBlock(const SwanctlBlock&) = delete;
  SwanctlBlock& operator=(const SwanctlBlock&) = delete;
  // Values may be secrets (secrets { ike-1 { secret = ... } }): wiped.
  ~SwanctlBlock();

  const std::string& name() const { return name_; }
  // Renders sub-sections where they were made, between the values and comments (for lists of
  // sections, such as connections, with comments about the ones left out in between).
  void keep_order() { keep_order_ = true; }
  // Sets `key = value`; a key set again keeps its place and takes the new value.
  void set(std::string_view key, std::string value);
  // A comment; each line of `text` becomes one "# ..." line (control characters shown as '?').
  void comment(std::string_view text);
  // The sub-section `name`, created (at the end) on first use.
  SwanctlBlock& block(std::string_view name);
  // Moves a finished section in (at the end), under its own name.
  SwanctlBlock& add_block(SwanctlBlock block);
  const SwanctlBlock* find_block(std::string_view name) const;
  const std::string* value(std::string_view key) const;
  bool empty() const { return items_.empty(); }

  // Appends this section (its name line, contents and closing brace) at `indent` levels.
  void render(std::string& out, int indent) const;
  // Appends only the contents, for the top level of a file.
  void render_contents(std::string& out, int indent) const;

 private:
  struct Item {
    enum class Kind : uint8_t { kValue, kComment, kBlock };
    Kind kind = Kind::kValue;
    std::string key;
    std::string text;
    size_t block = 0;  // index into blocks_ for kBlock
  };
  std::string name_;
  std::vector<Item> items_;
  std::vector<std::unique_ptr<SwanctlBlock>> blocks_;  // pointers, so references stay valid
  bool keep_order_ = false;
};

}  // namespace waypost::ike
