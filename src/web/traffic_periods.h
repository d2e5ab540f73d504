#pragma once
// The buckets of the traffic history: calendar minutes, hours, days and months in UTC. UTC,
// because a server's local zone can change under it (a moved VM, a DST switch) and the buckets
// already stored must not shift; the page shows them in the reader's own zone.

#include <cstdint>
#include <optional>
#include <string_view>

#include "web/store.h"

namespace waypost::web {

std::string_view to_string(TrafficPeriod period);
std::optional<TrafficPeriod> parse_traffic_period(std::string_view text);

// The first second of the bucket that contains `t`.
int64_t period_start(TrafficPeriod period, int64_t t);
// The first second of the next bucket.
int64_t next_period_start(TrafficPeriod period, int64_t t);
// The first second of the bucket `count` buckets before the one containing `t`.
int64_t periods_back(TrafficPeriod period, int64_t t, int count);

}  // namespace waypost::web
