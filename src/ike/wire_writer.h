#pragma once
// Appending big-endian fields to a byte vector, and filling in a length once what it counts has
// been written: the serializing half of common/bytes.h's ByteReader, for the IKE codec.

#include <cstdint>
#include <vector>

#include "common/bytes.h"

namespace waypost::ike {

class WireWriter {
 public:
  explicit WireWriter(std::vector<uint8_t>& out) : out_(out) {}

  size_t position() const { return out_.size(); }
  void u8(uint8_t v) { out_.push_back(v); }
  void be16(uint16_t v) {
    out_.push_back(uint8_t(v >> 8));
    out_.push_back(uint8_t(v));
  }
  void be32(uint32_t v) {
    be16(uint16_t(v >> 16));
    be16(uint16_t(v));
  }
  void be64(uint64_t v) {
    be32(uint32_t(v >> 32));
    be32(uint32_t(v));
  }
  void zeros(size_t n) { out_.insert(out_.end(), n, 0); }
  void bytes(ByteSpan b) { out_.insert(out_.end(), b.begin(), b.end()); }

  // Writes the number of bytes from `start` to the end into the 16-bit field at `field`.
  // Lengths are 16 bits on the wire; what the sender builds stays far below (a datagram).
  void patch_length16(size_t field, size_t start) {
    store_be16(&out_[field], uint16_t(out_.size() - start));
  }
  void patch_length32(size_t field, size_t start) {
    store_be32(&out_[field], uint32_t(out_.size() - start));
  }

 private:
  std::vector<uint8_t>& out_;
};

}  // namespace waypost::ike
