#include "ike/proposal_match.h"

#include <algorithm>
#include <array>

#include "common/result.h"

namespace waypost::ike {

namespace {

constexpr std::array kTypes = {TransformType::kEncryption, TransformType::kPrf,
                               TransformType::kIntegrity, TransformType::kKeyExchange,
                               TransformType::kEsn};

Transform to_wire(const TransformSpec& t) {
  return t.key_length != 0 ? Transform::with_key_length(t.type, t.id, t.key_length)
                           : Transform::make(t.type, t.id);
}

bool same(const TransformSpec& spec, const Transform& wire) {
  return spec.type == wire.type && spec.id == wire.id &&
         wire.key_length().value_or(0) == spec.key_length;
}

// "None" entries (integrity 0 beside an AEAD cipher, key exchange 0) say the same as leaving the
// type out, and some peers send them.
bool is_none(const Transform& t) {
  return (t.type == TransformType::kIntegrity || t.type == TransformType::kKeyExchange) &&
         t.id == 0;
}

// The transforms of a configured proposal as they are matched: without key exchange when
// stripped, and with "no ESN" added to an ESP proposal that names no ESN.
std::vector<TransformSpec> effective(const ProposalSpec& p, ProtocolId protocol, KeExchange ke) {
  std::vector<TransformSpec> out;
  bool has_esn = false;
  for (const TransformSpec& t : p.transforms) {
    if (ke == KeExchange::kStrip && t.type == TransformType::kKeyExchange) continue;
    if (t.type == TransformType::kKeyExchange && t.id == 0) continue;
    has_esn = has_esn || t.type == TransformType::kEsn;
    out.push_back(t);
  }
  if (protocol != ProtocolId::kIke && !has_esn) {
    out.push_back(TransformSpec{TransformType::kEsn, uint16_t(EsnId::kNo), 0});
  }
  return out;
}

std::vector<const Transform*> wire_of_type(const Proposal& p, TransformType type, KeExchange ke,
                                           ProtocolId protocol) {
  std::vector<const Transform*> out;
  for (const Transform& t : p.transforms) {
    if (t.type != type || is_none(t)) continue;
    if (ke == KeExchange::kStrip && type == TransformType::kKeyExchange) continue;
    out.push_back(&t);
  }
  // A peer's ESP proposal without ESN transforms can only mean "no ESN".
  static const Transform kNoEsn = Transform::make(TransformType::kEsn, uint16_t(EsnId::kNo));
  if (type == TransformType::kEsn && out.empty() && protocol != ProtocolId::kIke) {
    out.push_back(&kNoEsn);
  }
  return out;
}

void fill_algorithms(ChosenProposal& c) {
  for (const Transform& t : c.wire.transforms) {
    switch (t.type) {
      case TransformType::kEncryption:
        c.algorithms.encryption = EncryptionId(t.id);
        c.algorithms.key_bits = t.key_length().value_or(0);
        break;
      case TransformType::kPrf:
        c.algorithms.prf = PrfId(t.id);
        break;
      case TransformType::kIntegrity:
        c.algorithms.integrity = IntegrityId(t.id);
        break;
      case TransformType::kKeyExchange:
        c.group = DhGroup(t.id);
        break;
      case TransformType::kEsn:
        c.esn = t.id == uint16_t(EsnId::kYes);
        break;
    }
  }
  if (is_aead(c.algorithms.encryption)) c.algorithms.integrity = IntegrityId::kNone;
}

// One configured proposal against one of the peer's: per type, the first of ours the peer also
// has; every type either side uses must match.
std::optional<ChosenProposal> match(const std::vector<TransformSpec>& ours, const Proposal& theirs,
                                    ProtocolId protocol, KeExchange ke) {
  ChosenProposal chosen;
  chosen.wire.number = theirs.number;
  chosen.wire.protocol = theirs.protocol;
  chosen.wire.spi = theirs.spi;
  for (TransformType type : kTypes) {
    std::vector<const Transform*> offered = wire_of_type(theirs, type, ke, protocol);
    bool any_ours = false;
    const Transform* pick = nullptr;
    for (const TransformSpec& t : ours) {
      if (t.type != type) continue;
      any_ours = true;
      auto it = std::find_if(offered.begin(), offered.end(),
                             [&](const Transform* w) { return same(t, *w); });
      if (it != offered.end()) {
        pick = *it;
        break;
      }
    }
    if (!any_ours && offered.empty()) continue;
    if (pick == nullptr) return std::nullopt;
    chosen.wire.transforms.push_back(*pick);
  }
  fill_algorithms(chosen);
  if (protocol == ProtocolId::kIke && !check_cipher_suite(chosen.algorithms)) return std::nullopt;
  return chosen;
}

}  // namespace

std::vector<Proposal> offer_proposals(const std::vector<ProposalSpec>& ours, ProtocolId protocol,
                                      std::span<const uint8_t> spi, KeExchange ke) {
  std::vector<Proposal> out;
  for (const ProposalSpec& p : ours) {
    Proposal w;
    w.number = uint8_t(out.size() + 1);
    w.protocol = protocol;
    w.spi.assign(spi.begin(), spi.end());
    for (TransformType type : kTypes) {
      for (const TransformSpec& t : effective(p, protocol, ke)) {
        if (t.type == type) w.transforms.push_back(to_wire(t));
      }
    }
    // The same proposal twice (one that differed only in a stripped key exchange) says nothing new.
    const bool duplicate = std::any_of(
        out.begin(), out.end(), [&](const Proposal& o) { return o.transforms == w.transforms; });
    if (!duplicate && out.size() < 255) out.push_back(std::move(w));
  }
  return out;
}

std::optional<ChosenProposal> select_proposal(const std::vector<ProposalSpec>& ours,
                                              const std::vector<Proposal>& theirs,
                                              ProtocolId protocol, KeExchange ke) {
  for (const ProposalSpec& spec : ours) {
    const std::vector<TransformSpec> mine = effective(spec, protocol, ke);
    for (const Proposal& p : theirs) {
      if (p.protocol != protocol) continue;
      if (auto chosen = match(mine, p, protocol, ke)) return chosen;
    }
  }
  return std::nullopt;
}

Result<ChosenProposal> accept_chosen_proposal(const std::vector<Proposal>& offered,
                                              const SaPayload& reply, ProtocolId protocol,
                                              KeExchange ke) {
  if (reply.proposals.size() != 1) {
    return make_error(ErrorKind::kProtocol, "the responder chose {} proposals instead of one",
                      reply.proposals.size());
  }
  const Proposal& got = reply.proposals.front();
  auto ours = std::find_if(offered.begin(), offered.end(),
                           [&](const Proposal& p) { return p.number == got.number; });
  if (ours == offered.end() || got.protocol != protocol) {
    return make_error(ErrorKind::kProtocol,
                      "the responder chose proposal {}, which we did not offer", got.number);
  }
  ChosenProposal chosen;
  chosen.wire = got;
  for (TransformType type : kTypes) {
    const std::vector<const Transform*> picked = wire_of_type(got, type, ke, protocol);
    const std::vector<const Transform*> mine = wire_of_type(*ours, type, ke, protocol);
    if (picked.size() > 1) {
      return make_error(ErrorKind::kProtocol, "the responder chose several transforms of type {}",
                        int(type));
    }
    if (picked.empty()) {
      if (!mine.empty()) {
        return make_error(ErrorKind::kProtocol, "the responder chose no transform of type {}",
                          int(type));
      }
      continue;
    }
    const bool offered_it = std::any_of(mine.begin(), mine.end(), [&](const Transform* t) {
      return t->type == picked.front()->type && t->id == picked.front()->id &&
             t->key_length() == picked.front()->key_length();
    });
    if (!offered_it) {
      return make_error(ErrorKind::kProtocol, "the responder chose transform {}/{}, not offered",
                        int(type), picked.front()->id);
    }
  }
  fill_algorithms(chosen);
  if (protocol == ProtocolId::kIke) {
    if (auto ok = check_cipher_suite(chosen.algorithms); !ok) return ok.error();
  }
  return chosen;
}

std::vector<DhGroup> offered_groups(const std::vector<ProposalSpec>& ours) {
  std::vector<DhGroup> out;
  for (const ProposalSpec& p : ours) {
    for (const TransformSpec& t : p.of_type(TransformType::kKeyExchange)) {
      if (t.id != 0 && std::find(out.begin(), out.end(), DhGroup(t.id)) == out.end()) {
        out.push_back(DhGroup(t.id));
      }
    }
  }
  return out;
}

}  // namespace waypost::ike
