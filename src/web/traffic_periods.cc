#include "web/traffic_periods.h"

#include <ctime>

namespace waypost::web {

namespace {

constexpr int64_t kMinute = 60;
constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 86400;

int64_t floor_to(int64_t t, int64_t unit) {
  const int64_t r = t % unit;
  return r < 0 ? t - r - unit : t - r;
}

// The first second of the month `months` after the one containing `t`.
int64_t month_start(int64_t t, int months) {
  const auto tt = time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  int64_t m = int64_t(tm.tm_year) * 12 + tm.tm_mon + months;
  std::tm first{};
  first.tm_year = int(m / 12 - (m % 12 < 0 ? 1 : 0));
  first.tm_mon = int(((m % 12) + 12) % 12);
  first.tm_mday = 1;
  return int64_t(timegm(&first));
}

}  // namespace

std::string_view to_string(TrafficPeriod period) {
  switch (period) {
    case TrafficPeriod::kMinute:
      return "minute";
    case TrafficPeriod::kHour:
      return "hour";
    case TrafficPeriod::kDay:
      return "day";
    case TrafficPeriod::kMonth:
      return "month";
  }
  return "minute";
}

std::optional<TrafficPeriod> parse_traffic_period(std::string_view text) {
  for (TrafficPeriod p :
       {TrafficPeriod::kMinute, TrafficPeriod::kHour, TrafficPeriod::kDay, TrafficPeriod::kMonth}) {
    if (text == to_string(p)) return p;
  }
  return std::nullopt;
}

int64_t period_start(TrafficPeriod period, int64_t t) {
  switch (period) {
    case TrafficPeriod::kMinute:
      return floor_to(t, kMinute);
    case TrafficPeriod::kHour:
      return floor_to(t, kHour);
    case TrafficPeriod::kDay:
      return floor_to(t, kDay);
    case TrafficPeriod::kMonth:
      return month_start(t, 0);
  }
  return t;
}

int64_t next_period_start(TrafficPeriod period, int64_t t) {
  if (period == TrafficPeriod::kMonth) return month_start(t, 1);
  const int64_t unit = period == TrafficPeriod::kMinute ? kMinute
                       : period == TrafficPeriod::kHour ? kHour
                                                        : kDay;
  return period_start(period, t) + unit;
}

int64_t periods_back(TrafficPeriod period, int64_t t, int count) {
  if (period == TrafficPeriod::kMonth) return month_start(t, -count);
  const int64_t unit = period == TrafficPeriod::kMinute ? kMinute
                       : period == TrafficPeriod::kHour ? kHour
                                                        : kDay;
  return period_start(period, t) - int64_t(count) * unit;
}

}  // namespace waypost::web
