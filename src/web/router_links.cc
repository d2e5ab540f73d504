// One-time download links: an admin makes one for a user and sends it to someone who has no
// account (a family member with a new phone). The link is
//
//   https://<host>/get#<token>        (128 random bits, stored as SHA-256, 24 h by default)
//
// and, like a setup link, carries its token in the fragment, which a browser never sends: the
// page's script posts it to /api/v1/links/redeem. So the GET of the link reveals and consumes
// nothing, and a chat app that fetches the link for a preview does not use it up; the first
// redeem does, atomically (Store::use_user_link), and gets the QR code and every file in one
// answer, since there is no second request to authorize.
#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "web/api_response.h"
#include "web/json_body.h"
#include "web/router.h"
#include "web/token.h"

namespace waypost::web {

namespace {

using nlohmann::json;

constexpr size_t kLinkTokenBytes = 16;  // 128 bits
constexpr int64_t kDefaultLinkHours = 24;
constexpr int64_t kMaxLinkHours = 24 * 7;
constexpr size_t kMaxTokenText = 64;

bool token_shaped(std::string_view t) {
  if (t.size() != kLinkTokenBytes * 2) return false;
  for (char c : t) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

HttpResponse Router::create_user_link(const Principal& who, const std::string& name,
                                      const HttpRequest& request) {
  int64_t hours = kDefaultLinkHours;
  if (!request.body.empty()) {
    HttpResponse refused;
    std::optional<JsonBody> body;
    if (!read_body(request, body, refused)) return refused;
    FieldError bad;
    if (body->has("hours") && !body->get_int("hours", 1, kMaxLinkHours, hours, bad)) {
      return error_response(400, bad.message(), bad.field);
    }
  }
  // Only for a user with something to download.
  auto files = users_.files(name);
  if (!files) return error_for(files.error());
  if (files->empty()) return error_response(409, "this user has no profile files to send");

  const std::string token = random_token(auth_.random(), kLinkTokenBytes);
  UserLinkRecord link;
  link.token_hash = hash_token(token);
  link.user = name;
  link.created_by = who.admin;
  link.created = auth_.now_seconds();
  link.expires = link.created + hours * 3600;
  if (auto st = auth_.store().add_user_link(link); !st) return error_for(st.error());
  (void)auth_.audit_action(who, "user.link", name,
                           "one-time link, valid " + std::to_string(hours) + " h");
  // The recipient is to reach the page where the admin did (page_base).
  const std::string url = page_base(request) + "/get#" + token;
  return json_response(201, {{"url", url}, {"expires", link.expires}});
}

HttpResponse Router::redeem_link(const HttpRequest& request) {
  HttpResponse refused;
  std::optional<JsonBody> body;
  if (!read_body(request, body, refused)) return refused;
  std::string token;
  FieldError bad;
  if (!body->get_string("token", kMaxTokenText, token, bad)) {
    return error_response(400, bad.message(), bad.field);
  }
  constexpr std::string_view kGone = "this link was used already or has expired; ask for a new one";
  if (!token_shaped(token)) return error_response(410, kGone);
  auto link = auth_.store().use_user_link(hash_token(token), auth_.now_seconds());
  if (!link) return error_for(link.error());
  if (!*link) return error_response(410, kGone);
  const std::string& user = (*link)->user;

  auto files = users_.files(user);
  if (!files) return error_for(files.error());
  json out = json::array();
  for (const ProfileFile& f : *files) {
    auto bytes = users_.file(user, f.name);
    if (!bytes) continue;  // gone since it was listed
    out.push_back(
        {{"name", f.name},
         {"size", bytes->size()},
         {"data", to_base64({reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()})}});
  }
  json answer = {{"user", user}, {"files", out}};
  if (auto svg = users_.qr_svg(user); svg) answer["qr_svg"] = *svg;
  Principal opener;
  opener.admin = "(one-time link)";
  (void)auth_.audit_action(
      opener, "user.link.used", user,
      "made by " + (*link)->created_by + ", opened from " + request.remote_address);
  return json_response(200, answer);
}

}  // namespace waypost::web
