// EventBridge event patterns: parsing (with AWS's validation messages) and matching.
//
// The whole documented language is supported: exact values (strings, numbers, booleans,
// null), arrays (any-of; an event array matches when any element does), nested fields and
// dot-joined keys, prefix, suffix, equals-ignore-case (and prefix/suffix with it),
// anything-but (value, list, prefix, suffix, equals-ignore-case, wildcard), numeric ranges,
// exists (true/false), cidr (IPv4 and IPv6), wildcard (`*`, `\*` and `\\` escapes) and $or.
// Fields that come from different elements of the same event array never combine into one
// match (event-ruler's array consistency).
//
// A pattern is compiled once into a flat list of clauses over interned field paths; matching
// flattens only the event fields some clause refers to, into thread-local scratch space that
// is reused, so steady-state matching does not allocate.
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace eventpattern {

class Machine;  // internal: the compiled form shared by Pattern and PatternSet

// Deepest nesting of arrays and objects accepted in a pattern, as EventBridge documents;
// Parse refuses deeper ones (checked before any recursive step).
inline constexpr int kMaxPatternDepth = 32;

// One compiled event pattern. Immutable after Parse; cheap to copy (shared state);
// thread-safe: any number of threads may call Matches concurrently.
class Pattern {
 public:
  // Parses and validates an event pattern. On failure returns InvalidArgument whose message
  // is the text EventBridge puts in InvalidEventPatternException, e.g.
  // "Event pattern is not valid. Reason: \"source\" must be an object or an array".
  static common::Result<Pattern> Parse(std::string_view json);

  // A default-constructed Pattern matches nothing; use Parse.
  Pattern() = default;

  // True when the event (a JSON object) matches. A non-object event never matches.
  bool Matches(const nlohmann::json& event) const;
  // Same, for event JSON text; malformed JSON never matches.
  bool Matches(std::string_view event_json) const;

  // The pattern as it was given (for DescribeRule and the like).
  const std::string& source() const;

 private:
  friend class PatternSet;
  std::shared_ptr<const Machine> machine_;
  std::shared_ptr<const std::string> source_;
};

// Many patterns matched together: each event is flattened once for all of them, which is
// what a rule engine wants. Build with Add, then call Match from any number of threads
// (Add is not thread-safe; Match on a fully built set is).
class PatternSet {
 public:
  PatternSet();
  ~PatternSet();
  PatternSet(PatternSet&&) noexcept;
  PatternSet& operator=(PatternSet&&) noexcept;

  // Adds a compiled pattern; returns its index (0, 1, 2, … in call order). A default-
  // constructed Pattern is added as a rule that matches nothing.
  size_t Add(const Pattern& pattern);
  size_t size() const;

  // Appends to *matched the indices of the patterns the event matches, ascending.
  void Match(const nlohmann::json& event, std::vector<size_t>* matched) const;
  // Number of patterns the event matches (no output allocation).
  size_t CountMatches(const nlohmann::json& event) const;

 private:
  std::unique_ptr<Machine> machine_;
};

// TestEventPattern's check of its Event parameter: a JSON object carrying id, account, source,
// time, region and detail-type (the recorded AWS cases accept events without resources).
// When false, EventBridge answers ValidationException "Parameter Event is not valid.".
bool IsValidTestEvent(const nlohmann::json& event);
inline constexpr std::string_view kInvalidTestEventMessage = "Parameter Event is not valid.";

// The message prefix EventBridge uses for invalid patterns.
inline constexpr std::string_view kInvalidPatternPrefix = "Event pattern is not valid. Reason: ";

}  // namespace eventpattern
