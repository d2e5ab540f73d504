#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/encoding.h"

namespace waypost::test {

inline std::vector<uint8_t> hex(std::string_view h) {
  std::string clean;
  for (char c : h) {
    if (c != ' ' && c != '\n') clean.push_back(c);
  }
  std::vector<uint8_t> out(clean.size() / 2);
  from_hex(clean, out);
  return out;
}

template <typename T>
std::string hex_of(const T& bytes) {
  return to_hex(std::span<const uint8_t>(bytes.data(), bytes.size()));
}

// "www.example.com" as a DNS wire-format name: length-prefixed labels and the root's zero byte.
inline std::vector<uint8_t> dns_wire_name(std::string_view dotted) {
  std::vector<uint8_t> out;
  size_t start = 0;
  while (start < dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string_view::npos) dot = dotted.size();
    out.push_back(uint8_t(dot - start));
    out.insert(out.end(), dotted.begin() + long(start), dotted.begin() + long(dot));
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

}  // namespace waypost::test
