#include "web/base32.h"

namespace waypost::web {

namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int symbol_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

}  // namespace

std::string base32_encode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kAlphabet[(buffer >> bits) & 0x1f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 0x1f]);
  return out;
}

std::optional<std::vector<uint8_t>> base32_decode(std::string_view text) {
  std::vector<uint8_t> out;
  uint32_t buffer = 0;
  int bits = 0;
  size_t symbols = 0;
  bool padding = false;
  for (char c : text) {
    if (c == ' ' || c == '-') {
      if (padding) return std::nullopt;
      continue;
    }
    if (c == '=') {
      padding = true;
      continue;
    }
    const int v = symbol_value(c);
    if (v < 0 || padding) return std::nullopt;
    buffer = (buffer << 5) | uint32_t(v);
    bits += 5;
    ++symbols;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(uint8_t(buffer >> bits));
    }
    buffer &= (1u << bits) - 1;  // keep only the bits not yet emitted
  }
  // 8 symbols make 5 bytes; a partial group of 1, 3 or 6 symbols is never written by an encoder.
  const size_t rest = symbols % 8;
  if (rest == 1 || rest == 3 || rest == 6) return std::nullopt;
  if (buffer != 0) return std::nullopt;
  return out;
}

}  // namespace waypost::web
