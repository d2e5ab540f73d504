#pragma once
// An ESP child SA in UDP encapsulation (RFC 4303 tunnel mode, RFC 3948): the data plane's
// second kind of Tunnel, beside the WireGuard peer. The router hands it inner packets for its
// traffic selectors; it seals them in place into ESP (header and IV into the packet headroom,
// trailer and ICV into the tailroom) and queues them for the NAT-T socket. Inbound, the SA
// database (sad.h) finds it by SPI and open() authenticates, decrypts, checks the replay window
// and the trailer, and returns the inner packet for the router.
//
// Wire layout (UDP payload):
//   SPI (4) | sequence number (4) | IV (8, AES-CBC 16) | inner packet | padding | pad length |
//   next header | ICV (16; AES-CBC: the HMAC's, 12 to 32)
// with the encrypted part (inner packet through next header) a multiple of the cipher's block
// (4 bytes for the AEADs, 16 for AES-CBC). UDP
// encapsulation is always used, as by strongSwan's kernel-libipsec: this kernel has no ESP.
//
// Path MTU, MSS clamping and probing are the data plane's (dataplane/path_prober.h); the SA
// states its overhead and seals probes like any packet.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "dataplane/packet.h"
#include "dataplane/path_mtu.h"
#include "dataplane/replay_window.h"
#include "dataplane/tunnel.h"
#include "esp/esp_cipher.h"
#include "net/ip.h"

namespace waypost::esp {

constexpr uint32_t kEspHeaderSize = 8;  // SPI and sequence number
constexpr uint32_t kTrailerSize = 2;    // pad length and next header
constexpr uint8_t kNextHeaderIpv4 = 4;
constexpr uint8_t kNextHeaderIpv6 = 41;
constexpr uint8_t kNextHeaderNone = 59;  // a dummy packet (traffic flow confidentiality)

// Bytes an SA with these transforms adds around an inner packet on the wire, outer IP and UDP
// headers included, at most (the padding depends on the packet's length).
uint32_t esp_overhead(net::Family outer, Cipher cipher, Integrity integrity);

class ChildSa;

// What a child SA asks of its owner: the one timer the path prober uses.
class ChildSaHost {
 public:
  virtual void schedule_probe(ChildSa& sa, Nanos delay) = 0;

 protected:
  ~ChildSaHost() = default;
};

struct ChildSaKeys {
  Cipher cipher = Cipher::kAes256Gcm16;
  Integrity integrity = Integrity::kNone;  // AES-CBC only
  uint32_t spi_in = 0;                     // ours: the peer sends with it
  uint32_t spi_out = 0;                    // the peer's
  std::vector<uint8_t> keymat_in;          // the cipher's key (and AEAD salt) per direction
  std::vector<uint8_t> keymat_out;
  std::vector<uint8_t> integrity_in;  // the HMAC key per direction (AES-CBC)
  std::vector<uint8_t> integrity_out;
};

struct ChildSaCounters {
  uint64_t bytes_in = 0;  // inner bytes, as strongSwan counts them
  uint64_t bytes_out = 0;
  uint64_t packets_in = 0;
  uint64_t packets_out = 0;
  uint64_t auth_failed = 0;
  uint64_t replayed = 0;
  uint64_t malformed = 0;  // too short, misaligned, bad trailer or inner header
  uint64_t exhausted = 0;  // packets not sent: the sequence number space is used up
  uint64_t dummy = 0;      // next header 59, dropped as RFC 4303 asks
};

class ChildSa final : public dataplane::Tunnel {
 public:
  struct Environment {
    const Clock& clock;
    dataplane::DatagramSink& network;
    ChildSaHost& host;
  };
  static Result<std::unique_ptr<ChildSa>> create(Environment env, const ChildSaKeys& keys,
                                                 const net::Endpoint& remote, uint32_t mtu,
                                                 std::string name);

  // dataplane::Tunnel
  void send(std::span<dataplane::Packet> packets) override;
  std::string describe() const override;
  dataplane::PathMtu& path() override { return path_; }
  uint32_t overhead() const override {
    return esp_overhead(remote_.is_v4() ? net::Family::kV4 : net::Family::kV6, cipher_, integrity_);
  }
  bool send_probe(dataplane::Packet packet) override;
  void schedule_probe(Nanos delay) override { env_.host.schedule_probe(*this, delay); }

  enum class Opened : uint8_t { kPacket, kDummy, kDropped };
  // `data` is one ESP packet (the UDP payload) whose SPI is spi_in(). On kPacket, `inner` views
  // the decrypted inner packet, in place.
  Opened open(uint8_t* data, uint32_t size, dataplane::Packet& inner);

  uint32_t spi_in() const { return spi_in_; }
  uint32_t spi_out() const { return spi_out_; }
  const net::Endpoint& remote() const { return remote_; }
  // NAT mapping or MOBIKE address change: the SA moves, nothing is renegotiated.
  void set_remote(const net::Endpoint& remote) { remote_ = remote; }
  const ChildSaCounters& counters() const { return counters_; }
  const std::string& name() const { return name_; }
  // A rekeyed SA kept for a few seconds for packets still in flight to it: what it opens is
  // accepted as if it came through `successor`, which now owns the traffic selectors' routes.
  void retire(ChildSa* successor) { successor_ = successor; }
  ChildSa* successor() const { return successor_; }

 private:
  ChildSa(Environment env, EspCipher out, EspCipher in, const ChildSaKeys& keys,
          const net::Endpoint& remote, uint32_t mtu, std::string name);
  // Seals one packet in place and queues it; false if it was not sent.
  bool seal_one(const dataplane::Packet& p);

  Environment env_;
  EspCipher out_;
  EspCipher in_;
  Cipher cipher_;
  Integrity integrity_;
  uint32_t sealed_header_;  // ESP header and IV, before the inner packet
  uint32_t icv_;
  uint32_t block_;
  uint32_t spi_in_;
  uint32_t spi_out_;
  uint64_t next_seq_ = 1;  // RFC 4303: the first packet carries 1
  dataplane::ReplayWindow replay_;
  net::Endpoint remote_;
  dataplane::PathMtu path_;
  ChildSaCounters counters_;
  std::string name_;
  ChildSa* successor_ = nullptr;
};

}  // namespace waypost::esp
