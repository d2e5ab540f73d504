#pragma once
// JSON answers of the /api/v1 router, shared by its files (router.cc, router_users.cc).

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "web/http_types.h"
#include "web/json_body.h"

namespace waypost::web {

// Never throws on a stray byte (names and messages also come from files).
std::string dump_json(const nlohmann::json& j);
HttpResponse json_response(int status, const nlohmann::json& body);
// {"error": message, "field": field}; "field" only when one request field was wrong.
HttpResponse error_response(int status, std::string_view message, std::string_view field = {});
HttpResponse method_not_allowed(std::string_view allow);
// "application/json" with optional parameters, in any letter case.
bool is_json_content(std::string_view content_type);
// The status for an error from the server side: kNotFound 404, kParse 400 (with `field`; 409
// when its code is EEXIST, the thing exists already, or EBUSY, the change would leave the server
// without something it needs: the last owner), kPermission 403, anything else 503.
HttpResponse error_for(const Error& error, std::string_view field = {});
// One path segment, percent-decoded ("bob%40home" -> "bob@home"): a name in a path such as
// /api/v1/users/NAME. nullopt for a bad escape, an empty segment, one over max_bytes, "." or
// "..", or bytes no user, admin or file name has (controls, slashes, quotes); the handlers check
// names further.
std::optional<std::string> decode_path_segment(std::string_view segment, size_t max_bytes = 128);

// The request's JSON object body into `body`; false with `refusal` set (415 when it is not
// application/json, 400 when it is not a JSON object) otherwise.
bool read_body(const HttpRequest& request, std::optional<JsonBody>& body, HttpResponse& refusal);

}  // namespace waypost::web
