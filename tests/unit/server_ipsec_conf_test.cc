// The swanctl.conf the server writes for its IKEv2 side: it parses, and it carries Algo's
// settings (proposals, DPD, lifetimes, no server-side rekeying, several devices per user).
#include <gtest/gtest.h>

#include <string>

#include "ike/swanctl_conf.h"
#include "server/config.h"
#include "server/server_ipsec.h"

namespace waypost::server {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

ike::IpsecConfig parsed(const ServerConfig& config) {
  const std::string text = server_swanctl_conf(config);
  auto c = ike::parse_swanctl_text(text, "server.conf", nullptr);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message) << "\n" << text;
  return c.ok() ? std::move(*c) : ike::IpsecConfig{};
}

TEST(ServerSwanctlConf, AlgosSettings) {
  ServerConfig config;
  config.endpoint = "vpn.example.com";
  const ike::IpsecConfig c = parsed(config);
  ASSERT_EQ(c.connections.size(), 1u);
  const ike::Connection& conn = c.connections.front();
  EXPECT_EQ(conn.version, 2u);
  EXPECT_EQ(conn.dpd_delay, seconds(35));
  // The server never rekeys or reauthenticates; an IKE SA nobody rekeyed goes after 12 h.
  EXPECT_EQ(conn.rekey_time, seconds(0));
  EXPECT_EQ(conn.reauth_time, seconds(0));
  EXPECT_EQ(conn.over_time, hours(12));
  EXPECT_EQ(conn.unique, ike::Unique::kNever);
  EXPECT_TRUE(conn.mobike);
  ASSERT_EQ(conn.children.size(), 1u);
  const ike::Child& child = conn.children.front();
  EXPECT_EQ(child.rekey_time, seconds(0));
  EXPECT_EQ(child.life_time, hours(3));
  EXPECT_EQ(child.dpd_action, ike::DpdAction::kClear);
  EXPECT_NE(server_swanctl_conf(config).find("aes256gcm16-prfsha512-ecp384"), std::string::npos);
  EXPECT_NE(server_swanctl_conf(config).find("esp_proposals = aes256gcm16-ecp384"),
            std::string::npos);
}

TEST(ServerSwanctlConf, Ipv6PoolOnlyWithIpv6) {
  ServerConfig config;
  config.endpoint = "203.0.113.5";
  config.ipv6 = false;
  EXPECT_EQ(parsed(config).pools.size(), 1u);
  config.ipv6 = true;
  EXPECT_EQ(parsed(config).pools.size(), 2u);
}

}  // namespace
}  // namespace waypost::server
