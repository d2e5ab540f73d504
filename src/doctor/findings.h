#pragma once
// What `waypost doctor` reports: a list of findings, each with a stable id, a status, one
// plain-language sentence, optional detail and, when something is wrong, the exact fix. Rendered
// as text for people or as JSON ({"findings": [...]}) for scripts. Pure; unit-tested.

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace waypost::doctor {

enum class Status { kOk, kInfo, kWarn, kFail };

std::string_view status_name(Status s);  // "ok", "info", "warn", "fail"

struct Finding {
  std::string id;  // stable, machine-readable: "path_mtu", "handshake:wp0:AbCdEfGh"
  Status status = Status::kInfo;
  std::string summary;  // one sentence: what was found
  std::string detail;   // more explanation; may be empty; may contain '\n' paragraphs
  std::string fix;      // the exact fix when not ok; may contain '\n' for several commands
  nlohmann::json data = nlohmann::json::object();  // measured values (path_mtu, reduce_mtu, ...)
};

// Text for a terminal: one block per finding, wrapped at `width` columns, then a tally line.
std::string render_text(const std::vector<Finding>& findings, size_t width = 100);
// {"findings": [{"id", "status", "summary", "detail", "fix", "data"}...]}.
nlohmann::json render_json(const std::vector<Finding>& findings);
// 0 when no finding failed, 1 otherwise.
int exit_status(const std::vector<Finding>& findings);

// Word-wraps `text` to `width` columns; every line after the first is prefixed by `indent`, and
// the first line is assumed to start after `first_used` columns. Existing '\n' are kept.
std::string wrap(std::string_view text, size_t width, std::string_view indent, size_t first_used);

}  // namespace waypost::doctor
