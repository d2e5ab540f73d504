#pragma once
// Waypost's own control protocol on /var/run/waypost/<name>.sock: one JSON object per line in,
// one per line out ({"cmd": "show"} -> {"ok": true, ...}). Used by `waypost show`, `down` and,
// later, the server commands.

#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "control/stream_server.h"

namespace waypost::control {

using JsonHandler = std::function<nlohmann::json(const nlohmann::json& request)>;

std::unique_ptr<Session> make_json_session(JsonHandler handler);

// Client side: sends one request and reads one response line (bounded by `timeout_ms`).
Result<nlohmann::json> json_request(const std::string& path, const nlohmann::json& request,
                                    int timeout_ms = 5000);

}  // namespace waypost::control
