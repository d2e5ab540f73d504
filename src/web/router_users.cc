// /api/v1/users: the VPN users as the page shows and changes them. Everything goes through the
// UserDirectory the server supplies; each change is in the audit log with the admin who made it.
#include <algorithm>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "web/api_response.h"
#include "web/json_body.h"
#include "web/router.h"
#include "web/traffic_periods.h"
#include "web/user_limits.h"

namespace waypost::web {

namespace {

using nlohmann::json;

constexpr size_t kMaxUserNameBytes = 64;
constexpr size_t kMaxNoteBytes = 1000;
// Expiry dates up to the year 9999; quotas up to 1 EB (a bigger number is a typo).
constexpr int64_t kMaxExpiry = 253402300799;
constexpr int64_t kMaxQuota = int64_t(1) << 60;

// A user as the API shows it: the server's view plus what web.db keeps (settings, this month's
// traffic). The reason a user is off is the server's own (expiry, quota) when it turned it off.
json user_json(const UserView& u, const UserSettings& s, int64_t month_bytes) {
  json protocols = json::array();
  if (u.wireguard) protocols.push_back("wireguard");
  if (u.ikev2) protocols.push_back("ikev2");
  std::string reason = u.disabled_reason;
  if (!u.enabled && s.auto_disabled != AutoDisable::kNone) reason = disabled_reason(s, month_bytes);
  return {{"name", u.name},
          {"ipv4", u.ipv4},
          {"ipv6", u.ipv6},
          {"protocols", protocols},
          {"enabled", u.enabled},
          {"disabled_reason", reason},
          {"online", u.online},
          {"last_handshake", u.last_handshake},
          {"endpoint", u.endpoint},
          {"rx_bytes", u.rx_bytes},
          {"tx_bytes", u.tx_bytes},
          {"note", s.note},
          {"expires", s.expires},
          {"monthly_quota", s.monthly_quota},
          {"month_bytes", month_bytes}};
}

// The value of `name` in the target's query string ("" when absent); no decoding is needed for
// the API's parameters, which are plain words and numbers.
std::string query_param(std::string_view target, std::string_view name) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

// The optional settings fields of a body (POST /users, PATCH /users/NAME) onto `s`; false with
// `bad` set for a wrong one. Absent fields leave `s` as it is; null clears expiry and quota.
bool read_settings(const JsonBody& body, UserSettings& s, FieldError& bad) {
  if (body.has("note") && !body.get_string("note", kMaxNoteBytes, s.note, bad)) return false;
  if (body.has("expires")) {
    if (!body.get_int("expires", 0, kMaxExpiry, s.expires, bad)) return false;
  } else if (body.present("expires")) {
    s.expires = 0;
  }
  if (body.has("monthly_quota")) {
    if (!body.get_int("monthly_quota", 0, kMaxQuota, s.monthly_quota, bad)) return false;
  } else if (body.present("monthly_quota")) {
    s.monthly_quota = 0;
  }
  return true;
}

}  // namespace

HttpResponse Router::users(const HttpRequest& request, std::string_view rest) {
  HttpResponse refusal;
  auto principal =
      authenticate(request, request.method != "GET" && request.method != "HEAD", refusal);
  if (!principal) return refusal;
  if (!may(principal->role, Action::kView)) return error_response(403, "not allowed");
  const bool change = request.method != "GET";
  if (change && !may(principal->role, Action::kChangeUsers)) {
    return error_response(403, "your role (" + std::string(to_string(principal->role)) +
                                   ") may look but not change users");
  }
  Store& store = auth_.store();
  const int64_t now = auth_.now_seconds();
  const int64_t month = period_start(TrafficPeriod::kMonth, now);

  if (rest.empty() || rest == "/") {
    if (request.method == "GET") {
      auto list = users_.list();
      if (!list) return error_for(list.error());
      // The users come from config.yaml; web.db only adds to them. A web.db that cannot be read
      // (locked, damaged, full) leaves the list whole, with a warning the page shows.
      std::string warning;
      auto all = store.all_user_settings();
      if (!all) warning = all.error().message;
      auto used = store.month_totals(month);
      if (!used) {
        if (warning.empty()) warning = used.error().message;
        used = std::map<std::string, int64_t>();
      }
      std::map<std::string, UserSettings> settings;
      if (all) {
        for (UserSettings& u : *all) settings.emplace(u.name, std::move(u));
      }
      json out = json::array();
      for (const UserView& u : *list) {
        auto it = settings.find(u.name);
        UserSettings none;
        none.name = u.name;
        auto used_it = used->find(u.name);
        out.push_back(user_json(u, it == settings.end() ? none : it->second,
                                used_it == used->end() ? 0 : used_it->second));
      }
      json answer = {{"users", out}};
      if (!warning.empty()) {
        answer["warning"] = "expiry, quotas, notes and traffic are unavailable: " + warning;
      }
      return json_response(200, answer);
    }
    if (request.method != "POST") return method_not_allowed("GET, POST");
    HttpResponse refused;
    std::optional<JsonBody> body;
    if (!read_body(request, body, refused)) return refused;
    std::string name;
    FieldError bad;
    if (!body->get_string("name", kMaxUserNameBytes, name, bad)) {
      return error_response(400, bad.message(), bad.field);
    }
    UserSettings settings;
    if (!read_settings(*body, settings, bad)) return error_response(400, bad.message(), bad.field);
    auto user = users_.add(name);
    if (!user) return error_for(user.error(), "name");
    (void)auth_.audit_action(*principal, "user.add", name);
    // A name used before may have left settings or traffic behind (a removal while web.db
    // could not be written): the new user starts clean.
    (void)store.delete_user_data(name);
    settings.name = name;
    if (auto st = store.put_user_settings(settings); !st) return error_for(st.error());
    if (settings.expires > 0 || settings.monthly_quota > 0) {
      (void)apply_limits(store, users_, now, name);
    }
    return user_answer(201, name);
  }

  // /NAME[/...]
  rest.remove_prefix(1);
  const size_t slash = rest.find('/');
  auto name = decode_path_segment(rest.substr(0, slash));
  if (!name) return error_response(404, "no such user");
  const std::string_view sub = slash == std::string_view::npos ? "" : rest.substr(slash);

  if (sub.empty()) {
    if (request.method == "GET") return user_answer(200, *name);
    if (request.method == "PATCH") return patch_user(*principal, *name, request);
    if (request.method != "DELETE") return method_not_allowed("GET, PATCH, DELETE");
    if (auto st = users_.remove(*name); !st) return error_for(st.error());
    (void)auth_.audit_action(*principal, "user.remove", *name);
    (void)store.delete_user_data(*name);
    return json_response(200, {{"removed", *name}});
  }
  if (sub == "/disable" || sub == "/enable") {
    if (request.method != "POST") return method_not_allowed("POST");
    const bool enable = sub == "/enable";
    auto settings = store.user_settings(*name);
    if (!settings) return error_for(settings.error());
    if (enable) {
      // The server would turn the user off again within a minute: say why instead.
      auto used = store.month_totals(month);
      if (!used) return error_for(used.error());
      const int64_t bytes = used->count(*name) ? used->at(*name) : 0;
      if (settings->expires > 0 && now >= settings->expires) {
        return error_response(409, "this user expired; set a later expiry date (or none) first",
                              "expires");
      }
      if (settings->monthly_quota > 0 && bytes >= settings->monthly_quota) {
        return error_response(409,
                              "this user used its monthly quota (" + format_bytes(bytes) +
                                  "); raise or remove the quota first",
                              "monthly_quota");
      }
    }
    auto user = users_.set_enabled(*name, enable);
    if (!user) return error_for(user.error());
    // An admin's decision replaces the server's: a user turned off by hand stays off.
    if (settings->auto_disabled != AutoDisable::kNone) {
      settings->auto_disabled = AutoDisable::kNone;
      settings->auto_disabled_at = 0;
      (void)store.put_user_settings(*settings);
    }
    (void)auth_.audit_action(*principal, enable ? "user.enable" : "user.disable", *name);
    return user_answer(200, *name);
  }
  if (sub == "/links") {
    if (request.method != "POST") return method_not_allowed("POST");
    return create_user_link(*principal, *name, request);
  }
  if (request.method != "GET") return method_not_allowed("GET");
  if (sub == "/traffic") return user_traffic(*name, request);
  if (sub == "/qr.svg") {
    auto svg = users_.qr_svg(*name);
    if (!svg) return error_for(svg.error());
    HttpResponse r;
    r.content_type = "image/svg+xml";
    r.body = std::move(*svg);
    return r;
  }
  if (sub == "/files" || sub.starts_with("/files/")) {
    return user_files(*principal, *name, sub.substr(std::string_view("/files").size()), request);
  }
  return error_response(404, "no such API path");
}

HttpResponse Router::user_answer(int status, const std::string& name) {
  auto list = users_.list();
  if (!list) return error_for(list.error());
  for (const UserView& u : *list) {
    if (u.name != name) continue;
    auto settings = auth_.store().user_settings(name);
    if (!settings) return error_for(settings.error());
    auto used =
        auth_.store().month_totals(period_start(TrafficPeriod::kMonth, auth_.now_seconds()));
    if (!used) return error_for(used.error());
    return json_response(
        status, {{"user", user_json(u, *settings, used->count(name) ? used->at(name) : 0)}});
  }
  return error_response(404, "no user named '" + name + "'");
}

HttpResponse Router::patch_user(const Principal& who, const std::string& name,
                                const HttpRequest& request) {
  HttpResponse refused;
  std::optional<JsonBody> body;
  if (!read_body(request, body, refused)) return refused;
  Store& store = auth_.store();
  auto settings = store.user_settings(name);
  if (!settings) return error_for(settings.error());
  FieldError bad;
  std::string new_name;
  if (body->has("name") && !body->get_string("name", kMaxUserNameBytes, new_name, bad)) {
    return error_response(400, bad.message(), bad.field);
  }
  UserSettings changed = *settings;
  if (!read_settings(*body, changed, bad)) return error_response(400, bad.message(), bad.field);

  std::string current = name;
  if (!new_name.empty() && new_name != name) {
    auto user = users_.rename(name, new_name);
    if (!user) return error_for(user.error(), "name");
    (void)auth_.audit_action(who, "user.rename", name, "to " + new_name);
    if (auto st = store.rename_user_data(name, new_name); !st) return error_for(st.error());
    current = new_name;
    changed.name = new_name;
  } else {
    // Only a user that exists gets settings.
    auto list = users_.list();
    if (!list) return error_for(list.error());
    if (std::none_of(list->begin(), list->end(),
                     [&](const UserView& u) { return u.name == name; })) {
      return error_response(404, "no user named '" + name + "'");
    }
  }
  if (changed.note != settings->note || changed.expires != settings->expires ||
      changed.monthly_quota != settings->monthly_quota) {
    if (auto st = store.put_user_settings(changed); !st) return error_for(st.error());
    std::string detail;
    if (changed.expires != settings->expires) {
      detail += "expires " + (changed.expires ? std::to_string(changed.expires) : "never") + "; ";
    }
    if (changed.monthly_quota != settings->monthly_quota) {
      detail += "monthly quota " +
                (changed.monthly_quota ? format_bytes(changed.monthly_quota) : "none") + "; ";
    }
    if (changed.note != settings->note) detail += "note; ";
    if (detail.size() >= 2) detail.resize(detail.size() - 2);
    (void)auth_.audit_action(who, "user.settings", current, detail);
    // A past expiry or a used-up quota applies now; a later one or a bigger one lifts it now.
    (void)apply_limits(store, users_, auth_.now_seconds(), current);
  }
  return user_answer(200, current);
}

HttpResponse Router::user_traffic(const std::string& name, const HttpRequest& request) {
  const std::string period_text = query_param(request.target, "period");
  auto period = parse_traffic_period(period_text.empty() ? "hour" : period_text);
  if (!period) {
    return error_response(400, "period: expected minute, hour, day or month", "period");
  }
  // How many buckets a chart shows: the last hour by minute, two days by hour, two months by
  // day, two years by month (what web.db keeps, Store::prune).
  int count = 48;
  if (*period == TrafficPeriod::kMinute) count = 60;
  if (*period == TrafficPeriod::kDay) count = 62;
  if (*period == TrafficPeriod::kMonth) count = 24;
  auto list = users_.list();
  if (!list) return error_for(list.error());
  if (std::none_of(list->begin(), list->end(), [&](const UserView& u) { return u.name == name; })) {
    return error_response(404, "no user named '" + name + "'");
  }
  const int64_t now = auth_.now_seconds();
  const int64_t since = periods_back(*period, now, count - 1);
  auto points = auth_.store().traffic(name, *period, since);
  if (!points) return error_for(points.error());
  // Every bucket of the range, empty ones as zero, so that a chart needs no gap logic.
  json out = json::array();
  size_t i = 0;
  for (int64_t t = since; t <= now; t = next_period_start(*period, t)) {
    int64_t rx = 0;
    int64_t tx = 0;
    while (i < points->size() && (*points)[i].start < t) ++i;
    if (i < points->size() && (*points)[i].start == t) {
      rx = (*points)[i].rx;
      tx = (*points)[i].tx;
    }
    out.push_back({{"start", t}, {"rx", rx}, {"tx", tx}});
  }
  return json_response(200, {{"period", to_string(*period)}, {"points", out}});
}

HttpResponse Router::user_files(const Principal& who, const std::string& name,
                                std::string_view rest, const HttpRequest& /*request*/) {
  if (rest.empty() || rest == "/") {
    auto files = users_.files(name);
    if (!files) return error_for(files.error());
    json out = json::array();
    for (const ProfileFile& f : *files) out.push_back({{"name", f.name}, {"size", f.size}});
    return json_response(200, {{"files", out}});
  }
  auto file = decode_path_segment(rest.substr(1));
  if (!file) return error_response(404, "no such file");
  auto bytes = users_.file(name, *file);
  if (!bytes) return error_for(bytes.error());
  (void)auth_.audit_action(who, "user.download", name, *file);
  HttpResponse r;
  r.content_type = "application/octet-stream";
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + *file + "\"");
  r.body = std::move(*bytes);
  return r;
}

}  // namespace waypost::web
