// The settings of a conn that are not about one end: IKE version, proposals, lifetimes, DPD,
// start and close actions, flags; and a comment for every setting no step read.
#include <algorithm>
#include <array>
#include <optional>

#include "ike/ipsec_import_conn.h"
#include "ike/ipsec_import_values.h"

namespace waypost::ike {

namespace {

// The defaults each daemon applies when nothing is written (ipsec.conf(5) of each).
constexpr Seconds kStrongSwanIkeLifetime{3 * 3600};
constexpr Seconds kStrongSwanLifetime{3600};
constexpr Seconds kLibreswanLifetime{8 * 3600};  // ikelifetime and salifetime alike
constexpr Seconds kMargin{9 * 60};
constexpr Seconds kStrongSwanDpdDelay{30};

enum class Place : uint8_t { kConn, kChild, kRound };

struct Reason {
  std::string_view key;  // a conn key, or an end key without left/right ("firewall")
  bool end_key;
  Place place;
  std::string_view why;
};

constexpr std::string_view kUpdown =
    "updown scripts are not supported by Waypost; it routes what the CHILD SAs carry by itself";

constexpr std::array kReasons{
    Reason{"firewall", true, Place::kChild,
           "Waypost is route-based and adds no firewall rules for a tunnel; strongSwan's come from "
           "an updown script"},
    Reason{"hostaccess", true, Place::kChild, kUpdown},
    Reason{"updown", true, Place::kChild, kUpdown},
    Reason{"nexthop", true, Place::kConn, "the kernel's routing table chooses the next hop"},
    Reason{"allowany", true, Place::kConn,
           "swanctl.conf has no fallback to %any for a name that does not resolve"},
    Reason{"subnetwithin", true, Place::kChild, "not expressible in swanctl.conf"},
    Reason{"groups", true, Place::kRound, "group membership rules are not supported by Waypost"},
    Reason{"groups2", true, Place::kRound, "second authentication rounds are not supported"},
    Reason{"id2", true, Place::kRound, "second authentication rounds are not supported"},
    Reason{"cert2", true, Place::kRound, "second authentication rounds are not supported"},
    Reason{"ca2", true, Place::kRound, "second authentication rounds are not supported"},
    Reason{"certpolicy", true, Place::kRound,
           "certificate policy rules are not supported by Waypost"},
    Reason{"modecfgserver", true, Place::kConn, "a gateway with pools = hands out addresses"},
    Reason{"ikedscp", false, Place::kConn, "DSCP marking is not supported by Waypost"},
    Reason{"lifebytes", false, Place::kChild, "volume limits are not supported by Waypost"},
    Reason{"marginbytes", false, Place::kChild, "volume limits are not supported by Waypost"},
    Reason{"lifepackets", false, Place::kChild, "volume limits are not supported by Waypost"},
    Reason{"marginpackets", false, Place::kChild, "volume limits are not supported by Waypost"},
    Reason{"mark", false, Place::kChild, "marks select kernel policies; Waypost is route-based"},
    Reason{"mark_in", false, Place::kChild, "marks select kernel policies; Waypost is route-based"},
    Reason{"mark_out", false, Place::kChild,
           "marks select kernel policies; Waypost is route-based"},
    Reason{"tfc", false, Place::kChild, "TFC padding is not supported by Waypost"},
    Reason{"sha256_96", false, Place::kChild,
           "the truncated HMAC of old Linux kernels is not supported by Waypost"},
    Reason{"modeconfig", false, Place::kConn,
           "push mode is IKEv1; IKEv2 clients ask for their address"},
    Reason{"xauth", false, Place::kConn, "XAuth is IKEv1"},
    Reason{"xauth_identity", false, Place::kConn, "XAuth is IKEv1"},
    Reason{"eap_identity", false, Place::kConn, "EAP is not supported by Waypost"},
    Reason{"aaa_identity", false, Place::kConn, "EAP is not supported by Waypost"},
    Reason{"eap", false, Place::kConn, "EAP is not supported by Waypost"},
    Reason{"mediation", false, Place::kConn, "mediation is not supported by Waypost"},
    Reason{"mediated_by", false, Place::kConn, "mediation is not supported by Waypost"},
    Reason{"me_peerid", false, Place::kConn, "mediation is not supported by Waypost"},
    Reason{
        "pfs", false, Place::kChild,
        "PFS follows from a key exchange group in the ESP proposals, as in esp=aes256gcm16-ecp384"},
    Reason{
        "pfsgroup", false, Place::kChild,
        "PFS follows from a key exchange group in the ESP proposals, as in esp=aes256gcm16-ecp384"},
    Reason{"ah", false, Place::kChild, "AH is not supported by Waypost, only ESP"},
    Reason{"phase2", false, Place::kChild, "Waypost uses ESP"},
    Reason{"narrowing", false, Place::kChild,
           "Waypost narrows traffic selectors as strongSwan does"},
    Reason{"nat-keepalive", false, Place::kConn,
           "Waypost sends NAT keepalives every 20 s from behind a NAT"},
    Reason{"mtu", false, Place::kConn, "the MTU of Waypost's device is 1400"},
    Reason{"aggressive", false, Place::kConn, "Aggressive Mode is IKEv1"},
};

struct Mapping {
  std::string_view from;
  std::string_view to;  // empty: swanctl's default, nothing to write
};

// A value through a table; nullopt when it is not in it.
template <size_t N>
std::optional<std::string_view> mapped(const std::array<Mapping, N>& table, std::string_view v) {
  for (const Mapping& m : table) {
    if (m.from == v) return m.to;
  }
  return std::nullopt;
}

// "100%", "50" -> percent.
std::optional<uint64_t> parse_percent(std::string_view text) {
  if (!text.empty() && text.back() == '%') text.remove_suffix(1);
  auto n = parse_number(text, 100000);
  if (!n) return std::nullopt;
  return *n;
}

}  // namespace

const StrokeSetting* ConnBuilder::first_of(std::initializer_list<std::string_view> aliases) {
  const StrokeSetting* first = nullptr;
  for (std::string_view key : aliases) {
    const StrokeSetting* s = settings_.get(key);
    if (s == nullptr) continue;
    if (first == nullptr) {
      first = s;
    } else {
      not_carried(out_.block, *s, fmt::format("the same as {}, which is used", first->key));
    }
  }
  return first;
}

void ConnBuilder::version() {
  if (const StrokeSetting* k = settings_.get("keyexchange")) {
    if (k->value == "ikev2") {
      out_.block.set("version", "2");
    } else if (k->value == "ike") {
      out_.block.comment(fmt::format(
          "{}: IKEv2 (Waypost speaks IKEv2 only; strongSwan answers IKEv1 too without a version)",
          shown(*k)));
    } else {
      not_carried(out_.block, *k, "unknown value (ike, ikev1, ikev2)");
    }
  }
  if (const StrokeSetting* v2 = settings_.get("ikev2")) {
    if (v2->value == "insist" || v2->value == "yes" || v2->value == "propose") {
      out_.block.set("version", "2");
    } else if (v2->value == "permit") {
      out_.block.set("version", "2");
      out_.block.comment(
          fmt::format("{}: IKEv2 only now; Waypost does not answer IKEv1", shown(*v2)));
    } else if (v2->value != "no" && v2->value != "never") {
      not_carried(out_.block, *v2, "unknown value (insist, yes, permit, propose, no)");
    }
  }
}

void ConnBuilder::proposals() {
  struct Kind {
    const StrokeSetting* setting;
    ProposalProtocol protocol;
    SwanctlBlock* block;
    std::string_view key;
  };
  const StrokeSetting* esp = first_of({"esp", "phase2alg"});
  for (const Kind& k :
       {Kind{settings_.get("ike"), ProposalProtocol::kIke, &out_.block, "proposals"},
        Kind{esp, ProposalProtocol::kEsp, &child(), "esp_proposals"}}) {
    if (k.setting == nullptr) continue;
    const ProposalImport p = import_proposals(k.setting->value, k.protocol, ctx_.libreswan);
    std::string dropped;
    for (const std::string& d : p.dropped) dropped += (dropped.empty() ? "" : "; ") + d;
    if (p.kept.empty()) {
      not_carried(*k.block, *k.setting,
                  dropped + "; the defaults of Waypost and strongSwan apply instead");
      continue;
    }
    if (!dropped.empty()) {
      not_carried(*k.block, *k.setting, "in part, left out: " + dropped);
    }
    std::vector<std::string> list = p.kept;
    if (!p.strict && !ctx_.libreswan) {
      list.emplace_back("default");
      k.block->comment(fmt::format(
          "{}: without '!' strongSwan also offers its default proposals after these; 'default' "
          "does that here",
          shown(*k.setting)));
    }
    std::string value;
    for (const std::string& s : list) value += (value.empty() ? "" : ", ") + s;
    k.block->set(k.key, value);
  }
}

void ConnBuilder::lifetimes() {
  const StrokeSetting* rekey = settings_.get("rekey");
  const StrokeSetting* reauth = settings_.get("reauth");
  const StrokeSetting* ike_life = settings_.get("ikelifetime");
  const StrokeSetting* margin = first_of({"margintime", "rekeymargin"});
  const StrokeSetting* fuzz = settings_.get("rekeyfuzz");
  const StrokeSetting* life = first_of({"lifetime", "keylife", "salifetime"});
  if (rekey != nullptr && rekey->value == "no") {
    // ipsec starter sends no lifetimes at all with rekey=no: nothing is renegotiated or expires
    // on this side (the peer may still rekey).
    out_.block.set("rekey_time", "0s");
    child().set("rekey_time", "0s");
    child().set("life_time", "0s");
    out_.block.comment(fmt::format("{}: no rekeying and no expiry on this side", shown(*rekey)));
    for (const StrokeSetting* s : {reauth, ike_life, margin, fuzz, life}) {
      if (s != nullptr) not_carried(out_.block, *s, "rekey=no: ipsec starter ignores it");
    }
    return;
  }
  if (rekey != nullptr && rekey->value != "yes") not_carried(out_.block, *rekey, "yes or no");
  const auto time_of = [&](const StrokeSetting* s, Seconds fallback) {
    if (s == nullptr) return fallback;
    auto t = parse_stroke_time(s->value);
    if (t) return *t;
    not_carried(out_.block, *s, t.error().message);
    return fallback;
  };
  const Seconds m = time_of(margin, kMargin);
  uint64_t f = 100;
  if (fuzz != nullptr) {
    if (auto p = parse_percent(fuzz->value)) {
      f = *p;
    } else {
      not_carried(out_.block, *fuzz, "not a percentage");
    }
  }
  // The random part of the margin; never more than the time before rekeying itself (rekeyfuzz
  // may exceed 100%).
  const auto rand = [&](Seconds soft) {
    return std::min(Seconds(m.count() * int64_t(f) / 100), soft);
  };

  if (ike_life != nullptr || margin != nullptr || fuzz != nullptr || reauth != nullptr) {
    const Seconds l =
        time_of(ike_life, ctx_.libreswan ? kLibreswanLifetime : kStrongSwanIkeLifetime);
    // strongSwan reauthenticates unless told not to; Libreswan has no reauth= and rekeys.
    const bool do_reauth = reauth != nullptr ? reauth->value == "yes" : !ctx_.libreswan;
    if (m >= l) {
      not_carried(out_.block, margin != nullptr ? *margin : *ike_life,
                  "the margin must be shorter than the IKE SA's lifetime");
    } else {
      if (do_reauth) {
        out_.block.set("rekey_time", "0s");
        out_.block.set("reauth_time", format_time(l - m));
        if (reauth == nullptr) {
          out_.block.comment(
              fmt::format("{}: strongSwan reauthenticates then (reauth=yes is its "
                          "default)",
                          ike_life != nullptr ? shown(*ike_life) : "lifetimes"));
        }
      } else {
        out_.block.set("rekey_time", format_time(l - m));
      }
      out_.block.set("over_time", format_time(m));
      out_.block.set("rand_time", format_time(rand(l - m)));
    }
  }
  if (life != nullptr || margin != nullptr || fuzz != nullptr) {
    const Seconds l = time_of(life, ctx_.libreswan ? kLibreswanLifetime : kStrongSwanLifetime);
    if (m >= l) {
      not_carried(child(), margin != nullptr ? *margin : *life,
                  "the margin must be shorter than the CHILD SA's lifetime");
    } else if (m.count() == 0) {
      // A CHILD SA must outlive its rekeying (the peer may be slow to answer).
      child().set("rekey_time", format_time(l));
      not_carried(child(), *margin,
                  "no time to rekey before the CHILD SA expires; swanctl.conf's 10% apply");
    } else {
      child().set("rekey_time", format_time(l - m));
      child().set("life_time", format_time(l));
      child().set("rand_time", format_time(rand(l - m)));
    }
  }
}

void ConnBuilder::dead_peer_detection() {
  const StrokeSetting* action = settings_.get("dpdaction");
  const StrokeSetting* delay = settings_.get("dpddelay");
  const StrokeSetting* timeout = settings_.get("dpdtimeout");
  // strongSwan checks liveness only with a dpdaction; Libreswan whenever dpddelay is set, and
  // holds (traps) by default.
  std::string act = action != nullptr ? action->value : "none";
  if (action == nullptr && ctx_.libreswan && delay != nullptr) act = "hold";
  if (ctx_.libreswan && delay == nullptr) act = "none";
  static constexpr std::array<Mapping, 3> kActions{
      Mapping{"clear", "clear"}, Mapping{"hold", "trap"}, Mapping{"restart", "restart"}};
  const auto mapped_action = mapped(kActions, act);
  if (!mapped_action) {
    if (action != nullptr && act != "none") {
      not_carried(out_.block, *action, "unknown value (none, clear, hold, restart)");
    }
    const std::string_view why = ctx_.libreswan && delay == nullptr
                                     ? "no dpddelay: no liveness checks"
                                     : "dpdaction=none, the default: no liveness checks";
    for (const StrokeSetting* s : {delay, timeout}) {
      if (s != nullptr) not_carried(out_.block, *s, why);
    }
    return;
  }
  Seconds d = kStrongSwanDpdDelay;
  if (delay != nullptr) {
    if (auto t = parse_stroke_time(delay->value)) {
      d = *t;
    } else {
      not_carried(out_.block, *delay, t.error().message);
    }
  }
  out_.block.set("dpd_delay", format_time(d));
  if (timeout != nullptr) {
    if (auto t = parse_stroke_time(timeout->value)) {
      out_.block.set("dpd_timeout", format_time(*t));
    } else {
      not_carried(out_.block, *timeout, t.error().message);
    }
  }
  child().set("dpd_action", std::string(*mapped_action));
}

void ConnBuilder::actions() {
  static constexpr std::array<Mapping, 7> kAuto{
      Mapping{"add", ""},       Mapping{"start", "start"},   Mapping{"up", "start"},
      Mapping{"route", "trap"}, Mapping{"ondemand", "trap"}, Mapping{"keep", "start"},
      Mapping{"ignore", ""}};
  if (const StrokeSetting* a = settings_.get("auto")) {
    const auto m = mapped(kAuto, a->value);
    if (!m) {
      not_carried(child(), *a, "unknown value (add, start, route, ignore)");
    } else if (!m->empty() && !remote_specific_) {
      not_carried(child(), *a,
                  fmt::format("the peer's address is not known ({}), so there is nothing to "
                              "initiate to",
                              end_key(false, "")));
    } else if (!m->empty()) {
      child().set("start_action", std::string(*m));
    }
  } else {
    child().comment(
        "no auto=: ipsec.conf's default, auto=ignore, would leave the conn unloaded; it is "
        "imported as with auto=add");
  }
  static constexpr std::array<Mapping, 4> kClose{Mapping{"none", ""}, Mapping{"clear", ""},
                                                 Mapping{"hold", "trap"},
                                                 Mapping{"restart", "start"}};
  if (const StrokeSetting* c = settings_.get("closeaction")) {
    const auto m = mapped(kClose, c->value);
    if (!m) {
      not_carried(child(), *c, "unknown value (none, clear, hold, restart)");
    } else if (!m->empty()) {
      child().set("close_action", std::string(*m));
    }
  }
  if (const StrokeSetting* k = settings_.get("keyingtries")) {
    if (k->value == "%forever") {
      out_.block.set("keyingtries", "0");
    } else if (auto n = parse_number(k->value, 1000000)) {
      out_.block.set("keyingtries", std::to_string(*n));
    } else {
      not_carried(out_.block, *k, "a number or %forever");
    }
  }
  if (!ctx_.unique.empty()) out_.block.set("unique", ctx_.unique);
}

void ConnBuilder::flags() {
  const auto yes_no = [&](std::string_view key, SwanctlBlock& block, const char* swanctl_key,
                          bool swanctl_default, std::string_view note) {
    const StrokeSetting* s = settings_.get(key);
    if (s == nullptr) return;
    if (s->value != "yes" && s->value != "no") {
      not_carried(block, *s, "yes or no");
    } else if ((s->value == "yes") != swanctl_default) {
      block.set(swanctl_key, s->value);
      if (!note.empty()) block.comment(fmt::format("{}: {}", shown(*s), note));
    }
  };
  yes_no("forceencaps", out_.block, "encap", false, "");
  yes_no("mobike", out_.block, "mobike", true, "");
  yes_no("compress", child(), "ipcomp", false,
         "strongSwan compresses; Waypost declines IPComp and the peer goes on without it");
  yes_no("installpolicy", child(), "policies", true, "");
  if (const StrokeSetting* e = settings_.get("encapsulation")) {
    if (e->value == "yes") {
      out_.block.set("encap", "yes");
    } else if (e->value == "no") {
      not_carried(out_.block, *e, "Waypost always encapsulates ESP in UDP");
    } else if (e->value != "auto") {
      not_carried(out_.block, *e, "yes, no or auto");
    }
  }
  if (const StrokeSetting* f = settings_.get("fragmentation")) {
    static constexpr std::array<Mapping, 4> kFrag{Mapping{"yes", "yes"},
                                                  Mapping{"accept", "accept"},
                                                  Mapping{"force", "force"}, Mapping{"no", "no"}};
    if (auto m = mapped(kFrag, f->value)) {
      out_.block.set("fragmentation", std::string(*m));
    } else {
      not_carried(out_.block, *f, "yes, accept, force or no");
    }
  }
  for (std::string_view key : {"reqid", "replay_window"}) {
    const StrokeSetting* s = settings_.get(key);
    if (s == nullptr) continue;
    if (auto n = parse_number(s->value, key == "reqid" ? 0xffffffffULL : 4096)) {
      child().set(key, std::to_string(*n));
    } else {
      not_carried(child(), *s, "not a number in range");
    }
  }
  if (const StrokeSetting* s = settings_.get("inactivity")) {
    if (auto t = parse_stroke_time(s->value)) {
      child().set("inactivity", format_time(*t));
    } else {
      not_carried(child(), *s, t.error().message);
    }
  }
  // aggressive=no is IKEv2's way anyway; =yes is left for leftovers() to comment.
  if (const StrokeSetting* a = conn_.setting("aggressive"); a != nullptr && a->value == "no") {
    settings_.get("aggressive");
  }
}

void ConnBuilder::leftovers() {
  for (const StrokeSetting* s : settings_.unread()) {
    std::string_view key = s->key;
    bool is_end = false;
    bool local = false;
    for (bool l : {true, false}) {
      const std::string prefix = end_key(l, "");
      if (key.starts_with(prefix) && key.size() > prefix.size()) {
        key.remove_prefix(prefix.size());
        is_end = true;
        local = l;
        break;
      }
    }
    const auto reason = std::find_if(kReasons.begin(), kReasons.end(), [&](const Reason& r) {
      return r.key == key && r.end_key == is_end;
    });
    if (reason == kReasons.end()) {
      not_carried(out_.block, *s, "no swanctl.conf equivalent known to the importer");
      continue;
    }
    SwanctlBlock& block = reason->place == Place::kChild   ? child()
                          : reason->place == Place::kRound ? round(local)
                                                           : out_.block;
    not_carried(block, *s, reason->why);
  }
}

}  // namespace waypost::ike
