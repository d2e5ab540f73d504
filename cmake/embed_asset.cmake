# Turns one file of the web admin's pages into C++: `cmake -DIN=file -DOUT=file.cc -DID=name -P
# embed_asset.cmake` writes a byte array `waypost::web::assets_data::<ID>` and its size. Run by
# the add_custom_command in src/CMakeLists.txt at build time, so that an edited page rebuilds only
# its own .cc. Plain CMake, so building Waypost needs no other tool (no xxd, no Node).
if(NOT DEFINED IN OR NOT DEFINED OUT OR NOT DEFINED ID)
  message(FATAL_ERROR "embed_asset.cmake: IN, OUT and ID are required")
endif()
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
# 16 bytes (32 hex digits) per line keeps the generated file readable in a debugger.
set(bytes "")
set(offset 0)
while(offset LESS hex_length)
  string(SUBSTRING "${hex}" ${offset} 32 chunk)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," chunk "${chunk}")
  string(APPEND bytes "    ${chunk}\n")
  math(EXPR offset "${offset} + 32")
endwhile()
if(size EQUAL 0)
  set(bytes "    0x00,\n")  # a zero-length array is not C++; the size below stays 0
endif()
set(text "// Generated from ${IN} by cmake/embed_asset.cmake; do not edit.
#include <cstddef>

namespace waypost::web::assets_data {
extern const unsigned char ${ID}[];
extern const size_t ${ID}_size;
const unsigned char ${ID}[] = {
${bytes}};
const size_t ${ID}_size = ${size};
}  // namespace waypost::web::assets_data
")
# Rewrite only on a change, so that an unrelated rebuild does not recompile it.
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL text)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${text}")
