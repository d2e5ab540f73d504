// Fuzzes the UAPI socket path: request framing with arbitrary chunking, set-body parsing and
// get formatting. The first input byte picks the chunk sizes; the rest is the byte stream.
// Cross-check: however the stream is chunked, the reader must yield the same requests.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "wireguard/uapi.h"

namespace {

using waypost::wireguard::UapiRequestReader;
namespace wg = waypost::wireguard;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "uapi_parser_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// One request, or the poisoning error, rendered for comparison.
using Outcome = std::string;

void check_set(const std::string& body) {
  auto set = wg::parse_uapi_set(body);
  if (!set) {
    const auto& e = set.error();
    if ((e.code != wg::kUapiErrorInvalid && e.code != wg::kUapiErrorProtocol) ||
        !e.message.starts_with("line ")) {
      fail("bad set error", std::to_string(e.code) + " " + e.message);
    }
    return;
  }
  // Turn the change into a device state and format it, as a get after the set would.
  wg::UapiDeviceState st;
  st.private_key = set->private_key;
  st.listen_port = set->listen_port.value_or(0);
  st.fwmark = set->fwmark.value_or(0);
  for (const auto& change : set->peers) {
    auto& peer = st.peers.emplace_back();
    peer.public_key = change.public_key;
    if (change.preshared_key) {
      peer.preshared_key = *change.preshared_key;
    }
    peer.endpoint = change.endpoint;
    peer.persistent_keepalive = change.persistent_keepalive.value_or(0);
    for (const auto& a : change.allowed_ips) {
      peer.allowed_ips.push_back(a.prefix);
    }
  }
  const std::string get = wg::format_uapi_get(st);
  if (!get.ends_with("errno=0\n\n") || get.find("\n\n") != get.size() - 2) {
    fail("malformed get response", get);
  }
}

std::vector<Outcome> run(std::string_view stream, uint8_t chunking) {
  UapiRequestReader reader;
  std::vector<Outcome> out;
  size_t pos = 0;
  uint32_t state = chunking;
  bool done = false;
  while (!done) {
    if (pos < stream.size()) {
      // A cheap deterministic generator of chunk sizes between 1 and 64 bytes.
      state = state * 1103515245u + 12345u;
      const size_t n = chunking == 0 ? stream.size() : 1 + (state >> 16) % 64;
      reader.feed(stream.substr(pos, n));
      pos += std::min(n, stream.size() - pos);
    } else {
      done = true;
    }
    while (auto next = reader.next()) {
      if (!next->ok()) {
        if (next->error().code != wg::kUapiErrorProtocol) {
          fail("reader error with wrong code", next->error().message);
        }
        out.emplace_back("error");
        return out;
      }
      const auto& req = next->value();
      if (req.kind == UapiRequestReader::Kind::kGet) {
        out.emplace_back("get");
      } else {
        if (req.body.find("\n\n") != std::string::npos || req.body.starts_with("\n")) {
          fail("set body contains its terminator", req.body);
        }
        check_set(req.body);
        out.push_back("set:" + req.body);
      }
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  // The whole input as a set body too: parse_uapi_set must cope with anything, including
  // empty lines that the reader would never pass on.
  check_set(std::string(stream));

  const auto whole = run(stream, 0);
  const auto chunked = run(stream, data[0] == 0 ? 1 : data[0]);
  if (whole != chunked) {
    fail("chunking changed the requests", std::string(stream));
  }
  return 0;
}
