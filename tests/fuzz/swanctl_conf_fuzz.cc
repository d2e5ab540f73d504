// Fuzzes the swanctl.conf reader: the settings syntax, includes, references, the typed model and
// the proposal parser. The input is the main file; a line "=== PATH" starts another file of an
// in-memory tree that the main file can include (relative to it, with globs), so mutations reach
// include cycles, depth limits and references across files.
// Invariants: no crash; every error names a line ("FILE:LINE: ..."); every proposal of an
// accepted configuration formats to a string that parses back to the same transforms.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ike/proposals.h"
#include "ike/swanctl_conf.h"

namespace {

using waypost::ike::ProposalProtocol;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "swanctl_conf_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// "FILE:LINE: " with LINE >= 1 somewhere at the start of the message.
bool names_a_line(const std::string& message) {
  for (size_t colon = message.find(':'); colon != std::string::npos;
       colon = message.find(':', colon + 1)) {
    size_t end = colon + 1;
    while (end < message.size() && message[end] >= '0' && message[end] <= '9') ++end;
    if (end > colon + 1 && message[colon + 1] != '0' && message.compare(end, 2, ": ") == 0) {
      return true;
    }
  }
  return false;
}

void check_round_trip(const std::vector<waypost::ike::ProposalSpec>& proposals,
                      ProposalProtocol protocol) {
  const std::string text = waypost::ike::format_proposals(proposals, protocol);
  auto again = waypost::ike::parse_proposals(text, protocol);
  if (!again) fail("formatted proposals do not parse", text + "\n" + again.error().message);
  if (*again != proposals) fail("proposal round trip changed the transforms", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // The first line also goes to the proposal parser on its own.
  const std::string_view first_line = input.substr(0, input.find('\n'));
  for (ProposalProtocol protocol : {ProposalProtocol::kIke, ProposalProtocol::kEsp}) {
    if (auto p = waypost::ike::parse_proposals(first_line, protocol)) {
      check_round_trip(*p, protocol);
    }
  }

  waypost::ike::MemoryConfFiles files;
  std::string main_text;
  std::string* current = &main_text;
  std::string current_path;
  size_t pos = 0;
  while (pos <= input.size()) {
    size_t end = input.find('\n', pos);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view line = input.substr(pos, end - pos);
    if (line.starts_with("=== ")) {
      if (!current_path.empty()) files.add(current_path, *current);
      static std::string scratch;
      scratch.clear();
      current = &scratch;
      current_path = std::string(line.substr(4));
    } else {
      current->append(line);
      current->push_back('\n');
    }
    pos = end + 1;
  }
  if (!current_path.empty()) files.add(current_path, *current);
  files.add("conf/main.conf", main_text);

  auto config = waypost::ike::parse_swanctl_file("conf/main.conf", files);
  if (!config) {
    if (!names_a_line(config.error().message)) {
      fail("error without a line number", config.error().message);
    }
    return 0;
  }
  for (const auto& c : config->connections) {
    check_round_trip(c.proposals, ProposalProtocol::kIke);
    for (const auto& child : c.children) {
      check_round_trip(child.esp_proposals, ProposalProtocol::kEsp);
    }
  }
  return 0;
}
