#include "web/json_body.h"

namespace waypost::web {

Result<JsonBody> JsonBody::parse(std::string_view body) {
  // The non-throwing parse: malformed input gives a "discarded" value instead of an exception.
  nlohmann::json json = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (json.is_discarded()) return make_error(ErrorKind::kParse, "the body is not valid JSON");
  if (!json.is_object()) return make_error(ErrorKind::kParse, "the body must be a JSON object");
  return JsonBody(std::move(json));
}

bool JsonBody::get_string(std::string_view field, size_t max_bytes, std::string& out,
                          FieldError& error) const {
  auto it = json_.find(field);
  if (it == json_.end()) {
    error = {std::string(field), "missing"};
    return false;
  }
  if (!it->is_string()) {
    error = {std::string(field), "expected a string"};
    return false;
  }
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    error = {std::string(field), "longer than " + std::to_string(max_bytes) + " bytes"};
    return false;
  }
  out = s;
  return true;
}

}  // namespace waypost::web
