#pragma once
// Domain block and allow lists. Lists are loaded whole into an immutable Blocklist; a reload
// builds a new one and swaps the pointer, so a query always sees one complete list.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace waypost::dns {

// A set of lowercase domain names, each matching itself and its subdomains, or (wildcard
// entries, "*.example.com") only its subdomains. Lookups hash each suffix of the name
// ("a.b.example.com", "b.example.com", "example.com", "com"): a handful of probes per query and
// no pointer chasing. Names live in one arena and the open-addressing table holds 12-byte slots,
// so 100k domains take about 5 MB.
class DomainSet {
 public:
  // `name` must already be normalized (see normalize_domain).
  void insert(std::string_view name, bool subdomains_only);
  bool matches(std::string_view name) const;
  // Gives back the arena's growth slack once loading is done.
  void shrink() { arena_.shrink_to_fit(); }
  size_t size() const { return count_; }
  size_t memory_bytes() const { return arena_.capacity() + slots_.capacity() * sizeof(Slot); }

 private:
  static constexpr uint8_t kSelf = 1;        // matches the name itself (and its subdomains)
  static constexpr uint8_t kSubdomains = 2;  // matches subdomains only
  struct Slot {
    uint32_t hash = 0;
    uint32_t offset = 0;  // into arena_
    uint8_t length = 0;   // 0: empty slot (names are never empty)
    uint8_t flags = 0;
  };
  // Flags of `name` if present, 0 otherwise.
  uint8_t find(std::string_view name, uint32_t hash) const;
  void grow();

  std::string arena_;
  std::vector<Slot> slots_;
  size_t count_ = 0;
};

// Lowercases and checks a domain from a list or the config: labels of [a-z0-9_-], 1..63
// characters, 253 in total, a trailing dot allowed. Writes into `out` (254 bytes) and returns
// the length, 0 if invalid. Names that are IP addresses ("0.0.0.0") are invalid.
size_t normalize_domain(std::string_view text, char* out);

// Parses one line of a list file and calls `emit(name, subdomains_only)` for each domain on it.
// Recognized, per line:
//   hosts format    "0.0.0.0 ads.example.com tracker.example.net  # comment"; the address must
//                   be a blocking one (0.0.0.0, 127.0.0.1, ::, ::1); hosts-file boilerplate
//                   (localhost, broadcasthost, ip6-*) is skipped
//   plain domain    "ads.example.com"
//   wildcard        "*.example.com" (subdomains, not example.com itself)
//   adblock style   "||ads.example.com^" (domain and subdomains); other adblock rules skipped
//   dnsmasq style   "address=/ads.example.com/0.0.0.0" and "server=/ads.example.com/"
//   comments        "# ..." and "! ..." lines, "[Adblock Plus 2.0]" headers, blank lines
enum class LineKind : uint8_t { kBlank, kDomains, kIgnored };
using EmitFn = void (*)(void* ctx, std::string_view name, bool subdomains_only);
LineKind parse_list_line(std::string_view line, EmitFn emit, void* ctx);

struct ListStats {
  std::string path;
  size_t lines = 0;
  size_t domains = 0;         // entries read (before de-duplication across lists)
  size_t ignored = 0;         // lines that were neither blank, comments nor domains
  std::string first_ignored;  // for the log: what such a line looks like (truncated)
};

class Blocklist {
 public:
  // Reads every list file and the allow-list entries. Fails (and nothing changes) if a file
  // cannot be read or an allow entry is not a domain.
  static Result<std::shared_ptr<const Blocklist>> load(const std::vector<std::string>& files,
                                                       const std::vector<std::string>& allow);
  // Same, from list texts (tests, fuzzing); their stats are labelled "text 1", "text 2"...
  static Result<std::shared_ptr<const Blocklist>> from_texts(
      const std::vector<std::string_view>& texts, const std::vector<std::string>& allow);

  // `name` is a lookup key (lowercase, no trailing dot). Blocked when the name or a parent is
  // on a block list and neither it nor any parent is allowed.
  bool blocked(std::string_view name) const {
    return block_.matches(name) && !allow_.matches(name);
  }
  bool allowed(std::string_view name) const { return allow_.matches(name); }

  size_t blocked_domains() const { return block_.size(); }
  size_t allowed_domains() const { return allow_.size(); }
  size_t memory_bytes() const { return block_.memory_bytes() + allow_.memory_bytes(); }
  const std::vector<ListStats>& stats() const { return stats_; }

 private:
  Status add_allow(const std::vector<std::string>& allow);
  void add_text(std::string_view text, ListStats& stats);

  DomainSet block_;
  DomainSet allow_;
  std::vector<ListStats> stats_;
};

}  // namespace waypost::dns
