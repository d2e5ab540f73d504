// waypost doctor: the findings model and its text / JSON rendering, the clock finding, and the
// DNS pieces (query bytes, reply header, resolv.conf, the DNS finding).
#include <gtest/gtest.h>

#include "doctor/clock_check.h"
#include "doctor/dns.h"
#include "doctor/findings.h"

namespace waypost::doctor {
namespace {

std::vector<Finding> sample() {
  Finding ok;
  ok.id = "clock";
  ok.status = Status::kOk;
  ok.summary = "The system clock is synchronized.";
  ok.fix = "never shown for ok";
  Finding bad;
  bad.id = "server:net.ipv4.ip_forward";
  bad.status = Status::kFail;
  bad.summary = "net.ipv4.ip_forward = 0 although the server is running.";
  bad.detail = "Something turned it off.";
  bad.fix = "sudo sysctl -w net.ipv4.ip_forward=1\nmake it permanent";
  bad.data = {{"value", "0"}};
  Finding warn;
  warn.id = "path_mtu";
  warn.status = Status::kWarn;
  warn.summary = "Path MTU is 1454.";
  return {ok, bad, warn};
}

TEST(DoctorFindings, StatusNamesAndExitStatus) {
  EXPECT_EQ(status_name(Status::kOk), "ok");
  EXPECT_EQ(status_name(Status::kInfo), "info");
  EXPECT_EQ(status_name(Status::kWarn), "warn");
  EXPECT_EQ(status_name(Status::kFail), "fail");
  auto f = sample();
  EXPECT_EQ(exit_status(f), 1);
  f.erase(f.begin() + 1);
  EXPECT_EQ(exit_status(f), 0);  // warnings do not fail
  EXPECT_EQ(exit_status({}), 0);
}

TEST(DoctorFindings, JsonHasEveryFieldForEveryFinding) {
  auto j = render_json(sample());
  ASSERT_TRUE(j.contains("findings"));
  ASSERT_EQ(j["findings"].size(), 3u);
  for (const auto& f : j["findings"]) {
    for (const char* key : {"id", "status", "summary", "detail", "fix"}) {
      EXPECT_TRUE(f.contains(key)) << key;
      EXPECT_TRUE(f[key].is_string()) << key;
    }
    EXPECT_TRUE(f["data"].is_object());
  }
  EXPECT_EQ(j["findings"][1]["id"], "server:net.ipv4.ip_forward");
  EXPECT_EQ(j["findings"][1]["status"], "fail");
  EXPECT_EQ(j["findings"][1]["fix"], "sudo sysctl -w net.ipv4.ip_forward=1\nmake it permanent");
  EXPECT_EQ(j["findings"][1]["data"]["value"], "0");
}

TEST(DoctorFindings, TextShowsStatusIdSummaryDetailFixAndTally) {
  std::string t = render_text(sample());
  EXPECT_NE(t.find("[ ok ] clock: The system clock is synchronized.\n"), std::string::npos) << t;
  EXPECT_EQ(t.find("never shown for ok"), std::string::npos) << t;
  EXPECT_NE(t.find("[FAIL] server:net.ipv4.ip_forward: net.ipv4.ip_forward = 0"), std::string::npos)
      << t;
  EXPECT_NE(t.find("       Something turned it off.\n"), std::string::npos) << t;
  // Fix lines keep commands intact, one per line, aligned.
  EXPECT_NE(t.find("       fix: sudo sysctl -w net.ipv4.ip_forward=1\n"
                   "            make it permanent\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("[warn] path_mtu: Path MTU is 1454.\n"), std::string::npos) << t;
  EXPECT_NE(t.find("1 ok, 0 info, 1 warning, 1 failure\n"), std::string::npos) << t;
}

TEST(DoctorFindings, WrapKeepsWidthAndIndent) {
  std::string text =
      "one two three four five six seven eight nine ten eleven twelve thirteen fourteen";
  std::string w = wrap(text, 30, "    ", 10);
  size_t start = 0;
  bool first = true;
  while (start < w.size()) {
    size_t nl = w.find('\n', start);
    std::string line = w.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    EXPECT_LE(line.size() + (first ? 10 : 0), 30u) << line;
    if (!first) {
      EXPECT_EQ(line.rfind("    ", 0), 0u) << line;
    }
    first = false;
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  // Nothing lost, nothing added but spaces and newlines.
  std::string flat;
  for (char c : w) {
    if (c != '\n' && c != ' ') flat += c;
  }
  std::string want;
  for (char c : text) {
    if (c != ' ') want += c;
  }
  EXPECT_EQ(flat, want);
  // Paragraph breaks survive; a word longer than the width is not split.
  EXPECT_EQ(wrap("a\nb", 80, "  ", 0), "a\n  b");
  EXPECT_EQ(wrap("averyveryverylongword", 5, "", 0), "averyveryverylongword");
}

TEST(DoctorClock, SynchronizedAndNot) {
  ClockState s;
  s.kernel_known = true;
  s.kernel_unsync = false;
  s.maxerror_us = 50'000;
  auto f = clock_finding(s);
  EXPECT_EQ(f.id, "clock");
  EXPECT_EQ(f.status, Status::kOk);
  EXPECT_TRUE(f.fix.empty());

  s.kernel_unsync = true;
  auto g = clock_finding(s);
  EXPECT_EQ(g.status, Status::kWarn);
  EXPECT_NE(g.fix.find("timedatectl set-ntp true"), std::string::npos);
  EXPECT_NE(g.detail.find("backwards"), std::string::npos);

  // systemd-timesyncd's flag file is enough.
  s.timesyncd_synchronized = true;
  EXPECT_EQ(clock_finding(s).status, Status::kOk);

  // Clear STA_UNSYNC but a huge maximum error: nobody has updated it for a long time.
  ClockState stale;
  stale.kernel_known = true;
  stale.kernel_unsync = false;
  stale.maxerror_us = 16'000'000;
  EXPECT_EQ(clock_finding(stale).status, Status::kWarn);
}

TEST(DoctorDns, QueryBytes) {
  auto q = build_dns_query(0x1234, "example.com");
  ASSERT_TRUE(q.ok());
  const std::string want(
      "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
      "\x07"
      "example"
      "\x03"
      "com"
      "\x00"
      "\x00\x01\x00\x01",
      29);
  EXPECT_EQ(*q, want);
  EXPECT_EQ(*build_dns_query(0x1234, "example.com."), want);  // trailing dot
  EXPECT_FALSE(build_dns_query(1, "").ok());
  EXPECT_FALSE(build_dns_query(1, "a..b").ok());
  EXPECT_FALSE(build_dns_query(1, std::string(64, 'a') + ".com").ok());
  EXPECT_TRUE(build_dns_query(1, std::string(63, 'a') + ".com").ok());
}

TEST(DoctorDns, ReplyHeader) {
  // Response, RD+RA, NXDOMAIN, 1 question, 0 answers.
  std::string r("\xab\xcd\x81\x83\x00\x01\x00\x00\x00\x01\x00\x00", 12);
  auto p = parse_dns_reply(r, 0xabcd);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->rcode, 3);
  EXPECT_EQ(rcode_name(p->rcode), "NXDOMAIN");
  EXPECT_EQ(p->answers, 0);
  EXPECT_FALSE(p->truncated);
  EXPECT_FALSE(parse_dns_reply(r, 0xabce).ok());  // other id
  std::string query = r;
  query[2] = 0x01;  // QR clear: a query, not a response
  EXPECT_FALSE(parse_dns_reply(query, 0xabcd).ok());
  EXPECT_FALSE(parse_dns_reply(r.substr(0, 11), 0xabcd).ok());
  std::string ok("\x00\x07\x81\x80\x00\x01\x00\x02\x00\x00\x00\x00", 12);
  auto a = parse_dns_reply(ok, 7);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->rcode, 0);
  EXPECT_EQ(a->answers, 2);
}

TEST(DoctorDns, ResolvConf) {
  auto s = parse_resolv_conf(
      "# generated\n"
      "search example.org\n"
      "nameserver 192.0.2.53\n"
      "  nameserver\t2001:db8::53   # comment\n"
      "nameserver fe80::1%eth0\n"
      "nameserver not-an-address\n"
      "; nameserver 198.51.100.1\n"
      "options edns0\n"
      "nameserver 203.0.113.53");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].to_string(), "192.0.2.53");
  EXPECT_EQ(s[1].to_string(), "2001:db8::53");
  EXPECT_EQ(s[2].to_string(), "fe80::1");
  EXPECT_EQ(s[3].to_string(), "203.0.113.53");
  EXPECT_TRUE(parse_resolv_conf("").empty());
}

DnsObservation observation() {
  DnsObservation o;
  o.server = *net::IpAddress::parse("10.241.0.2");
  o.source = "/etc/resolv.conf";
  o.name = "example.com";
  o.route_dev = "wp0";
  o.tunnels = {"wp0"};
  o.in_tunnel_subnet = true;
  o.answered = true;
  o.reply.rcode = 0;
  o.reply.answers = 1;
  return o;
}

TEST(DoctorDns, FindingThroughTheTunnel) {
  auto f = dns_finding(observation());
  EXPECT_EQ(f.id, "dns:10.241.0.2");
  EXPECT_EQ(f.status, Status::kOk);
  EXPECT_EQ(f.data["through_tunnel"], true);
  EXPECT_NE(f.summary.find("through the tunnel wp0"), std::string::npos) << f.summary;
}

TEST(DoctorDns, FindingNoAnswerLeakAndRefused) {
  auto o = observation();
  o.answered = false;
  o.error = "no answer within 2 s";
  auto f = dns_finding(o);
  EXPECT_EQ(f.status, Status::kFail);
  EXPECT_NE(f.summary.find("did not answer"), std::string::npos);
  EXPECT_FALSE(f.fix.empty());

  // A LAN resolver behind a full tunnel.
  auto lan = observation();
  lan.server = *net::IpAddress::parse("192.168.1.1");
  lan.in_tunnel_subnet = false;
  lan.expect_tunnel = true;
  lan.answered = false;
  lan.error = "no answer within 2 s";
  auto g = dns_finding(lan);
  EXPECT_EQ(g.status, Status::kFail);
  EXPECT_NE(g.detail.find("local network"), std::string::npos) << g.detail;
  EXPECT_NE(g.fix.find("DNS ="), std::string::npos);

  // Answered, but outside the tunnel while everything should go through it.
  auto leak = observation();
  leak.route_dev = "eth0";
  leak.expect_tunnel = true;
  auto h = dns_finding(leak);
  EXPECT_EQ(h.status, Status::kWarn);
  EXPECT_NE(h.summary.find("leak"), std::string::npos);

  // A local stub resolver is fine.
  auto stub = observation();
  stub.server = *net::IpAddress::parse("127.0.0.53");
  stub.route_dev = "lo";
  stub.expect_tunnel = true;
  EXPECT_EQ(dns_finding(stub).status, Status::kOk);

  auto refused = observation();
  refused.reply.rcode = 5;
  auto r = dns_finding(refused);
  EXPECT_EQ(r.status, Status::kWarn);
  EXPECT_NE(r.summary.find("REFUSED"), std::string::npos);
}

TEST(DoctorDns, LocalNetworkAddresses) {
  for (const char* a : {"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.0.1", "127.0.0.53",
                        "169.254.1.1", "fd00::1", "fe80::1", "::1"}) {
    EXPECT_TRUE(is_local_network_address(*net::IpAddress::parse(a))) << a;
  }
  for (const char* a : {"192.0.2.1", "172.32.0.1", "1.1.1.1", "2001:db8::1"}) {
    EXPECT_FALSE(is_local_network_address(*net::IpAddress::parse(a))) << a;
  }
}

}  // namespace
}  // namespace waypost::doctor
