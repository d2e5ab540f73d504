#include "net/icmp_echo.h"

#include "common/checksum.h"

namespace waypost::net {

namespace {

constexpr uint8_t kIcmpEchoReply = 0;
constexpr uint8_t kIcmpEchoRequest = 8;
constexpr uint8_t kIcmp6EchoRequest = 128;
constexpr uint8_t kIcmp6EchoReply = 129;
constexpr size_t kEchoHeader = 8;  // type, code, checksum, identifier, sequence number
constexpr uint8_t kProtoIcmp = 1;

}  // namespace

std::vector<uint8_t> make_echo_request(Family family, uint16_t id, uint16_t seq,
                                       std::span<const uint8_t> payload) {
  std::vector<uint8_t> m(kEchoHeader + payload.size());
  m[0] = family == Family::kV4 ? kIcmpEchoRequest : kIcmp6EchoRequest;
  m[4] = uint8_t(id >> 8);
  m[5] = uint8_t(id);
  m[6] = uint8_t(seq >> 8);
  m[7] = uint8_t(seq);
  std::copy(payload.begin(), payload.end(), m.begin() + kEchoHeader);
  if (family == Family::kV4) {
    const uint16_t sum = checksum_finish(checksum_add(0, m.data(), m.size()));
    m[2] = uint8_t(sum >> 8);
    m[3] = uint8_t(sum);
  }
  return m;
}

std::optional<EchoReply> parse_echo_reply(Family family, std::span<const uint8_t> received) {
  std::span<const uint8_t> icmp = received;
  if (family == Family::kV4) {
    if (received.size() < 20 || (received[0] >> 4) != 4) return std::nullopt;
    const size_t ihl = size_t(received[0] & 0x0f) * 4;
    const size_t total = size_t(received[2]) << 8 | received[3];
    if (ihl < 20 || total < ihl || total > received.size()) return std::nullopt;
    // A fragment carries part of a message only; the kernel reassembles before raw delivery, so
    // one here is malformed.
    const bool more_fragments = (received[6] & 0x20) != 0;
    const size_t offset = (size_t(received[6] & 0x1f) << 8 | received[7]) * 8;
    if (received[9] != kProtoIcmp || more_fragments || offset != 0) return std::nullopt;
    icmp = received.subspan(ihl, total - ihl);
  }
  if (icmp.size() < kEchoHeader) return std::nullopt;
  if (icmp[0] != (family == Family::kV4 ? kIcmpEchoReply : kIcmp6EchoReply) || icmp[1] != 0) {
    return std::nullopt;
  }
  EchoReply r;
  r.id = uint16_t(icmp[4] << 8 | icmp[5]);
  r.seq = uint16_t(icmp[6] << 8 | icmp[7]);
  r.payload = icmp.subspan(kEchoHeader);
  return r;
}

}  // namespace waypost::net
