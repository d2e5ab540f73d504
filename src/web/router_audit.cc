// /api/v1/audit: the audit log, newest first, a page at a time. Pages are cut by entry id (ids
// only grow), so entries written while someone pages do not shift the older pages.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

#include "web/api_response.h"
#include "web/router.h"

namespace waypost::web {

namespace {

using nlohmann::json;

constexpr int64_t kDefaultLimit = 100;
constexpr int64_t kMaxLimit = 500;

// The value of `name` in a query string ("limit=50&before=9"), or nullopt when it is absent.
std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// A whole number from `min` to `max` in decimal digits only.
std::optional<int64_t> parse_number(std::string_view text, int64_t min, int64_t max) {
  if (text.empty() || text.size() > 18 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int64_t n = 0;
  std::from_chars(text.data(), text.data() + text.size(), n);
  if (n < min || n > max) return std::nullopt;
  return n;
}

}  // namespace

HttpResponse Router::audit(const HttpRequest& request) {
  HttpResponse refusal;
  auto principal = authenticate(request, false, refusal);
  if (!principal) return refusal;
  if (!may(principal->role, Action::kViewAudit)) {
    return error_response(403, "your role (" + std::string(to_string(principal->role)) +
                                   ") may not read the audit log");
  }
  const size_t q = request.target.find('?');
  const std::string_view query =
      q == std::string::npos ? std::string_view() : std::string_view(request.target).substr(q + 1);
  int64_t limit = kDefaultLimit;
  if (auto text = query_value(query, "limit")) {
    auto n = parse_number(*text, 1, kMaxLimit);
    if (!n) return error_response(400, "limit: expected a whole number from 1 to 500", "limit");
    limit = *n;
  }
  int64_t before = 0;
  if (auto text = query_value(query, "before")) {
    auto n = parse_number(*text, 1, INT64_MAX);
    if (!n) return error_response(400, "before: expected an entry id (1 or more)", "before");
    before = *n;
  }
  // One more than asked for tells whether an older page exists.
  auto entries = auth_.store().audit_page(limit + 1, before);
  if (!entries) return error_for(entries.error());
  json next = nullptr;
  if (int64_t(entries->size()) > limit) {
    entries->resize(size_t(limit));
    next = entries->back().id;
  }
  json out = json::array();
  for (const AuditEntry& e : *entries) {
    out.push_back({{"id", e.id},
                   {"time", e.time},
                   {"actor", e.admin},
                   {"action", e.action},
                   {"target", e.target},
                   {"detail", e.detail}});
  }
  return json_response(200, {{"entries", out}, {"next_before", next}});
}

}  // namespace waypost::web
