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

}  // namespace waypost::test
