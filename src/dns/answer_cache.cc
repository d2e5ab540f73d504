#include "dns/answer_cache.h"

#include <algorithm>

#include "dns/message.h"

namespace waypost::dns {

namespace {

// Bookkeeping per entry besides the packet: key, map node, queue element.
constexpr size_t kEntryOverhead = 160;

// Skips a (possibly compressed) name starting at `pos`; returns the offset after it, or 0.
size_t skip_name(ByteSpan p, size_t pos, size_t end) {
  for (size_t labels = 0; pos < end && labels < 128; ++labels) {
    const uint8_t len = p[pos];
    if (len == 0) return pos + 1;
    if ((len & 0xc0) == 0xc0) return pos + 2 <= end ? pos + 2 : 0;
    if (len & 0xc0) return 0;
    pos += 1 + size_t(len);
  }
  return 0;
}

// Calls f(ttl_offset) for each record; false if a record is unreadable.
template <typename F>
bool for_each_ttl(ByteSpan p, size_t pos, size_t end, size_t count, F&& f) {
  end = std::min(end, p.size());
  for (size_t i = 0; i < count; ++i) {
    pos = skip_name(p, pos, end);
    if (pos == 0 || pos + 10 > end) return false;
    const uint16_t type = load_be16(&p[pos]);
    const size_t rdlen = load_be16(&p[pos + 8]);
    if (type != kTypeOpt) f(pos + 4);
    pos += 10 + rdlen;
    if (pos > end) return false;
  }
  return true;
}

}  // namespace

uint32_t min_record_ttl(ByteSpan packet, size_t records_begin, size_t records_end, size_t count) {
  uint32_t min = UINT32_MAX;
  const bool ok = for_each_ttl(packet, records_begin, records_end, count, [&](size_t at) {
    // RFC 2181: a TTL with the top bit set is treated as zero.
    uint32_t ttl = load_be32(&packet[at]);
    if (ttl & 0x80000000u) ttl = 0;
    min = std::min(min, ttl);
  });
  return ok ? min : 0;
}

void age_record_ttls(MutableByteSpan packet, size_t begin, size_t end, size_t count, uint32_t age) {
  if (age == 0) return;
  for_each_ttl(packet, begin, end, count, [&](size_t at) {
    uint32_t ttl = load_be32(&packet[at]);
    if (ttl & 0x80000000u) ttl = 0;
    store_be32(&packet[at], ttl > age ? ttl - age : 0);
  });
}

std::string AnswerCache::key(ByteSpan qname_wire, uint16_t qtype, uint16_t qclass) {
  std::string k(qname_wire.size() + 4, '\0');
  for (size_t i = 0; i < qname_wire.size(); ++i) {
    uint8_t b = qname_wire[i];
    // Lowercasing the length bytes too is harmless: they are below 64, never 'A'..'Z'.
    if (b >= 'A' && b <= 'Z') b = uint8_t(b + 32);
    k[i] = char(b);
  }
  k[qname_wire.size()] = char(qtype >> 8);
  k[qname_wire.size() + 1] = char(qtype);
  k[qname_wire.size() + 2] = char(qclass >> 8);
  k[qname_wire.size() + 3] = char(qclass);
  return k;
}

const CachedAnswer* AnswerCache::find(ByteSpan qname_wire, uint16_t qtype, uint16_t qclass,
                                      Nanos now, uint32_t* age_seconds) {
  auto it = map_.find(key(qname_wire, qtype, qclass));
  if (it == map_.end()) {
    ++misses_;
    return nullptr;
  }
  if (now >= it->second.expires) {
    bytes_ -= it->second.packet.size() + kEntryOverhead;
    map_.erase(it);
    ++misses_;
    return nullptr;
  }
  ++hits_;
  if (age_seconds) *age_seconds = uint32_t((now - it->second.stored) / kNanosPerSecond);
  return &it->second;
}

void AnswerCache::evict_until_fits(size_t incoming) {
  while (bytes_ + incoming > max_bytes_ && !order_.empty()) {
    auto [k, seq] = std::move(order_.front());
    order_.pop_front();
    auto it = map_.find(k);
    if (it != map_.end() && it->second.seq == seq) {
      bytes_ -= it->second.packet.size() + kEntryOverhead;
      map_.erase(it);
    }
  }
}

void AnswerCache::insert(ByteSpan qname_wire, uint16_t qtype, uint16_t qclass, ByteSpan packet,
                         bool secure, uint32_t min_ttl, Nanos now) {
  if (min_ttl == 0 || min_ttl == UINT32_MAX) return;
  const size_t cost = packet.size() + kEntryOverhead;
  if (cost > max_bytes_ / 8) return;  // one huge answer must not flush everything else
  std::string k = key(qname_wire, qtype, qclass);
  if (auto old = map_.find(k); old != map_.end()) {
    bytes_ -= old->second.packet.size() + kEntryOverhead;
    map_.erase(old);
  }
  evict_until_fits(cost);
  // The queue holds one element per insertion; keep it from growing without bound when the
  // same names are re-inserted again and again.
  if (order_.size() > 2 * map_.size() + 64) {
    std::erase_if(order_, [&](const auto& e) {
      auto it = map_.find(e.first);
      return it == map_.end() || it->second.seq != e.second;
    });
  }
  CachedAnswer a;
  a.packet.assign(packet.begin(), packet.end());
  a.secure = secure;
  a.stored = now;
  a.expires = now + Nanos(std::min(min_ttl, kMaxTtl)) * kNanosPerSecond;
  a.seq = ++next_seq_;
  order_.emplace_back(k, a.seq);
  bytes_ += cost;
  map_.emplace(std::move(k), std::move(a));
}

void AnswerCache::clear() {
  map_.clear();
  order_.clear();
  bytes_ = 0;
}

}  // namespace waypost::dns
