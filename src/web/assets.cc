#include "web/assets.h"

#include <vector>

#include "web/asset_table.h"

namespace waypost::web {

namespace {

// Only the types the pages use; anything else is served as bytes to download, never run.
std::string_view content_type_of(std::string_view name) {
  struct Type {
    std::string_view suffix;
    std::string_view type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
  };
  for (const Type& t : kTypes) {
    if (name.ends_with(t.suffix)) return t.type;
  }
  return "application/octet-stream";
}

const std::vector<Asset>& all_assets() {
  // Built once, on first use (thread-safe initialization of a local static).
  static const std::vector<Asset> assets = [] {
    std::vector<Asset> v;
    for (size_t i = 0; i < assets_data::kEmbeddedFileCount; ++i) {
      const assets_data::EmbeddedFile& f = assets_data::kEmbeddedFiles[i];
      const std::string_view name = f.name;
      // The generated arrays hold bytes; a string_view over them is the same memory, as chars.
      const std::string_view body(reinterpret_cast<const char*>(f.data), f.size);
      v.push_back({name, content_type_of(name), body});
    }
    return v;
  }();
  return assets;
}

}  // namespace

const Asset* find_asset(std::string_view name) {
  for (const Asset& a : all_assets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

}  // namespace waypost::web
