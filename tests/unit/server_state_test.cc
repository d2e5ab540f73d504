// Server state: key and address assignment, persistence, and crash safety of the writes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "common/atomic_file.h"
#include "crypto/random.h"
#include "server/bundles.h"
#include "server/state.h"

namespace waypost::server {
namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/wp-state-XXXXXX";
  return mkdtemp(tmpl);
}

ServerConfig config_with(std::vector<std::string> users) {
  ServerConfig c;
  c.users = std::move(users);
  c.wireguard_network_ipv4 = net::Prefix::parse("10.49.0.0/16").value();
  c.wireguard_network_ipv6 = net::Prefix::parse("fd12:3456:789a::/48").value();
  return c;
}

TEST(ServerState, NewUsersGetKeysAndLowestFreeAddresses) {
  crypto::SeededRandom rng(1);
  ServerState s;
  auto r = reconcile(s, config_with({"phone", "laptop"}), rng, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added.size(), 2u);
  EXPECT_FALSE(s.private_key.is_zero());
  EXPECT_EQ(s.users.at("phone").ipv4.to_string(), "10.49.0.2");
  EXPECT_EQ(s.users.at("laptop").ipv4.to_string(), "10.49.0.3");
  EXPECT_EQ(s.users.at("phone").ipv6->to_string(), "fd12:3456:789a::2");
  EXPECT_NE(s.users.at("phone").public_key, s.users.at("laptop").public_key);
  EXPECT_FALSE(s.users.at("phone").preshared_key.is_zero());
  EXPECT_EQ(server_ipv4(config_with({})).to_string(), "10.49.0.1");

  // Removing a user frees its address; the next new user takes it; others keep theirs.
  r = reconcile(s, config_with({"laptop"}), rng, 200);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->removed, std::vector<std::string>{"phone"});
  r = reconcile(s, config_with({"laptop", "tablet"}), rng, 300);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(s.users.at("tablet").ipv4.to_string(), "10.49.0.2");
  EXPECT_EQ(s.users.at("laptop").ipv4.to_string(), "10.49.0.3");
}

TEST(ServerState, ReconcileIsStableWhenNothingChanged) {
  crypto::SeededRandom rng(2);
  ServerState s;
  ASSERT_TRUE(reconcile(s, config_with({"a", "b"}), rng, 1).ok());
  auto before = state_to_json(s);
  auto r = reconcile(s, config_with({"a", "b"}), rng, 2);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->changed());
  EXPECT_EQ(state_to_json(s), before);
}

TEST(ServerState, PoolExhaustionIsAnError) {
  crypto::SeededRandom rng(3);
  ServerState s;
  auto c = config_with({"a", "b", "c"});
  c.wireguard_network_ipv4 = net::Prefix::parse("10.0.0.0/30").value();  // .1 server, .2 one user
  auto r = reconcile(s, c, rng, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no free address"), std::string::npos);
}

TEST(ServerState, JsonRoundTripAndFilesArePrivate) {
  crypto::SeededRandom rng(4);
  ServerState s;
  ASSERT_TRUE(reconcile(s, config_with({"phone"}), rng, 5).ok());
  auto dir = temp_dir();
  ASSERT_TRUE(save_state(dir, s).ok());
  struct stat st {};
  ASSERT_EQ(::stat(state_path(dir).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = load_state(dir);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(state_to_json(*back), state_to_json(s));
  // A state file others can read is refused, with the fix in the message.
  ::chmod(state_path(dir).c_str(), 0644);
  auto refused = load_state(dir);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("chmod 600"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(ServerState, CorruptStateIsAClearError) {
  EXPECT_FALSE(state_from_json("{").ok());
  EXPECT_FALSE(state_from_json("{\"private_key\": 3}").ok());
  EXPECT_FALSE(state_from_json("{\"private_key\": \"AAAA\"}").ok());
}

// A crash between writing the temporary file and renaming it leaves the old file intact.
TEST(ServerState, CrashDuringWriteKeepsOldState) {
  crypto::SeededRandom rng(6);
  auto dir = temp_dir();
  ServerState old_state;
  ASSERT_TRUE(reconcile(old_state, config_with({"phone"}), rng, 1).ok());
  ASSERT_TRUE(save_state(dir, old_state).ok());
  const std::string before = read_file(state_path(dir)).value();

  pid_t pid = fork();
  if (pid == 0) {
    set_atomic_write_hook([](const std::string&) { _exit(42); });  // "crash" before the rename
    ServerState s = old_state;
    crypto::SeededRandom r2(7);
    (void)reconcile(s, config_with({"phone", "tablet"}), r2, 2);
    (void)save_state(dir, s);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 42);
  EXPECT_EQ(read_file(state_path(dir)).value(), before);
  auto loaded = load_state(dir);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->users.size(), 1u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace waypost::server

namespace waypost::server {
namespace {

// A user imported from a server's wg-quick file has a public key and no private key: state.json
// keeps it that way, and no profile is written for it.
TEST(ServerState, UserWithoutPrivateKeyRoundTrips) {
  ServerState s;
  s.private_key.data()[0] = 7;
  UserState u;
  u.public_key[0] = 42;
  u.ipv4 = net::IpAddress::parse("10.49.0.9").value();
  s.users.emplace("grandma", u);
  const std::string json = state_to_json(s);
  EXPECT_NE(json.find("\"public_key\""), std::string::npos);
  auto back = state_from_json(json);
  ASSERT_TRUE(back) << back.error().message;
  const UserState& g = back->users.at("grandma");
  EXPECT_FALSE(g.private_key);
  EXPECT_EQ(g.public_key, u.public_key);
  EXPECT_TRUE(g.preshared_key.is_zero());
  EXPECT_FALSE(has_client_profile(g));
  ServerConfig c;
  c.endpoint = "vpn.example.com";
  EXPECT_EQ(client_conf(c, *back, "grandma"), "");
  EXPECT_FALSE(write_bundles("/nonexistent", c, *back, "grandma"));
  // Neither key: refused.
  EXPECT_FALSE(state_from_json(
      R"({"private_key": ")" + crypto::key_to_base64(s.private_key.span()) +
      R"(", "users": {"x": {"preshared_key": ")" + crypto::key_to_base64(s.private_key.span()) +
      R"(", "ipv4": "10.49.0.2"}}})"));
}

}  // namespace
}  // namespace waypost::server
