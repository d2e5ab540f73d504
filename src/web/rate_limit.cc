#include "web/rate_limit.h"

#include <algorithm>

#include "net/ip.h"

namespace waypost::web {

RateLimiter::Verdict RateLimiter::take(std::string_view key) {
  const Nanos now = clock_.now();
  auto it = tat_.find(key);
  if (it == tat_.end()) {
    if (tat_.size() >= policy_.max_keys) make_room(now);
    it = tat_.emplace(std::string(key), now).first;
  }
  const Nanos tat = std::max(it->second, now);
  // The bucket is empty when the next arrival would lie more than burst-1 intervals ahead.
  const Nanos allowance = (policy_.burst - 1) * policy_.interval;
  if (tat - now > allowance) {
    return Verdict{false, tat - now - allowance};
  }
  it->second = tat + policy_.interval;
  return Verdict{};
}

bool RateLimiter::would_allow(std::string_view key) const {
  const Nanos now = clock_.now();
  auto it = tat_.find(key);
  if (it == tat_.end()) return true;
  return std::max(it->second, now) - now <= (policy_.burst - 1) * policy_.interval;
}

void RateLimiter::make_room(Nanos now) {
  std::erase_if(tat_, [now](const auto& entry) { return entry.second <= now; });
  if (tat_.size() < policy_.max_keys) return;
  auto nearest_full = std::min_element(
      tat_.begin(), tat_.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  tat_.erase(nearest_full);
}

std::string address_key(std::string_view address) {
  auto ip = net::IpAddress::parse(address);
  if (!ip) return std::string(address);
  if (ip->is_v4()) return ip->to_string();
  // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; they get their IPv4 bucket.
  const auto& b = ip->bytes;
  if (std::all_of(b.begin(), b.begin() + 10, [](uint8_t x) { return x == 0; }) && b[10] == 0xff &&
      b[11] == 0xff) {
    return net::IpAddress::v4_bytes(b.data() + 12).to_string();
  }
  net::IpAddress prefix = *ip;
  std::fill(prefix.bytes.begin() + 8, prefix.bytes.end(), uint8_t{0});
  return prefix.to_string() + "/64";
}

}  // namespace waypost::web
