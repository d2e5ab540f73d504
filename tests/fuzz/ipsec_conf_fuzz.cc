// Fuzzes `waypost ipsec import`: the ipsec.conf reader (sections, also= and %default, includes),
// the ipsec.secrets reader and the conversion to swanctl.conf. The input is the ipsec.conf; a
// line "=== PATH" starts another file of an in-memory tree the main file can include, and the
// file "=== ipsec.secrets" is read as its secrets.
// Invariants: no crash; every error names a line ("FILE:LINE: ..."); a conversion's output is
// read by Waypost's own swanctl.conf parser, unless the only complaint is a PSK connection
// without a secret (which the user adds).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ike/ipsec_conf_import.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "ipsec_conf_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// "FILE:LINE: " with LINE >= 1 somewhere in the message.
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  waypost::ike::MemoryConfFiles files;
  std::string main_text;
  std::string secrets_text;
  bool has_secrets = false;
  std::string other;
  std::string other_path;
  std::string* current = &main_text;
  size_t pos = 0;
  while (pos <= input.size()) {
    size_t end = input.find('\n', pos);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view line = input.substr(pos, end - pos);
    if (line.starts_with("=== ")) {
      if (!other_path.empty()) files.add(other_path, other);
      other.clear();
      other_path.clear();
      if (line.substr(4) == "ipsec.secrets") {
        has_secrets = true;
        current = &secrets_text;
      } else {
        other_path = "etc/" + std::string(line.substr(4));
        current = &other;
      }
    } else {
      current->append(line);
      current->push_back('\n');
    }
    pos = end + 1;
  }
  if (!other_path.empty()) files.add(other_path, other);
  files.add("etc/ipsec.conf", main_text);
  files.add("etc/ipsec.secrets", secrets_text);

  auto conf = waypost::ike::parse_ipsec_conf_file("etc/ipsec.conf", files);
  if (!conf) {
    if (!names_a_line(conf.error().message)) fail("error without a line", conf.error().message);
    return 0;
  }
  std::vector<waypost::ike::StrokeSecret> secrets;
  if (has_secrets) {
    auto s = waypost::ike::parse_ipsec_secrets_file("etc/ipsec.secrets", files);
    if (!s) {
      if (!names_a_line(s.error().message)) fail("error without a line", s.error().message);
      return 0;
    }
    secrets = std::move(*s);
  }
  for (const auto local : {waypost::ike::LocalEnd::kLeft, waypost::ike::LocalEnd::kRight}) {
    waypost::ike::ImportOptions options;
    options.local = local;
    auto result = waypost::ike::import_ipsec_conf(*conf, has_secrets ? &secrets : nullptr, options);
    if (!result) {
      if (!names_a_line(result.error().message)) {
        fail("error without a line", result.error().message);
      }
      return 0;
    }
    if (!result->check.ok() &&
        result->check.error().message.find("psk, but no secrets") == std::string::npos) {
      fail("the output does not parse", result->check.error().message + "\n" + result->text);
    }
  }
  return 0;
}
