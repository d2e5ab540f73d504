#include "wireguard/uapi.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/secret.h"

namespace waypost::wireguard {

namespace {

// Values echoed into error messages end up in logs: keep them short and free of control bytes.
std::string printable(std::string_view s) {
  constexpr size_t kMaxEcho = 64;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMaxEcho; ++i) {
    const auto c = uint8_t(s[i]);
    out.push_back(c < 0x20 || c >= 0x7f ? '?' : char(c));
  }
  if (s.size() > kMaxEcho) {
    out += "...";
  }
  return out;
}

Error with_code(Error e, int code) {
  e.code = code;
  return e;
}

template <typename... Args>
Error invalid(fmt::format_string<Args...> format, Args&&... args) {
  return with_code(make_error(ErrorKind::kParse, format, std::forward<Args>(args)...),
                   kUapiErrorInvalid);
}

template <typename... Args>
Error protocol(fmt::format_string<Args...> format, Args&&... args) {
  return with_code(make_error(ErrorKind::kProtocol, format, std::forward<Args>(args)...),
                   kUapiErrorProtocol);
}

// Decimal as Go's strconv.ParseUint(value, 10, bits) reads it: digits only, no sign.
std::optional<uint64_t> parse_decimal(std::string_view s, uint64_t max) {
  uint64_t v = 0;
  if (s.empty() || s.front() < '0' || s.front() > '9') {
    return std::nullopt;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (ec != std::errc() || ptr != s.data() + s.size() || v > max) {
    return std::nullopt;
  }
  return v;
}

// Keys are 64 hex digits; wg(8) writes lowercase, but uppercase is accepted on input.
bool parse_hex_key(std::string_view s, std::span<uint8_t, crypto::kKeySize> out) {
  return from_hex(s, out);
}

// The literal "true" is the only valid value of the flag keys (wireguard-go).
bool is_true(std::string_view s) {
  return s == "true";
}

}  // namespace

Result<UapiSet> parse_uapi_set(std::string_view body) {
  UapiSet set;
  bool in_peer = false;  // device keys are only valid before the first public_key line
  int line_no = 0;
  while (!body.empty()) {
    ++line_no;
    const auto nl = body.find('\n');
    const std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);

    if (line.empty()) {
      // The empty line ends the request; the reader never leaves one inside a body.
      return protocol("line {}: unexpected empty line", line_no);
    }
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      return protocol("line {}: expected key=value", line_no);
    }
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);

    if (key == "public_key") {
      UapiPeerChange& peer = set.peers.emplace_back();
      if (!parse_hex_key(value, peer.public_key)) {
        return invalid("line {}: key 'public_key': invalid key (expected 64 hex digits)", line_no);
      }
      in_peer = true;
      continue;
    }

    if (!in_peer) {
      if (key == "private_key") {
        crypto::PrivateKey k;
        if (!parse_hex_key(value, k.span())) {
          // Never echo the value: it is (nearly) a secret.
          return invalid("line {}: key 'private_key': invalid key (expected 64 hex digits)",
                         line_no);
        }
        set.private_key = k;
      } else if (key == "listen_port") {
        auto port = parse_decimal(value, 65535);
        if (!port) {
          return invalid("line {}: key 'listen_port': invalid port '{}' (expected 0-65535)",
                         line_no, printable(value));
        }
        set.listen_port = uint16_t(*port);
      } else if (key == "fwmark") {
        auto mark = parse_decimal(value, UINT32_MAX);
        if (!mark) {
          return invalid("line {}: key 'fwmark': invalid fwmark '{}' (expected 0-4294967295)",
                         line_no, printable(value));
        }
        set.fwmark = uint32_t(*mark);
      } else if (key == "replace_peers") {
        if (!is_true(value)) {
          return invalid("line {}: key 'replace_peers': invalid value '{}' (only true is valid)",
                         line_no, printable(value));
        }
        set.replace_peers = true;
      } else if (key == "preshared_key" || key == "endpoint" ||
                 key == "persistent_keepalive_interval" || key == "allowed_ip" ||
                 key == "replace_allowed_ips" || key == "remove" || key == "update_only" ||
                 key == "protocol_version") {
        return invalid("line {}: key '{}': peer keys must follow a public_key line", line_no, key);
      } else {
        return invalid("line {}: unknown key '{}'", line_no, printable(key));
      }
      continue;
    }

    UapiPeerChange& peer = set.peers.back();
    if (key == "preshared_key") {
      crypto::SymmetricKey k;
      if (!parse_hex_key(value, k.span())) {
        return invalid("line {}: key 'preshared_key': invalid key (expected 64 hex digits)",
                       line_no);
      }
      peer.preshared_key = k;
    } else if (key == "endpoint") {
      // Numeric only: wg(8) resolves host names before it talks to us.
      auto ep = net::Endpoint::parse(value);
      if (!ep) {
        return invalid("line {}: key 'endpoint': invalid endpoint '{}'", line_no, printable(value));
      }
      peer.endpoint = *ep;
    } else if (key == "persistent_keepalive_interval") {
      auto secs = parse_decimal(value, 65535);
      if (!secs) {
        return invalid(
            "line {}: key 'persistent_keepalive_interval': invalid interval '{}' (expected "
            "0-65535)",
            line_no, printable(value));
      }
      peer.persistent_keepalive = uint16_t(*secs);
    } else if (key == "allowed_ip") {
      std::string_view text = value;
      const bool remove = text.starts_with('-');
      if (remove) {
        text.remove_prefix(1);
      }
      // wg(8) always sends an explicit length; a bare address is not valid here.
      auto prefix = text.find('/') == std::string_view::npos
                        ? Result<net::Prefix>(make_error("missing prefix length"))
                        : net::Prefix::parse(text);
      if (!prefix) {
        return invalid("line {}: key 'allowed_ip': invalid prefix '{}'", line_no, printable(value));
      }
      peer.allowed_ips.push_back({*prefix, remove});
    } else if (key == "replace_allowed_ips" || key == "remove" || key == "update_only") {
      if (!is_true(value)) {
        return invalid("line {}: key '{}': invalid value '{}' (only true is valid)", line_no, key,
                       printable(value));
      }
      if (key == "replace_allowed_ips") {
        peer.replace_allowed_ips = true;
      } else if (key == "remove") {
        peer.remove = true;
      } else {
        peer.update_only = true;
      }
    } else if (key == "protocol_version") {
      if (value != "1") {
        return invalid("line {}: key 'protocol_version': unsupported version '{}' (only 1)",
                       line_no, printable(value));
      }
    } else if (key == "private_key" || key == "listen_port" || key == "fwmark" ||
               key == "replace_peers") {
      return invalid("line {}: key '{}': device keys must come before the first public_key",
                     line_no, key);
    } else {
      return invalid("line {}: unknown key '{}'", line_no, printable(key));
    }
  }
  return set;
}

std::string format_uapi_get(const UapiDeviceState& state) {
  std::string out;
  auto it = std::back_inserter(out);
  if (state.private_key && !state.private_key->is_zero()) {
    std::string hex = to_hex(state.private_key->span());
    fmt::format_to(it, "private_key={}\n", hex);
    secure_wipe(hex.data(), hex.size());
  }
  fmt::format_to(it, "listen_port={}\n", state.listen_port);
  if (state.fwmark != 0) {
    fmt::format_to(it, "fwmark={}\n", state.fwmark);
  }
  for (const auto& peer : state.peers) {
    fmt::format_to(it, "public_key={}\n", to_hex(peer.public_key));
    std::string psk = to_hex(peer.preshared_key.span());
    fmt::format_to(it, "preshared_key={}\n", psk);
    secure_wipe(psk.data(), psk.size());
    out += "protocol_version=1\n";
    if (peer.endpoint && peer.endpoint->valid()) {
      fmt::format_to(it, "endpoint={}\n", peer.endpoint->to_string());
    }
    fmt::format_to(it, "last_handshake_time_sec={}\n", peer.last_handshake.sec);
    fmt::format_to(it, "last_handshake_time_nsec={}\n", peer.last_handshake.nsec);
    fmt::format_to(it, "tx_bytes={}\n", peer.tx_bytes);
    fmt::format_to(it, "rx_bytes={}\n", peer.rx_bytes);
    fmt::format_to(it, "persistent_keepalive_interval={}\n", peer.persistent_keepalive);
    for (const auto& p : peer.allowed_ips) {
      fmt::format_to(it, "allowed_ip={}\n", p.to_string());
    }
  }
  out += "errno=0\n\n";
  return out;
}

std::string format_uapi_errno(int code) {
  return fmt::format("errno={}\n\n", code);
}

void UapiRequestReader::feed(std::string_view bytes) {
  if (poisoned_) {
    return;  // the connection is being closed; don't buffer any more
  }
  // Drop consumed requests before growing, once they are at least half the buffer, so that
  // compaction costs amortized O(1) per byte however requests are pipelined.
  // Set requests carry private and preshared keys: wipe consumed bytes rather than leave them
  // in the spare capacity.
  if (start_ == buffer_.size()) {
    secure_wipe(buffer_.data(), buffer_.size());
    buffer_.clear();
    start_ = scan_ = 0;
  } else if (start_ > 0 && start_ >= buffer_.size() / 2) {
    secure_wipe(buffer_.data(), start_);
    buffer_.erase(0, start_);
    scan_ -= start_;
    start_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<Result<UapiRequestReader::Request>> UapiRequestReader::next() {
  if (poisoned_) {
    return Result<Request>(error_);
  }
  auto poison = [this](Error e) {
    poisoned_ = true;
    error_ = with_code(std::move(e), kUapiErrorProtocol);
    secure_wipe(buffer_.data(), buffer_.size());
    buffer_.clear();
    buffer_.shrink_to_fit();
    start_ = scan_ = 0;
    return std::optional<Result<Request>>(Result<Request>(error_));
  };

  const std::string_view pending = std::string_view(buffer_).substr(start_);
  if (pending.empty()) {
    return std::nullopt;
  }
  // Check the first line as soon as its bytes arrive, so garbage is refused without waiting
  // for a newline that may never come.
  constexpr std::string_view kGet = "get=1\n";
  constexpr std::string_view kSet = "set=1\n";
  const size_t head = std::min(pending.size(), kGet.size());
  const bool is_get = pending.substr(0, head) == kGet.substr(0, head);
  const bool is_set = pending.substr(0, head) == kSet.substr(0, head);
  if (!is_get && !is_set) {
    return poison(make_error("invalid request: expected get=1 or set=1"));
  }
  if (pending.size() <= kGet.size()) {
    return std::nullopt;  // a get needs its empty line, a set at least one more byte
  }

  if (is_get) {
    if (pending[kGet.size()] != '\n') {
      return poison(make_error("invalid get request: expected an empty line after get=1"));
    }
    start_ += kGet.size() + 1;
    scan_ = start_;
    return Result<Request>(Request{Kind::kGet, {}});
  }

  // A set request ends at the first empty line, i.e. the first "\n\n" counting the newline of
  // "set=1\n" itself (an empty set is "set=1\n\n").
  const size_t from = std::max(scan_, start_ + kSet.size() - 1);
  const size_t end = buffer_.find("\n\n", from);
  if (end == std::string::npos) {
    if (pending.size() >= kMaxRequestBytes) {
      return poison(make_error("set request larger than {} bytes", kMaxRequestBytes));
    }
    // Resume at the last byte: it may be the first newline of the pair.
    scan_ = buffer_.size() - 1;
    return std::nullopt;
  }
  const size_t request_size = end + 2 - start_;
  if (request_size > kMaxRequestBytes) {
    return poison(make_error("set request larger than {} bytes", kMaxRequestBytes));
  }
  const size_t body_begin = start_ + kSet.size();
  Request request{Kind::kSet, buffer_.substr(body_begin, end + 1 - body_begin)};
  start_ = end + 2;
  scan_ = start_;
  return Result<Request>(std::move(request));
}

}  // namespace waypost::wireguard
