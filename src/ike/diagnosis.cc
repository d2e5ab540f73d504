#include "ike/diagnosis.h"

#include <algorithm>

#include <fmt/format.h>

#include "ike/ts_narrowing.h"

namespace waypost::ike {

std::string_view to_string(Cause cause) {
  switch (cause) {
    case Cause::kProposalMismatch:
      return "proposal_mismatch";
    case Cause::kPskMismatch:
      return "psk_mismatch";
    case Cause::kUnknownIdentity:
      return "unknown_identity";
    case Cause::kAuthRefused:
      return "authentication_refused";
    case Cause::kCertificate:
      return "certificate";
    case Cause::kSelectorMismatch:
      return "traffic_selector_mismatch";
    case Cause::kNoAnswer:
      return "no_answer";
    case Cause::kDeadPeer:
      return "dead_peer";
    case Cause::kPoolExhausted:
      return "pool_exhausted";
    case Cause::kNatWithoutNatT:
      return "nat_without_nat_traversal";
    case Cause::kReplayDrops:
      return "replay_drops";
    case Cause::kKeepAliveLost:
      return "keep_alive_lost";
    case Cause::kIkeV1Peer:
      return "ikev1_peer";
  }
  return "unknown";
}

std::string_view to_string(Side side) {
  switch (side) {
    case Side::kLocal:
      return "local";
    case Side::kPeer:
      return "peer";
    case Side::kEither:
      return "either";
    case Side::kPath:
      return "path";
  }
  return "either";
}

std::string wire_proposals_text(const std::vector<Proposal>& proposals, ProposalProtocol protocol) {
  std::string out;
  for (const Proposal& p : proposals) {
    // swanctl writes encryption, integrity, PRF, then group; the wire order puts PRF second.
    std::vector<const Transform*> ordered;
    for (const Transform& t : p.transforms) ordered.push_back(&t);
    auto rank = [](TransformType type) {
      switch (type) {
        case TransformType::kEncryption:
          return 0;
        case TransformType::kIntegrity:
          return 1;
        case TransformType::kPrf:
          return 2;
        default:
          return 3;
      }
    };
    std::stable_sort(ordered.begin(), ordered.end(), [&](const Transform* a, const Transform* b) {
      return rank(a->type) < rank(b->type);
    });
    std::string one;
    for (const Transform* tp : ordered) {
      const Transform& t = *tp;
      if (protocol == ProposalProtocol::kEsp && t.type == TransformType::kEsn) continue;
      const TransformSpec spec{t.type, t.id, t.key_length().value_or(0)};
      one += (one.empty() ? "" : "-") + transform_name(spec);
    }
    out += (out.empty() ? "" : ", ") + (one.empty() ? std::string("(empty)") : one);
  }
  return out.empty() ? std::string("none") : out;
}

std::string selectors_text(std::span<const TrafficSelector> selectors) {
  std::string out;
  for (const TrafficSelector& ts : selectors) out += (out.empty() ? "" : ", ") + to_string(ts);
  return out.empty() ? std::string("none") : out;
}

std::string selectors_text(const std::vector<TrafficSelectorSpec>& specs) {
  std::string out;
  for (const TrafficSelectorSpec& s : specs) out += (out.empty() ? "" : ", ") + s.text;
  return out.empty() ? std::string("dynamic") : out;
}

}  // namespace waypost::ike
