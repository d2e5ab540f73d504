#pragma once
// The web admin's pages over HTTP: what the router answers for GET and HEAD outside /api/.
//
//   /, /setup, /login, /users,   index.html
//   /get, /server (one single-page app; its script picks the screen)
//   /assets/NAME                that embedded file (app.js, app.css)
//   anything else               404
//
// Pages carry a Content-Security-Policy that lets them run only this origin's script and style
// files (no inline script, style or event handler, no eval), talk only to this origin, submit
// forms only here, and never be framed; API answers keep the router's stricter one.

#include <string_view>

#include "web/http_types.h"

namespace waypost::web {

inline constexpr std::string_view kPageCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

// The answer for a GET or HEAD of a non-API path (HEAD: the same headers, no body).
HttpResponse serve_static(const HttpRequest& request);

}  // namespace waypost::web
