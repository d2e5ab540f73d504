// Fuzzes the reader of Algo VPN's config.cfg and .config.yml (server import-algo). Any input must
// parse or fail with a message naming the file (yaml-cpp's exceptions must never escape), and
// what parses must merge into other settings without harm.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/import_algo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto s = waypost::server::parse_algo_settings(text, "config.cfg");
  if (!s) {
    if (!s.error().message.starts_with("config.cfg")) {
      std::fprintf(stderr, "algo_settings_fuzz: error without the file name\n%s\n",
                   s.error().message.c_str());
      std::abort();
    }
    return 0;
  }
  waypost::server::AlgoSettings merged;
  waypost::server::merge_algo_settings(merged, *s);
  if (s->users && !merged.users) std::abort();
  return 0;
}
