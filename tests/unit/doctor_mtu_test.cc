// waypost doctor: the path MTU search against fake paths, the reduce_mtu arithmetic (Algo's
// semantics: client MTU = 1420 - reduce_mtu <= path MTU - 80), and the path MTU finding.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "doctor/mtu_search.h"
#include "doctor/path_mtu_check.h"

namespace waypost::doctor {
namespace {

// A path that passes echo packets up to `mtu` bytes (payload + header); larger ones vanish
// (a blackhole) or, with `icmp`, come back as "fragmentation needed (mtu)". `answers` = false:
// the host never answers. `lossy` drops the first try of every size once.
class FakePath : public EchoProber {
 public:
  uint32_t mtu = 1500;
  uint32_t header = kEchoHeaderV4;
  bool answers = true;
  bool icmp = false;
  bool lossy = false;
  bool send_error = false;
  std::vector<uint32_t> sent;

  ProbeResult probe(uint32_t payload) override {
    sent.push_back(payload);
    if (send_error) return {ProbeOutcome::kError, 0, "Operation not permitted"};
    if (!answers) return {ProbeOutcome::kTimeout, 0, ""};
    if (payload + header > mtu) {
      if (icmp) return {ProbeOutcome::kTooBig, mtu, "packet too big"};
      return {ProbeOutcome::kTimeout, 0, ""};
    }
    if (lossy) {
      bool seen = false;
      for (size_t i = 0; i + 1 < sent.size(); ++i) seen = seen || sent[i] == payload;
      if (!seen) return {ProbeOutcome::kTimeout, 0, ""};
    }
    return {ProbeOutcome::kReply, 0, ""};
  }
};

MtuSearchParams params_for(uint32_t route_mtu, uint32_t header = kEchoHeaderV4) {
  MtuSearchParams p;
  p.header = header;
  p.max_payload = route_mtu - header;
  return p;
}

TEST(DoctorMtuArithmetic, ReduceMtuFollowsAlgo) {
  // The lab's 1454-byte link: 1420 - (1454 - 80) = 46, client MTU 1374.
  EXPECT_EQ(reduce_mtu_for(1454), 46u);
  EXPECT_EQ(client_mtu_for(1454), 1374u);
  // A full 1500-byte path needs no reduction; larger paths never give a negative one.
  EXPECT_EQ(reduce_mtu_for(1500), 0u);
  EXPECT_EQ(reduce_mtu_for(9000), 0u);
  EXPECT_EQ(client_mtu_for(9000), 1420u);
  // PPPoE (1492): 8; one byte below the full path: 1.
  EXPECT_EQ(reduce_mtu_for(1492), 8u);
  EXPECT_EQ(reduce_mtu_for(1499), 1u);
  // Overheads: 32 (WireGuard) + 8 (UDP) + 20 / 40.
  EXPECT_EQ(tunnel_overhead(net::Family::kV4), 60u);
  EXPECT_EQ(tunnel_overhead(net::Family::kV6), 80u);
  EXPECT_EQ(echo_header(net::Family::kV4), 28u);
  EXPECT_EQ(echo_header(net::Family::kV6), 48u);
  // Degenerate input stays in range.
  EXPECT_EQ(reduce_mtu_for(0), 1420u);
  EXPECT_EQ(reduce_mtu_for(80), 1420u);
}

TEST(DoctorMtuSearch, FullPathPassesWithOneProbe) {
  FakePath path;
  auto r = search_path_mtu(path, params_for(1500));
  EXPECT_EQ(r.kind, MtuSearchResult::Kind::kFound);
  EXPECT_EQ(r.largest_payload, 1472u);
  EXPECT_EQ(r.path_mtu, 1500u);
  EXPECT_TRUE(r.exact);
  EXPECT_EQ(r.probes, 1);
}

TEST(DoctorMtuSearch, FindsTheBlackholeLinkExactly) {
  FakePath path;
  path.mtu = 1454;
  auto r = search_path_mtu(path, params_for(1500));
  ASSERT_EQ(r.kind, MtuSearchResult::Kind::kFound);
  EXPECT_EQ(r.largest_payload, 1426u);
  EXPECT_EQ(r.path_mtu, 1454u);
  EXPECT_TRUE(r.exact);
  EXPECT_EQ(r.smallest_failed, 1427u);
  EXPECT_LE(r.probes, 20);
  // Only sizes inside [1200, 1472] were tried.
  for (uint32_t s : path.sent) {
    EXPECT_GE(s, 1200u);
    EXPECT_LE(s, 1472u);
  }
}

TEST(DoctorMtuSearch, EveryPathMtuInRangeIsFoundWithinBudget) {
  for (uint32_t mtu = 1228; mtu <= 1500; ++mtu) {
    FakePath path;
    path.mtu = mtu;
    auto r = search_path_mtu(path, params_for(1500));
    ASSERT_EQ(r.kind, MtuSearchResult::Kind::kFound) << mtu;
    EXPECT_LE(r.probes, 20) << mtu;
    // Never more than the truth; exact whenever the budget allowed it.
    EXPECT_LE(r.path_mtu, mtu) << mtu;
    if (r.exact) {
      EXPECT_EQ(r.path_mtu, mtu) << mtu;
    }
    EXPECT_EQ(r.probes, int(path.sent.size()));
  }
  // The typical narrowings are found exactly.
  for (uint32_t mtu : {1280u, 1400u, 1420u, 1440u, 1454u, 1480u, 1492u}) {
    FakePath path;
    path.mtu = mtu;
    auto r = search_path_mtu(path, params_for(1500));
    EXPECT_TRUE(r.exact) << mtu;
    EXPECT_EQ(r.path_mtu, mtu) << mtu;
  }
}

TEST(DoctorMtuSearch, TwoTriesPerSizeSurviveSingleLosses) {
  FakePath path;
  path.mtu = 1454;
  path.lossy = true;  // the first probe of every size is lost
  auto r = search_path_mtu(path, params_for(1500));
  ASSERT_EQ(r.kind, MtuSearchResult::Kind::kFound);
  EXPECT_LE(r.probes, 20);
  EXPECT_LE(r.path_mtu, 1454u);
  EXPECT_GE(r.path_mtu, 1400u);
}

TEST(DoctorMtuSearch, IcmpTooBigShortcutsTheSearch) {
  FakePath path;
  path.mtu = 1454;
  path.icmp = true;
  auto r = search_path_mtu(path, params_for(1500));
  ASSERT_EQ(r.kind, MtuSearchResult::Kind::kFound);
  EXPECT_EQ(r.path_mtu, 1454u);
  EXPECT_TRUE(r.exact);
  EXPECT_EQ(r.reported_mtu, 1454u);
  // 1472 (too big, mtu 1454), then 1426 (reply): done.
  EXPECT_EQ(r.probes, 2);
}

TEST(DoctorMtuSearch, SilentHostIsNoAnswerNotAPathFailure) {
  FakePath path;
  path.answers = false;
  auto r = search_path_mtu(path, params_for(1500));
  EXPECT_EQ(r.kind, MtuSearchResult::Kind::kNoAnswer);
  // Max twice, floor twice, a small ping twice.
  EXPECT_EQ(r.probes, 6);
  EXPECT_EQ(path.sent.back(), 56u);
}

TEST(DoctorMtuSearch, PathBelowTheFloor) {
  FakePath path;
  path.mtu = 1100;
  auto r = search_path_mtu(path, params_for(1500));
  EXPECT_EQ(r.kind, MtuSearchResult::Kind::kBelowFloor);
  EXPECT_EQ(r.smallest_failed, 1200u);
}

TEST(DoctorMtuSearch, SendErrorsStopAtOnce) {
  FakePath path;
  path.send_error = true;
  auto r = search_path_mtu(path, params_for(1500));
  EXPECT_EQ(r.kind, MtuSearchResult::Kind::kError);
  EXPECT_EQ(r.probes, 1);
  EXPECT_EQ(r.message, "Operation not permitted");
}

TEST(DoctorMtuSearch, Ipv6UsesItsHeaderAndNarrowRoutes) {
  FakePath path;
  path.header = kEchoHeaderV6;
  path.mtu = 1454;
  auto r = search_path_mtu(path, params_for(1500, kEchoHeaderV6));
  ASSERT_EQ(r.kind, MtuSearchResult::Kind::kFound);
  EXPECT_EQ(r.largest_payload, 1454u - 48u);
  EXPECT_EQ(r.path_mtu, 1454u);
  // A route narrower than the floor + header: the floor follows the route.
  FakePath small;
  small.mtu = 1280;
  small.header = kEchoHeaderV6;
  auto s = search_path_mtu(small, params_for(1240, kEchoHeaderV6));
  ASSERT_EQ(s.kind, MtuSearchResult::Kind::kFound);
  EXPECT_EQ(s.path_mtu, 1240u);
}

TEST(DoctorMtuSearch, BudgetIsAHardLimit) {
  FakePath path;
  path.mtu = 1229;
  MtuSearchParams p = params_for(1500);
  p.max_probes = 5;
  auto r = search_path_mtu(path, p);
  EXPECT_EQ(r.probes, 5);
  EXPECT_EQ(path.sent.size(), 5u);
  ASSERT_EQ(r.kind, MtuSearchResult::Kind::kFound);
  EXPECT_FALSE(r.exact);
  EXPECT_LE(r.path_mtu, 1229u);
}

PathMtuContext lab_context() {
  PathMtuContext c;
  c.host = "192.0.2.2";
  c.address = *net::IpAddress::parse("192.0.2.2");
  c.via = "eth0";
  c.link_mtu = 1500;
  return c;
}

TEST(DoctorPathMtuFinding, ReportsAlgoAdvice) {
  FakePath path;
  path.mtu = 1454;
  auto ctx = lab_context();
  MtuSearchParams p;
  p.max_payload = max_echo_payload(ctx);
  EXPECT_EQ(p.max_payload, 1472u);
  auto f = path_mtu_finding(ctx, search_path_mtu(path, p));
  EXPECT_EQ(f.id, "path_mtu");
  EXPECT_EQ(f.status, Status::kWarn);
  EXPECT_EQ(f.data["path_mtu"], 1454);
  EXPECT_EQ(f.data["largest_payload"], 1426);
  EXPECT_EQ(f.data["reduce_mtu"], 46);
  EXPECT_EQ(f.data["mtu_line"], "MTU = 1374");
  EXPECT_NE(f.summary.find("1426 + 28 = 1454"), std::string::npos) << f.summary;
  EXPECT_NE(f.fix.find("reduce_mtu: 46"), std::string::npos) << f.fix;
  EXPECT_NE(f.fix.find("MTU = 1374"), std::string::npos) << f.fix;
}

TEST(DoctorPathMtuFinding, FullPathIsOk) {
  FakePath path;
  auto ctx = lab_context();
  MtuSearchParams p;
  p.max_payload = max_echo_payload(ctx);
  auto f = path_mtu_finding(ctx, search_path_mtu(path, p));
  EXPECT_EQ(f.status, Status::kOk);
  EXPECT_EQ(f.data["reduce_mtu"], 0);
  EXPECT_TRUE(f.fix.empty());
}

TEST(DoctorPathMtuFinding, RouteMtuLimitsTheSearchAndNoAnswerFallsBackToIt) {
  auto ctx = lab_context();
  ctx.route_mtu = 1400;  // a learned path MTU or a route metric
  EXPECT_EQ(max_echo_payload(ctx), 1372u);
  FakePath silent;
  silent.answers = false;
  MtuSearchParams p;
  p.max_payload = max_echo_payload(ctx);
  auto f = path_mtu_finding(ctx, search_path_mtu(silent, p));
  EXPECT_EQ(f.status, Status::kWarn);  // not a failure: ICMP may be filtered
  EXPECT_EQ(f.data["outcome"], "no_answer");
  EXPECT_EQ(f.data["path_mtu"], 1400);
  EXPECT_EQ(f.data["reduce_mtu"], 100);
  EXPECT_NE(f.summary.find("no answer"), std::string::npos) << f.summary;
}

TEST(DoctorPathMtuFinding, ErrorsAndTinyPaths) {
  auto ctx = lab_context();
  MtuSearchResult err;
  err.kind = MtuSearchResult::Kind::kError;
  err.message = "cannot open an ICMP socket";
  auto f = path_mtu_finding(ctx, err);
  EXPECT_EQ(f.status, Status::kWarn);
  EXPECT_NE(f.summary.find("cannot open an ICMP socket"), std::string::npos);

  FakePath tiny;
  tiny.mtu = 1000;
  MtuSearchParams p;
  p.max_payload = max_echo_payload(ctx);
  auto g = path_mtu_finding(ctx, search_path_mtu(tiny, p));
  EXPECT_EQ(g.status, Status::kFail);
  EXPECT_EQ(g.data["outcome"], "below_floor");
}

}  // namespace
}  // namespace waypost::doctor
