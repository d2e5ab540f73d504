// Fuzzes IKE fragment reassembly (RFC 7383 2.6) against a model. The input is a sequence of
// fragments: flags(1: bit 0 and 1 widen number and total to 2 bytes, bit 2 synthesizes the
// plaintext, bits 3..7 the first inner type - 32) number(1 or 2) total(1 or 2) length(2) and then
// the plaintext, taken from
// the input or synthesized ((length mod 1100) * 64 bytes of one value, to reach the byte cap with
// short inputs). Checked after every fragment: the reassembler never holds more than its caps, its
// answers (stored, duplicate, complete, dropped) agree with the model, and a completed message is
// the concatenation of the fragments in fragment-number order.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

#include "common/bytes.h"
#include "ike/fragments.h"

namespace {

using namespace waypost;
using namespace waypost::ike;
using Bytes = std::vector<uint8_t>;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "ike_fragments_fuzz: %s\n", what);
  std::abort();
}

// The rules of fragments.h, written the plain way.
struct Model {
  uint16_t total = 0;
  std::map<uint16_t, Bytes> fragments;  // kept after completion, to recognise duplicates
  size_t bytes = 0;
  bool complete = false;
  PayloadType first_inner = PayloadType::kNone;
};

enum class Expect : uint8_t { kError, kStored, kDuplicate, kComplete };

Expect model_add(Model& m, uint16_t number, uint16_t total, PayloadType first, const Bytes& data) {
  if (total == 0 || number == 0 || number > total) return Expect::kError;
  if (total > FragmentReassembler::kMaxFragments || total < m.total) return Expect::kError;
  const bool restart = total > m.total;
  if (!restart && m.fragments.count(number)) return Expect::kDuplicate;
  if ((restart ? 0 : m.bytes) + data.size() > FragmentReassembler::kMaxBytes) {
    return Expect::kError;
  }
  if (restart) m = Model{total, {}, 0, false, PayloadType::kNone};
  m.fragments[number] = data;
  m.bytes += data.size();
  if (number == 1) m.first_inner = first;
  if (m.fragments.size() < m.total) return Expect::kStored;
  m.complete = true;
  m.bytes = 0;
  return Expect::kComplete;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteReader in({data, size});
  FragmentReassembler r;
  Model model;
  for (int ops = 0; ops < 512 && in.remaining() > 0; ++ops) {
    const uint8_t flags = in.u8();
    const uint16_t number = (flags & 1) ? in.be16() : in.u8();
    const uint16_t total = (flags & 2) ? in.be16() : in.u8();
    const uint16_t length = in.be16();
    Bytes plaintext;
    if (flags & 4) {
      // Up to 70 KiB: just past the byte cap, and no larger, to keep runs fast.
      plaintext.assign(size_t(length % 1100) * 64, flags);
    } else {
      ByteSpan b = in.bytes(std::min<size_t>(length, in.remaining()));
      plaintext.assign(b.begin(), b.end());
    }
    const auto first = PayloadType(32 + (flags >> 3));  // 32..63: every payload type and some more

    const Expect expected = model_add(model, number, total, first, plaintext);
    auto got = r.add(DecryptedFragment{number, total, first, plaintext});

    if (r.stored_bytes() > FragmentReassembler::kMaxBytes) fail("stored bytes above the cap");
    if (r.total() > FragmentReassembler::kMaxFragments) fail("total above the cap");
    if (r.received() > r.total()) fail("more fragments received than the total");
    if (r.total() != model.total || r.stored_bytes() != model.bytes) fail("state differs");

    if (!got) {
      if (expected != Expect::kError) fail("dropped a fragment the model accepts");
      continue;
    }
    switch (got->status) {
      case FragmentStatus::kStored:
        if (expected != Expect::kStored || got->message) fail("stored: model disagrees");
        break;
      case FragmentStatus::kDuplicate:
        if (expected != Expect::kDuplicate || got->message) fail("duplicate: model disagrees");
        break;
      case FragmentStatus::kComplete: {
        if (expected != Expect::kComplete || !got->message) fail("complete: model disagrees");
        Bytes concatenation;
        for (const auto& [n, piece] : model.fragments) {
          concatenation.insert(concatenation.end(), piece.begin(), piece.end());
        }
        if (got->message->chain != concatenation) fail("not the concatenation in order");
        if (got->message->first_inner != model.first_inner) fail("first inner type differs");
        break;
      }
    }
  }
  return 0;
}
