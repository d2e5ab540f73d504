#pragma once
// Key encodings users and tools see: base64 in wg-quick files and `wg` output, lowercase hex on
// the UAPI socket.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace waypost {

std::string to_hex(std::span<const uint8_t> bytes);
bool from_hex(std::string_view text, std::span<uint8_t> out);  // exact length required

std::string to_base64(std::span<const uint8_t> bytes);
// Decodes exactly out.size() bytes from canonical base64; false on any other input.
bool from_base64(std::string_view text, std::span<uint8_t> out);

}  // namespace waypost
