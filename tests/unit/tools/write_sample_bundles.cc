// Writes sample client bundles for tests/unit/plist_check.py: the full tree of one user through
// write_bundles, plus one iOS profile per on-demand combination, named
// ondemand-w<wifi>-c<cellular>-x<exclude>.mobileconfig. Usage: write_sample_bundles <dir>
#include <cstdio>
#include <string>

#include "common/atomic_file.h"
#include "crypto/random.h"
#include "server/bundles.h"

using waypost::server::AppleOs;
using waypost::server::ServerConfig;
using waypost::server::ServerState;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  ServerConfig config;
  config.users = {"phone", "alice@example.com"};
  config.endpoint = "vpn.example.com";
  config.wireguard_persistent_keepalive = 25;
  ServerState state;
  waypost::crypto::SeededRandom rng(42);
  if (auto r = reconcile(state, config, rng, 0); !r) {
    std::fprintf(stderr, "reconcile: %s\n", r.error().message.c_str());
    return 1;
  }
  for (const auto& user : config.users) {
    if (auto st = write_bundles(dir, config, state, user); !st) {
      std::fprintf(stderr, "write_bundles: %s\n", st.error().message.c_str());
      return 1;
    }
  }
  for (int wifi = 0; wifi < 2; ++wifi) {
    for (int cell = 0; cell < 2; ++cell) {
      for (int exclude = 0; exclude < 2; ++exclude) {
        ServerConfig c = config;
        c.ondemand_wifi = wifi != 0;
        c.ondemand_cellular = cell != 0;
        if (exclude != 0) {
          // Characters XML must escape, and non-ASCII.
          c.ondemand_wifi_exclude = {"home", "<Caf\xc3\xa9 & \"Bar's\">"};
        }
        const std::string path = dir + "/ondemand-w" + std::to_string(wifi) + "-c" +
                                 std::to_string(cell) + "-x" + std::to_string(exclude) +
                                 ".mobileconfig";
        const std::string xml = apple_mobileconfig(c, state, "phone", AppleOs::kIos);
        if (auto st = waypost::write_file_atomic(path, xml, 0600); !st) {
          std::fprintf(stderr, "%s\n", st.error().message.c_str());
          return 1;
        }
      }
    }
  }
  return 0;
}
