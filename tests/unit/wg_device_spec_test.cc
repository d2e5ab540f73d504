// One configuration path: Device::configure makes the device what a DeviceSpec says, touching
// only what differs and reporting it; apply_uapi_set turns a UAPI delta into the next spec with
// the kernel's semantics.
#include <gtest/gtest.h>

#include "wg_pair.h"
#include "wireguard/device_spec.h"

namespace waypost::test {
namespace {

crypto::PublicKey key_of(uint64_t seed) {
  crypto::SeededRandom rng(seed);
  return crypto::X25519Key::generate(rng).public_key();
}

net::Prefix prefix(const char* text) {
  return net::Prefix::parse(text).value();
}

wireguard::PeerSpec peer_spec(const crypto::PublicKey& key, std::vector<net::Prefix> ips) {
  wireguard::PeerSpec p;
  p.public_key = key;
  p.allowed_ips = std::move(ips);
  return p;
}

TEST(DeviceSpec, ConfigureAddsPeersAndReportsIt) {
  ManualClock clock;
  Node n(clock, 1, "192.0.2.1", 51820);
  wireguard::DeviceSpec spec = n.device.spec();
  spec.peers.push_back(peer_spec(key_of(10), {prefix("10.0.0.2/32"), prefix("fd00::2/128")}));
  spec.peers.push_back(peer_spec(key_of(11), {prefix("10.0.0.3/32")}));
  auto changes = n.device.configure(spec);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->added.size(), 2u);
  EXPECT_TRUE(changes->removed.empty());
  EXPECT_TRUE(changes->updated.empty());
  EXPECT_EQ(changes->allowed_ips_added, 3u);
  EXPECT_FALSE(changes->private_key);
  EXPECT_EQ(n.device.peer_count(), 2u);
  EXPECT_EQ(changes->summary(), "2 peers added, 3 allowed IPs added");

  // The same spec again changes nothing.
  auto again = n.device.configure(spec);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty()) << again->summary();
  EXPECT_EQ(again->summary(), "no change");
}

TEST(DeviceSpec, ConfigureRemovesAndUpdatesOnlyWhatDiffers) {
  ManualClock clock;
  Node n(clock, 1, "192.0.2.1", 51820);
  const auto a = key_of(10), b = key_of(11), c = key_of(12);
  wireguard::DeviceSpec spec;
  spec.private_key = n.key.private_key();
  spec.peers = {peer_spec(a, {prefix("10.0.0.2/32")}), peer_spec(b, {prefix("10.0.0.3/32")})};
  ASSERT_TRUE(n.device.configure(spec).ok());
  wireguard::Peer* pb = n.device.find_peer(b);
  ASSERT_NE(pb, nullptr);

  // a goes, c comes, b gets a new allowed IP set and a keepalive.
  spec.peers = {peer_spec(b, {prefix("10.0.0.4/32")}), peer_spec(c, {prefix("10.0.0.3/32")})};
  spec.peers[0].persistent_keepalive = 25;
  auto changes = n.device.configure(spec);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->removed.size(), 1u);
  EXPECT_EQ(changes->removed[0], a);
  ASSERT_EQ(changes->added.size(), 1u);
  EXPECT_EQ(changes->added[0], c);
  ASSERT_EQ(changes->updated.size(), 1u);
  EXPECT_EQ(changes->updated[0], b);
  EXPECT_EQ(changes->allowed_ips_removed, 1u);  // b's old one (a's went with a)
  EXPECT_EQ(changes->allowed_ips_added, 2u);
  // b is the same peer object (its sessions would have survived).
  EXPECT_EQ(n.device.find_peer(b), pb);
  EXPECT_EQ(pb->persistent_keepalive(), 25);
  EXPECT_EQ(n.router.table().lookup(net::IpAddress::parse("10.0.0.3").value()),
            n.device.find_peer(c));
  EXPECT_EQ(n.router.table().lookup(net::IpAddress::parse("10.0.0.4").value()), pb);
  EXPECT_EQ(n.router.table().lookup(net::IpAddress::parse("10.0.0.2").value()), nullptr);
}

TEST(DeviceSpec, PrefixMovingBetweenPeersEndsWithItsNewOwner) {
  ManualClock clock;
  Node n(clock, 1, "192.0.2.1", 51820);
  const auto a = key_of(10), b = key_of(11);
  wireguard::DeviceSpec spec = n.device.spec();
  // b is listed first, so a naive "add b's, then withdraw a's" order would lose the prefix.
  spec.peers = {peer_spec(b, {}), peer_spec(a, {prefix("10.0.0.0/24")})};
  ASSERT_TRUE(n.device.configure(spec).ok());
  spec.peers = {peer_spec(b, {prefix("10.0.0.0/24")}), peer_spec(a, {})};
  ASSERT_TRUE(n.device.configure(spec).ok());
  EXPECT_EQ(n.router.table().lookup(net::IpAddress::parse("10.0.0.9").value()),
            n.device.find_peer(b));
}

TEST(DeviceSpec, OwnKeyIsIgnoredAndEndpointKeptUnlessGiven) {
  ManualClock clock;
  Node n(clock, 1, "192.0.2.1", 51820);
  const auto a = key_of(10);
  wireguard::DeviceSpec spec = n.device.spec();
  spec.peers = {peer_spec(n.key.public_key(), {}), peer_spec(a, {})};
  spec.peers[1].endpoint = net::Endpoint::parse("198.51.100.1:51820").value();
  auto changes = n.device.configure(spec);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->added.size(), 1u);
  wireguard::Peer* pa = n.device.find_peer(a);
  ASSERT_NE(pa, nullptr);
  EXPECT_TRUE(pa->endpoint_configured());

  // A roamed endpoint is runtime state: a spec without an endpoint keeps it.
  pa->learn_endpoint(net::Endpoint::parse("198.51.100.7:4000").value());
  spec.peers[1].endpoint.reset();
  auto again = n.device.configure(spec);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty()) << again->summary();
  EXPECT_EQ(pa->endpoint()->to_string(), "198.51.100.7:4000");
}

TEST(DeviceSpec, SessionsSurviveAReconfigurationThatLeavesThePeerAlone) {
  Pair p;
  p.connect();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 100));
  p.pump();
  ASSERT_NE(p.pa->sessions().current(), nullptr);
  const auto* session = p.pa->sessions().current();
  // Add an unrelated peer the declarative way.
  wireguard::DeviceSpec spec = p.a.device.spec();
  spec.peers.push_back(peer_spec(key_of(99), {prefix("10.9.9.9/32")}));
  auto changes = p.a.device.configure(spec);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->added.size(), 1u);
  EXPECT_TRUE(changes->updated.empty());
  EXPECT_EQ(p.pa->sessions().current(), session);
}

TEST(DeviceSpec, UapiDeltaFollowsKernelSemantics) {
  const auto a = key_of(10), b = key_of(11), c = key_of(12);
  wireguard::DeviceSpec current;
  current.listen_port = 51820;
  current.peers = {peer_spec(a, {prefix("10.0.0.2/32"), prefix("10.0.1.0/24")}),
                   peer_spec(b, {prefix("10.0.0.3/32")})};

  wireguard::UapiSet set;
  set.listen_port = 4000;
  wireguard::UapiPeerChange to_b;  // b takes 10.0.1.0/24 from a and drops its own
  to_b.public_key = b;
  to_b.allowed_ips = {{prefix("10.0.1.0/24"), false}, {prefix("10.0.0.3/32"), true}};
  wireguard::UapiPeerChange only_update;  // c does not exist: update_only skips it
  only_update.public_key = c;
  only_update.update_only = true;
  only_update.persistent_keepalive = 5;
  set.peers = {to_b, only_update};
  auto next = wireguard::apply_uapi_set(current, set);
  EXPECT_EQ(next.listen_port, 4000);
  ASSERT_EQ(next.peers.size(), 2u);
  EXPECT_EQ(next.find(a)->allowed_ips, std::vector<net::Prefix>{prefix("10.0.0.2/32")});
  EXPECT_EQ(next.find(b)->allowed_ips, std::vector<net::Prefix>{prefix("10.0.1.0/24")});
  EXPECT_EQ(next.find(c), nullptr);
  EXPECT_FALSE(next.recreate_peers);

  wireguard::UapiSet remove_a;
  wireguard::UapiPeerChange rm;
  rm.public_key = a;
  rm.remove = true;
  remove_a.peers = {rm};
  next = wireguard::apply_uapi_set(next, remove_a);
  ASSERT_EQ(next.peers.size(), 1u);
  EXPECT_EQ(next.peers[0].public_key, b);

  wireguard::UapiSet replace;
  replace.replace_peers = true;
  wireguard::UapiPeerChange new_c;
  new_c.public_key = c;
  new_c.replace_allowed_ips = true;
  new_c.allowed_ips = {{prefix("10.0.0.9/32"), false}};
  replace.peers = {new_c};
  next = wireguard::apply_uapi_set(next, replace);
  EXPECT_TRUE(next.recreate_peers);
  ASSERT_EQ(next.peers.size(), 1u);
  EXPECT_EQ(next.peers[0].public_key, c);

  wireguard::UapiSet no_key;
  no_key.private_key = crypto::PrivateKey{};  // all zeros: remove the key
  current.private_key = crypto::PrivateKey{};
  current.private_key->data()[0] = 1;
  EXPECT_FALSE(wireguard::apply_uapi_set(current, no_key).private_key.has_value());
}

TEST(DeviceSpec, SetconfRecreatesPeersAsTheKernelDoes) {
  Pair p;
  p.connect();
  p.a.send_inner(ipv4_packet("10.0.0.1", "10.0.0.2", 100));
  p.pump();
  ASSERT_NE(p.pa->sessions().current(), nullptr);
  wireguard::UapiSet set;
  set.replace_peers = true;
  wireguard::UapiPeerChange same;
  same.public_key = p.b.key.public_key();
  same.allowed_ips = {{prefix("10.0.0.2/32"), false}};
  set.peers = {same};
  ASSERT_TRUE(p.a.device.apply(set).ok());
  wireguard::Peer* again = p.a.device.find_peer(p.b.key.public_key());
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->sessions().current(), nullptr);
}

}  // namespace
}  // namespace waypost::test
