#pragma once
// The table of embedded page files that the build generates (asset_table.cc, from
// src/CMakeLists.txt); only web/assets.cc reads it. Use web/assets.h instead.

#include <cstddef>

namespace waypost::web::assets_data {

struct EmbeddedFile {
  const char* name;  // the file's name in src/web/assets/, "app.js"
  const unsigned char* data;
  size_t size;
};

extern const EmbeddedFile kEmbeddedFiles[];
extern const size_t kEmbeddedFileCount;

}  // namespace waypost::web::assets_data
