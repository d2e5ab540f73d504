// Fuzzes PrefixTrie with a sequence of operations checked against a naive model (a map and a
// linear longest-prefix scan). Input format, repeated until the bytes run out:
//   op byte: bits 0-2 operation, bit 3 family (0 = IPv4, 1 = IPv6), bits 4-7 value (0-15)
//   for operations that take an address or prefix: a count byte n, then n address bytes
//   (the remaining address bytes are zero, so short inputs make nested prefixes), and for
//   prefixes a length byte (taken modulo family bits + 1).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "dataplane/prefix_trie.h"

namespace {

using waypost::dataplane::PrefixTrie;
namespace net = waypost::net;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "prefix_trie_fuzz: %s %s\n", what, detail.c_str());
  std::abort();
}

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }

  net::IpAddress address(bool v6) {
    net::IpAddress a;
    a.family = v6 ? net::Family::kV6 : net::Family::kV4;
    const size_t n = byte() % (a.byte_length() + 1);
    // Indexing through at() keeps GCC 12's -O3 vectorizer from a false -Wstringop-overflow.
    for (size_t i = 0; i < n && i < a.bytes.size(); ++i) {
      a.bytes.at(i) = byte();
    }
    return a;
  }

  net::Prefix prefix(bool v6) {
    net::Prefix p;
    p.address = address(v6);
    p.length = uint8_t(byte() % (p.address.bit_length() + 1));
    // Deliberately keep host bits sometimes: the trie must mask them itself. The model
    // compares canonical (masked) prefixes.
    return p;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

net::Prefix canonical(net::Prefix p) {
  auto parsed = net::Prefix::parse(p.address.to_string() + "/" + std::to_string(p.length));
  if (!parsed) {
    fail("cannot canonicalize", p.to_string());
  }
  return *parsed;
}

int naive_lookup(const std::map<net::Prefix, int>& model, const net::IpAddress& a) {
  int best = 0, best_len = -1;
  for (const auto& [p, v] : model) {
    if (p.length > best_len && p.contains(a)) {
      best = v;
      best_len = p.length;
    }
  }
  return best;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  PrefixTrie<int> trie;
  std::map<net::Prefix, int> model;
  int ops = 0;
  while (!in.empty() && ops++ < 4096) {
    const uint8_t op = in.byte();
    const bool v6 = (op & 8) != 0;
    const int value = op >> 4;  // 0 is "no value": inserting it must remove
    switch (op & 7) {
      case 0:
      case 1: {
        const net::Prefix p = in.prefix(v6);
        trie.insert(p, value);
        if (value == 0) {
          model.erase(canonical(p));
        } else {
          model[canonical(p)] = value;
        }
        break;
      }
      case 2: {
        const net::Prefix p = in.prefix(v6);
        const bool expected = model.erase(canonical(p)) > 0;
        if (trie.remove(p) != expected) {
          fail("remove disagrees", p.to_string());
        }
        break;
      }
      case 3: {
        const net::Prefix p = in.prefix(v6);
        auto it = model.find(canonical(p));
        const bool expected = value != 0 && it != model.end() && it->second == value;
        if (expected) {
          model.erase(it);
        }
        if (trie.remove_if_value(p, value) != expected) {
          fail("remove_if_value disagrees", p.to_string());
        }
        break;
      }
      case 4: {
        const size_t expected =
            value == 0 ? 0 : std::erase_if(model, [&](const auto& e) { return e.second == value; });
        if (trie.remove_value(value) != expected) {
          fail("remove_value disagrees", std::to_string(value));
        }
        break;
      }
      case 5: {
        // Compare the full contents in order.
        std::vector<std::pair<net::Prefix, int>> listed;
        trie.for_each([&](const net::Prefix& p, int v) { listed.emplace_back(p, v); });
        std::vector<std::pair<net::Prefix, int>> expected(model.begin(), model.end());
        if (listed != expected) {
          fail("for_each disagrees", std::to_string(listed.size()));
        }
        break;
      }
      case 6:
        if (value == 15) {
          trie.clear();
          model.clear();
        }
        [[fallthrough]];
      default: {
        const net::IpAddress a = in.address(v6);
        const int expected = naive_lookup(model, a);
        const int got = v6 ? trie.lookup_v6(a.bytes.data()) : trie.lookup_v4(a.bytes.data());
        if (got != expected || trie.lookup(a) != expected) {
          fail("lookup disagrees", a.to_string());
        }
        break;
      }
    }
    if (trie.size() != model.size()) {
      fail("size disagrees", std::to_string(trie.size()) + " vs " + std::to_string(model.size()));
    }
  }
  return 0;
}
