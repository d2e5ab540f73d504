#pragma once
// Longest-prefix-match table from IP prefixes to values (cryptokey routing: AllowedIPs for
// WireGuard peers, traffic selectors for IPsec tunnels later). One path-compressed binary trie
// per address family. A prefix maps to at most one value: inserting an existing prefix moves it,
// as wg(8) does when an allowed IP is given to another peer.
//
// V is a small copyable handle (a pointer or id); V{} means "no value".
//
// Interface (implemented below):
//   void insert(const net::Prefix& p, V value);      // replaces the value of an equal prefix
//   bool remove(const net::Prefix& p);               // true if it was present
//   bool remove_if_value(const net::Prefix& p, V v); // remove only if it maps to v
//   size_t remove_value(V value);                    // every prefix mapping to value
//   V lookup(const net::IpAddress& a) const;         // longest match, V{} if none
//   V lookup_v4(const uint8_t* addr4) const;         // hot-path forms on raw header bytes
//   V lookup_v6(const uint8_t* addr16) const;
//   void for_each(F f) const;                        // f(const net::Prefix&, V)
//   size_t size() const;
//   void clear();
//
// Layout. Addresses are held as big-endian 64-bit words (one for IPv4, the address in the high
// half; two for IPv6) so that "first n bits equal" is a masked XOR per word and the point where
// two keys diverge is a count-leading-zeros. Each node stores a full prefix (key + length), an
// optional value and two children indexed by the bit right after its prefix. Chains of
// single-child nodes are never stored (path compression): every node either carries a value or
// is a branch point with exactly two children, so a trie holding n prefixes has at most 2n-1
// nodes. Nodes live in one vector per family and refer to each other by 32-bit index, which keeps
// them small (32 bytes for IPv4 and 40 for IPv6 with a pointer-sized V) and close together;
// freed slots are recycled through a free list.
//
// Complexity (n = prefixes stored, d = depth of the trie, d <= 33 for IPv4 and <= 129 for IPv6,
// in practice about log2(n) for unrelated prefixes):
//   lookup*             O(d) word compares, no allocation, no indirect calls
//   insert / remove*    O(d), plus an amortized vector push for a new node
//   remove_value        O(n) walk + O(d) per removed prefix (control plane only)
//   for_each            O(n), visits prefixes in address order, shorter before longer
//   memory              <= (2n-1) nodes per family
//
// Not synchronized: concurrent lookups are fine, but writers need exclusive access.

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/bytes.h"
#include "net/ip.h"

namespace waypost::dataplane {

namespace prefix_trie_detail {

// One family's trie. W = number of 64-bit words in a key (1 for IPv4, 2 for IPv6).
template <typename V, int W>
class FamilyTrie {
 public:
  using Key = std::array<uint64_t, W>;
  static constexpr int kMaxBits = W == 1 ? 32 : 128;

  // Inserting V{} would store "no value": treat it as a removal so the invariants hold.
  void insert(const Key& raw_key, int bits, V value) {
    if (value == V{}) {
      remove(raw_key, bits, nullptr);
      return;
    }
    const Key key = masked(raw_key, bits);
    uint32_t parent = kNil;
    int dir = 0;
    uint32_t cur = root_;
    while (cur != kNil) {
      const Node& n = nodes_[cur];
      const int common = std::min({common_bits(n.key, key), int(n.bits), bits});
      if (common < n.bits) {
        // The new prefix and this node's prefix part ways at bit `common` (or the new prefix
        // ends there): splice a node in between the parent and `cur`.
        const int cur_dir = bit_at(n.key, common);
        uint32_t spliced;
        if (common == bits) {
          // The new prefix is an ancestor of `cur`: it becomes the splice point itself.
          spliced = allocate(key, bits, value);
          nodes_[spliced].child[cur_dir] = cur;
        } else {
          // A fresh branch point with the new leaf on one side and `cur` on the other.
          const uint32_t leaf = allocate(key, bits, value);
          spliced = allocate(masked(key, common), common, V{});
          nodes_[spliced].child[cur_dir] = cur;
          nodes_[spliced].child[1 - cur_dir] = leaf;
        }
        set_link(parent, dir, spliced);
        ++count_;
        return;
      }
      if (n.bits == bits) {
        // Same prefix: a value move (or a branch point gaining a value).
        if (n.value == V{}) {
          ++count_;
        }
        nodes_[cur].value = value;
        return;
      }
      parent = cur;
      dir = bit_at(key, n.bits);
      cur = n.child[dir];
    }
    const uint32_t leaf = allocate(key, bits, value);
    set_link(parent, dir, leaf);
    ++count_;
  }

  // Removes the prefix if present and, when `only_if` is given, only if it maps to *only_if.
  bool remove(const Key& raw_key, int bits, const V* only_if) {
    const Key key = masked(raw_key, bits);
    uint32_t grandparent = kNil, parent = kNil;
    int parent_dir = 0, dir = 0;
    uint32_t cur = root_;
    while (cur != kNil) {
      const Node& n = nodes_[cur];
      if (n.bits > bits || !equal_prefix(n.key, key, n.bits)) {
        return false;
      }
      if (n.bits == bits) {
        break;
      }
      grandparent = parent;
      parent_dir = dir;
      parent = cur;
      dir = bit_at(key, n.bits);
      cur = n.child[dir];
    }
    if (cur == kNil || nodes_[cur].value == V{}) {
      return false;
    }
    if (only_if != nullptr && !(nodes_[cur].value == *only_if)) {
      return false;
    }
    nodes_[cur].value = V{};
    --count_;

    Node& n = nodes_[cur];
    if (n.child[0] != kNil && n.child[1] != kNil) {
      return true;  // still needed as a branch point
    }
    const uint32_t only_child = n.child[0] != kNil ? n.child[0] : n.child[1];
    set_link(parent, dir, only_child);
    release(cur);
    if (only_child == kNil && parent != kNil && nodes_[parent].value == V{}) {
      // The parent was a pure branch point and has just lost one side: fold it away too.
      const Node& p = nodes_[parent];
      const uint32_t sibling = p.child[0] != kNil ? p.child[0] : p.child[1];
      set_link(grandparent, parent_dir, sibling);
      release(parent);
    }
    return true;
  }

  V lookup(const Key& addr) const {
    V best{};
    uint32_t cur = root_;
    while (cur != kNil) {
      const Node& n = nodes_[cur];
      if (!equal_prefix(n.key, addr, n.bits)) {
        break;
      }
      if (n.value != V{}) {
        best = n.value;
      }
      if (n.bits == kMaxBits) {
        break;
      }
      cur = n.child[bit_at(addr, n.bits)];
    }
    return best;
  }

  // f(const Key&, int bits, V) for every stored prefix, in address order.
  template <typename F>
  void for_each(F&& f) const {
    // The depth is bounded by kMaxBits + 1, so a fixed stack suffices (no recursion, no heap).
    std::array<uint32_t, 2 * (kMaxBits + 2)> stack;
    size_t top = 0;
    if (root_ != kNil) {
      stack[top++] = root_;
    }
    while (top > 0) {
      const Node& n = nodes_[stack[--top]];
      if (n.value != V{}) {
        f(n.key, int(n.bits), n.value);
      }
      // Push the 1-side first so the 0-side is visited first.
      for (int d = 1; d >= 0; --d) {
        if (n.child[d] != kNil) {
          stack[top++] = n.child[d];
        }
      }
    }
  }

  size_t size() const { return count_; }

  void clear() {
    nodes_.clear();
    free_.clear();
    root_ = kNil;
    count_ = 0;
  }

  static Key masked(const Key& k, int bits) {
    Key out;
    for (int w = 0; w < W; ++w) {
      out[w] = k[w] & word_mask(bits - 64 * w);
    }
    return out;
  }

 private:
  static constexpr uint32_t kNil = UINT32_MAX;

  struct Node {
    Key key;
    V value;
    std::array<uint32_t, 2> child;
    uint8_t bits;
  };

  // Mask of the first `bits` bits of a word; bits may be out of [0, 64].
  static uint64_t word_mask(int bits) {
    if (bits <= 0) {
      return 0;
    }
    if (bits >= 64) {
      return ~uint64_t{0};
    }
    return ~uint64_t{0} << (64 - bits);
  }

  static bool equal_prefix(const Key& a, const Key& b, int bits) {
    for (int w = 0; w < W; ++w) {
      if (((a[w] ^ b[w]) & word_mask(bits - 64 * w)) != 0) {
        return false;
      }
    }
    return true;
  }

  static int common_bits(const Key& a, const Key& b) {
    for (int w = 0; w < W; ++w) {
      const uint64_t x = a[w] ^ b[w];
      if (x != 0) {
        return std::min(64 * w + std::countl_zero(x), kMaxBits);
      }
    }
    return kMaxBits;
  }

  // Bit `i` (0 = most significant) of the key; i < kMaxBits.
  static int bit_at(const Key& k, int i) { return int(k[i >> 6] >> (63 - (i & 63))) & 1; }

  uint32_t allocate(const Key& key, int bits, V value) {
    Node n{key, value, {kNil, kNil}, uint8_t(bits)};
    if (!free_.empty()) {
      const uint32_t idx = free_.back();
      free_.pop_back();
      nodes_[idx] = n;
      return idx;
    }
    nodes_.push_back(n);
    return uint32_t(nodes_.size() - 1);
  }

  void release(uint32_t idx) {
    nodes_[idx].value = V{};
    free_.push_back(idx);
  }

  void set_link(uint32_t parent, int dir, uint32_t target) {
    if (parent == kNil) {
      root_ = target;
    } else {
      nodes_[parent].child[dir] = target;
    }
  }

  std::vector<Node> nodes_;
  std::vector<uint32_t> free_;
  uint32_t root_ = kNil;
  size_t count_ = 0;
};

}  // namespace prefix_trie_detail

template <typename V>
class PrefixTrie {
 public:
  // Inserting V{} stores nothing, so it removes the prefix instead.
  // Prefixes longer than their family allows cannot come from net::Prefix::parse; they are
  // ignored rather than silently truncated into a different route.
  void insert(const net::Prefix& p, V value) {
    if (p.length > p.address.bit_length()) {
      return;
    }
    if (p.address.is_v4()) {
      v4_.insert(key4(p.address.bytes.data()), p.length, value);
    } else {
      v6_.insert(key6(p.address.bytes.data()), p.length, value);
    }
  }

  bool remove(const net::Prefix& p) { return remove_impl(p, nullptr); }

  bool remove_if_value(const net::Prefix& p, V v) { return remove_impl(p, &v); }

  size_t remove_value(V value) {
    if (value == V{}) {
      return 0;
    }
    std::vector<net::Prefix> doomed;
    for_each([&](const net::Prefix& p, V v) {
      if (v == value) {
        doomed.push_back(p);
      }
    });
    for (const auto& p : doomed) {
      remove(p);
    }
    return doomed.size();
  }

  V lookup(const net::IpAddress& a) const {
    return a.is_v4() ? lookup_v4(a.bytes.data()) : lookup_v6(a.bytes.data());
  }
  V lookup_v4(const uint8_t* addr4) const { return v4_.lookup(key4(addr4)); }
  V lookup_v6(const uint8_t* addr16) const { return v6_.lookup(key6(addr16)); }

  // f(const net::Prefix&, V): IPv4 first, each family in address order, shorter prefixes
  // before the longer ones they contain. f must not modify the trie.
  template <typename F>
  void for_each(F f) const {
    v4_.for_each([&](const auto& k, int bits, V v) {
      net::Prefix p;
      p.address = net::IpAddress::v4(uint32_t(k[0] >> 32));
      p.length = uint8_t(bits);
      f(static_cast<const net::Prefix&>(p), v);
    });
    v6_.for_each([&](const auto& k, int bits, V v) {
      uint8_t raw[16];
      store_be64(raw, k[0]);
      store_be64(raw + 8, k[1]);
      net::Prefix p;
      p.address = net::IpAddress::v6_bytes(raw);
      p.length = uint8_t(bits);
      f(static_cast<const net::Prefix&>(p), v);
    });
  }

  size_t size() const { return v4_.size() + v6_.size(); }

  void clear() {
    v4_.clear();
    v6_.clear();
  }

 private:
  using V4Trie = prefix_trie_detail::FamilyTrie<V, 1>;
  using V6Trie = prefix_trie_detail::FamilyTrie<V, 2>;

  static typename V4Trie::Key key4(const uint8_t* p) { return {uint64_t(load_be32(p)) << 32}; }
  static typename V6Trie::Key key6(const uint8_t* p) {
    return {uint64_t(load_be32(p)) << 32 | load_be32(p + 4),
            uint64_t(load_be32(p + 8)) << 32 | load_be32(p + 12)};
  }

  bool remove_impl(const net::Prefix& p, const V* only_if) {
    if (p.length > p.address.bit_length()) {
      return false;
    }
    if (p.address.is_v4()) {
      return v4_.remove(key4(p.address.bytes.data()), p.length, only_if);
    }
    return v6_.remove(key6(p.address.bytes.data()), p.length, only_if);
  }

  V4Trie v4_;
  V6Trie v6_;
};

}  // namespace waypost::dataplane
