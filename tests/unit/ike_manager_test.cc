// IkeManager: two instances in memory (a gateway and two road warriors): datagrams reach the SA
// their SPIs name, a retransmitted IKE_SA_INIT request is answered by the SA it made, and what is
// not ours is counted, not answered.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>

#include "common/clock.h"
#include "crypto/random.h"
#include "ike/ike_manager.h"

namespace waypost::ike {
namespace {

struct Sent {
  net::Endpoint from;
  net::Endpoint to;
  std::vector<uint8_t> bytes;
};

struct Host final : IkeManagerHost {
  void send_ike(const net::Endpoint& local, const net::Endpoint& remote,
                std::span<const uint8_t> message) override {
    out.push_back({local, remote, {message.begin(), message.end()}});
  }
  uint32_t allocate_spi() override { return next_spi++; }
  std::optional<net::IpAddress> lease_address(const Pool& pool, const std::string& /*peer*/,
                                              net::Family /*family*/) override {
    net::IpAddress a = pool.addrs.first;
    a.bytes[3] = uint8_t(a.bytes[3] + ++leases);
    return a;
  }
  void child_sa_up(IkeSa& /*ike*/, const ChildSaInfo& c) override { children.push_back(c.name); }
  void child_sa_down(IkeSa& /*ike*/, const ChildSaInfo& /*c*/) override { ++child_downs; }
  void ike_sa_down(IkeSa& /*ike*/, std::string_view /*reason*/) override { ++downs; }
  void child_sa_failed(IkeSa& /*ike*/, const std::string& child, std::string_view reason) override {
    failed.push_back(child + ": " + std::string(reason));
  }
  std::vector<std::string> failed;
  void diagnosed_without_sa(const Connection& conn, const net::Endpoint& /*remote*/,
                            const Diagnosis& d) override {
    unbound.emplace_back(conn.name, d);
  }
  std::vector<std::pair<std::string, Diagnosis>> unbound;

  std::deque<Sent> out;
  uint32_t next_spi = 0xc0000100;
  int leases = 0;
  std::vector<std::string> children;
  int downs = 0;
  int child_downs = 0;
};

IpsecConfig parse(const std::string& text) {
  auto c = parse_swanctl_text(text, "t.conf", nullptr);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
  return c.ok() ? std::move(*c) : IpsecConfig{};
}

const char* kGateway = R"(
connections {
  rw {
    local_addrs = 192.0.2.1
    remote_addrs = 198.51.100.0/24
    pools = p
    local { auth = psk
            id = gw.example.org }
    remote { auth = psk }
    children { net { local_ts = 10.1.0.0/16 } }
  }
}
pools { p { addrs = 10.3.0.0/24 } }
secrets { ike { secret = "a shared key for everybody" } }
)";

const char* kClient = R"(
connections {
  home {
    remote_addrs = 192.0.2.1
    vips = 0.0.0.0
    local { auth = psk
            id = @client }
    remote { auth = psk
             id = gw.example.org }
    children { home { remote_ts = 10.1.0.0/16 } }
  }
}
secrets { ike { secret = "a shared key for everybody" } }
)";

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Moves datagrams between instances (hosts[i] sends from addresses[i]) until none is left.
void pump_between(const std::vector<Host*>& hosts, const std::vector<IkeManager*>& managers,
                  const std::vector<net::IpAddress>& addresses) {
  for (int round = 0; round < 50; ++round) {
    bool moved = false;
    for (size_t i = 0; i < hosts.size(); ++i) {
      while (!hosts[i]->out.empty()) {
        Sent s = std::move(hosts[i]->out.front());
        hosts[i]->out.pop_front();
        moved = true;
        for (size_t j = 0; j < hosts.size(); ++j) {
          if (j != i && addresses[j] == s.to.ip()) managers[j]->receive(s.bytes, s.to, s.from);
        }
      }
    }
    if (!moved) return;
  }
}

class IkeManagerTest : public ::testing::Test {
 protected:
  void pump(const std::vector<Host*>& hosts, const std::vector<IkeManager*>& managers) {
    pump_between(hosts, managers, addresses);
  }

  ManualClock clock;
  crypto::SeededRandom random{7};
  IpsecConfig gw_conf = parse(kGateway);
  IpsecConfig client_conf = parse(kClient);
  IpsecConfig client_b_conf = parse(replace_all(kClient, "@client", "@client-b"));
  Host gw_host, a_host, b_host;
  IkeManager gw{clock, random, gw_host, gw_conf};
  IkeManager a{clock, random, a_host, client_conf};
  IkeManager b{clock, random, b_host, client_b_conf};
  std::vector<net::IpAddress> addresses = {net::IpAddress::parse("192.0.2.1").value(),
                                           net::IpAddress::parse("198.51.100.7").value(),
                                           net::IpAddress::parse("198.51.100.8").value()};
  net::Endpoint gw_ep = net::Endpoint::parse("192.0.2.1:500").value();
};

TEST_F(IkeManagerTest, TwoClientsEachReachTheirOwnSa) {
  ASSERT_TRUE(a.initiate("home", "", net::Endpoint::parse("198.51.100.7:500").value(), gw_ep));
  ASSERT_TRUE(b.initiate("home", "", net::Endpoint::parse("198.51.100.8:500").value(), gw_ep));
  pump({&gw_host, &a_host, &b_host}, {&gw, &a, &b});
  ASSERT_EQ(gw.sas().size(), 2u);
  for (const auto& sa : gw.sas()) EXPECT_EQ(sa->state(), IkeSaState::kEstablished);
  EXPECT_EQ(a.sas().at(0)->state(), IkeSaState::kEstablished);
  EXPECT_EQ(b.sas().at(0)->state(), IkeSaState::kEstablished);
  EXPECT_EQ(gw_host.children, (std::vector<std::string>{"net", "net"}));
  // Different virtual IPs from the one pool.
  EXPECT_NE(a.sas().at(0)->virtual_ips(), b.sas().at(0)->virtual_ips());
  EXPECT_EQ(gw.counters().unknown_sa, 0u);
}

TEST_F(IkeManagerTest, RetransmittedInitRequestIsAnsweredByTheSameSa) {
  ASSERT_TRUE(a.initiate("home", "", net::Endpoint::parse("198.51.100.7:500").value(), gw_ep));
  ASSERT_EQ(a_host.out.size(), 1u);
  const Sent init = a_host.out.front();
  gw.receive(init.bytes, init.to, init.from);
  gw.receive(init.bytes, init.to, init.from);  // a retransmission
  EXPECT_EQ(gw.sas().size(), 1u);
  ASSERT_EQ(gw_host.out.size(), 2u);
  EXPECT_EQ(gw_host.out[0].bytes, gw_host.out[1].bytes);  // the same answer, byte for byte
}

TEST_F(IkeManagerTest, WhatIsNotOursIsCountedNotAnswered) {
  const auto from = net::Endpoint::parse("198.51.100.9:500").value();
  const std::vector<uint8_t> garbage(40, 0x5a);
  gw.receive(garbage, gw_ep, from);
  EXPECT_EQ(gw.counters().malformed, 1u);

  // A well-formed IKE_AUTH for SPIs nobody made.
  ASSERT_TRUE(a.initiate("home", "", net::Endpoint::parse("198.51.100.7:500").value(), gw_ep));
  std::vector<uint8_t> bytes = a_host.out.front().bytes;
  bytes[8] = 1;    // SPIr no longer zero
  bytes[18] = 35;  // IKE_AUTH
  gw.receive(bytes, gw_ep, from);
  EXPECT_EQ(gw.counters().unknown_sa, 1u);

  // An IKE_SA_INIT from an address no connection allows.
  const Sent init = a_host.out.front();
  gw.receive(init.bytes, gw_ep, net::Endpoint::parse("203.0.113.5:500").value());
  EXPECT_EQ(gw.counters().no_connection, 1u);
  EXPECT_TRUE(gw_host.out.empty());
  EXPECT_TRUE(gw.sas().empty());
}

TEST_F(IkeManagerTest, AnIkeV1PeerIsToldAboutOncePerMinute) {
  // An IKEv1 Main Mode header (version 1.0, exchange 2) as strongSwan or Libreswan send it.
  std::vector<uint8_t> v1(28 + 60, 0);
  for (int i = 0; i < 8; ++i) v1[size_t(i)] = uint8_t(0x11 * (i + 1));
  v1[16] = 1;     // SA
  v1[17] = 0x10;  // version 1.0
  v1[18] = 2;     // Identity Protection (Main Mode)
  v1[27] = uint8_t(v1.size());
  const auto from = net::Endpoint::parse("198.51.100.9:500").value();
  gw.receive(v1, gw_ep, from);
  gw.receive(v1, gw_ep, from);  // its retransmission
  ASSERT_EQ(gw_host.unbound.size(), 1u);
  EXPECT_EQ(gw_host.unbound[0].first, "rw");
  EXPECT_EQ(gw_host.unbound[0].second.cause, Cause::kIkeV1Peer);
  EXPECT_NE(gw_host.unbound[0].second.sentence.find("198.51.100.9:500 speaks IKEv1"),
            std::string::npos);
  EXPECT_NE(gw_host.unbound[0].second.fix.find("keyexchange=ikev2"), std::string::npos);
  clock.advance(seconds(61));
  gw.receive(v1, gw_ep, from);
  EXPECT_EQ(gw_host.unbound.size(), 2u);
  EXPECT_TRUE(gw_host.out.empty());  // nothing answered
  EXPECT_TRUE(gw.sas().empty());
}

TEST_F(IkeManagerTest, UnknownConnectionOrChildIsAnError) {
  auto r = a.initiate("nope", "", gw_ep, gw_ep);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().is(ErrorKind::kNotFound));
  auto c = a.initiate("home", "other", gw_ep, gw_ep);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("no child 'other'"), std::string::npos);
  // Several children: every name is checked before anything is sent.
  const std::vector<std::string> children = {"home", "other"};
  auto d = a.initiate_children("home", children, gw_ep, gw_ep);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("no child 'other'"), std::string::npos);
  EXPECT_TRUE(a.sas().empty());
  EXPECT_TRUE(a_host.out.empty());
}

TEST_F(IkeManagerTest, ReauthenticationCarriesEveryChild) {
  // Two children on the client and the gateway; the client's IKE SA reauthenticates, and the
  // new IKE SA comes up with both before the old one goes.
  IpsecConfig gw2 = parse(
      replace_all(kGateway, "children { net { local_ts = 10.1.0.0/16 } }",
                  "children { net { local_ts = 10.1.0.0/16 }\n lab { local_ts = 10.2.0.0/16 } }"));
  IpsecConfig client2 = parse(replace_all(
      replace_all(
          kClient, "children { home { remote_ts = 10.1.0.0/16 } }",
          "children { home { remote_ts = 10.1.0.0/16 }\n lab { remote_ts = 10.2.0.0/16 } }"),
      "vips = 0.0.0.0", "vips = 0.0.0.0\n reauth_time = 1h"));
  Host g_host, c_host;
  IkeManager g{clock, random, g_host, gw2};
  IkeManager c{clock, random, c_host, client2};
  const std::vector<std::string> both = {"home", "lab"};
  ASSERT_TRUE(
      c.initiate_children("home", both, net::Endpoint::parse("198.51.100.7:500").value(), gw_ep));
  pump({&g_host, &c_host}, {&g, &c});
  EXPECT_EQ(c_host.children, both);
  ASSERT_EQ(c.sas().size(), 1u);
  const uint32_t first = c.sas()[0]->unique_id();
  for (int i = 0; i < 100 && c.next_timer() <= clock.now() + seconds(3600); ++i) {
    clock.set(std::max(clock.now(), c.next_timer()));
    c.on_timer();
    g.on_timer();
    pump({&g_host, &c_host}, {&g, &c});
    if (c.sas().size() == 1 && c.sas()[0]->unique_id() != first) break;
  }
  ASSERT_EQ(c.sas().size(), 1u);
  EXPECT_NE(c.sas()[0]->unique_id(), first);
  // Both again (their order follows the old SA's, where a rekeyed child moved to the end).
  std::vector<std::string> now = c.sas()[0]->child_names();
  std::sort(now.begin(), now.end());
  EXPECT_EQ(now, both);
}

TEST_F(IkeManagerTest, InitiatingAnotherChildReusesTheIkeSa) {
  // `initiate --child lab` (or a trap firing) while the connection's IKE SA carries `home`: the
  // new child rides a CREATE_CHILD_SA on that SA, no second IKE SA; asking again for a child
  // that is up adds nothing; a child the gateway does not know is reported as failed.
  IpsecConfig gw2 = parse(
      replace_all(kGateway, "children { net { local_ts = 10.1.0.0/16 } }",
                  "children { net { local_ts = 10.1.0.0/16 }\n lab { local_ts = 10.2.0.0/16 } }"));
  IpsecConfig client2 = parse(replace_all(kClient, "children { home { remote_ts = 10.1.0.0/16 } }",
                                          "children { home { remote_ts = 10.1.0.0/16 }\n"
                                          " lab { remote_ts = 10.2.0.0/16 }\n"
                                          " far { remote_ts = 10.9.0.0/16 } }"));
  Host g_host, c_host;
  IkeManager g{clock, random, g_host, gw2};
  IkeManager c{clock, random, c_host, client2};
  const std::vector<std::string> lab = {"lab"};
  // No SA yet: nothing to add to.
  auto none = c.add_children("home", lab);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
  ASSERT_TRUE(c.initiate("home", "home", net::Endpoint::parse("198.51.100.7:500").value(), gw_ep));
  pump({&g_host, &c_host}, {&g, &c});
  ASSERT_EQ(c.sas().size(), 1u);
  const uint32_t id = c.sas()[0]->unique_id();

  auto added = c.add_children("home", lab);
  ASSERT_TRUE(added.ok());
  ASSERT_NE(*added, nullptr);
  EXPECT_EQ((*added)->unique_id(), id);
  pump({&g_host, &c_host}, {&g, &c});
  ASSERT_EQ(c.sas().size(), 1u);
  ASSERT_EQ(g.sas().size(), 1u);
  EXPECT_EQ(c_host.children, (std::vector<std::string>{"home", "lab"}));
  EXPECT_EQ(g.sas()[0]->children().size(), 2u);

  // Up already: no CREATE_CHILD_SA is sent.
  const std::vector<std::string> both = {"home", "lab"};
  ASSERT_TRUE(c.add_children("home", both).ok());
  EXPECT_TRUE(c_host.out.empty());
  EXPECT_EQ(c.sas()[0]->children().size(), 2u);

  // The gateway has no child for 10.9.0.0/16: TS_UNACCEPTABLE, and the IKE SA stays.
  const std::vector<std::string> far = {"far"};
  ASSERT_TRUE(c.add_children("home", far).ok());
  pump({&g_host, &c_host}, {&g, &c});
  ASSERT_EQ(c_host.failed.size(), 1u);
  EXPECT_NE(c_host.failed[0].find("far: TS_UNACCEPTABLE"), std::string::npos) << c_host.failed[0];
  ASSERT_EQ(c.sas().size(), 1u);
  EXPECT_EQ(c.sas()[0]->state(), IkeSaState::kEstablished);

  // Unknown names are errors, as for initiate.
  const std::vector<std::string> nope = {"nope"};
  EXPECT_FALSE(c.add_children("home", nope).ok());
}

TEST_F(IkeManagerTest, MobikeInitiatorMovesItsSaWhenItsAddressChanges) {
  // The client's address changes from .7 to .9 (a laptop on another network): roam() finds the
  // new address toward the gateway, the client sends UPDATE_SA_ADDRESSES from there, and both
  // sides' SAs now use it, with the same IKE and CHILD SAs.
  ASSERT_TRUE(a.initiate("home", "", net::Endpoint::parse("198.51.100.7:500").value(), gw_ep));
  pump({&gw_host, &a_host}, {&gw, &a});
  ASSERT_EQ(a.sas().size(), 1u);
  ASSERT_EQ(gw.sas().size(), 1u);
  ASSERT_TRUE(a.sas()[0]->mobike());
  const uint32_t a_id = a.sas()[0]->unique_id();
  const uint32_t gw_id = gw.sas()[0]->unique_id();
  const auto spi = a.sas()[0]->children().at(0).spi_in;

  const auto moved_to = net::IpAddress::parse("198.51.100.9").value();
  addresses[1] = moved_to;
  // The same address: nothing to do. The gateway is never the one to move (it responded).
  EXPECT_EQ(a.roam([&](const net::IpAddress&) { return a.sas()[0]->local().ip(); }), 0u);
  EXPECT_EQ(
      gw.roam([&](const net::IpAddress&) { return net::IpAddress::parse("192.0.2.99").value(); }),
      0u);
  // No route toward the gateway for now: the SA waits.
  EXPECT_EQ(a.roam([](const net::IpAddress&) { return std::nullopt; }), 0u);
  EXPECT_EQ(a.roam([&](const net::IpAddress&) { return moved_to; }), 1u);
  ASSERT_FALSE(a_host.out.empty());
  EXPECT_EQ(a_host.out.front().from.ip(), moved_to);
  pump({&gw_host, &a_host}, {&gw, &a});

  ASSERT_EQ(gw.sas().size(), 1u);
  ASSERT_EQ(a.sas().size(), 1u);
  EXPECT_EQ(gw.sas()[0]->unique_id(), gw_id);
  EXPECT_EQ(a.sas()[0]->unique_id(), a_id);
  EXPECT_EQ(gw.sas()[0]->remote().ip(), moved_to);
  EXPECT_EQ(a.sas()[0]->local().ip(), moved_to);
  EXPECT_EQ(a.sas()[0]->children().at(0).spi_in, spi);  // no rekey, no new CHILD SA
  EXPECT_EQ(gw_host.downs + a_host.downs, 0);
  // Liveness checks carry on over the new path.
  clock.advance(seconds(60));
  a.on_timer();
  gw.on_timer();
  pump({&gw_host, &a_host}, {&gw, &a});
  EXPECT_EQ(a.sas()[0]->state(), IkeSaState::kEstablished);
}

TEST_F(IkeManagerTest, TerminatedSasAreDropped) {
  ASSERT_TRUE(a.initiate("home", "", net::Endpoint::parse("198.51.100.7:500").value(), gw_ep));
  pump({&gw_host, &a_host, &b_host}, {&gw, &a, &b});
  ASSERT_EQ(gw.sas().size(), 1u);
  EXPECT_EQ(a.terminate("home", "test"), 1u);
  pump({&gw_host, &a_host, &b_host}, {&gw, &a, &b});
  EXPECT_TRUE(gw.sas().empty());
  EXPECT_TRUE(a.sas().empty());
  EXPECT_EQ(gw_host.downs, 1);
  EXPECT_EQ(a_host.downs, 1);
}

// A flood of IKE_SA_INIT requests from forged addresses (they never answer): up to the threshold
// they make half-open SAs, beyond it they get stateless COOKIEs; a real client still connects,
// going through the cookie; the half-open SAs go after their timeout.
TEST_F(IkeManagerTest, ForgedInitFloodGetsCookiesAndARealClientStillConnects) {
  IkeManager guarded{clock, random, gw_host, gw_conf, HalfOpenLimits{3, 50}};
  ASSERT_TRUE(b.initiate("home", "", net::Endpoint::parse("198.51.100.8:500").value(), gw_ep));
  const std::vector<uint8_t> template_request = b_host.out.front().bytes;
  b_host.out.clear();
  for (int i = 0; i < 100; ++i) {
    std::vector<uint8_t> forged = template_request;
    forged[0] = uint8_t(i + 1);  // a different initiator SPI each time
    const auto from = net::Endpoint::from(net::IpAddress::v4(0xc6336400u + uint32_t(i % 250)),
                                          uint16_t(1000 + i));
    guarded.receive(forged, gw_ep, from);
  }
  EXPECT_EQ(guarded.half_open(), 3u);
  EXPECT_EQ(guarded.sas().size(), 3u);  // memory: three SAs, not a hundred
  EXPECT_EQ(guarded.counters().cookies_sent, 97u);
  ASSERT_EQ(gw_host.out.size(), 100u);
  gw_host.out.clear();

  ASSERT_TRUE(a.initiate("home", "", net::Endpoint::parse("198.51.100.7:500").value(), gw_ep));
  pump({&gw_host, &a_host, &b_host}, {&guarded, &a, &b});
  ASSERT_EQ(a.sas().size(), 1u);
  EXPECT_EQ(a.sas()[0]->state(), IkeSaState::kEstablished) << a.sas()[0]->failure();
  EXPECT_EQ(guarded.counters().cookies_sent, 98u);  // the real client's first request too

  clock.advance(kHalfOpenTimeout + seconds(1));
  guarded.on_timer();
  EXPECT_EQ(guarded.half_open(), 0u);
  ASSERT_EQ(guarded.sas().size(), 1u);  // the established one stays
  EXPECT_EQ(guarded.sas()[0]->state(), IkeSaState::kEstablished);
}

TEST_F(IkeManagerTest, WrongOrStaleCookieGetsANewCookieNotAnSa) {
  IkeManager guarded{clock, random, gw_host, gw_conf, HalfOpenLimits{0, 50}};
  ASSERT_TRUE(a.initiate("home", "", net::Endpoint::parse("198.51.100.7:500").value(), gw_ep));
  const Sent first = a_host.out.front();
  a_host.out.clear();
  guarded.receive(first.bytes, first.to, first.from);
  ASSERT_EQ(gw_host.out.size(), 1u);
  auto answer = parse_message(gw_host.out.front().bytes);
  ASSERT_TRUE(answer.ok());
  const NotifyPayload* cookie = find_notify(answer->payloads, NotifyType::kCookie);
  ASSERT_NE(cookie, nullptr);
  EXPECT_EQ(cookie->data.size(), 33u);
  // The same request with the cookie from another address is not admitted.
  a.receive(gw_host.out.front().bytes, first.from, first.to);
  ASSERT_EQ(a_host.out.size(), 1u);
  gw_host.out.clear();
  guarded.receive(a_host.out.front().bytes, first.to,
                  net::Endpoint::parse("198.51.100.99:500").value());
  EXPECT_TRUE(guarded.sas().empty());
  EXPECT_EQ(guarded.counters().cookies_sent, 2u);
  // From the right address it is, until the secret has rotated twice.
  guarded.receive(a_host.out.front().bytes, first.to, first.from);
  EXPECT_EQ(guarded.sas().size(), 1u);
  clock.advance(2 * CookieJar::kRotation + seconds(1));
  guarded.on_timer();  // the half-open SA times out
  EXPECT_TRUE(guarded.sas().empty());
  guarded.receive(a_host.out.front().bytes, first.to, first.from);
  EXPECT_TRUE(guarded.sas().empty());
}

TEST_F(IkeManagerTest, HalfOpenTableIsBounded) {
  IkeManager guarded{clock, random, gw_host, gw_conf, HalfOpenLimits{100, 5}};
  ASSERT_TRUE(a.initiate("home", "", net::Endpoint::parse("198.51.100.7:500").value(), gw_ep));
  const std::vector<uint8_t> request = a_host.out.front().bytes;
  for (int i = 0; i < 10; ++i) {
    std::vector<uint8_t> forged = request;
    forged[0] = uint8_t(0x80 + i);
    guarded.receive(forged, gw_ep, net::Endpoint::parse("198.51.100.9:500").value());
  }
  EXPECT_EQ(guarded.sas().size(), 5u);
  EXPECT_EQ(guarded.counters().half_open_full, 5u);
}

class IkeRekeyTest : public IkeManagerTest {
 protected:
  void establish() {
    ASSERT_TRUE(a.initiate("home", "", net::Endpoint::parse("198.51.100.7:500").value(), gw_ep));
    pump({&gw_host, &a_host, &b_host}, {&gw, &a, &b});
    ASSERT_EQ(gw.sas().size(), 1u);
    ASSERT_EQ(a.sas().size(), 1u);
    ASSERT_EQ(a.sas()[0]->children().size(), 1u);
    old_spi_i = a.sas()[0]->spi_i();
    child_spi = a.sas()[0]->children()[0].spi_in;
  }
  // One SA on each side, new SPIs, the same CHILD SA, nothing torn down but the old IKE SA.
  void expect_rekeyed() {
    ASSERT_EQ(a.sas().size(), 1u);
    ASSERT_EQ(gw.sas().size(), 1u);
    const IkeSa& x = *a.sas()[0];
    const IkeSa& y = *gw.sas()[0];
    EXPECT_EQ(x.state(), IkeSaState::kEstablished);
    EXPECT_EQ(y.state(), IkeSaState::kEstablished);
    EXPECT_NE(x.spi_i(), old_spi_i);
    EXPECT_EQ(x.spi_i(), y.spi_i());
    EXPECT_EQ(x.spi_r(), y.spi_r());
    ASSERT_EQ(x.children().size(), 1u);
    EXPECT_EQ(x.children()[0].spi_in, child_spi);
    EXPECT_EQ(y.children().size(), 1u);
    EXPECT_EQ(a_host.child_downs, 0);
    EXPECT_EQ(gw_host.child_downs, 0);
    EXPECT_EQ(a_host.downs, 1);  // the old IKE SA
    EXPECT_EQ(gw_host.downs, 1);
    EXPECT_EQ(x.virtual_ips(), y.virtual_ips());
  }
  uint64_t old_spi_i = 0;
  uint32_t child_spi = 0;
};

TEST_F(IkeRekeyTest, InitiatorRekeysAndTheChildrenMoveOver) {
  establish();
  ASSERT_TRUE(a.sas()[0]->rekey_ike());
  pump({&gw_host, &a_host, &b_host}, {&gw, &a, &b});
  expect_rekeyed();
  EXPECT_TRUE(a.sas()[0]->initiator());
  // The successor works both ways: the gateway rekeys the CHILD SA through it.
  IkeSa& g = *gw.sas()[0];
  ASSERT_TRUE(g.rekey_child(g.children()[0].spi_in));
  pump({&gw_host, &a_host, &b_host}, {&gw, &a, &b});
  EXPECT_EQ(gw_host.children.size(), 2u);
  EXPECT_EQ(a.sas()[0]->children().size(), 1u);
  EXPECT_NE(a.sas()[0]->children()[0].spi_in, child_spi);
}

TEST_F(IkeRekeyTest, ResponderRekeysAndBecomesTheInitiator) {
  establish();
  ASSERT_TRUE(gw.sas()[0]->rekey_ike());
  pump({&gw_host, &a_host, &b_host}, {&gw, &a, &b});
  expect_rekeyed();
  EXPECT_TRUE(gw.sas()[0]->initiator());  // RFC 7296 2.18: whoever rekeyed
  EXPECT_FALSE(a.sas()[0]->initiator());
  EXPECT_EQ(a.terminate("home", "test"), 1u);
  pump({&gw_host, &a_host, &b_host}, {&gw, &a, &b});
  EXPECT_TRUE(a.sas().empty());
  EXPECT_TRUE(gw.sas().empty());
}

TEST_F(IkeRekeyTest, RekeyedAtRekeyTime) {
  client_conf.connections[0].rekey_time = std::chrono::seconds(100);
  client_conf.connections[0].rand_time = std::chrono::seconds(0);
  establish();
  clock.advance(seconds(101));
  a.on_timer();
  pump({&gw_host, &a_host, &b_host}, {&gw, &a, &b});
  expect_rekeyed();
}

// A client's rekey gives the server's hard lifetime (over_time alone) a fresh start.
TEST_F(IkeRekeyTest, ARekeyRestartsTheHardLifetime) {
  gw_conf.connections[0].rekey_time = std::chrono::seconds(0);
  gw_conf.connections[0].over_time = std::chrono::seconds(200);
  client_conf.connections[0].rekey_time = std::chrono::seconds(150);
  client_conf.connections[0].rand_time = std::chrono::seconds(0);
  establish();
  clock.advance(seconds(151));
  a.on_timer();
  pump({&gw_host, &a_host, &b_host}, {&gw, &a, &b});
  expect_rekeyed();
  clock.advance(seconds(100));  // 251 s: past the old SA's 200 s, not the new one's
  gw.on_timer();
  pump({&gw_host, &a_host, &b_host}, {&gw, &a, &b});
  ASSERT_EQ(gw.sas().size(), 1u);
  EXPECT_EQ(gw.sas()[0]->state(), IkeSaState::kEstablished);
}

// Two devices presenting one identity to the gateway, with the gateway's `unique` and the
// clients' INITIAL_CONTACT (sent unless their own unique is never).
struct SameIdentity {
  SameIdentity(const std::string& gw_unique, const std::string& client_unique)
      : gw_conf(parse(replace_all(kGateway, "pools = p", "pools = p\n    unique = " + gw_unique))),
        client_conf(parse(replace_all(kClient, "vips = 0.0.0.0",
                                      "vips = 0.0.0.0\n    unique = " + client_unique))) {}
  void connect() {
    ASSERT_TRUE(a.initiate("home", "", net::Endpoint::parse("198.51.100.7:500").value(), t_gw));
    pump();
    ASSERT_TRUE(b.initiate("home", "", net::Endpoint::parse("198.51.100.8:500").value(), t_gw));
    pump();
  }
  void pump() { pump_between({&gw_host, &a_host, &b_host}, {&gw, &a, &b}, addresses); }
  size_t established(const IkeManager& m) const {
    size_t n = 0;
    for (const auto& sa : m.sas()) n += sa->state() == IkeSaState::kEstablished ? 1 : 0;
    return n;
  }

  ManualClock clock;
  crypto::SeededRandom random{11};
  IpsecConfig gw_conf;
  IpsecConfig client_conf;
  Host gw_host, a_host, b_host;
  IkeManager gw{clock, random, gw_host, gw_conf};
  IkeManager a{clock, random, a_host, client_conf};
  IkeManager b{clock, random, b_host, client_conf};
  std::vector<net::IpAddress> addresses = {net::IpAddress::parse("192.0.2.1").value(),
                                           net::IpAddress::parse("198.51.100.7").value(),
                                           net::IpAddress::parse("198.51.100.8").value()};
  net::Endpoint t_gw = net::Endpoint::parse("192.0.2.1:500").value();
};

TEST(IkeUnique, InitialContactFromTheSameIdentityDropsItsOldSa) {
  SameIdentity w("no", "no");
  w.connect();
  EXPECT_EQ(w.established(w.gw), 1u);  // b's: a's was dropped without a DELETE
  EXPECT_EQ(w.gw_host.downs, 1);
  EXPECT_EQ(w.established(w.b), 1u);
}

TEST(IkeUnique, UniqueNeverKeepsEverySa) {
  SameIdentity w("never", "no");
  w.connect();
  EXPECT_EQ(w.established(w.gw), 2u);
  EXPECT_EQ(w.gw_host.downs, 0);
}

TEST(IkeUnique, UniqueReplaceDeletesTheOldSa) {
  SameIdentity w("replace", "never");  // no INITIAL_CONTACT: the gateway's policy decides
  w.connect();
  w.pump();
  EXPECT_EQ(w.established(w.gw), 1u);
  EXPECT_EQ(w.established(w.a), 0u);  // a was told (DELETE)
  EXPECT_EQ(w.established(w.b), 1u);
}

TEST(IkeUnique, UniqueKeepRefusesTheNewSa) {
  SameIdentity w("keep", "never");
  w.connect();
  EXPECT_EQ(w.established(w.gw), 1u);
  EXPECT_EQ(w.established(w.a), 1u);
  EXPECT_EQ(w.established(w.b), 0u);
  EXPECT_EQ(w.b_host.downs, 1);
}

}  // namespace
}  // namespace waypost::ike
