#pragma once
// Reading a JSON request body field by field, with errors that name the field and say what was
// expected, for the API's 400 answers: {"error": "password: expected a string", "field": ...}.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace waypost::web {

struct FieldError {
  std::string field;   // "" when the body as a whole is wrong
  std::string reason;  // "expected a string", "missing", ...
  std::string message() const { return field.empty() ? reason : field + ": " + reason; }
};

class JsonBody {
 public:
  // A JSON object, or an error for the body as a whole. Never throws.
  static Result<JsonBody> parse(std::string_view body);

  // A string field of at most max_bytes bytes; `error` is set when it is missing or not one.
  bool get_string(std::string_view field, size_t max_bytes, std::string& out,
                  FieldError& error) const;
  // Whether the field is present and not null (optional fields: null means "none").
  bool has(std::string_view field) const;
  // Whether the field is present at all, null included.
  bool present(std::string_view field) const { return json_.contains(field); }
  // A whole number in [min, max]; `error` is set when it is missing, not one, or out of range.
  bool get_int(std::string_view field, int64_t min, int64_t max, int64_t& out,
               FieldError& error) const;

 private:
  explicit JsonBody(nlohmann::json json) : json_(std::move(json)) {}
  nlohmann::json json_;
};

}  // namespace waypost::web
