// `waypost ipsec import` (ike/ipsec_conf_import.h): each fixture of tests/fixtures/ipsec-conf/
// converted and parsed back by Waypost's own swanctl.conf parser with its connection fields
// checked; also= and %default resolution as strongSwan's starter does it; every "not carried
// over" comment; connections left out; ipsec.secrets entries; errors naming file and line.
#include "ike/ipsec_conf_import.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ike/ipsec_import_values.h"
#include "ike/swanctl_conf.h"
#include "ike/swanctl_writer.h"
#include "ipsec_conf_import_util.h"
#include "server/ipsec_profiles.h"

namespace waypost::ike {
namespace {

TEST(IpsecImportFixtures, FreeswanNetToNetOnTheWestGateway) {
  const Converted c = convert_fixture("freeswan-net-to-net.conf", "freeswan-net-to-net.secrets");
  ASSERT_EQ(c.connections, 1u);
  const Connection& w = c.conn("west-east");
  EXPECT_EQ(texts(w.local_addrs), Strings{"192.0.2.10"});
  EXPECT_EQ(texts(w.remote_addrs), Strings{"192.0.2.20"});
  EXPECT_EQ(w.local.front().auth, AuthClass::kPsk);
  EXPECT_EQ(w.remote.front().auth, AuthClass::kPsk);
  // No rightid: ipsec.conf expects the peer's address, swanctl.conf would take any identity.
  EXPECT_EQ(w.remote.front().id.text, "192.0.2.20");
  EXPECT_TRUE(w.local.front().id.any);
  EXPECT_TRUE(c.has("# rightid is not set: ipsec.conf expects the peer's address"));
  // FreeS/WAN rekeys (no reauthentication): ikelifetime=1h less the 9 min margin.
  EXPECT_EQ(w.rekey_time, Seconds(51 * 60));
  EXPECT_EQ(w.reauth_time, Seconds(0));
  EXPECT_EQ(w.over_time, Seconds(9 * 60));
  EXPECT_EQ(w.keyingtries, 0u);
  EXPECT_EQ(w.unique, Unique::kReplace);
  ASSERT_EQ(w.children.size(), 1u);
  const Child& ch = w.children.front();
  EXPECT_EQ(texts(ch.local_ts), Strings{"10.10.0.0/24"});
  EXPECT_EQ(texts(ch.remote_ts), Strings{"10.20.0.0/24"});
  EXPECT_EQ(ch.life_time, Seconds(8 * 3600));
  EXPECT_EQ(ch.rekey_time, Seconds(8 * 3600 - 9 * 60));
  EXPECT_EQ(ch.start_action, ChildAction::kNone);
  ASSERT_EQ(c.config.secrets.size(), 1u);
  EXPECT_EQ(secret_text(c.config.secrets[0]), "x4Qw8nK2vLp9sTzR3mYc6hBf");
  ASSERT_EQ(c.config.secrets[0].ids.size(), 2u);
  EXPECT_EQ(c.config.secrets[0].ids[1].text, "192.0.2.20");
  EXPECT_TRUE(c.has("Read with the defaults of Libreswan and FreeS/WAN"));
  EXPECT_TRUE(c.has("# not carried over: leftnexthop=%direct (the kernel's routing table"));
  EXPECT_TRUE(c.has("# not carried over: pfs=yes (PFS follows from a key exchange group"));
  EXPECT_TRUE(c.has("# not carried over: klipsdebug=none (config setup: logging"));
  EXPECT_TRUE(c.has("# not carried over: interfaces=%defaultroute (config setup: Waypost listens"));
  EXPECT_TRUE(c.has("[" + kFixtures + "freeswan-net-to-net.conf:28]"));
}

TEST(IpsecImportFixtures, FreeswanNetToNetFindsTheEastEndByAddress) {
  ImportOptions o;
  o.host_addresses = {*net::IpAddress::parse("127.0.0.1"), *net::IpAddress::parse("192.0.2.20")};
  const Converted c = convert_fixture("freeswan-net-to-net.conf", "freeswan-net-to-net.secrets", o);
  const Connection& e = c.conn("west-east");
  EXPECT_EQ(texts(e.local_addrs), Strings{"192.0.2.20"});
  EXPECT_EQ(texts(e.remote_addrs), Strings{"192.0.2.10"});
  EXPECT_EQ(texts(e.children.front().local_ts), Strings{"10.20.0.0/24"});
  EXPECT_EQ(texts(e.children.front().remote_ts), Strings{"10.10.0.0/24"});
  ASSERT_EQ(c.notes.size(), 1u);
  EXPECT_NE(c.notes[0].find("right is the local end"), std::string::npos);
  // --local right says the same without looking at addresses.
  ImportOptions forced;
  forced.local = LocalEnd::kRight;
  const Converted f =
      convert_fixture("freeswan-net-to-net.conf", "freeswan-net-to-net.secrets", forced);
  EXPECT_EQ(texts(f.conn("west-east").local_addrs), Strings{"192.0.2.20"});
}

TEST(IpsecImportFixtures, FreeswanRoadWarrior) {
  const Converted c =
      convert_fixture("freeswan-road-warrior.conf", "freeswan-road-warrior.secrets");
  ASSERT_EQ(c.connections, 2u);
  const Connection& gw = c.conn("office-roadwarrior");
  EXPECT_EQ(texts(gw.remote_addrs), Strings{"%any"});
  EXPECT_EQ(gw.local.front().auth, AuthClass::kPubkey);
  EXPECT_EQ(gw.keyingtries, 3u);
  EXPECT_EQ(gw.rekey_time, Seconds(4 * 3600 - 5 * 60));
  EXPECT_EQ(texts(gw.children.front().local_ts), Strings{"10.30.0.0/16"});
  const Connection& laptop = c.conn("roadwarrior-office");
  EXPECT_EQ(texts(laptop.local_addrs), Strings{"%any"});  // left=%defaultroute
  EXPECT_EQ(laptop.children.front().start_action, ChildAction::kStart);
  EXPECT_TRUE(c.has("# left=%defaultroute: any local address"));
  EXPECT_TRUE(c.has("# not carried over: leftrsasigkey=0sAQOnwiBPt0b8X3S5v8Vt0"));
  EXPECT_TRUE(c.has("# not carried over: leftfirewall=yes (Waypost is route-based"));
  EXPECT_TRUE(c.has("# not carried over: : RSA { ... } (a raw RSA key of FreeS/WAN"));
  EXPECT_TRUE(c.config.secrets.empty());
  EXPECT_EQ(c.text.find("Modulus"), std::string::npos) << "no part of the key in the output";
}

TEST(IpsecImportFixtures, LibreswanHostToHost) {
  const Converted c =
      convert_fixture("libreswan-host-to-host.conf", "libreswan-host-to-host.secrets");
  ASSERT_EQ(c.connections, 2u);
  EXPECT_EQ(c.skipped, 1u);
  const Connection& psk = c.conn("west-east-psk");
  EXPECT_EQ(psk.version, 2u);
  EXPECT_EQ(psk.local.front().id.text, "@west.example.com");
  EXPECT_EQ(psk.remote.front().id.text, "@east.example.com");
  EXPECT_EQ(psk.local.front().auth, AuthClass::kPsk);
  // Libreswan's spellings: sha2;modp2048 and dh19.
  EXPECT_EQ(format_proposals(psk.proposals, ProposalProtocol::kIke),
            format_proposals(*parse_proposals("aes256-sha256-modp2048, aes128-sha256-ecp256",
                                              ProposalProtocol::kIke),
                             ProposalProtocol::kIke));
  const Child& ch = psk.children.front();
  EXPECT_EQ(format_proposals(ch.esp_proposals, ProposalProtocol::kEsp),
            format_proposals(*parse_proposals("aes256gcm16, aes128-sha256", ProposalProtocol::kEsp),
                             ProposalProtocol::kEsp));
  EXPECT_EQ(psk.dpd_delay, Seconds(10));
  EXPECT_EQ(psk.dpd_timeout, Seconds(60));
  EXPECT_EQ(ch.dpd_action, DpdAction::kRestart);
  EXPECT_EQ(psk.rekey_time, Seconds(8 * 3600 - 9 * 60));  // Libreswan rekeys
  EXPECT_EQ(psk.reauth_time, Seconds(0));
  EXPECT_EQ(ch.life_time, Seconds(3600));
  EXPECT_EQ(ch.start_action, ChildAction::kStart);
  const Connection& rsa = c.conn("west-east-rsa");
  EXPECT_EQ(rsa.local.front().auth, AuthClass::kPubkey);
  EXPECT_TRUE(c.has("# conn legacy-partner [" + kFixtures +
                    "libreswan-host-to-host.conf:43] left out: ikev2=no"));
  EXPECT_TRUE(c.has("# not carried over: narrowing=no (Waypost narrows"));
  EXPECT_TRUE(c.has("# not carried over: protostack=netkey (config setup"));
  ASSERT_EQ(c.config.secrets.size(), 2u);
  EXPECT_EQ(secret_text(c.config.secrets[0]), "Wt9#xLr4-q2bN7vZ.kE3sH8j");  // '#' kept in quotes
  EXPECT_EQ(c.config.secrets[1].ids[1].text, "192.0.2.99");  // "192.0.2.99: PSK" (no blank)
}

TEST(IpsecImportFixtures, StrongswanNetNetPair) {
  const Converted moon =
      convert_fixture("strongswan-net-net-moon.conf", "strongswan-net-net.secrets");
  const Converted sun =
      convert_fixture("strongswan-net-net-sun.conf", "strongswan-net-net.secrets");
  const Connection& m = moon.conn("net-net");
  const Connection& s = sun.conn("net-net");
  EXPECT_EQ(texts(m.local_addrs), texts(s.remote_addrs));
  EXPECT_EQ(texts(m.children.front().local_ts), texts(s.children.front().remote_ts));
  EXPECT_EQ(m.local.front().id, s.remote.front().id);
  EXPECT_EQ(m.local.front().auth, AuthClass::kPsk);
  EXPECT_EQ(s.local.front().auth, AuthClass::kPsk);  // authby=psk
  // ike=...! is strict: exactly these two; esp= without '!' gets the defaults after it.
  EXPECT_EQ(m.proposals.size(), 2u);
  EXPECT_GT(m.children.front().esp_proposals.size(), 1u);
  EXPECT_TRUE(moon.has("esp_proposals = aes256gcm16-ecp384, default"));
  // strongSwan reauthenticates at ikelifetime=60m less rekeymargin=3m.
  EXPECT_EQ(m.reauth_time, Seconds(57 * 60));
  EXPECT_EQ(m.rekey_time, Seconds(0));
  EXPECT_EQ(m.over_time, Seconds(3 * 60));
  EXPECT_EQ(m.children.front().rekey_time, Seconds(17 * 60));
  EXPECT_EQ(m.children.front().life_time, Seconds(20 * 60));
  EXPECT_EQ(m.keyingtries, 0u);  // %forever
  EXPECT_FALSE(m.mobike);
  EXPECT_EQ(m.dpd_delay, Seconds(5));
  EXPECT_EQ(m.children.front().dpd_action, DpdAction::kRestart);
  EXPECT_EQ(m.children.front().close_action, ChildAction::kStart);
  EXPECT_EQ(s.dpd_delay, Seconds(30));
  EXPECT_EQ(s.children.front().dpd_action, DpdAction::kClear);
  EXPECT_EQ(s.keyingtries, 1u);
  EXPECT_TRUE(moon.has("Read with the defaults of strongSwan: it uses charondebug"));
  EXPECT_TRUE(moon.has("secret = 0skzvB6harbRdLkd9AhRumltxT94VCd8ed"));
}

TEST(IpsecImportFixtures, StrongswanRoadWarriorGateway) {
  const Converted c =
      convert_fixture("strongswan-rw-gateway.conf", "strongswan-rw-gateway.secrets");
  ASSERT_EQ(c.connections, 1u);
  EXPECT_EQ(c.skipped, 4u);
  const Connection& rw = c.conn("rw");
  EXPECT_EQ(rw.unique, Unique::kNever);
  EXPECT_EQ(rw.pools, (Strings{"rw-pool", "rw-pool-2"}));
  EXPECT_EQ(rw.local.front().certs, Strings{"moonCert.pem"});
  EXPECT_EQ(rw.local.front().id.text, "@moon.example.org");
  EXPECT_EQ(rw.send_cert, SendCert::kAlways);
  EXPECT_EQ(rw.remote.front().revocation, Revocation::kStrict);  // strictcrlpolicy=yes
  EXPECT_EQ(rw.reauth_time, Seconds(24 * 3600 - 15 * 60));
  EXPECT_EQ(rw.rand_time, Seconds(15 * 60 / 2));  // rekeyfuzz=50%
  EXPECT_EQ(rw.dpd_timeout, Seconds(120));
  EXPECT_EQ(rw.fragmentation, Fragmentation::kYes);
  EXPECT_EQ(texts(rw.children.front().local_ts), (Strings{"10.1.0.0/16", "fd00:1::/64"}));
  EXPECT_EQ(rw.children.front().life_time, Seconds(8 * 3600));
  const Pool* v4 = c.config.pool("rw-pool");
  ASSERT_NE(v4, nullptr);
  EXPECT_EQ(to_string(v4->addrs), "10.3.0.0/24");
  EXPECT_EQ(ips(v4->dns), (Strings{"10.1.0.53", "fd00:1::53"}));
  EXPECT_EQ(to_string(c.config.pool("rw-pool-2")->addrs), "fd00:3::/120");
  ASSERT_EQ(c.config.authorities.size(), 1u);
  EXPECT_EQ(c.config.authorities[0].cacert, "exampleRootCert.pem");
  EXPECT_EQ(c.config.authorities[0].crl_uris, Strings{"http://crl.example.org/root.crl"});
  EXPECT_TRUE(c.has("# conn rw-base [" + kFixtures + "strongswan-rw-gateway.conf:31]: a template"));
  for (const char* left_out :
       {"conn rw-eap [", "conn lan-bypass [", "conn l2tp [", "conn retired ["}) {
    EXPECT_TRUE(c.has(std::string("# ") + left_out)) << left_out;
  }
  EXPECT_TRUE(c.has("left out: rightauth=eap-mschapv2"));
  EXPECT_TRUE(c.has("left out: type=passthrough"));
  EXPECT_TRUE(c.has("left out: keyexchange=ikev1"));
  EXPECT_TRUE(c.has("left out: auto=ignore"));
  EXPECT_TRUE(c.has("# not carried over: ocspuri=http://ocsp.example.org (OCSP is not supported"));
  EXPECT_TRUE(c.has("# not carried over: cachecrls=yes (config setup"));
  EXPECT_TRUE(c.has("# not carried over: carol : EAP \"...\" (EAP secrets are not supported"));
  EXPECT_EQ(c.text.find("Ch4ng3-m3-n0w"), std::string::npos) << "no EAP password in the output";
  // The key's passphrase and the L2TP PSK (its conn is left out, the secret is kept).
  ASSERT_EQ(c.config.secrets.size(), 2u);
  EXPECT_EQ(c.config.secrets[0].kind, SecretKind::kPrivate);
  EXPECT_EQ(c.config.secrets[0].file, "moonKey.pem");
  EXPECT_EQ(secret_text(c.config.secrets[0]), "Nq3vLx8pR2s");
  EXPECT_TRUE(c.config.secrets[1].ids.front().any);
}

TEST(IpsecImportFixtures, StrongswanRoadWarriorClient) {
  const Converted c = convert_fixture("strongswan-rw-client.conf", "strongswan-rw-client.secrets");
  const Connection& home = c.conn("home");
  EXPECT_EQ(ips(home.vips), (Strings{"0.0.0.0", "::"}));
  EXPECT_EQ(texts(home.remote_addrs), Strings{"moon.example.org"});
  EXPECT_EQ(home.local.front().id.text, "carol@example.org");
  EXPECT_EQ(home.local.front().certs, Strings{"carolCert.pem"});
  EXPECT_EQ(home.rekey_time, Seconds(8 * 3600 - 9 * 60));  // reauth=no
  EXPECT_EQ(home.reauth_time, Seconds(0));
  EXPECT_EQ(home.proposals.size(), 1u);
  EXPECT_EQ(home.children.front().start_action, ChildAction::kStart);
  EXPECT_EQ(home.children.front().close_action, ChildAction::kStart);
  EXPECT_EQ(home.dpd_delay, Seconds(30));  // dpdaction=restart without dpddelay
  EXPECT_TRUE(c.has("# leftdns=%config4: DNS servers come with the virtual IP"));
  ASSERT_EQ(c.config.secrets.size(), 1u);
  EXPECT_EQ(c.config.secrets[0].kind, SecretKind::kPkcs12);
  EXPECT_EQ(c.config.secrets[0].file, "carol.p12");
  EXPECT_EQ(secret_text(c.config.secrets[0]), "carol-p12-passphrase");
}

TEST(IpsecImportFixtures, AlgoManualConfIsWhatTheServerWrites) {
  server::IpsecProfile p;
  p.endpoint = "vpn.example.org";
  p.user = "phone";
  p.user_id = "phone@k3y9q2.algo";
  DiskConfFiles files;
  EXPECT_EQ(*files.read(kFixtures + "algo-manual-phone.conf"), server::ipsec_manual_conf(p));
  EXPECT_EQ(*files.read(kFixtures + "algo-manual-phone.secrets"), server::ipsec_manual_secrets(p));
}

TEST(IpsecImportFixtures, AlgoManualConf) {
  const Converted c = convert_fixture("algo-manual-phone.conf", "algo-manual-phone.secrets");
  const Connection& a = c.conn("algovpn-vpn-example-org");
  EXPECT_TRUE(c.has("named algovpn-vpn-example-org here"));
  EXPECT_EQ(a.version, 2u);
  EXPECT_EQ(texts(a.remote_addrs), Strings{"vpn.example.org"});
  EXPECT_EQ(a.remote.front().id.text, "@vpn.example.org");
  EXPECT_EQ(a.local.front().id.text, "phone@k3y9q2.algo");
  EXPECT_EQ(a.local.front().certs, Strings{"phone.crt"});
  EXPECT_EQ(ips(a.vips), (Strings{"0.0.0.0", "::"}));
  EXPECT_EQ(format_proposals(a.proposals, ProposalProtocol::kIke), "aes256gcm16-prfsha512-ecp384");
  const Child& ch = a.children.front();
  EXPECT_EQ(format_proposals(ch.esp_proposals, ProposalProtocol::kEsp), "aes256gcm16-ecp384");
  EXPECT_EQ(texts(ch.remote_ts), (Strings{"0.0.0.0/0", "::/0"}));
  EXPECT_EQ(a.dpd_delay, Seconds(35));
  EXPECT_EQ(ch.dpd_action, DpdAction::kClear);
  // rekey=no: nothing rekeyed and nothing expires on the client (ipsec starter sends zeros).
  EXPECT_EQ(a.rekey_time, Seconds(0));
  EXPECT_EQ(ch.rekey_time, Seconds(0));
  EXPECT_EQ(ch.life_time, Seconds(0));
  EXPECT_EQ(a.fragmentation, Fragmentation::kYes);
  EXPECT_FALSE(ch.ipcomp);  // compress=no
  ASSERT_EQ(c.config.secrets.size(), 1u);
  EXPECT_EQ(c.config.secrets[0].file, "phone.key");
}

// --- also= and %default ------------------------------------------------------------------------

TEST(IpsecImportInheritance, OwnSettingsThenAlsoLastWrittenFirstThenDefault) {
  auto conf = parse_ipsec_conf_text(R"(
conn %default
	keyingtries=7
	dpddelay=11s
	mobike=no
conn a
	keyingtries=1
	dpddelay=12s
conn b
	keyingtries=2
conn c
	also=a
	also=b
	auto=add
)",
                                    "x.conf", nullptr);
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  auto r = resolve_section(*conf, *conf->find(StrokeSectionKind::kConn, "c"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  // b (the last also=) before a, %default last.
  ASSERT_EQ(r->parents.size(), 3u);
  EXPECT_EQ(r->parents[0]->name, "b");
  EXPECT_EQ(r->parents[1]->name, "a");
  EXPECT_EQ(r->parents[2]->name, "%default");
  EXPECT_EQ(r->setting("keyingtries")->value, "2");
  EXPECT_EQ(r->setting("dpddelay")->value, "12s");
  EXPECT_EQ(r->setting("mobike")->value, "no");
  EXPECT_EQ(r->setting("auto")->where.line, 14);
}

TEST(IpsecImportInheritance, StrongswanLinearizationKeepsTheLastOccurrence) {
  // conn D: also=C, also=B; B and C both also=A: D B A C A becomes D B C A.
  auto conf = parse_ipsec_conf_text(
      "conn A\n\tx=a\nconn B\n\talso=A\nconn C\n\talso=A\nconn D\n\talso=C\n\talso=B\n", "x.conf",
      nullptr);
  ASSERT_TRUE(conf.ok());
  auto r = resolve_section(*conf, *conf->find(StrokeSectionKind::kConn, "D"));
  ASSERT_TRUE(r.ok());
  Strings names;
  for (const auto* p : r->parents) names.push_back(p->name);
  EXPECT_EQ(names, (Strings{"B", "C", "A"}));
}

TEST(IpsecImportInheritance, NestedAlsoAndUnsettingWithAnEmptyValue) {
  const Converted c = convert(R"(
conn %default
	keyexchange=ikev2
	authby=secret
	leftfirewall=yes
conn base
	left=192.0.2.1
	leftsubnet=10.1.0.0/24
conn mid
	also=base
	right=192.0.2.2
conn top
	also=mid
	rightsubnet=10.2.0.0/24
	leftfirewall=
	auto=start
)",
                              ": PSK \"k\"\n");
  const Connection& top = c.conn("top");
  EXPECT_EQ(texts(top.local_addrs), Strings{"192.0.2.1"});
  EXPECT_EQ(texts(top.remote_addrs), Strings{"192.0.2.2"});
  EXPECT_EQ(texts(top.children.front().local_ts), Strings{"10.1.0.0/24"});
  EXPECT_EQ(top.local.front().auth, AuthClass::kPsk);
  EXPECT_EQ(top.children.front().start_action, ChildAction::kStart);
  // leftfirewall= unset what %default gave: nothing to comment.
  EXPECT_FALSE(c.has("leftfirewall"));
  EXPECT_TRUE(c.has("# conn base [ipsec.conf:6]: a template for also="));
  EXPECT_TRUE(c.has("# conn mid [ipsec.conf:9]: a template for also="));
  EXPECT_TRUE(c.has("# conn top [ipsec.conf:12], with also=mid, also=base, %default"));
}

TEST(IpsecImportInheritance, LoopsAndMissingSectionsAreErrorsWithTheLine) {
  auto loop = import_text("conn a\n\talso=b\nconn b\n\tleft=1.2.3.4\n\talso=a\n");
  ASSERT_FALSE(loop.ok());
  EXPECT_NE(loop.error().message.find("ipsec.conf:"), std::string::npos);
  EXPECT_NE(loop.error().message.find("a loop"), std::string::npos) << loop.error().message;
  auto self = import_text("conn a\n\talso=a\n");
  ASSERT_FALSE(self.ok());
  EXPECT_EQ(self.error().message, "ipsec.conf:2: also=a: a loop ('a' includes 'a' again)");
  auto missing = import_text("conn a\n\tleft=1.2.3.4\n\talso=nowhere\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "ipsec.conf:3: also=nowhere: no section 'nowhere'");
}

TEST(IpsecImportInheritance, RepeatedSectionsAndKeys) {
  auto conf = parse_ipsec_conf_text(
      "conn a\n\tleft=1.1.1.1\n\tright=2.2.2.2\nconn b\n\tleft=3.3.3.3\nconn a\n\tright=4.4.4.4\n",
      "x.conf", nullptr);
  ASSERT_TRUE(conf.ok());
  ASSERT_EQ(conf->conns.size(), 2u);
  const StrokeSection* a = conf->find(StrokeSectionKind::kConn, "a");
  EXPECT_EQ(a->setting("right")->value, "4.4.4.4");
  EXPECT_EQ(a->setting("right")->where.line, 7);
  EXPECT_EQ(a->setting("left")->value, "1.1.1.1");
}

// --- what is not carried over -------------------------------------------------------------------

// A conn with one more setting, and the comment it must produce.
struct NotCarried {
  const char* setting;  // written in conn x (line 9)
  const char* comment;  // the start of "# not carried over: ..."
};

class IpsecImportNotCarried : public testing::TestWithParam<NotCarried> {};

TEST_P(IpsecImportNotCarried, CommentsTheSettingWithItsLine) {
  const NotCarried& nc = GetParam();
  const std::string conf = std::string(R"(config setup
	uniqueids=no
conn x
	left=192.0.2.1
	leftsubnet=10.1.0.0/24
	right=192.0.2.2
	rightsubnet=10.2.0.0/24
	keyexchange=ikev2
	)") + nc.setting + "\n\tauto=add\n";
  const Converted c = convert(conf);
  EXPECT_TRUE(c.has(std::string("# not carried over: ") + nc.comment)) << c.text;
  if (std::string_view(nc.setting).find('\n') == std::string_view::npos) {
    EXPECT_TRUE(c.has("[ipsec.conf:9]")) << c.text;
  }
  EXPECT_EQ(c.connections, 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Settings, IpsecImportNotCarried,
    testing::Values(
        NotCarried{"leftfirewall=yes", "leftfirewall=yes (Waypost is route-based"},
        NotCarried{"rightfirewall=yes", "rightfirewall=yes (Waypost is route-based"},
        NotCarried{"leftupdown=/etc/updown.sh", "leftupdown=/etc/updown.sh (updown scripts"},
        NotCarried{"lefthostaccess=yes", "lefthostaccess=yes (updown scripts"},
        NotCarried{"leftnexthop=192.0.2.254", "leftnexthop=192.0.2.254 (the kernel's routing"},
        NotCarried{"rightallowany=yes", "rightallowany=yes (swanctl.conf has no fallback"},
        NotCarried{"leftsubnetwithin=10.0.0.0/8", "leftsubnetwithin=10.0.0.0/8 (not expressible"},
        NotCarried{"rightgroups=staff", "rightgroups=staff (group membership"},
        NotCarried{"rightcertpolicy=1.3.6.1.4.1",
                   "rightcertpolicy=1.3.6.1.4.1 (certificate policy"},
        NotCarried{"rightca=\"C=CH, O=x, CN=ca\"",
                   "rightca=\"C=CH, O=x, CN=ca\" (swanctl.conf names a CA by its certificate"},
        NotCarried{"rightsendcert=never", "rightsendcert=never (the peer's own setting)"},
        NotCarried{"rightrsasigkey=0sAQN3cr", "rightrsasigkey=0sAQN3cr (raw public keys"},
        NotCarried{"leftid2=@second", "leftid2=@second (second authentication rounds"},
        NotCarried{"ikedscp=000001", "ikedscp=000001 (DSCP marking"},
        NotCarried{"lifebytes=1000000", "lifebytes=1000000 (volume limits"},
        NotCarried{"marginbytes=1000", "marginbytes=1000 (volume limits"},
        NotCarried{"lifepackets=1000", "lifepackets=1000 (volume limits"},
        NotCarried{"marginpackets=10", "marginpackets=10 (volume limits"},
        NotCarried{"mark=42", "mark=42 (marks select kernel policies"},
        NotCarried{"mark_in=42", "mark_in=42 (marks select kernel policies"},
        NotCarried{"mark_out=42", "mark_out=42 (marks select kernel policies"},
        NotCarried{"tfc=%mtu", "tfc=%mtu (TFC padding"},
        NotCarried{"sha256_96=yes", "sha256_96=yes (the truncated HMAC"},
        NotCarried{"modeconfig=push", "modeconfig=push (push mode is IKEv1"},
        NotCarried{"xauth_identity=bob", "xauth_identity=bob (XAuth is IKEv1)"},
        NotCarried{"eap_identity=%identity", "eap_identity=%identity (EAP is not supported"},
        NotCarried{"aaa_identity=@radius", "aaa_identity=@radius (EAP is not supported"},
        NotCarried{"mediation=yes", "mediation=yes (mediation is not supported"},
        NotCarried{"mediated_by=med", "mediated_by=med (mediation is not supported"},
        NotCarried{"me_peerid=@peer", "me_peerid=@peer (mediation is not supported"},
        NotCarried{"pfsgroup=modp2048", "pfsgroup=modp2048 (PFS follows"},
        NotCarried{"ah=sha256", "ah=sha256 (AH is not supported"},
        NotCarried{"aggressive=yes", "aggressive=yes (Aggressive Mode is IKEv1)"},
        NotCarried{"mtu=1300", "mtu=1300 (the MTU of Waypost's device"},
        NotCarried{"frobnicate=yes", "frobnicate=yes (no swanctl.conf equivalent known"},
        NotCarried{"leftdns=8.8.8.8", "leftdns=8.8.8.8 (a client uses the DNS servers"},
        NotCarried{"rightdns=10.1.0.53", "rightdns=10.1.0.53 (DNS servers go out with addresses"},
        NotCarried{"rightsourceip=%config", "rightsourceip=%config (%config: addresses from"},
        NotCarried{"rightsourceip=%sqlpool", "rightsourceip=%sqlpool (%sqlpool: addresses from"},
        NotCarried{"leftsourceip=10.9.0.0/24", "leftsourceip=10.9.0.0/24 (10.9.0.0/24: not an"},
        NotCarried{"dpddelay=20s", "dpddelay=20s (dpdaction=none, the default"},
        NotCarried{"dpdtimeout=60s", "dpdtimeout=60s (dpdaction=none, the default"},
        NotCarried{"dpdaction=sometimes", "dpdaction=sometimes (unknown value"},
        NotCarried{"ike=3des-md5-modp1024!", "ike=3des-md5-modp1024! (3des-md5-modp1024: "},
        NotCarried{"esp=aes128-sha256,3des-md5", "esp=aes128-sha256,3des-md5 (in part, left out: "},
        NotCarried{"keyingtries=often", "keyingtries=often (a number or %forever)"},
        NotCarried{"ikelifetime=1h\n\tmargintime=2h", "margintime=2h (the margin must be shorter"},
        NotCarried{"rekey=no\n\tikelifetime=2h", "ikelifetime=2h (rekey=no: ipsec starter"},
        NotCarried{"keylife=1h\n\trekeymargin=0m", "rekeymargin=0m (no time to rekey before"},
        NotCarried{"lifetime=1h\n\tkeylife=2h", "keylife=2h (the same as lifetime"},
        NotCarried{"fragmentation=maybe", "fragmentation=maybe (yes, accept, force or no)"},
        NotCarried{"leftprotoport=udp/l2tpx", "leftprotoport=udp/l2tpx (unknown port name"},
        NotCarried{"rightsubnet=vhost:%no,%priv", "rightsubnet=vhost:%no,%priv (vhost:/vnet:"},
        NotCarried{"leftikeport=70000", "leftikeport=70000 (not a port number)"},
        NotCarried{"leftcert=%smartcard:1", "leftcert=%smartcard:1 (smartcards are not"},
        NotCarried{"leftid=%myid", "leftid=%myid (no such identity in swanctl.conf)"},
        NotCarried{"closeaction=later", "closeaction=later (unknown value"},
        NotCarried{"compress=maybe", "compress=maybe (yes or no)"},
        NotCarried{"encapsulation=no", "encapsulation=no (Waypost always encapsulates"}));

TEST(IpsecImport, SettingsOfConfigSetupAreCommentedAtTheTop) {
  const Converted c = convert(
      "config setup\n\tcharondebug=\"ike 2\"\n\tinterfaces=%defaultroute\n\tnat_traversal=yes\n"
      "\tplutostart=%search\n\tuniqueids=maybe\nconn x\n\tright=192.0.2.2\n\tauto=add\n");
  const size_t connections = c.text.find("connections {");
  for (const char* comment :
       {"# not carried over: charondebug=\"ike 2\" (config setup: logging",
        "# not carried over: interfaces=%defaultroute (config setup: Waypost listens",
        "# not carried over: nat_traversal=yes (config setup: NAT traversal is always on",
        "# not carried over: plutostart=%search (config setup: a daemon setting",
        "# not carried over: uniqueids=maybe (unknown value"}) {
    const size_t at = c.text.find(comment);
    EXPECT_NE(at, std::string::npos) << comment;
    EXPECT_LT(at, connections) << comment;
  }
}

TEST(IpsecImport, AutoStartWithoutAPeerAddress) {
  const Converted c = convert("conn x\n\tright=%any\n\tauto=start\n");
  EXPECT_TRUE(c.has("# not carried over: auto=start (the peer's address is not known (right)"));
  EXPECT_EQ(c.conn("x").children.front().start_action, ChildAction::kNone);
}

TEST(IpsecImport, ConnsLeftOut) {
  const struct {
    const char* setting;
    const char* why;
  } cases[] = {
      {"keyexchange=ikev1", "IKEv1: Waypost speaks IKEv2 only"},
      {"ikev2=never", "IKEv1: Waypost speaks IKEv2 only"},
      {"type=transport", "transport mode"},
      {"type=passthrough", "a bypass policy"},
      {"type=drop", "a drop policy"},
      {"authby=never", "a policy without IKE"},
      {"authby=xauthpsk", "XAuth is IKEv1"},
      {"authby=null", "NULL authentication"},
      {"rightauth=eap-tls", "EAP and XAuth are not supported"},
      {"leftauth2=xauth", "a second authentication round"},
      {"auto=ignore", "ipsec starter does not load it either"},
      {"rightxauthserver=yes", "XAuth is IKEv1"},
  };
  for (const auto& tc : cases) {
    const Converted c = convert(std::string("conn x\n\tright=192.0.2.2\n\t") + tc.setting +
                                "\nconn y\n\tauto=add\n");
    EXPECT_TRUE(c.has(std::string("# conn x [ipsec.conf:1] left out: ") + tc.setting +
                      " [ipsec.conf:3]: " + tc.why))
        << c.text;
    EXPECT_EQ(c.skipped, 1u);
    EXPECT_EQ(c.connections, 1u);
  }
  const Converted opp = convert("conn x\n\tright=%opportunisticgroup\n\tauto=add\n");
  EXPECT_TRUE(opp.has("left out: right=%opportunisticgroup"));
}

TEST(IpsecImport, ConnWithoutAutoIsImportedAsAdd) {
  const Converted c = convert("conn x\n\tright=192.0.2.2\n");
  EXPECT_EQ(c.connections, 1u);
  EXPECT_TRUE(c.has("# no auto=: ipsec.conf's default, auto=ignore"));
}

TEST(IpsecImport, NamesThatSwanctlCannotHold) {
  const Converted c = convert("conn a.b:c\n\tauto=add\nconn a-b-c\n\tauto=add\n");
  EXPECT_EQ(c.connections, 2u);
  c.conn("a-b-c");
  c.conn("a-b-c-2");
  EXPECT_TRUE(c.has("# named a-b-c here"));
}

TEST(IpsecImport, TrafficSelectorsProtocolsAndLists) {
  const Converted c = convert(
      "conn x\n\tleft=192.0.2.1\n\tright=192.0.2.2\n\tleftprotoport=udp/l2tp\n"
      "\trightprotoport=17/%any\n\trightsubnet=10.2.0.0/24,%dynamic,fd00:2::/64[tcp/443]\n"
      "\tauto=add\n");
  const Child& ch = c.conn("x").children.front();
  EXPECT_EQ(texts(ch.local_ts), Strings{"dynamic[17/1701]"});
  EXPECT_EQ(texts(ch.remote_ts),
            (Strings{"10.2.0.0/24[17/%any]", "dynamic[17/%any]", "fd00:2::/64[tcp/443]"}));
  const Converted libre = convert(
      "conn x\n\tikev2=insist\n\tright=192.0.2.2\n\tleftsubnets={10.1.0.0/24 10.1.1.0/24}\n"
      "\tauto=add\n");
  EXPECT_EQ(texts(libre.conn("x").children.front().local_ts),
            (Strings{"10.1.0.0/24", "10.1.1.0/24"}));
}

TEST(IpsecImport, VirtualIpsFollowTheTunnelFamily) {
  const Converted c = convert(
      "conn x\n\tright=192.0.2.2\n\trightsubnet=fd00::/64\n\tleftsourceip=%config\n\tauto=add\n");
  EXPECT_EQ(ips(c.conn("x").vips), Strings{"::"});
  const Converted fixed =
      convert("conn x\n\tkeyexchange=ikev2\n\tright=192.0.2.2\n\tleftsourceip=10.3.0.7\n");
  EXPECT_EQ(ips(fixed.conn("x").vips), Strings{"10.3.0.7"});
}

TEST(IpsecImport, PoolsAreSharedByRange) {
  const Converted c = convert(
      "conn %default\n\tkeyexchange=ikev2\n\trightsourceip=10.3.0.1-10.3.0.100\n\tauto=add\n"
      "conn a\n\tleft=192.0.2.1\nconn b\n\tleft=192.0.2.3\n");
  EXPECT_EQ(c.conn("a").pools, Strings{"a-pool"});
  EXPECT_EQ(c.conn("b").pools, Strings{"a-pool"});
  EXPECT_EQ(c.config.pools.size(), 1u);
  EXPECT_EQ(to_string(c.config.pools[0].addrs), "10.3.0.1-10.3.0.100");
}

// --- ipsec.secrets
// --------------------------------------------------------------------------------

TEST(IpsecImportSecrets, SecretsSwanctlWouldMisreadBecomeHex) {
  const Converted c = convert(
      "conn x\n\tauthby=secret\n\tright=192.0.2.2\n\tauto=add\n",
      ": PSK \"0xnot-hex\"\n@a : PSK 'with \"quotes\"'\n\"C=CH, O=x, CN=y\" : PSK plain-word\n"
      "@b : PSK 0X6162\n");
  ASSERT_EQ(c.config.secrets.size(), 4u);
  EXPECT_TRUE(c.has("secret = 0x3078" + std::string("6e6f742d686578")));
  EXPECT_EQ(secret_text(c.config.secrets[0]), "0xnot-hex");
  EXPECT_EQ(secret_text(c.config.secrets[1]), "with \"quotes\"");
  EXPECT_EQ(c.config.secrets[2].ids.front().text, "C=CH, O=x, CN=y");
  EXPECT_TRUE(c.has("id-1 = C=CH, O=x, CN=y\n"));
  EXPECT_EQ(secret_text(c.config.secrets[2]), "plain-word");
  EXPECT_EQ(secret_text(c.config.secrets[3]), "ab");  // 0X: hex, as strongSwan reads it
}

TEST(IpsecImportSecrets, EntriesSwanctlCannotHoldAreCommentedWithoutTheSecret) {
  const Converted c =
      convert("conn x\n\tright=192.0.2.2\n\tauto=add\n",
              "carol : EAP \"pw-eap\"\nbob : XAUTH \"pw-xauth\"\nalice : NTLM \"pw-ntlm\"\n"
              ": PIN %smartcard:1 1234\n: RSA key.pem %prompt\n: ECDSA /etc/keys/ec.pem\n");
  EXPECT_TRUE(c.has("# not carried over: carol : EAP \"...\" (EAP secrets are not supported"));
  EXPECT_TRUE(c.has("# not carried over: bob : XAUTH \"...\" (XAUTH secrets"));
  EXPECT_TRUE(c.has("# not carried over: alice : NTLM \"...\" (NTLM secrets"));
  EXPECT_TRUE(c.has("# not carried over: : PIN \"...\" (PIN secrets"));
  EXPECT_TRUE(c.has("# not carried over: %prompt (write the passphrase"));
  EXPECT_TRUE(c.has("copy /etc/keys/ec.pem to private/ec.pem"));
  for (const char* pw : {"pw-eap", "pw-xauth", "pw-ntlm", "1234"}) {
    EXPECT_FALSE(c.has(pw)) << pw;
  }
  ASSERT_EQ(c.config.secrets.size(), 2u);
  EXPECT_EQ(c.config.secrets[1].file, "ec.pem");
}

TEST(IpsecImportSecrets, PskConnWithoutSecretsDoesNotLoadAndSaysWhy) {
  auto r = import_text("conn x\n\tauthby=secret\n\tright=192.0.2.2\n\tauto=add\n");
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->check.ok());
  EXPECT_NE(r->check.error().message.find("psk, but no secrets"), std::string::npos);
  EXPECT_FALSE(r->has_secrets);
}

// --- errors with the file and line
// ------------------------------------------------------------------

}  // namespace
}  // namespace waypost::ike
