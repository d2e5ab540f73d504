#pragma once
// A small cache of libunbound's answer packets in front of libunbound. Handing a query to
// libunbound's thread and back costs pipe writes, reads and fcntl calls per query (bench/dns.sh
// measured ~3x dnsmasq's CPU per cached answer); a name asked again within its TTL is answered
// from here on the event loop instead. TTLs in the answer are counted down by the time the
// entry has been held, so clients never cache longer than the record allows.
//
// Keyed by (lowercased QNAME, QTYPE, QCLASS): libunbound's answer depends on nothing else. Only
// answers that are cacheable end up here (NOERROR or NXDOMAIN, not bogus, with at least one
// record to take a TTL from). Bounded by bytes; when full, the oldest entries go first. Cleared
// on reload, since block lists and upstreams may have changed.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/bytes.h"
#include "common/clock.h"

namespace waypost::dns {

struct CachedAnswer {
  std::vector<uint8_t> packet;  // libunbound's answer, as received
  bool secure = false;          // DNSSEC-validated
  Nanos stored = 0;
  Nanos expires = 0;
  uint64_t seq = 0;  // insertion number, matched against the eviction queue
};

class AnswerCache {
 public:
  explicit AnswerCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The entry for this question if it has not expired (and its age in whole seconds).
  const CachedAnswer* find(ByteSpan qname_wire, uint16_t qtype, uint16_t qclass, Nanos now,
                           uint32_t* age_seconds);
  // Stores `packet` if it is worth caching: `min_ttl` is the smallest TTL of its records (0 or
  // more than `max_ttl` is capped). Anything with min_ttl 0 is not stored.
  void insert(ByteSpan qname_wire, uint16_t qtype, uint16_t qclass, ByteSpan packet, bool secure,
              uint32_t min_ttl, Nanos now);
  void clear();

  size_t entries() const { return map_.size(); }
  size_t bytes() const { return bytes_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

  static constexpr uint32_t kMaxTtl = 3600;

 private:
  static std::string key(ByteSpan qname_wire, uint16_t qtype, uint16_t qclass);
  void evict_until_fits(size_t incoming);

  size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
  std::unordered_map<std::string, CachedAnswer> map_;
  uint64_t next_seq_ = 0;
  // Insertion order for eviction; an element whose seq no longer matches its entry is stale.
  std::deque<std::pair<std::string, uint64_t>> order_;
};

// Smallest TTL of the records in [records_begin, records_end) of `packet` (`count` records;
// OPT skipped); UINT32_MAX when there are none, 0 when a record cannot be read.
uint32_t min_record_ttl(ByteSpan packet, size_t records_begin, size_t records_end, size_t count);

// Subtracts `age` seconds from every record TTL in [begin, end) of `packet` (`count` records;
// an OPT record, TTL-less, is skipped), flooring at 0. Stops at the first unreadable record.
void age_record_ttls(MutableByteSpan packet, size_t begin, size_t end, size_t count, uint32_t age);

}  // namespace waypost::dns
