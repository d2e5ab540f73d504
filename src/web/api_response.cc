#include "web/api_response.h"

#include <cctype>
#include <cerrno>

namespace waypost::web {

std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

HttpResponse json_response(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = dump_json(body);
  return r;
}

HttpResponse error_response(int status, std::string_view message, std::string_view field) {
  nlohmann::json body = {{"error", message}};
  if (!field.empty()) body["field"] = field;
  return json_response(status, body);
}

HttpResponse method_not_allowed(std::string_view allow) {
  HttpResponse r = error_response(405, "method not allowed");
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

bool is_json_content(std::string_view content_type) {
  const std::string_view type = content_type.substr(0, content_type.find(';'));
  std::string lower;
  for (char c : type) {
    if (c != ' ' && c != '\t') lower.push_back(char(std::tolower(static_cast<unsigned char>(c))));
  }
  return lower == "application/json";
}

HttpResponse error_for(const Error& error, std::string_view field) {
  switch (error.kind) {
    case ErrorKind::kNotFound:
      return error_response(404, error.message);
    case ErrorKind::kParse:
      return error_response(error.code == EEXIST ? 409 : 400, error.message, field);
    case ErrorKind::kPermission:
      return error_response(403, error.message);
    default:
      return error_response(503, error.message);
  }
}

}  // namespace waypost::web
