#pragma once
// A request and a response as the router sees them: plain values, with no HTTP library's types,
// so that the router is tested and fuzzed without sockets and the HTTP layer can be swapped.

#include <string>
#include <utility>
#include <vector>

namespace waypost::web {

struct HttpRequest {
  std::string method;         // "GET", "POST", ...
  std::string target;         // "/api/v1/users?x=1"
  std::string cookie;         // the Cookie header
  std::string csrf_token;     // the X-CSRF-Token header
  std::string authorization;  // the Authorization header
  std::string content_type;   // the Content-Type header
  std::string host;           // the Host header: where the browser reached us (setup links)
  std::string body;
  std::string remote_address;  // the client's IP address
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // Set-Cookie, Retry-After, Allow
  std::string body;
};

// Request bodies above this are refused (413) before they are read to the end.
inline constexpr size_t kMaxRequestBody = 64 * 1024;

}  // namespace waypost::web
