// Small helpers shared by the dispatch server's parts: time, files, JSON HTTP answers.
// Pure functions or plain file I/O; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/message.h"

namespace dispatch {

// Wall-clock milliseconds since the Unix epoch.
int64_t NowMs();
// "2026-11-27T16:00:00.123Z"; "" for 0.
std::string FormatMs(int64_t ms);

// Reads a whole file. NotFound when absent.
common::Result<std::string> ReadFile(const std::string& path);
// Writes a file atomically (temp + rename) with the given mode.
common::Status WriteFile(const std::string& path, std::string_view data, int mode = 0600);
// The last `max_bytes` of a file ("" when absent), starting at a line boundary when it can.
std::string TailFile(const std::string& path, size_t max_bytes);
// Bytes of the file from `offset` to its end, at most `max_bytes` ("" when absent).
std::string ReadFileFrom(const std::string& path, int64_t offset, size_t max_bytes);
// The file's size, 0 when absent.
int64_t FileSize(const std::string& path);

// HTTP status for a Status code (InvalidArgument → 400, NotFound → 404, …).
int HttpStatusFor(const common::Status& status);
// {"code": <HTTP status>, "message": …} with that status.
http::Response ErrorResponse(const common::Status& status);
http::Response ErrorResponse(int http_status, const std::string& message);
http::Response JsonResponse(int http_status, const nlohmann::json& body);

// Parses a JSON body; InvalidArgument with the parser's position on malformed JSON, and on
// nesting deeper than common::kMaxJsonDepth + 2 (checked before parsing).
common::Result<nlohmann::json> ParseJson(std::string_view text);

// True for names the API accepts: 1–63 of [A-Za-z0-9._-], starting with a letter or digit.
bool IsValidName(std::string_view name);

// A random readable name such as "innocent-werewolf-420270".
std::string RandomName();

// A duration such as "90s", "30m", "6h", "2d" or a bare number of seconds, in seconds.
// InvalidArgument for anything else, zero or negative.
common::Result<int64_t> ParseDurationSeconds(std::string_view text);
// A point in time as the API and CLI take it: ISO-8601 ("2026-12-03T10:00:00Z"), or a
// duration before `now_ms` ("2h" = two hours ago). Milliseconds since the epoch;
// InvalidArgument otherwise.
common::Result<int64_t> ParseTimeMs(std::string_view text, int64_t now_ms);

// A new run id: a UUID version 7 (RFC 9562: milliseconds since the epoch, then random bits),
// so ids sort by creation time and the store appends to its id index instead of touching a
// random page of it for every run.
std::string NewRunId();

}  // namespace dispatch
