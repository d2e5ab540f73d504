#pragma once
// ipsec.conf, the configuration format FreeS/WAN started and Openswan, Libreswan and strongSwan's
// ipsec starter (the "stroke" interface) kept: `config setup`, `conn NAME` and `ca NAME`
// sections whose settings are indented `key=value` lines. This file reads it into sections and
// applies `also=` and `%default` the way strongSwan 5's starter does; what the settings mean is
// ipsec_conf_import.h's business. Parsing is in ipsec_conf.cc, also= in ipsec_conf_also.cc.
//
// The syntax, as strongSwan's starter lexes it:
//   - a section header starts in the first column; a setting line starts with blanks;
//   - `#` outside quotes starts a comment (except `@#` at the start of a word, a hex identity);
//   - a value is the rest of the line, its words joined by one space; double quotes keep blanks
//     and `#`, with \n \r \t escapes and a backslash at the end of a line joining the next one;
//   - `key=` with nothing after it unsets the key, also for what %default or also= would give;
//   - a section that appears again extends the first, a key that appears again replaces the
//     earlier value;
//   - `include PATTERN` (shell wildcards, relative to the including file) reads other files in
//     place; a first line `version 2` (FreeS/WAN) is skipped.
// Unlike strongSwan, `=` inside an unquoted value is kept (Libreswan's base64 keys end in "=").
// Errors name the file and line: "ipsec.conf:7: unterminated string".

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "ike/conf_syntax.h"

namespace waypost::ike {

struct StrokeSetting {
  std::string key;
  std::string value;  // quotes removed; empty: `key=`, which unsets what would be inherited
  ConfLocation where;
};

enum class StrokeSectionKind : uint8_t { kSetup, kConn, kCa };

struct StrokeSection {
  StrokeSectionKind kind = StrokeSectionKind::kConn;
  std::string name;  // empty for config setup; "%default" for the defaults
  ConfLocation where;
  std::vector<StrokeSetting> settings;  // in file order; a repeated key replaced in place
  std::vector<StrokeSetting> also;      // also= lines in file order (the last one counts most)

  const StrokeSetting* setting(std::string_view key) const;
};

struct IpsecConf {
  StrokeSection setup;               // config setup (empty when the file has none)
  std::vector<StrokeSection> conns;  // file order, %default included
  std::vector<StrokeSection> cas;    // file order, %default included
  std::vector<std::string> files;    // every file read, the main file first

  const StrokeSection* find(StrokeSectionKind kind, std::string_view name) const;
};

// Bounds on hostile or mistaken input.
struct StrokeLimits {
  int max_include_depth = 10;
  size_t max_files = 256;
  size_t max_total_bytes = size_t{8} << 20;
  size_t max_sections = 4096;
  size_t max_settings = size_t{1} << 16;
  int max_also_depth = 64;
};

// Reads `path` through `files` (conf_syntax.h: the disk, or memory in tests) and its includes.
Result<IpsecConf> parse_ipsec_conf_file(const std::string& path, ConfFiles& files,
                                        const StrokeLimits& limits = {});
// The same for text in memory; `name` is the file name in messages and the directory includes
// are relative to. With `files` null an include is an error.
Result<IpsecConf> parse_ipsec_conf_text(std::string_view text, const std::string& name,
                                        ConfFiles* files, const StrokeLimits& limits = {});

// The files an `include PATTERN` line of `including_file` names, as ipsec starter and charon
// expand it for ipsec.conf and ipsec.secrets: relative to the including file's directory; a
// pattern with wildcards may match nothing, a plain name is returned as it is (reading it
// then fails if it is missing).
Result<std::vector<std::string>> stroke_include_paths(ConfFiles& files,
                                                      const std::string& including_file,
                                                      const std::string& pattern);

// Refuses control characters other than tab, CR and LF (a NUL or an escape sequence in a
// configuration is corruption, and would not survive into swanctl.conf), naming the line.
Status stroke_check_characters(std::string_view text, const std::string& file);

// A conn or ca section with what it inherits applied.
struct ResolvedSection {
  const StrokeSection* section = nullptr;
  // The effective settings: the section's own in file order, then those inherited (first from
  // the most important also= section, %default last) that it does not set or unset itself.
  // Unset keys (`key=`) are left out.
  std::vector<StrokeSetting> settings;
  // The sections it inherits from, most important first (%default last when it applies).
  std::vector<const StrokeSection*> parents;

  const StrokeSetting* setting(std::string_view key) const;
};

// Applies also= and %default as strongSwan 5's starter does: the section's own settings win;
// then its also= sections, the one written last first, each followed by what it inherits
// itself, each section kept only at its last place in that list; a section without also=
// inherits %default directly. A missing section or a loop is an error naming the also= line.
Result<ResolvedSection> resolve_section(const IpsecConf& conf, const StrokeSection& section,
                                        const StrokeLimits& limits = {});

}  // namespace waypost::ike
