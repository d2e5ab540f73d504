#pragma once
// The web admin's pages (src/web/assets/), compiled into the binary at build time, so that the
// daemon serves exactly the pages it was built with and nothing is read from disk at run time.

#include <string_view>

namespace waypost::web {

struct Asset {
  std::string_view name;          // "app.js": its file name in src/web/assets/
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;          // the file's bytes
};

// The embedded file of that name ("index.html", "app.css"), or nullptr.
const Asset* find_asset(std::string_view name);

}  // namespace waypost::web
