#include "common/encoding.h"

#include <openssl/evp.h>

#include <algorithm>
#include <vector>

#include "common/secret.h"

namespace waypost {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

bool from_hex(std::string_view text, std::span<uint8_t> out) {
  if (text.size() != out.size() * 2) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(text[2 * i]);
    int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = uint8_t(hi << 4 | lo);
  }
  return true;
}

std::string to_base64(std::span<const uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                          static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : size_t(n));
  return out;
}

bool from_base64(std::string_view text, std::span<uint8_t> out) {
  const size_t expected_len = 4 * ((out.size() + 2) / 3);
  if (text.size() != expected_len) return false;
  std::vector<uint8_t> buf(expected_len);
  int n = EVP_DecodeBlock(buf.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  bool ok = n >= 0;
  if (ok) {
    // EVP_DecodeBlock does not strip padding: account for '=' characters ourselves.
    size_t pad = 0;
    if (!text.empty() && text.back() == '=') ++pad;
    if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
    ok = size_t(n) - pad == out.size();
    // Reject non-canonical encodings (stray bits in the last character) by re-encoding.
    if (ok) {
      std::copy_n(buf.begin(), out.size(), out.begin());
      ok = to_base64(out) == text;
    }
  }
  secure_wipe(buf.data(), buf.size());
  return ok;
}

}  // namespace waypost
