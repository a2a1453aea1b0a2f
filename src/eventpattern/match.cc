// Matching: value tests, event flattening into thread-local scratch, clause evaluation with
// array consistency, and the public Pattern / PatternSet faces.
#include <arpa/inet.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "common/json_limits.h"
#include "eventpattern/machine.h"
#include "eventpattern/pattern.h"

namespace eventpattern {

namespace {

using nlohmann::json;
using Kind = ValueMatcher::Kind;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// One scalar of the flattened event, with the (array, index) pairs on its way from the root.
struct Leaf {
  const json* value;
  uint32_t member_begin;
  uint32_t member_count;
};

// Per-thread working memory for one event; reused, so steady-state matching allocates
// nothing. Owned by the thread; a Machine only ever touches the calling thread's copy.
struct Scratch {
  const void* owner = nullptr;  // the Machine whose Load filled this
  std::vector<std::vector<Leaf>> by_path;
  std::vector<int> touched;
  std::vector<std::pair<uint32_t, uint32_t>> members;
  std::vector<std::pair<uint32_t, uint32_t>> stack;
  std::vector<const Leaf*> chosen;
  uint32_t next_array = 0;
  std::string path;
};

thread_local Scratch tls_scratch;

bool Consistent(const Leaf& leaf, const Scratch& scratch) {
  if (leaf.member_count == 0) return true;
  for (const Leaf* other : scratch.chosen) {
    for (uint32_t a = 0; a < leaf.member_count; ++a) {
      const auto& [array_a, index_a] = scratch.members[leaf.member_begin + a];
      for (uint32_t b = 0; b < other->member_count; ++b) {
        const auto& [array_b, index_b] = scratch.members[other->member_begin + b];
        if (array_a == array_b && index_a != index_b) return false;
      }
    }
  }
  return true;
}

}  // namespace

// --- value tests ----------------------------------------------------------------------

namespace {

uint32_t FoldCodePoint(uint32_t c) {
  auto even_up = [](uint32_t x) { return (x % 2 == 0) ? x + 1 : x; };
  auto odd_up = [](uint32_t x) { return (x % 2 == 1) ? x + 1 : x; };
  if (c >= 'A' && c <= 'Z') return c + 0x20;
  if (c < 0xC0) return c;
  if (c <= 0xDE) return c == 0xD7 ? c : c + 0x20;
  if (c >= 0x100 && c <= 0x12F) return even_up(c);
  if (c >= 0x132 && c <= 0x137) return even_up(c);
  if (c >= 0x139 && c <= 0x148) return odd_up(c);
  if (c >= 0x14A && c <= 0x177) return even_up(c);
  if (c == 0x178) return 0xFF;
  if (c >= 0x179 && c <= 0x17E) return odd_up(c);
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 0x25;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 0x3F;
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F)) {
    return even_up(c);
  }
  if (c == 0x4C0) return 0x4CF;
  if (c >= 0x4C1 && c <= 0x4CE) return odd_up(c);
  if (c >= 0x531 && c <= 0x556) return c + 0x30;
  if ((c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF)) return even_up(c);
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 0x20;
  return c;
}

void AppendUtf8(uint32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// The folded event string of the current test; per thread, capacity reused.
thread_local std::string tls_folded;

}  // namespace

void FoldCaseInto(std::string_view text, std::string* out) {
  out->clear();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char b = p[i];
    if (b < 0x80) {
      out->push_back(static_cast<char>(b >= 'A' && b <= 'Z' ? b + 0x20 : b));
      ++i;
      continue;
    }
    size_t length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
    bool valid = length != 0 && i + length <= n;
    uint32_t c = length == 2 ? (b & 0x1F) : length == 3 ? (b & 0x0F) : (b & 0x07);
    for (size_t k = 1; valid && k < length; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) valid = false;
      c = (c << 6) | (p[i + k] & 0x3F);
    }
    if (!valid) {
      out->push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    AppendUtf8(FoldCodePoint(c), out);
    i += length;
  }
}

std::string FoldCase(std::string_view text) {
  std::string out;
  FoldCaseInto(text, &out);
  return out;
}

bool Wildcard::Matches(std::string_view s) const {
  const size_t n = segments.size();
  if (n == 1) return s == segments[0];
  const std::string& first = segments.front();
  const std::string& last = segments.back();
  if (s.size() < first.size() + last.size() || !StartsWith(s, first) || !EndsWith(s, last)) {
    return false;
  }
  // Leftmost placement of each middle segment is optimal for '*'-only globs.
  size_t pos = first.size();
  const size_t end = s.size() - last.size();
  for (size_t i = 1; i + 1 < n; ++i) {
    size_t found = s.find(segments[i], pos);
    if (found == std::string_view::npos || found + segments[i].size() > end) return false;
    pos = found + segments[i].size();
  }
  return true;
}

bool ParseIp(std::string_view text, bool* v6, std::array<uint8_t, 16>* bytes) {
  bytes->fill(0);
  if (text.find(':') == std::string_view::npos) {
    // Strict dotted quad: four decimal parts of 1-3 digits, each <= 255.
    int part = 0;
    size_t i = 0;
    while (part < 4) {
      size_t start = i;
      int value = 0;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 3) {
        value = value * 10 + (text[i] - '0');
        ++i;
      }
      if (i == start || value > 255) return false;
      (*bytes)[part++] = static_cast<uint8_t>(value);
      if (part < 4) {
        if (i >= text.size() || text[i] != '.') return false;
        ++i;
      }
    }
    *v6 = false;
    return i == text.size();
  }
  char buffer[64];
  if (text.size() >= sizeof(buffer)) return false;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  if (inet_pton(AF_INET6, buffer, bytes->data()) != 1) return false;
  *v6 = true;
  return true;
}

bool CidrRange::Contains(std::string_view address) const {
  bool address_v6 = false;
  std::array<uint8_t, 16> bytes;
  if (!ParseIp(address, &address_v6, &bytes) || address_v6 != v6) return false;
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(prefix_bits - i * 8, 0, 8);
    if (keep == 0) break;
    uint8_t mask = static_cast<uint8_t>((0xff << (8 - keep)) & 0xff);
    if ((bytes[i] & mask) != network[i]) return false;
  }
  return true;
}

bool ValueMatcher::Matches(const json& value) const {
  const bool is_string = value.is_string();
  std::string_view s;
  if (is_string) s = value.get_ref<const std::string&>();
  switch (kind) {
    case Kind::kStrings:
      return is_string &&
             std::binary_search(strings.begin(), strings.end(), s,
                                [](std::string_view a, std::string_view b) { return a < b; });
    case Kind::kNumbers: {
      if (!value.is_number()) return false;
      double d = value.get<double>();
      return std::find(numbers.begin(), numbers.end(), d) != numbers.end();
    }
    case Kind::kTrue:
      return value.is_boolean() && value.get<bool>();
    case Kind::kFalse:
      return value.is_boolean() && !value.get<bool>();
    case Kind::kNull:
      return value.is_null();
    case Kind::kPrefix:
      return is_string && StartsWith(s, strings[0]);
    case Kind::kPrefixIgnoreCase:
      if (!is_string) return false;
      FoldCaseInto(s, &tls_folded);
      return StartsWith(tls_folded, strings[0]);
    case Kind::kSuffix:
      return is_string && EndsWith(s, strings[0]);
    case Kind::kSuffixIgnoreCase:
      if (!is_string) return false;
      FoldCaseInto(s, &tls_folded);
      return EndsWith(tls_folded, strings[0]);
    case Kind::kEqualsIgnoreCase:
      if (!is_string) return false;
      FoldCaseInto(s, &tls_folded);
      return tls_folded == strings[0];
    case Kind::kWildcard:
      return is_string && wildcards[0].Matches(s);
    case Kind::kNumeric: {
      if (!value.is_number()) return false;
      double d = value.get<double>();
      if (d < low || (d == low && !low_inclusive)) return false;
      if (d > high || (d == high && !high_inclusive)) return false;
      return true;
    }
    case Kind::kCidr:
      return is_string && cidr.Contains(s);
    case Kind::kExists:
      return true;
    case Kind::kAnythingBut:
      if (is_string) {
        return std::find(strings.begin(), strings.end(), s) == strings.end();
      }
      if (value.is_number()) {
        double d = value.get<double>();
        return std::find(numbers.begin(), numbers.end(), d) == numbers.end();
      }
      return true;  // booleans and null are never among the excluded values
    case Kind::kAnythingButPrefix:
      if (!is_string) return true;
      return std::none_of(strings.begin(), strings.end(),
                          [&](const std::string& p) { return StartsWith(s, p); });
    case Kind::kAnythingButSuffix:
      if (!is_string) return true;
      return std::none_of(strings.begin(), strings.end(),
                          [&](const std::string& p) { return EndsWith(s, p); });
    case Kind::kAnythingButIgnoreCase:
      if (!is_string) return true;
      FoldCaseInto(s, &tls_folded);
      return std::find(strings.begin(), strings.end(), tls_folded) == strings.end();
    case Kind::kAnythingButWildcard:
      if (!is_string) return true;
      return std::none_of(wildcards.begin(), wildcards.end(),
                          [&](const Wildcard& w) { return w.Matches(s); });
  }
  return false;
}

// --- the machine ----------------------------------------------------------------------

int Machine::InternPath(const std::string& path) {
  // Register every proper prefix at a '.' boundary so flattening knows where to descend.
  for (size_t dot = path.find('.'); dot != std::string::npos; dot = path.find('.', dot + 1)) {
    paths_[path.substr(0, dot)].prefix = true;
  }
  PathInfo& info = paths_[path];
  if (info.id < 0) info.id = path_count_++;
  return info.id;
}

size_t Machine::AddRule(const std::vector<ParsedClause>& clauses) {
  Rule rule;
  for (const auto& parsed_clause : clauses) {
    Clause clause;
    for (const auto& parsed : parsed_clause) {
      Field field;
      field.path_id = InternPath(parsed.path);
      field.exists_false = parsed.exists_false;
      field.matchers = parsed.matchers;
      clause.push_back(std::move(field));
    }
    // Cheap, selective tests first: fields that need a value before exists:false ones.
    std::stable_sort(clause.begin(), clause.end(), [](const Field& a, const Field& b) {
      return !a.exists_false && b.exists_false;
    });
    rule.push_back(std::move(clause));
  }
  rules_.push_back(std::move(rule));
  return rules_.size() - 1;
}

void Machine::Walk(const json& value, std::string* path, int depth) const {
  // Deeper than any pattern can reach (objects are walked only along pattern paths; arrays
  // could nest without end): such a value matches nothing, and the recursion stays bounded.
  if (depth > kMaxWalkDepth) return;
  Scratch& scratch = tls_scratch;
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      size_t length = path->size();
      if (length != 0) path->push_back('.');
      path->append(it.key());
      auto found = paths_.find(std::string_view(*path));
      if (found != paths_.end()) {
        const json& child = it.value();
        if (child.is_object()) {
          if (found->second.prefix) Walk(child, path, depth + 1);
        } else {
          Walk(child, path, depth + 1);
        }
      }
      path->resize(length);
    }
    return;
  }
  if (value.is_array()) {
    uint32_t array_id = scratch.next_array++;
    for (uint32_t i = 0; i < value.size(); ++i) {
      scratch.stack.emplace_back(array_id, i);
      Walk(value[i], path, depth + 1);
      scratch.stack.pop_back();
    }
    return;
  }
  auto found = paths_.find(std::string_view(*path));
  if (found == paths_.end() || found->second.id < 0) return;
  auto& leaves = scratch.by_path[found->second.id];
  if (leaves.empty()) scratch.touched.push_back(found->second.id);
  leaves.push_back(Leaf{&value, static_cast<uint32_t>(scratch.members.size()),
                        static_cast<uint32_t>(scratch.stack.size())});
  scratch.members.insert(scratch.members.end(), scratch.stack.begin(), scratch.stack.end());
}

bool Machine::Load(const json& event) const {
  Scratch& scratch = tls_scratch;
  if (scratch.by_path.size() < static_cast<size_t>(path_count_)) {
    scratch.by_path.resize(path_count_);
  }
  for (int id : scratch.touched) scratch.by_path[id].clear();
  scratch.touched.clear();
  scratch.members.clear();
  scratch.stack.clear();
  scratch.chosen.clear();
  scratch.next_array = 0;
  scratch.owner = this;
  if (!event.is_object()) {
    scratch.owner = nullptr;
    return false;
  }
  scratch.path.clear();
  Walk(event, &scratch.path, 0);
  return true;
}

bool Machine::MatchClause(const Clause& clause, size_t field_index) const {
  if (field_index == clause.size()) return true;
  Scratch& scratch = tls_scratch;
  const Field& field = clause[field_index];
  const auto& leaves = scratch.by_path[field.path_id];
  if (leaves.empty()) {
    return field.exists_false && MatchClause(clause, field_index + 1);
  }
  for (const Leaf& leaf : leaves) {
    if (!Consistent(leaf, scratch)) continue;
    bool hit = false;
    for (const ValueMatcher& matcher : field.matchers) {
      if (matcher.Matches(*leaf.value)) {
        hit = true;
        break;
      }
    }
    if (!hit) continue;
    scratch.chosen.push_back(&leaf);
    bool rest = MatchClause(clause, field_index + 1);
    scratch.chosen.pop_back();
    if (rest) return true;
  }
  return false;
}

bool Machine::RuleMatches(size_t index) const {
  assert(tls_scratch.owner == this && "RuleMatches without Load on this thread");
  if (tls_scratch.owner != this) return false;
  for (const Clause& clause : rules_[index]) {
    if (MatchClause(clause, 0)) return true;
  }
  return false;
}

// --- public faces ---------------------------------------------------------------------

common::Result<Pattern> Pattern::Parse(std::string_view json_text) {
  DAT_ASSIGN_OR_RETURN(auto clauses, ParsePattern(json_text));
  auto machine = std::make_shared<Machine>();
  machine->AddRule(clauses);
  Pattern pattern;
  pattern.machine_ = std::move(machine);
  pattern.source_ = std::make_shared<const std::string>(json_text);
  return pattern;
}

bool Pattern::Matches(const json& event) const {
  return machine_ != nullptr && machine_->Load(event) && machine_->RuleMatches(0);
}

bool Pattern::Matches(std::string_view event_json) const {
  if (!common::CheckJsonDepth(event_json, common::kMaxJsonDepth).ok()) return false;
  json event = json::parse(event_json.begin(), event_json.end(), nullptr, false);
  if (event.is_discarded()) return false;
  return Matches(event);
}

const std::string& Pattern::source() const {
  static const std::string kEmpty;
  return source_ ? *source_ : kEmpty;
}

bool IsValidTestEvent(const json& event) {
  if (!event.is_object()) return false;
  for (const char* key : {"id", "account", "source", "time", "region", "detail-type"}) {
    if (!event.contains(key)) return false;
  }
  return true;
}

PatternSet::PatternSet() : machine_(std::make_unique<Machine>()) {}
PatternSet::~PatternSet() = default;
PatternSet::PatternSet(PatternSet&&) noexcept = default;
PatternSet& PatternSet::operator=(PatternSet&&) noexcept = default;

size_t PatternSet::Add(const Pattern& pattern) {
  // Re-parse the validated source: the set interns paths in its own table.
  // A default-constructed Pattern has no source: it becomes a rule that matches nothing.
  auto clauses = ParsePattern(pattern.source());
  return machine_->AddRule(clauses.ok() ? clauses.value() : std::vector<ParsedClause>{});
}

size_t PatternSet::size() const { return machine_->rule_count(); }

void PatternSet::Match(const json& event, std::vector<size_t>* matched) const {
  if (!machine_->Load(event)) return;
  for (size_t i = 0; i < machine_->rule_count(); ++i) {
    if (machine_->RuleMatches(i)) matched->push_back(i);
  }
}

size_t PatternSet::CountMatches(const json& event) const {
  if (!machine_->Load(event)) return 0;
  size_t count = 0;
  for (size_t i = 0; i < machine_->rule_count(); ++i) count += machine_->RuleMatches(i);
  return count;
}

}  // namespace eventpattern
