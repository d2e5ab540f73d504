#include "web/static_files.h"

#include <array>

#include "web/assets.h"

namespace waypost::web {

namespace {

// The paths of the app's screens. A reload or a bookmark of any of them gets the app, which
// then shows that screen; other paths are 404 so that typos do not look like pages.
constexpr std::array<std::string_view, 9> kPagePaths = {
    "/", "/setup", "/login", "/users", "/get", "/server", "/admins", "/tokens", "/audit"};
constexpr std::string_view kAssetPrefix = "/assets/";

HttpResponse answer(const HttpRequest& request, int status, std::string_view type,
                    std::string_view body) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::string(type);
  if (request.method != "HEAD") r.body = std::string(body);
  r.headers.emplace_back("Content-Security-Policy", std::string(kPageCsp));
  return r;
}

HttpResponse not_found(const HttpRequest& request) {
  return answer(request, 404, "text/plain; charset=utf-8", "not found\n");
}

}  // namespace

HttpResponse serve_static(const HttpRequest& request) {
  // The setup token travels in the fragment, which browsers never send; a query string is
  // ignored (a page reads its own parameters).
  const std::string_view target = request.target;
  const std::string_view path = target.substr(0, target.find('?'));
  std::string_view name;
  for (std::string_view page : kPagePaths) {
    if (path == page) name = "index.html";
  }
  if (name.empty() && path.starts_with(kAssetPrefix)) {
    name = path.substr(kAssetPrefix.size());
    // Asset names are flat file names; a '/' (or "..") can never match one, but say so.
    if (name.find('/') != std::string_view::npos) return not_found(request);
  }
  const Asset* asset = name.empty() ? nullptr : find_asset(name);
  if (asset == nullptr) return not_found(request);
  return answer(request, 200, asset->content_type, asset->body);
}

}  // namespace waypost::web
