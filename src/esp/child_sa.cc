#include "esp/child_sa.h"

#include <fmt/format.h>

#include <cstring>

#include "common/bytes.h"
#include "dataplane/mtu.h"

namespace waypost::esp {

using dataplane::Packet;

namespace {
// The sequence number is 32 bits without extended sequence numbers; the SA must be rekeyed
// before it wraps (RFC 4303 3.3.3).
constexpr uint64_t kSeqLimit = uint64_t(1) << 32;

// The padding that makes the encrypted part (payload, padding, trailer) a multiple of `block`:
// 4 bytes for the AEADs (stream-like, so 4 is all RFC 4303 2.4 asks), 16 for AES-CBC.
uint32_t padding_for(uint32_t payload, uint32_t block) {
  return (block - (payload + kTrailerSize) % block) % block;
}
}  // namespace

uint32_t esp_overhead(net::Family outer, Cipher cipher, Integrity integrity) {
  const uint32_t around = kEspHeaderSize + uint32_t(iv_size(cipher)) +
                          uint32_t(block_size(cipher)) - 1 + kTrailerSize +
                          uint32_t(icv_size(cipher, integrity));
  return dataplane::udp_tunnel_overhead(around, outer);
}

Result<std::unique_ptr<ChildSa>> ChildSa::create(Environment env, const ChildSaKeys& keys,
                                                 const net::Endpoint& remote, uint32_t mtu,
                                                 std::string name) {
  auto out =
      EspCipher::create(keys.cipher, keys.integrity, keys.keymat_out, keys.integrity_out, true);
  if (!out) return out.take_error();
  auto in =
      EspCipher::create(keys.cipher, keys.integrity, keys.keymat_in, keys.integrity_in, false);
  if (!in) return in.take_error();
  return std::unique_ptr<ChildSa>(
      new ChildSa(env, std::move(*out), std::move(*in), keys, remote, mtu, std::move(name)));
}

ChildSa::ChildSa(Environment env, EspCipher out, EspCipher in, const ChildSaKeys& keys,
                 const net::Endpoint& remote, uint32_t mtu, std::string name)
    : env_(env),
      out_(std::move(out)),
      in_(std::move(in)),
      cipher_(keys.cipher),
      integrity_(keys.integrity),
      sealed_header_(kEspHeaderSize + out_.iv_size()),
      icv_(out_.icv_size()),
      block_(out_.block()),
      spi_in_(keys.spi_in),
      spi_out_(keys.spi_out),
      remote_(remote),
      path_(mtu),
      name_(std::move(name)) {}

std::string ChildSa::describe() const {
  return fmt::format("child SA {} ({:08x}_i {:08x}_o, {})", name_, spi_in_, spi_out_,
                     remote_.to_string());
}

bool ChildSa::seal_one(const Packet& p) {
  if (next_seq_ >= kSeqLimit) {
    ++counters_.exhausted;
    return false;
  }
  const uint64_t seq = next_seq_++;
  uint8_t* header = p.data - sealed_header_;
  store_be32(header, spi_out_);
  store_be32(header + 4, uint32_t(seq));
  const uint32_t pad = padding_for(p.size, block_);
  uint8_t* trailer = p.data + p.size;
  for (uint32_t i = 0; i < pad; ++i) trailer[i] = uint8_t(i + 1);
  trailer[pad] = uint8_t(pad);
  trailer[pad + 1] = (p.data[0] >> 4) == 6 ? kNextHeaderIpv6 : kNextHeaderIpv4;
  const uint32_t plain = p.size + pad + kTrailerSize;
  if (!out_.seal(header, seq, p.data, plain)) return false;
  const uint32_t total = sealed_header_ + plain + icv_;
  env_.network.push(header, total, remote_);
  counters_.bytes_out += p.size;
  ++counters_.packets_out;
  return true;
}

void ChildSa::send(std::span<Packet> packets) {
  for (const Packet& p : packets) seal_one(p);
}

bool ChildSa::send_probe(Packet packet) {
  if (!seal_one(packet)) return false;
  env_.network.flush();
  return true;
}

ChildSa::Opened ChildSa::open(uint8_t* data, uint32_t size, Packet& inner) {
  // At least the header, IV, a trailer and the ICV, and an encrypted part of whole blocks.
  if (size < sealed_header_ + kTrailerSize + icv_ || (size - sealed_header_ - icv_) % block_ != 0) {
    ++counters_.malformed;
    return Opened::kDropped;
  }
  const uint32_t seq = load_be32(data + 4);
  const uint32_t encrypted = size - sealed_header_ - icv_;
  uint8_t* plain = data + sealed_header_;
  if (!in_.open(data, plain, encrypted)) {
    ++counters_.auth_failed;
    return Opened::kDropped;
  }
  // Only an authenticated sequence number may move the window.
  if (!replay_.accept(seq, kSeqLimit)) {
    ++counters_.replayed;
    return Opened::kDropped;
  }
  const uint8_t pad = plain[encrypted - 2];
  const uint8_t next = plain[encrypted - 1];
  if (uint32_t(pad) + kTrailerSize > encrypted) {
    ++counters_.malformed;
    return Opened::kDropped;
  }
  // RFC 4303 2.4: the default padding is 1, 2, 3, ...; checking it costs nothing.
  const uint32_t length = encrypted - kTrailerSize - pad;
  for (uint32_t i = 0; i < pad; ++i) {
    if (plain[length + i] != uint8_t(i + 1)) {
      ++counters_.malformed;
      return Opened::kDropped;
    }
  }
  if (next == kNextHeaderNone) {
    ++counters_.dummy;
    return Opened::kDummy;
  }
  const int version = length > 0 ? plain[0] >> 4 : 0;
  if (!((next == kNextHeaderIpv4 && version == 4) || (next == kNextHeaderIpv6 && version == 6))) {
    ++counters_.malformed;
    return Opened::kDropped;
  }
  inner = Packet{plain, length};
  counters_.bytes_in += length;
  ++counters_.packets_in;
  return Opened::kPacket;
}

}  // namespace waypost::esp
