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
      return error_response(error.code == EEXIST || error.code == EBUSY ? 409 : 400, error.message,
                            error.code == EBUSY ? std::string_view() : field);
    case ErrorKind::kPermission:
      return error_response(403, error.message);
    default:
      return error_response(503, error.message);
  }
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> decode_path_segment(std::string_view s, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = char(hi * 16 + lo);
      i += 2;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f || c == '/' || c == '\\' || c == '"') return std::nullopt;
    out.push_back(c);
  }
  if (out.empty() || out.size() > max_bytes || out == "." || out == "..") return std::nullopt;
  return out;
}

bool read_body(const HttpRequest& request, std::optional<JsonBody>& body, HttpResponse& refusal) {
  if (!is_json_content(request.content_type)) {
    refusal = error_response(415, "the body must be application/json");
    return false;
  }
  auto parsed = JsonBody::parse(request.body);
  if (!parsed) {
    refusal = error_response(400, parsed.error().message);
    return false;
  }
  body.emplace(std::move(*parsed));
  return true;
}

}  // namespace waypost::web
