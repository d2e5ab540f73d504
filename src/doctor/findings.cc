#include "doctor/findings.h"

#include <fmt/format.h>

namespace waypost::doctor {

std::string_view status_name(Status s) {
  switch (s) {
    case Status::kOk:
      return "ok";
    case Status::kInfo:
      return "info";
    case Status::kWarn:
      return "warn";
    case Status::kFail:
      return "fail";
  }
  return "info";
}

namespace {

std::string_view label(Status s) {
  switch (s) {
    case Status::kOk:
      return "[ ok ]";
    case Status::kInfo:
      return "[info]";
    case Status::kWarn:
      return "[warn]";
    case Status::kFail:
      return "[FAIL]";
  }
  return "[info]";
}

// Wraps one paragraph (no '\n') starting at column `used`.
void wrap_paragraph(std::string_view text, size_t width, std::string_view indent, size_t used,
                    std::string& out) {
  size_t col = used;
  bool line_has_word = false;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i >= text.size()) break;
    size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(i, end - i);
    i = end;
    if (line_has_word && col + 1 + word.size() > width) {
      out += '\n';
      out += indent;
      col = indent.size();
      line_has_word = false;
    }
    if (line_has_word) {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
    line_has_word = true;
  }
}

}  // namespace

std::string wrap(std::string_view text, size_t width, std::string_view indent, size_t first_used) {
  std::string out;
  size_t used = first_used;
  size_t start = 0;
  for (;;) {
    size_t nl = text.find('\n', start);
    std::string_view para = text.substr(start, nl == std::string_view::npos ? nl : nl - start);
    wrap_paragraph(para, width, indent, used, out);
    if (nl == std::string_view::npos) break;
    out += '\n';
    out += indent;
    used = indent.size();
    start = nl + 1;
  }
  return out;
}

std::string render_text(const std::vector<Finding>& findings, size_t width) {
  const std::string indent(7, ' ');
  std::string out;
  int counts[4] = {0, 0, 0, 0};
  for (const auto& f : findings) {
    counts[int(f.status)]++;
    std::string head = fmt::format("{} {}: ", label(f.status), f.id);
    out += head;
    out += wrap(f.summary, width, indent, head.size());
    out += '\n';
    if (!f.detail.empty()) {
      out += indent;
      out += wrap(f.detail, width, indent, indent.size());
      out += '\n';
    }
    if (!f.fix.empty() && f.status != Status::kOk) {
      // Commands are kept on their own lines, unwrapped, so they can be copied as they are.
      const std::string fix_indent = indent + "     ";
      out += indent + "fix: ";
      size_t start = 0;
      bool first = true;
      for (;;) {
        size_t nl = f.fix.find('\n', start);
        std::string_view line = std::string_view(f.fix).substr(
            start, nl == std::string::npos ? std::string::npos : nl - start);
        if (!first) out += fix_indent;
        // A line that fits is kept exactly (aligned comments in commands); longer prose wraps.
        if (fix_indent.size() + line.size() <= width) {
          out += line;
        } else {
          out += wrap(line, width, fix_indent, fix_indent.size());
        }
        out += '\n';
        first = false;
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
    }
  }
  out += fmt::format("\n{} ok, {} info, {} warning{}, {} failure{}\n", counts[int(Status::kOk)],
                     counts[int(Status::kInfo)], counts[int(Status::kWarn)],
                     counts[int(Status::kWarn)] == 1 ? "" : "s", counts[int(Status::kFail)],
                     counts[int(Status::kFail)] == 1 ? "" : "s");
  return out;
}

nlohmann::json render_json(const std::vector<Finding>& findings) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& f : findings) {
    list.push_back({{"id", f.id},
                    {"status", std::string(status_name(f.status))},
                    {"summary", f.summary},
                    {"detail", f.detail},
                    {"fix", f.fix},
                    {"data", f.data}});
  }
  return {{"findings", list}};
}

int exit_status(const std::vector<Finding>& findings) {
  for (const auto& f : findings) {
    if (f.status == Status::kFail) return 1;
  }
  return 0;
}

}  // namespace waypost::doctor
