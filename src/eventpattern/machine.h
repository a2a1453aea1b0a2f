// Internal: the compiled form of event patterns. Not part of the public API; include
// eventpattern/pattern.h instead.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace eventpattern {

// A glob with '*' (any run of bytes, possibly empty): the unescaped literal text before,
// between and after the stars, so n stars give n + 1 segments (some possibly empty).
struct Wildcard {
  std::vector<std::string> segments;

  bool Matches(std::string_view s) const;
};

// An address range from a CIDR block; IPv4 and IPv6 kept apart.
struct CidrRange {
  bool v6 = false;
  std::array<uint8_t, 16> network{};  // masked
  int prefix_bits = 0;

  bool Contains(std::string_view address) const;
};

// Parses an IPv4 dotted quad or an IPv6 address into 4 or 16 bytes.
bool ParseIp(std::string_view text, bool* v6, std::array<uint8_t, 16>* bytes);

// Simple (one-to-one) lower-case folding of UTF-8 text for the *-ignore-case tests: ASCII,
// Latin-1, Latin Extended-A and Additional, Greek, Cyrillic, Armenian and fullwidth Latin.
// Invalid UTF-8 bytes are copied unchanged. Writes into *out (its capacity is reused).
void FoldCaseInto(std::string_view text, std::string* out);
std::string FoldCase(std::string_view text);

// One test applied to a single leaf value of the event.
struct ValueMatcher {
  enum class Kind {
    kStrings,  // exact: value is one of `strings` (sorted)
    kNumbers,  // exact: value is a number equal to one of `numbers`
    kTrue,
    kFalse,
    kNull,
    kPrefix,  // strings[0..] prefixes (one per matcher)
    kPrefixIgnoreCase,
    kSuffix,
    kSuffixIgnoreCase,
    kEqualsIgnoreCase,
    kWildcard,
    kNumeric,
    kCidr,
    kExists,       // exists: true — any leaf
    kAnythingBut,  // not one of strings/numbers (any type counts as "not")
    kAnythingButPrefix,
    kAnythingButSuffix,
    kAnythingButIgnoreCase,
    kAnythingButWildcard,
  };
  Kind kind = Kind::kStrings;
  std::vector<std::string> strings;  // case-folded for *IgnoreCase kinds
  std::vector<double> numbers;
  std::vector<Wildcard> wildcards;
  CidrRange cidr;
  // Numeric range; an absent bound is infinite.
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();
  bool low_inclusive = false;
  bool high_inclusive = false;

  bool Matches(const nlohmann::json& value) const;
};

// All tests on one field path: satisfied by any matcher against any leaf at the path, or,
// when `exists_false` is set, by the path having no leaf at all.
struct Field {
  int path_id = -1;
  bool exists_false = false;
  std::vector<ValueMatcher> matchers;
};

// A conjunction of fields; a rule is a disjunction of clauses ($or expanded).
using Clause = std::vector<Field>;
using Rule = std::vector<Clause>;

// Parses a pattern into clauses over field paths (paths dot-joined). Error messages are
// EventBridge's, prefixed with kInvalidPatternPrefix.
struct ParsedField {
  std::string path;
  bool exists_false = false;
  std::vector<ValueMatcher> matchers;
};
using ParsedClause = std::vector<ParsedField>;
common::Result<std::vector<ParsedClause>> ParsePattern(std::string_view json);

// Interned field paths plus the compiled rules that refer to them. Immutable once built;
// matching uses thread-local scratch, so concurrent matching is safe.
class Machine {
 public:
  // Adds a rule; returns its index.
  size_t AddRule(const std::vector<ParsedClause>& clauses);
  size_t rule_count() const { return rules_.size(); }

  // Flattens the event into the calling thread's scratch space. Returns false when the event
  // is not an object (then nothing matches).
  bool Load(const nlohmann::json& event) const;
  // Whether rule `index` matches the event last loaded on this thread.
  bool RuleMatches(size_t index) const;

 private:
  struct PathInfo {
    int id = -1;          // >= 0 when a pattern field uses this exact path
    bool prefix = false;  // true when it is a proper prefix of such a path
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  int InternPath(const std::string& path);
  // Nesting below which Walk does not descend: past a pattern's own limit (kMaxPatternDepth)
  // plus arrays nested in a matched value far beyond any real event.
  static constexpr int kMaxWalkDepth = 256;
  void Walk(const nlohmann::json& value, std::string* path, int depth) const;
  bool MatchClause(const Clause& clause, size_t field_index) const;

  std::unordered_map<std::string, PathInfo, StringHash, std::equal_to<>> paths_;
  int path_count_ = 0;
  std::vector<Rule> rules_;
};

}  // namespace eventpattern
