#pragma once
// The settings syntax strongSwan uses for strongswan.conf and swanctl.conf (strongswan.conf(5)):
// nested `name { ... }` sections, `key = value` lines, `#` comments, `include PATTERN` with shell
// wildcards relative to the including file, and `name : other.section { ... }` references. This
// file knows nothing about connections or secrets; swanctl_conf.h gives the tree its meaning.
//
// What the tree keeps, as strongSwan does:
//   - a section that appears again (in the same file or an included one) extends the first;
//   - a key that appears again replaces the earlier value (last one wins);
//   - `key =` with nothing after it is kept with an empty value ("use the default");
//   - a value runs to the end of the line, a `#` or a `}`; its words are joined by one space;
//     double quotes keep spaces and these characters, with \n \r \t escapes and a backslash at
//     the end of a line joining the next line;
//   - `::` in a section name stands for `:`.
// Every section and value carries the file and line it came from, so that later checks name
// the line a user has to fix.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace waypost::ike {

struct ConfLocation {
  std::string file;
  int line = 0;

  std::string to_string() const;  // "site.conf:12"
};

struct ConfValue {
  std::string key;
  std::string value;
  ConfLocation where;
};

struct ConfSection {
  std::string name;
  // Absolute dotted names this section inherits from ("conn-defaults", "connections.a").
  std::vector<std::string> references;
  ConfLocation where;
  std::vector<ConfValue> values;
  std::vector<ConfSection> sections;

  const ConfValue* value(std::string_view key) const;
  const ConfSection* section(std::string_view wanted) const;
  ConfSection* section(std::string_view wanted);
};

// Where the text of a file and the expansion of an include pattern come from: the disk for
// `waypost ipsec up`, a map in tests and in the fuzzer.
class ConfFiles {
 public:
  virtual ~ConfFiles() = default;
  virtual Result<std::string> read(const std::string& path) = 0;
  // The paths matching a shell pattern, sorted. Only asked for patterns with wildcards.
  virtual Result<std::vector<std::string>> glob(const std::string& pattern) = 0;
};

class DiskConfFiles final : public ConfFiles {
 public:
  Result<std::string> read(const std::string& path) override;
  Result<std::vector<std::string>> glob(const std::string& pattern) override;
};

class MemoryConfFiles final : public ConfFiles {
 public:
  MemoryConfFiles() = default;
  // Paths are compared after lexical normalization ("a/../b" is "b").
  void add(const std::string& path, std::string text);
  Result<std::string> read(const std::string& path) override;
  Result<std::vector<std::string>> glob(const std::string& pattern) override;

 private:
  std::map<std::string, std::string> files_;
};

// Bounds on hostile or mistaken input: an include loop, a glob matching thousands of files or
// sections nested deeper than any real configuration.
struct ConfLimits {
  int max_include_depth = 10;
  int max_section_depth = 32;
  size_t max_files = 256;
  size_t max_total_bytes = size_t{8} << 20;
  // Sections and values, as written and again as copied by references. Real files have a few
  // hundred; the bound keeps lookups (linear, in the order written) cheap on hostile input.
  size_t max_items = size_t{1} << 14;
};

// Parses `path` (read through `files`) and everything it includes. Errors read
// "site.conf:7: unterminated string" and are of kind kParse (or the reader's kind when the top
// file itself cannot be read). References are resolved (see resolve_references).
Result<ConfSection> parse_conf_file(const std::string& path, ConfFiles& files,
                                    const ConfLimits& limits = {});

// The same for text already in memory; `name` is the file name errors show and the directory
// includes are relative to. With `files` null an include statement is an error.
Result<ConfSection> parse_conf_text(std::string_view text, const std::string& name,
                                    ConfFiles* files, const ConfLimits& limits = {});

// Copies into each section that references others the values and subsections it does not
// define itself (strongswan.conf(5), "Referencing other sections"): its own settings come
// first, then those of each referenced section from left to right. A missing section or a
// cycle is an error naming the line of the reference.
Status resolve_references(ConfSection& root, const ConfLimits& limits = {});

}  // namespace waypost::ike
