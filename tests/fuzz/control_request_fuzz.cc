// Fuzzes the control socket (/var/run/waypost/<name>.sock): line framing with arbitrary
// chunking, JSON parsing, and field access of the kind the daemon's command handlers do
// (value() with defaults, nested objects, base64 keys). The first input byte picks the chunk
// sizes; the rest is the byte stream a client could send.
// Invariants: no crash or exception escapes; every complete line gets exactly one answer line,
// which is a JSON object with a boolean "ok"; the session refuses (returns false) only when an
// unterminated line grows past its limit.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "control/json_session.h"
#include "crypto/keys.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "control_request_fuzz: %s\n%s\n", what, detail.substr(0, 400).c_str());
  std::abort();
}

// Mirrors the daemon's handlers: InterfaceDaemon::handle_control ("show", "handshake", "down")
// and the server's ("status", "sync", "dns_reload") read only these fields, with these types.
nlohmann::json handle(const nlohmann::json& request) {
  const std::string cmd = request.value("cmd", "");
  if (cmd == "handshake") {
    auto key = waypost::crypto::public_key_from_base64(request.value("peer", ""));
    if (!key) return {{"ok", false}, {"error", "peer: " + key.error().message}};
    return {{"ok", true}};
  }
  if (cmd == "show" || cmd == "status" || cmd == "sync" || cmd == "dns_reload" || cmd == "down") {
    nlohmann::json j{{"ok", true}, {"cmd", cmd}};
    if (request.contains("verbose")) j["verbose"] = request.value("verbose", false);
    return j;
  }
  return {{"ok", false}, {"error", "unknown command '" + cmd + "'"}};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t chunk_seed = data[0];
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  auto session = waypost::control::make_json_session(handle);
  std::string out;
  size_t pos = 0, step = 0;
  bool open = true;
  while (pos < stream.size() && open) {
    size_t n = 1 + ((chunk_seed >> (step++ % 8)) & 0x3f);
    n = std::min(n, stream.size() - pos);
    open = session->on_bytes(stream.substr(pos, n), out);
    pos += n;
  }
  // Answers: one per complete line fed so far.
  size_t lines = 0;
  for (size_t i = 0; i < pos; ++i) lines += stream[i] == '\n';
  size_t answers = 0, start = 0;
  for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    ++answers;
    auto j = nlohmann::json::parse(out.substr(start, nl - start), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("ok") || !j["ok"].is_boolean()) {
      fail("answer is not a JSON object with a boolean ok", out.substr(start, nl - start));
    }
  }
  if (start != out.size()) fail("answer not terminated by a newline", out);
  if (answers != lines) {
    fail("answers do not match request lines",
         std::to_string(answers) + " answers for " + std::to_string(lines) + " lines");
  }
  if (!open) {
    // Refusing is only for an oversized unterminated line (the 1 MiB limit).
    const size_t last = stream.substr(0, pos).rfind('\n');
    const size_t pending = last == std::string_view::npos ? pos : pos - last - 1;
    if (pending <= (1u << 20)) {
      fail("session refused a small pending line", std::to_string(pending));
    }
  }
  return 0;
}
