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

bool JsonBody::has(std::string_view field) const {
  auto it = json_.find(field);
  return it != json_.end() && !it->is_null();
}

bool JsonBody::get_int(std::string_view field, int64_t min, int64_t max, int64_t& out,
                       FieldError& error) const {
  auto it = json_.find(field);
  if (it == json_.end()) {
    error = {std::string(field), "missing"};
    return false;
  }
  // Whole numbers only: 1.5 or 1e3 written as a float is refused, not rounded.
  if (!it->is_number_integer()) {
    error = {std::string(field), "expected a whole number"};
    return false;
  }
  int64_t v = 0;
  if (it->is_number_unsigned()) {
    const auto u = it->get<uint64_t>();
    if (u > uint64_t(max)) {
      error = {std::string(field), "must be at most " + std::to_string(max)};
      return false;
    }
    v = int64_t(u);
  } else {
    v = it->get<int64_t>();
  }
  if (v < min || v > max) {
    error = {std::string(field),
             "must be between " + std::to_string(min) + " and " + std::to_string(max)};
    return false;
  }
  out = v;
  return true;
}

}  // namespace waypost::web
