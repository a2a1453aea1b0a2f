// What the `dispatch` CLI prints: Dispatch-style tables, YAML, "did you mean" suggestions and
// the readable columns of a run (its subject and outcome). Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dispatch {

// A Dispatch-style table: centred headers, '|' separators, a dashed rule; one line per row.
std::string FormatTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);

// The value as a YAML document (block style; strings quoted when YAML would read them as
// something else). Ends with a newline.
std::string ToYaml(const nlohmann::json& value);

// Edit distance between two ASCII strings (case-sensitive): insertions, deletions,
// substitutions and swaps of adjacent characters each count 1.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is a plausible typo of it (distance at most a third
// of its length, at least 1, or `word` is a prefix of it), else "".
std::string Suggest(std::string_view word, const std::vector<std::string>& candidates);

// The object a run was about: the S3 key of the event that triggered it (EventBridge,
// CloudTrail or S3 notification payloads), else the event's subject, else "".
std::string RunSubject(const nlohmann::json& run);

// How a run ended, in words: the function's own status when it reports one ("posted",
// "skipped: <reason>"), "failed: <message>" for a failed run, else the run's status.
std::string RunOutcome(const nlohmann::json& run);

// "2026-12-03T13:40:01.123Z" → "2026-12-03 13:40:01" ("" stays "").
std::string ReadableTime(std::string_view iso);

}  // namespace dispatch
