#pragma once
// The cross-platform userspace API (https://www.wireguard.com/xplatform/) spoken on
// /var/run/wireguard/<name>.sock, which wg(8) uses to drive userspace implementations.
//
//   get=1\n\n                   -> key=value lines ... errno=0\n\n
//   set=1\n key=value ... \n    -> errno=N\n\n   (N = 0 or a negative errno, as wireguard-go)
//
// This file only parses and formats; applying a set to a device is the device's job.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/keys.h"
#include "net/ip.h"

namespace waypost::wireguard {

// Error codes the protocol reports (negated errno values, as wireguard-go writes them).
constexpr int kUapiErrorIo = -5;          // -EIO
constexpr int kUapiErrorInvalid = -22;    // -EINVAL
constexpr int kUapiErrorProtocol = -71;   // -EPROTO
constexpr int kUapiErrorPortInUse = -98;  // -EADDRINUSE

struct UapiAllowedIp {
  net::Prefix prefix;
  bool remove = false;  // "allowed_ip=-10.0.0.0/24" (newer wg(8))
};

struct UapiPeerChange {
  crypto::PublicKey public_key{};
  bool remove = false;
  bool update_only = false;
  bool replace_allowed_ips = false;
  std::optional<crypto::SymmetricKey> preshared_key;  // all zeros = none
  std::optional<net::Endpoint> endpoint;
  std::optional<uint16_t> persistent_keepalive;
  std::vector<UapiAllowedIp> allowed_ips;
};

struct UapiSet {
  std::optional<crypto::PrivateKey> private_key;  // all zeros = remove the private key
  std::optional<uint16_t> listen_port;
  std::optional<uint32_t> fwmark;  // 0 = none
  bool replace_peers = false;
  std::vector<UapiPeerChange> peers;
};

// Parses the body of a set request: the lines after "set=1", without the final empty line.
// Error.code is kUapiErrorInvalid or kUapiErrorProtocol; Error.message names the line and key.
Result<UapiSet> parse_uapi_set(std::string_view body);

struct UapiPeerState {
  crypto::PublicKey public_key{};
  crypto::SymmetricKey preshared_key;  // zeros when none
  std::optional<net::Endpoint> endpoint;
  uint16_t persistent_keepalive = 0;
  WallTime last_handshake;  // {0,0} = never
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  std::vector<net::Prefix> allowed_ips;
};

struct UapiDeviceState {
  std::optional<crypto::PrivateKey> private_key;
  uint16_t listen_port = 0;
  uint32_t fwmark = 0;
  std::vector<UapiPeerState> peers;
};

// The full get response, including the final "errno=0\n\n".
std::string format_uapi_get(const UapiDeviceState& state);
std::string format_uapi_errno(int code);  // "errno=N\n\n"

// Splits a byte stream from one connection into requests. A request ends at an empty line.
class UapiRequestReader {
 public:
  enum class Kind { kGet, kSet };
  struct Request {
    Kind kind;
    std::string body;  // for set: the lines after "set=1\n", without the final empty line
  };
  static constexpr size_t kMaxRequestBytes = 32u << 20;

  void feed(std::string_view bytes);
  // nullopt: need more bytes. An error (bad first line, oversize request) poisons the stream:
  // the caller answers with the error and closes the connection.
  std::optional<Result<Request>> next();

 private:
  std::string buffer_;
  size_t start_ = 0;  // where the next request begins in buffer_ (consumed bytes before it)
  size_t scan_ = 0;   // where the search for a set request's end resumes, so feeds stay linear
  bool poisoned_ = false;
  Error error_;  // returned by every next() once poisoned_
};

}  // namespace waypost::wireguard
