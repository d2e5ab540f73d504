#pragma once
// WireGuard wire format and protocol constants, in one place. References are to the WireGuard
// paper (Donenfeld, NDSS 2017, "WireGuard: Next Generation Kernel Network Tunnel"), section 5.4
// for messages and 6 for timers; values match the Linux module and wireguard-go.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/clock.h"
#include "dataplane/mtu.h"

namespace waypost::wireguard {

// --- Noise protocol identifiers (paper 5.4) -------------------------------------------------
constexpr std::string_view kConstruction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
constexpr std::string_view kIdentifier = "WireGuard v1 zx2c4 Jason@zx2c4.com";
constexpr std::string_view kLabelMac1 = "mac1----";
constexpr std::string_view kLabelCookie = "cookie--";

// --- Message types: the first byte; the next three are zero ---------------------------------
enum class MessageType : uint8_t {
  kHandshakeInitiation = 1,
  kHandshakeResponse = 2,
  kCookieReply = 3,
  kTransportData = 4,
};

// Handshake initiation (148 bytes)
//   0   type(1) reserved(3)
//   4   sender index (LE32)
//   8   unencrypted ephemeral (32)
//   40  encrypted static (32 + 16)
//   88  encrypted timestamp (12 + 16)
//   116 mac1 (16)
//   132 mac2 (16)
namespace initiation {
constexpr size_t kSender = 4, kEphemeral = 8, kStatic = 40, kTimestamp = 88, kMac1 = 116,
                 kMac2 = 132, kSize = 148;
}

// Handshake response (92 bytes)
//   0  type(1) reserved(3)
//   4  sender index, 8 receiver index
//   12 unencrypted ephemeral (32)
//   44 encrypted nothing (0 + 16)
//   60 mac1 (16), 76 mac2 (16)
namespace response {
constexpr size_t kSender = 4, kReceiver = 8, kEphemeral = 12, kEmpty = 44, kMac1 = 60, kMac2 = 76,
                 kSize = 92;
}

// Cookie reply (64 bytes)
//   0  type(1) reserved(3)
//   4  receiver index
//   8  nonce (24)
//   32 encrypted cookie (16 + 16)
namespace cookie_reply {
constexpr size_t kReceiver = 4, kNonce = 8, kCookie = 32, kSize = 64;
}

// Transport data (16-byte header, then the AEAD ciphertext of the padded packet and its tag)
//   0  type(1) reserved(3)
//   4  receiver index
//   8  counter (LE64)
//   16 encrypted packet
namespace transport {
constexpr size_t kReceiver = 4, kCounter = 8, kHeaderSize = 16, kMinSize = 32;  // keepalive
}

constexpr size_t kMacSize = 16;
constexpr size_t kTimestampSize = 12;  // TAI64N
constexpr size_t kCookieSize = 16;
constexpr size_t kPaddingMultiple = 16;
constexpr size_t kTransportOverhead = transport::kHeaderSize + 16;  // header + tag

// WireGuard's whole per-packet overhead over an outer family: 60 bytes over IPv4, 80 over IPv6.
constexpr uint32_t tunnel_overhead(net::Family outer) {
  return dataplane::udp_tunnel_overhead(uint32_t(kTransportOverhead), outer);
}
// The interface MTU wg-quick and the phone apps use when none is set: an Ethernet path minus the
// IPv6 (larger) overhead, so that one value works over either family.
constexpr uint32_t kDefaultMtu = dataplane::kEthernetMtu - tunnel_overhead(net::Family::kV6);
static_assert(kDefaultMtu == 1420);

// --- Timers and limits (paper 6.1; Linux messages.h; wireguard-go constants.go) --------------
constexpr uint64_t kRekeyAfterMessages = 1ULL << 60;
constexpr uint64_t kRejectAfterMessages = UINT64_MAX - (1ULL << 13) - 1;
constexpr Nanos kRekeyAfterTime = seconds(120);
constexpr Nanos kRejectAfterTime = seconds(180);
constexpr Nanos kRekeyAttemptTime = seconds(90);
constexpr Nanos kRekeyTimeout = seconds(5);
constexpr Nanos kRekeyTimeoutJitterMax = millis(334);
constexpr Nanos kKeepaliveTimeout = seconds(10);
constexpr Nanos kCookieSecretMaxAge = seconds(120);
constexpr Nanos kCookieSecretLatency = seconds(5);
constexpr int kMaxTimerHandshakes = int(kRekeyAttemptTime / kRekeyTimeout);  // 18
constexpr int kInitiationsPerSecond = 50;
constexpr Nanos kMinInitiationInterval = kNanosPerSecond / kInitiationsPerSecond;
constexpr Nanos kUnderLoadAfterTime = seconds(1);

constexpr size_t kMaxStagedPackets = 128;
constexpr size_t kMaxPeers = 1u << 20;

}  // namespace waypost::wireguard
