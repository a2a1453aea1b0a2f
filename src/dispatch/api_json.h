// The JSON of the Dispatch REST API: answers ({"code","message"} errors, JSON bodies with the
// HTTP status a common::Status maps to), request bodies parsed with the API's nesting bound,
// and times as the API writes them. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/message.h"

namespace dispatch {

// HTTP status for a Status code (InvalidArgument → 400, NotFound → 404, …).
int HttpStatusFor(const common::Status& status);
// {"code": <HTTP status>, "message": …} with that status.
http::Response ErrorResponse(const common::Status& status);
http::Response ErrorResponse(int http_status, const std::string& message);
// The body serialized compactly (invalid UTF-8 replaced, never an exception).
http::Response JsonResponse(int http_status, const nlohmann::json& body);

// Parses a JSON body; InvalidArgument with the parser's position on malformed JSON, and on
// nesting deeper than common::kMaxJsonDepth + 2 (checked before parsing).
common::Result<nlohmann::json> ParseJson(std::string_view text);

// A time in API JSON: "2026-11-27T16:00:00.123Z" for milliseconds since the epoch; "" for 0
// (not set).
std::string FormatMs(int64_t ms);

}  // namespace dispatch
