#include "doctor/mtu_search.h"

#include <algorithm>
#include <optional>

namespace waypost::doctor {

uint32_t reduce_mtu_for(uint32_t path_mtu) {
  if (path_mtu >= kAlgoBaseMtu + kAlgoOverhead) return 0;
  if (path_mtu <= kAlgoOverhead) return kAlgoBaseMtu;
  return kAlgoBaseMtu - (path_mtu - kAlgoOverhead);
}

uint32_t client_mtu_for(uint32_t path_mtu) {
  return kAlgoBaseMtu - reduce_mtu_for(path_mtu);
}

namespace {

enum class SizeVerdict { kPass, kFail, kUnreachable, kError, kBudget };

class Search {
 public:
  Search(EchoProber& prober, const MtuSearchParams& params, MtuSearchResult& result)
      : prober_(prober), params_(params), r_(result) {}

  // Up to params.tries probes of one size; a reply passes, a too-big answer fails at once.
  SizeVerdict try_size(uint32_t payload) {
    for (int t = 0; t < std::max(1, params_.tries); ++t) {
      if (r_.probes >= params_.max_probes) return SizeVerdict::kBudget;
      ProbeResult p = prober_.probe(payload);
      r_.probes++;
      r_.steps.push_back({payload, p.outcome});
      switch (p.outcome) {
        case ProbeOutcome::kReply:
          return SizeVerdict::kPass;
        case ProbeOutcome::kTooBig:
          if (p.reported_mtu != 0) r_.reported_mtu = p.reported_mtu;
          return SizeVerdict::kFail;
        case ProbeOutcome::kUnreachable:
          r_.message = p.message;
          return SizeVerdict::kUnreachable;
        case ProbeOutcome::kError:
          r_.message = p.message;
          return SizeVerdict::kError;
        case ProbeOutcome::kTimeout:
          break;
      }
    }
    return SizeVerdict::kFail;
  }

  // The payload an ICMP error's MTU points at, if it lies strictly between lo and hi.
  std::optional<uint32_t> hint(uint32_t lo_exclusive, uint32_t hi_exclusive) const {
    if (r_.reported_mtu <= params_.header) return std::nullopt;
    uint32_t p = r_.reported_mtu - params_.header;
    if (p > lo_exclusive && p < hi_exclusive) return p;
    return std::nullopt;
  }

 private:
  EchoProber& prober_;
  const MtuSearchParams& params_;
  MtuSearchResult& r_;
};

}  // namespace

MtuSearchResult search_path_mtu(EchoProber& prober, const MtuSearchParams& params) {
  MtuSearchResult r;
  Search s(prober, params, r);
  const uint32_t max = params.max_payload;
  const uint32_t min = std::min(params.min_payload, max);

  auto found = [&](uint32_t lo, uint32_t hi_failed) {
    r.kind = MtuSearchResult::Kind::kFound;
    r.largest_payload = lo;
    r.smallest_failed = hi_failed;
    r.path_mtu = lo + params.header;
    r.exact = hi_failed == 0 || hi_failed == lo + 1;
    return r;
  };

  // 1. The largest size the route allows: on most paths it simply passes.
  SizeVerdict v = s.try_size(max);
  if (v == SizeVerdict::kPass) return found(max, 0);
  if (v == SizeVerdict::kError) {
    r.kind = MtuSearchResult::Kind::kError;
    return r;
  }
  if (v == SizeVerdict::kBudget) return r;
  uint32_t hi = max;  // known not to pass

  // 2. A lower bound: the size an ICMP error named, else the floor.
  std::optional<uint32_t> lo;
  if (auto h = s.hint(min, hi)) {
    v = s.try_size(*h);
    if (v == SizeVerdict::kPass) {
      // The router said a packet one byte larger does not fit.
      return found(*h, *h + 1);
    }
    if (v == SizeVerdict::kError) {
      r.kind = MtuSearchResult::Kind::kError;
      return r;
    }
    hi = *h;
  }
  if (min < hi) {
    v = s.try_size(min);
    if (v == SizeVerdict::kPass) lo = min;
    if (v == SizeVerdict::kError) {
      r.kind = MtuSearchResult::Kind::kError;
      return r;
    }
  }
  if (!lo) {
    // 3. Nothing from min up passes: does the host answer small pings at all?
    if (v == SizeVerdict::kBudget) return r;
    const uint32_t small = std::min(params.small_payload, min);
    SizeVerdict sv = small < min ? s.try_size(small) : SizeVerdict::kFail;
    if (sv == SizeVerdict::kPass) {
      r.kind = MtuSearchResult::Kind::kBelowFloor;
      r.largest_payload = small;
      r.smallest_failed = min;
    } else if (sv == SizeVerdict::kError) {
      r.kind = MtuSearchResult::Kind::kError;
    } else {
      r.kind = MtuSearchResult::Kind::kNoAnswer;
    }
    return r;
  }

  // 4. Binary search between lo (passes) and hi (does not), jumping to a size named by an ICMP
  // error whenever one arrives.
  while (hi - *lo > 1) {
    uint32_t mid = *lo + (hi - *lo) / 2;
    auto h = s.hint(*lo, hi);
    if (h) mid = *h;
    v = s.try_size(mid);
    if (v == SizeVerdict::kPass) {
      lo = mid;
      if (h) hi = mid + 1;  // the ICMP error said one byte more does not fit
    } else if (v == SizeVerdict::kFail || v == SizeVerdict::kUnreachable) {
      hi = mid;
    } else {
      break;  // budget spent or probes failing: report what is known
    }
  }
  return found(*lo, hi);
}

}  // namespace waypost::doctor
