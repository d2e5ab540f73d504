// also= and %default (ipsec_conf.h: resolve_section), in the order strongSwan 5's starter
// applies them (starter/parser/conf_parser.c).
#include <algorithm>
#include <optional>
#include <unordered_set>

#include "ike/ipsec_conf.h"

namespace waypost::ike {

const StrokeSetting* ResolvedSection::setting(std::string_view key) const {
  for (const StrokeSetting& s : settings) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

namespace {

Error error_at(const std::string& file, int line, std::string_view message) {
  return Error{fmt::format("{}:{}: {}", file, line, message), 0, ErrorKind::kParse};
}

// strongSwan's linearization of also= (starter/parser/conf_parser.c): depth first from the
// most important also= (the last one written), each parent followed by its own parents, and
// only the last occurrence of a section kept. Memoized per section index.
class Linearizer {
 public:
  Linearizer(const std::vector<StrokeSection>& list, const StrokeLimits& limits)
      : list_(list), limits_(limits), memo_(list.size()) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i].name == "%default") default_ = i;
    }
  }

  Result<std::vector<size_t>> parents(size_t index) {
    std::vector<size_t> stack;
    return resolve(index, stack);
  }

 private:
  Result<std::vector<size_t>> resolve(size_t index, std::vector<size_t>& stack) {
    if (memo_[index]) return *memo_[index];
    const StrokeSection& s = list_[index];
    if (default_ && *default_ == index) return std::vector<size_t>{};  // %default has none
    if (int(stack.size()) >= limits_.max_also_depth) {
      return error_at(s.where.file, s.where.line,
                      fmt::format("also= nested deeper than {}", limits_.max_also_depth));
    }
    stack.push_back(index);
    std::vector<size_t> all;
    for (auto it = s.also.rbegin(); it != s.also.rend(); ++it) {
      auto parent = std::find_if(list_.begin(), list_.end(),
                                 [&](const StrokeSection& p) { return p.name == it->value; });
      if (parent == list_.end()) {
        return error_at(it->where.file, it->where.line,
                        fmt::format("also={}: no section '{}'", it->value, it->value));
      }
      const size_t p = size_t(parent - list_.begin());
      if (std::find(stack.begin(), stack.end(), p) != stack.end()) {
        return error_at(it->where.file, it->where.line,
                        fmt::format("also={}: a loop ('{}' includes '{}' again)", it->value,
                                    it->value, s.name));
      }
      auto grand = resolve(p, stack);
      if (!grand) return grand.take_error();
      all.push_back(p);
      all.insert(all.end(), grand->begin(), grand->end());
    }
    stack.pop_back();
    if (all.empty() && default_) all.push_back(*default_);
    // Keep each section at its last place only: walk backwards, keep the first seen.
    std::vector<size_t> out;
    std::vector<bool> kept(list_.size());
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (!kept[*it]) {
        kept[*it] = true;
        out.push_back(*it);
      }
    }
    std::reverse(out.begin(), out.end());
    memo_[index] = out;
    return out;
  }

  const std::vector<StrokeSection>& list_;
  const StrokeLimits& limits_;
  std::vector<std::optional<std::vector<size_t>>> memo_;
  std::optional<size_t> default_;
};

}  // namespace

Result<ResolvedSection> resolve_section(const IpsecConf& conf, const StrokeSection& section,
                                        const StrokeLimits& limits) {
  ResolvedSection out;
  out.section = &section;
  if (section.kind == StrokeSectionKind::kSetup) {
    out.settings = section.settings;
    return out;
  }
  const auto& list = section.kind == StrokeSectionKind::kCa ? conf.cas : conf.conns;
  const auto self = std::find_if(list.begin(), list.end(),
                                 [&](const StrokeSection& s) { return &s == &section; });
  if (self == list.end()) return make_error("section '{}' is not part of this file", section.name);
  Linearizer linearizer(list, limits);
  auto parents = linearizer.parents(size_t(self - list.begin()));
  if (!parents) return parents.take_error();
  std::unordered_set<std::string_view> seen;
  const auto take = [&](const StrokeSection& s) {
    for (const StrokeSetting& setting : s.settings) {
      if (!seen.insert(setting.key).second) continue;
      if (!setting.value.empty()) out.settings.push_back(setting);  // `key=` unsets
    }
  };
  take(section);
  for (size_t p : *parents) {
    out.parents.push_back(&list[p]);
    take(list[p]);
  }
  return out;
}

}  // namespace waypost::ike
