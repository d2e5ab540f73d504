// server import-wg: wg-quick server files (wg-easy v14/v15, PiVPN, hand-made), wg-easy's JSON and
// SQLite records, and the plan built from them. Fixtures: tests/fixtures/import/.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/atomic_file.h"
#include "crypto/random.h"
#include "crypto/x25519.h"
#include "server/bundles.h"
#include "server/import_wg.h"
#include "server/state.h"
#include "server/wg_easy.h"

namespace waypost::server {
namespace {

const std::string kFixtures = std::string(WAYPOST_FIXTURES_DIR) + "/import";

std::string fixture(const std::string& rel) {
  return read_file(kFixtures + "/" + rel).value();
}

WgServerConf conf_of(const std::string& rel) {
  auto c = parse_wg_server_conf(fixture(rel), rel);
  EXPECT_TRUE(c) << c.error().message;
  return std::move(c).value();
}

std::vector<std::string> names_of(const WgServerConf& c) {
  std::vector<std::string> out;
  for (const auto& p : c.peers) out.push_back(p.name);
  return out;
}

bool has_note(const ImportPlan& plan, const std::string& fragment) {
  return std::any_of(plan.notes.begin(), plan.notes.end(),
                     [&](const std::string& n) { return n.find(fragment) != std::string::npos; });
}

TEST(PeerNameFromComment, Spellings) {
  EXPECT_EQ(peer_name_from_comment("# Client: Alice's iPhone (5e8a3c0e-6f1b)"), "Alice's iPhone");
  EXPECT_EQ(peer_name_from_comment("### begin pixel ###"), "pixel");
  EXPECT_EQ(peer_name_from_comment("### end pixel ###"), "");
  EXPECT_EQ(peer_name_from_comment("### Client kids tablet"), "kids tablet");
  EXPECT_EQ(peer_name_from_comment("# Name = grandma"), "grandma");
  EXPECT_EQ(peer_name_from_comment("#name: grandma"), "grandma");
  EXPECT_EQ(peer_name_from_comment("#friendly_name: office-router"), "office-router");
  EXPECT_EQ(peer_name_from_comment("# phone"), "phone");
  EXPECT_EQ(peer_name_from_comment("# PublicKey = abc"), "");  // commented-out config
  EXPECT_EQ(peer_name_from_comment("#"), "");
}

TEST(UserNameForLabel, Sanitizes) {
  EXPECT_EQ(user_name_for_label("Alice's iPhone"), "Alice-s-iPhone");
  EXPECT_EQ(user_name_for_label("  --phone"), "phone");
  EXPECT_EQ(user_name_for_label("Bob's Laptop!"), "Bob-s-Laptop");
  EXPECT_EQ(user_name_for_label("ü"), "");
  EXPECT_EQ(user_name_for_label(std::string(100, 'a')).size(), 64u);
}

TEST(WgServerConf, NamesFromEveryStyle) {
  EXPECT_EQ(names_of(conf_of("wg-easy-v14/wg0.conf")),
            (std::vector<std::string>{"Alice's iPhone", "laptop"}));
  EXPECT_EQ(names_of(conf_of("wg-easy-v15/wg0.conf")),
            (std::vector<std::string>{"phone", "Bob's Laptop"}));
  EXPECT_EQ(names_of(conf_of("pivpn/wg0.conf")), (std::vector<std::string>{"pixel", "work-mac"}));
  EXPECT_EQ(names_of(conf_of("handmade/wg0.conf")),
            (std::vector<std::string>{"kids tablet", "grandma", "office-router", ""}));
}

TEST(WgServerConf, ErrorsNameFileAndLine) {
  auto c = parse_wg_server_conf("[Interface]\nPrivateKey = nope\n", "/etc/wireguard/wg0.conf");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("/etc/wireguard/wg0.conf: line 2"), std::string::npos)
      << c.error().message;
}

TEST(WgEasyJson, ReadsClientsAndDisabled) {
  auto d = parse_wg_easy_json(fixture("wg-easy-v14/wg0.json"), "wg0.json");
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->clients.size(), 3u);
  EXPECT_TRUE(d->server_private_key);
  const auto& tablet = *std::find_if(d->clients.begin(), d->clients.end(),
                                     [](const auto& c) { return c.name == "old tablet"; });
  EXPECT_FALSE(tablet.enabled);
  EXPECT_EQ(tablet.ipv4->to_string(), "10.8.0.4");
  EXPECT_TRUE(tablet.private_key);
  EXPECT_EQ(tablet.created, parse_wg_easy_time("2024-03-01 10:20:30"));
  EXPECT_NE(tablet.created, 0);
}

TEST(WgEasyJson, Errors) {
  EXPECT_FALSE(parse_wg_easy_json("[]", "f"));
  EXPECT_FALSE(parse_wg_easy_json("{\"clients\": {}}", "f"));
  auto bad = parse_wg_easy_json(
      R"({"server": {}, "clients": {"x": {"name": "a", "publicKey": "short"}}})", "wg0.json");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("wg0.json: client x: public key"), std::string::npos)
      << bad.error().message;
  EXPECT_TRUE(bad.error().is(ErrorKind::kParse));
}

// wg-easy v15's database, built from the fixture's SQL.
std::string make_v15_db(const std::string& dir) {
  std::string path = dir + "/wg-easy.db";
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, fixture("wg-easy-v15/wg-easy.sql").c_str(), nullptr, nullptr, &err),
            SQLITE_OK)
      << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
  return path;
}

std::string temp_dir() {
  char tmpl[] = "/tmp/waypost-import-wg-XXXXXX";
  return mkdtemp(tmpl);
}

TEST(WgEasySqlite, ReadsInterfaceAndClients) {
  const std::string dir = temp_dir();
  auto d = read_wg_easy(make_v15_db(dir));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->host, "vpn.example.net");
  EXPECT_EQ(d->port, 51820);
  EXPECT_EQ(d->ipv4_cidr->to_string(), "10.8.0.0/24");
  EXPECT_EQ(d->ipv6_cidr->to_string(), "fdcc:ad94:bacf:61a4::cafe:0/112");
  ASSERT_EQ(d->clients.size(), 3u);
  EXPECT_EQ(d->clients[1].name, "Bob's Laptop");
  EXPECT_EQ(d->clients[1].ipv6->to_string(), "fdcc:ad94:bacf:61a4::cafe:3");
  EXPECT_FALSE(d->clients[2].enabled);
  std::filesystem::remove_all(dir);
}

TEST(WgEasySqlite, NotWgEasy) {
  const std::string dir = temp_dir();
  sqlite3* db = nullptr;
  sqlite3_open((dir + "/x.db").c_str(), &db);
  sqlite3_exec(db, "CREATE TABLE t (a);", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto d = read_wg_easy(dir + "/x.db");
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("not a wg-easy v15 database"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(PlanWgImport, WgEasyV14KeepsKeysAddressesAndNames) {
  WgImportInputs in;
  in.conf_file = "wg0.conf";
  in.conf = conf_of("wg-easy-v14/wg0.conf");
  in.wg_easy = parse_wg_easy_json(fixture("wg-easy-v14/wg0.json"), "wg0.json").value();
  in.endpoint = "203.0.113.5";
  auto plan = plan_wg_import(in, crypto::system_random());
  ASSERT_TRUE(plan) << plan.error().message;
  const ServerConfig& c = plan->config;
  EXPECT_EQ(c.wireguard_network_ipv4.to_string(), "10.8.0.0/24");
  EXPECT_FALSE(c.ipv6);
  EXPECT_EQ(c.wireguard_port, 51820);
  EXPECT_EQ(c.users, (std::vector<std::string>{"Alice-s-iPhone", "laptop", "old-tablet"}));
  EXPECT_TRUE(plan->state.private_key.equals(in.conf.iface.private_key->span()));
  const UserState& alice = plan->state.users.at("Alice-s-iPhone");
  EXPECT_EQ(alice.ipv4.to_string(), "10.8.0.2");
  EXPECT_TRUE(alice.private_key);  // from wg0.json: Waypost can write the profile
  EXPECT_EQ(alice.public_key, in.conf.peers[0].peer.public_key);
  EXPECT_TRUE(alice.preshared_key.equals(in.conf.peers[0].peer.preshared_key->span()));
  EXPECT_TRUE(has_note(*plan, "disabled in wg-easy"));
  EXPECT_TRUE(has_note(*plan, "PostUp"));
  EXPECT_TRUE(has_note(*plan, "'Alice's iPhone' imported as user 'Alice-s-iPhone'"));

  in.skip_disabled = true;
  auto skipped = plan_wg_import(in, crypto::system_random());
  ASSERT_TRUE(skipped);
  EXPECT_EQ(skipped->config.users.size(), 2u);
}

TEST(PlanWgImport, WgEasyV15TakesHostAndIpv6) {
  const std::string dir = temp_dir();
  WgImportInputs in;
  in.conf_file = "wg0.conf";
  in.conf = conf_of("wg-easy-v15/wg0.conf");
  in.wg_easy = read_wg_easy(make_v15_db(dir)).value();
  auto plan = plan_wg_import(in, crypto::system_random());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->config.endpoint, "vpn.example.net");
  EXPECT_TRUE(plan->config.ipv6);
  EXPECT_EQ(plan->config.wireguard_network_ipv6.to_string(), "fdcc:ad94:bacf:61a4::cafe:0/112");
  EXPECT_EQ(plan->state.users.at("phone").ipv6->to_string(), "fdcc:ad94:bacf:61a4::cafe:2");
  EXPECT_EQ(plan->state.users.at("Bob-s-Laptop").ipv4.to_string(), "10.8.0.3");
  EXPECT_EQ(plan->state.users.count("disabled-one"), 1u);
  std::filesystem::remove_all(dir);
}

TEST(PlanWgImport, HandMadeWithoutPrivateKeys) {
  WgImportInputs in;
  in.conf_file = "wg0.conf";
  in.conf = conf_of("handmade/wg0.conf");
  in.endpoint = "vpn.example.org";
  auto plan = plan_wg_import(in, crypto::system_random());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->config.users,
            (std::vector<std::string>{"kids-tablet", "grandma", "office-router", "peer4"}));
  EXPECT_EQ(plan->config.wireguard_port, 41194);
  EXPECT_EQ(plan->config.wireguard_network_ipv4.to_string(), "192.168.77.0/24");
  const UserState& grandma = plan->state.users.at("grandma");
  EXPECT_FALSE(grandma.private_key);
  EXPECT_FALSE(has_client_profile(grandma));
  EXPECT_TRUE(grandma.preshared_key.is_zero());  // no PresharedKey: none
  EXPECT_TRUE(has_note(*plan, "AllowedIPs 10.20.0.0/16 is not carried over"));
  EXPECT_TRUE(has_note(*plan, "Endpoint 203.0.113.7:51820"));
  EXPECT_TRUE(has_note(*plan, "no private key"));
  EXPECT_TRUE(has_note(*plan, "no name found, imported as user 'peer4'"));
}

TEST(PlanWgImport, Refusals) {
  WgImportInputs in;
  in.conf_file = "wg0.conf";
  in.conf = conf_of("pivpn/wg0.conf");
  // No endpoint given and none known.
  auto none = plan_wg_import(in, crypto::system_random());
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("--endpoint"), std::string::npos);
  // A peer outside the pool would be renumbered: refused.
  in.endpoint = "198.51.100.1";
  in.conf.peers[0].peer.allowed_ips = {net::Prefix::parse("10.6.0.2/32").value()};
  in.conf.peers[1].peer.allowed_ips = {net::Prefix::parse("10.6.0.2/32").value()};
  auto dup = plan_wg_import(in, crypto::system_random());
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("the same tunnel address"), std::string::npos)
      << dup.error().message;
  // Keys of two different servers.
  in = {};
  in.conf_file = "wg0.conf";
  in.conf = conf_of("wg-easy-v14/wg0.conf");
  in.wg_easy = parse_wg_easy_json(fixture("wg-easy-v14/wg0.json"), "wg0.json").value();
  crypto::PrivateKey other;
  other.data()[0] = 1;
  in.wg_easy->server_private_key = other;
  in.endpoint = "198.51.100.1";
  auto mixed = plan_wg_import(in, crypto::system_random());
  ASSERT_FALSE(mixed);
  EXPECT_NE(mixed.error().message.find("different server keys"), std::string::npos);
}

}  // namespace
}  // namespace waypost::server
