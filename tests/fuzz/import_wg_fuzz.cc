// Fuzzes server import-wg's readers: a wg-quick server file with the names in its comments, and
// wg-easy's wg0.json. Any input must parse or fail with a message naming the file; whatever
// parses must make a plan or fail cleanly, and a plan's users must be valid Waypost user names,
// each once, with addresses inside the pools.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "crypto/random.h"
#include "server/import_wg.h"
#include "server/wg_easy.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "import_wg_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void check_plan(const waypost::server::WgImportInputs& in) {
  waypost::crypto::SeededRandom random(1);
  auto plan = waypost::server::plan_wg_import(in, random);
  if (!plan) return;
  std::set<std::string> seen;
  for (const auto& name : plan->config.users) {
    if (!waypost::server::validate_user_name(name)) fail("invalid user name", name);
    if (!seen.insert(name).second) fail("duplicate user", name);
    const auto& u = plan->state.users.at(name);
    const bool placeholder = u.ipv4 == waypost::net::IpAddress{};  // reconcile numbers it
    if (!plan->config.wireguard_network_ipv4.contains(u.ipv4) && !placeholder) {
      fail("address outside the pool", u.ipv4.to_string());
    }
  }
  (void)waypost::server::describe_plan(*plan);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)waypost::server::peer_name_from_comment(text);
  (void)waypost::server::parse_wg_easy_time(text);

  waypost::server::WgImportInputs in;
  in.conf_file = "wg0.conf";
  in.endpoint = "198.51.100.1";
  auto conf = waypost::server::parse_wg_server_conf(text, "wg0.conf");
  if (!conf) {
    if (!conf.error().message.starts_with("wg0.conf: ")) {
      fail("error without the file name", conf.error().message);
    }
  } else {
    in.conf = std::move(*conf);
    check_plan(in);
  }

  auto json = waypost::server::parse_wg_easy_json(text, "wg0.json");
  if (!json) {
    if (!json.error().message.starts_with("wg0.json")) {
      fail("error without the file name", json.error().message);
    }
  } else {
    // Beside a small server file, as wg0.json sits beside wg0.conf.
    auto base = waypost::server::parse_wg_server_conf(
        "[Interface]\nPrivateKey = GDQmMpzD8vzyqeaVUDPuCfTXpyYk0ud0kKtF8zJDGXk=\n"
        "Address = 10.8.0.1/24\nListenPort = 51820\n",
        "wg0.conf");
    if (!base) fail("the fixed server file does not parse", base.error().message);
    in.conf = std::move(*base);
    in.wg_easy = std::move(*json);
    check_plan(in);
  }
  return 0;
}
